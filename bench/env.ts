// In-process setups: agent-onboard's real stateless MCP handler (mcpHandler,
// the one /mcp serves) on a new database (a temp SQLite file unless told), and the bare baseline handler,
// each driven by an SDK v2 client through handler.fetch: no socket, no express,
// but every request builds its server through the factory as over HTTP.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import pino from "pino";
import { type Engine, openStore, type Store } from "../db/client.js";
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
import { type BenchDatabase, benchDatabase } from "./databases.js";
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
  store: Store;
  database: BenchDatabase;
  /** A client of the real handler that sends `token` (if any) as its Authorization header on every request. */
  connect(token?: string, era?: Era): Promise<Client>;
  close(): Promise<void>;
}

/**
 * The server as the CLI builds it (default configuration, real clock), on a
 * new database, logging at the default level "info" — to /dev/null, so that the
 * cost of writing every log line is paid but nothing is printed. Each request
 * is checked the way mcpRouter checks it (a present token is authenticated
 * before the handler runs) and handed over with the same authInfo.
 */
export async function openSubject(name: string, engine: Engine = "sqlite"): Promise<Subject> {
  const dir = tempDir(name);
  const database = await benchDatabase(engine, name);
  const config = loadConfig({ ...database.env, ONBOARD_MAIL_DIR: join(dir, "mail"), ONBOARD_SIGNUPS_PER_HOUR: "0" });
  const store = await openStore(database.settings);
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
    database,
    async connect(token, era = "modern") {
      const client = await link(fetch, "bench-client", era, token);
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.allSettled(clients.map((client) => client.close()));
      await handler.close();
      await store.close();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
