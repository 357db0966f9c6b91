// In-process setups: agent-onboard's real stateless MCP handler (mcpHandler,
// the one /mcp serves) on a temp SQLite file, and the bare baseline handler,
// each driven by an SDK v2 client through handler.fetch: no socket, no express,
// but every request builds its server through the factory as over HTTP.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import pino from "pino";
import { openDb, type OpenDb } from "../db/client.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/log.js";
import { selectTools } from "../src/server.js";
import type { Deps } from "../src/services/deps.js";
import { authenticate } from "../src/services/tokens.js";
import { depsFrom } from "../src/transports/deps.js";
import { tokenFromHeader } from "../src/credentials.js";
import { authInfoFor, mcpHandler } from "../src/transports/mcp-http.js";
import { SignupLimiter } from "../src/rate-limit.js";
import { createBaselineHandler } from "./baseline-server.mjs";
import { type Era, expectEra, newClient } from "./lib.js";

export const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), `onboard-bench-${prefix}-`));

type Fetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

async function link(fetch: Fetch, name: string, era: Era, token?: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL("http://127.0.0.1/mcp"), {
    requestInit: token ? { headers: { Authorization: `Bearer ${token}` } } : undefined,
    fetch,
  });
  const client = newClient(name, era);
  await client.connect(transport);
  return expectEra(client, era);
}

export interface Baseline {
  connect(era?: Era): Promise<Client>;
  close(): Promise<void>;
}

export function openBaseline(): Baseline {
  const handler = createBaselineHandler();
  const clients: Client[] = [];
  return {
    async connect(era = "modern") {
      const client = await link((url, init) => handler.fetch(new Request(url, init)), "bench-baseline-client", era);
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.allSettled(clients.map((client) => client.close()));
      await handler.close();
    },
  };
}

export interface Subject {
  dir: string;
  deps: Deps;
  store: OpenDb;
  /** A client of the real handler that sends `token` (if any) as its Authorization header on every request. */
  connect(token?: string, era?: Era): Promise<Client>;
  close(): Promise<void>;
}

/**
 * The server as the CLI builds it (default configuration, real clock), on a
 * new db file, logging at the default level "info" — to /dev/null, so that the
 * cost of writing every log line is paid but nothing is printed. Each request
 * is checked the way mcpRouter checks it (a present token is authenticated
 * before the handler runs) and handed over with the same authInfo.
 */
export function openSubject(name: string): Subject {
  const dir = tempDir(name);
  const dbFile = join(dir, "onboard.db");
  const config = loadConfig({ ONBOARD_DB: dbFile, ONBOARD_MAIL_DIR: join(dir, "mail"), ONBOARD_SIGNUPS_PER_HOUR: "0" });
  const store = openDb(dbFile);
  const log = createLogger(config.logLevel, pino.destination({ dest: "/dev/null", sync: true }));
  const deps = depsFrom(config, store.db, "http://127.0.0.1:8787", log);
  const handler = mcpHandler({ deps, log, tools: selectTools(), limiter: new SignupLimiter(deps, config.signupsPerHour) });
  const fetch: Fetch = async (url, init) => {
    const request = new Request(url, init);
    const token = tokenFromHeader(request.headers.get("authorization") ?? undefined);
    if (token !== undefined) await authenticate(deps, token); // as mcpRouter's callerOf
    return handler.fetch(request, { authInfo: authInfoFor({ token, address: "127.0.0.1" }) });
  };
  const clients: Client[] = [];
  return {
    dir,
    deps,
    store,
    async connect(token, era = "modern") {
      const client = await link(fetch, "bench-client", era, token);
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.allSettled(clients.map((client) => client.close()));
      await handler.close();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
