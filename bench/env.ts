// In-memory setups: agent-onboard's real createServer() on a temp SQLite file,
// and the bare baseline server, each behind the SDK's InMemoryTransport.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import pino from "pino";
import { openDb, type OpenDb } from "../db/client.js";
import { loadConfig } from "../src/config.js";
import { createLogger } from "../src/log.js";
import { createServer } from "../src/server.js";
import type { Deps } from "../src/services/deps.js";
import { depsFrom } from "../src/transports/deps.js";
import { createBaselineServer } from "./baseline-server.mjs";

export const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), `onboard-bench-${prefix}-`));

async function link(server: McpServer, name: string): Promise<Client> {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name, version: "1.0.0" });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  return client;
}

export const connectBaseline = () => link(createBaselineServer(), "bench-baseline-client");

export interface Subject {
  dir: string;
  deps: Deps;
  store: OpenDb;
  /** A fresh MCP session (signed out) on the real server, as the stdio and HTTP adapters build it. */
  connect(): Promise<Client>;
  close(): void;
}

/**
 * The server as the CLI builds it (default configuration, real clock), on a
 * new db file, logging at the default level "info" — to /dev/null, so that the
 * cost of writing every log line is paid but nothing is printed.
 */
export function openSubject(name: string): Subject {
  const dir = tempDir(name);
  const dbFile = join(dir, "onboard.db");
  const config = loadConfig({ ONBOARD_DB: dbFile, ONBOARD_MAIL_DIR: join(dir, "mail"), ONBOARD_SIGNUPS_PER_HOUR: "0" });
  const store = openDb(dbFile);
  const log = createLogger(config.logLevel, pino.destination({ dest: "/dev/null", sync: true }));
  const deps = depsFrom(config, store.db, "http://127.0.0.1:8787", log);
  return {
    dir,
    deps,
    store,
    connect: () => link(createServer(deps, { log }), "bench-client"),
    close() {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
