import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { test as base, expect } from "vitest";
import { openDb, type OpenDb } from "../db/client.js";
import { createLogger } from "../src/log.js";
import { createServer } from "../src/server.js";
import type { Deps, ServiceSettings } from "../src/services/deps.js";
import type { MailMessage } from "../src/services/mail.js";

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** A clock that only moves when a test moves it. */
export class TestClock {
  constructor(private current = new Date("2026-03-01T12:00:00.000Z")) {}
  now = (): Date => new Date(this.current);
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

/** A real logger whose JSON lines are kept in `logs` instead of written to stderr. */
export function captureLogs(level = "debug") {
  const logs: string[] = [];
  const log = createLogger(
    level,
    new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    }),
  );
  return { logs, log };
}

export interface TestEnv {
  deps: Deps;
  /** Every mail the services sent, in order. */
  mail: MailMessage[];
  store: OpenDb;
  dbFile: string;
  clock: TestClock;
  /** Every log line written so far, raw JSON. */
  logs: string[];
  /** A connected SDK client on a fresh session, optionally already holding a token. */
  connect(token?: string): Promise<Client>;
  close(): Promise<void>;
}

export async function createTestEnv(settings: Partial<ServiceSettings> = {}): Promise<TestEnv> {
  const dir = mkdtempSync(join(tmpdir(), "onboard-test-"));
  const dbFile = join(dir, "onboard.db");
  const store = openDb(dbFile);
  const clock = new TestClock();
  const { logs, log } = captureLogs();
  const mail: MailMessage[] = [];
  const deps: Deps = {
    db: store.db,
    clock: clock.now,
    mailer: { send: (message) => void mail.push(message) },
    settings: {
      publicUrl: "http://onboard.test",
      accessTokenTtlMs: 72 * HOUR,
      claimTokenTtlMs: 30 * DAY,
      ...settings,
    },
  };
  const clients: Client[] = [];
  return {
    deps,
    mail,
    store,
    dbFile,
    clock,
    logs,
    async connect(token) {
      const server = createServer(deps, { token, log });
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      const client = new Client({ name: "test-client", version: "1.0.0" });
      await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((client) => client.close()));
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Vitest fixture: `env` is a fresh server on a temp db for each test. */
export const test = base.extend<{ env: TestEnv }>({
  // biome-ignore lint: vitest fixtures need the destructuring pattern.
  env: async ({}, use) => {
    const env = await createTestEnv();
    await use(env);
    await env.close();
  },
});

export { expect };

export type ToolResult = CallToolResult;

export async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolResult> {
  return (await client.callTool({ name, arguments: args })) as ToolResult;
}

/** Calls a tool that must succeed and returns its structuredContent. */
export async function ok<T = Record<string, any>>(client: Client, name: string, args: Record<string, unknown> = {}): Promise<T> {
  const result = await call(client, name, args);
  if (result.isError) throw new Error(`${name} failed: ${textOf(result)}`);
  expect(result.structuredContent).toBeDefined();
  return result.structuredContent as T;
}

/** Calls a tool that must fail and returns its error text. */
export async function fails(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const result = await call(client, name, args);
  expect(result.isError, `${name} should fail but returned ${JSON.stringify(result.structuredContent)}`).toBe(true);
  const text = textOf(result);
  expect(text).not.toMatch(/\n\s+at /); // never a stack trace
  return text;
}

export const textOf = (result: ToolResult): string =>
  result.content.map((block) => (block.type === "text" ? block.text : "")).join("\n");

/** Signs up a new agent on a fresh session and returns that session with the signup answer. */
export async function signUp(env: TestEnv, args: Record<string, unknown> = {}) {
  const client = await env.connect();
  const signup = await ok(client, "agent_signup", args);
  return { client, signup, token: signup.accessToken as string, claimToken: signup.claimToken as string };
}

/** Counts rows of a table through the raw connection. */
export const countRows = (env: TestEnv, table: string): number =>
  (env.store.sqlite.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

/** A response body as JSON, or undefined when it is not JSON. */
export function jsonOrUndefined(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
