import { Writable } from "node:stream";
import { type CallToolResult, Client, type ClientCapabilities, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { test as base, expect } from "vitest";
import { openStore, type Store } from "../db/client.js";
import { createLogger } from "../src/log.js";
import { selectTools } from "../src/server.js";
import { authInfoFor, mcpHandler } from "../src/transports/mcp-http.js";
import { SignupLimiter } from "../src/rate-limit.js";
import type { McpHttpHandler } from "@modelcontextprotocol/server";
import type { AnyToolDef } from "../tools/tool.js";
import type { Deps, ServiceSettings } from "../src/services/deps.js";
import type { MailMessage } from "../src/services/mail.js";
import { claimAccount } from "../src/services/claims.js";
import { authenticate } from "../src/services/tokens.js";
import { type FreshDatabase, freshDatabase } from "./databases.js";

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const MINUTE = 60_000;

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
  store: Store;
  /** The database under the store, on the engine under test; its `env` points a server process at it. */
  database: FreshDatabase;
  clock: TestClock;
  /** Every log line written so far, raw JSON. */
  logs: string[];
  /**
   * A connected SDK v2 client acting with `token` (if any) on every request,
   * over the real /mcp handler served in process.
   * It speaks 2026-07-28 unless told `era: "legacy"` (a 2025-11-25 host).
   */
  connect(token?: string, options?: ConnectOptions): Promise<Client>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  era?: "modern" | "legacy";
  capabilities?: ClientCapabilities;
  /** The tools the server exposes (ONBOARD_READ_ONLY, ONBOARD_TOOLS); all of them unless told. */
  tools?: AnyToolDef[];
}

export async function createTestEnv(settings: Partial<ServiceSettings> = {}): Promise<TestEnv> {
  const database = await freshDatabase();
  const store = await openStore(database.settings);
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
      sessionIdleMs: 12 * HOUR,
      sessionMaxMs: 7 * DAY,
      ...settings,
    },
  };
  const clients: Client[] = [];
  const handlers = new Map<AnyToolDef[], McpHttpHandler>();
  const handlerFor = (tools: AnyToolDef[]) => {
    let handler = handlers.get(tools);
    if (!handler) {
      handler = mcpHandler({ deps, log, tools, limiter: new SignupLimiter(deps, 0) });
      handlers.set(tools, handler);
    }
    return handler;
  };
  const allSelected = selectTools();
  return {
    deps,
    mail,
    store,
    database,
    clock,
    logs,
    async connect(token, { era = "modern", capabilities = {}, tools = allSelected } = {}) {
      const handler = handlerFor(tools);
      const transport = new StreamableHTTPClientTransport(new URL("http://onboard.test/mcp"), {
        // The token goes to the handler as the HTTP adapter hands it on, so that any string (a property test's) can be one.
        fetch: (url, init) => handler.fetch(new Request(url, init), { authInfo: authInfoFor({ token, address: "127.0.0.1" }) }),
      });
      const client = new Client(
        { name: "test-client", version: "1.0.0" },
        { capabilities, ...(era === "modern" ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {}) },
      );
      await client.connect(transport);
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((client) => client.close()));
      await Promise.all([...handlers.values()].map((handler) => handler.close()));
      await store.close();
      await database.drop();
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
  (result.content ?? []).map((block) => (block.type === "text" ? block.text : "")).join("\n");

/** Signs up a new agent and returns a client that sends its token, with the signup answer. */
export async function signUp(env: TestEnv, args: Record<string, unknown> = {}) {
  const signup = await ok(await env.connect(), "agent_signup", args);
  const token = signup.accessToken as string;
  return { client: await env.connect(token), signup, token, claimToken: signup.claimToken as string };
}

/** Counts rows of a table with raw SQL. */
export async function countRows(env: { store: Store }, table: string): Promise<number> {
  const [row] = await env.store.query(`SELECT count(*) AS n FROM ${table}`);
  return Number(row!.n);
}

/** A response body as JSON, or undefined when it is not JSON. */
export function jsonOrUndefined(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The password the humans of these tests choose. */
export const HUMAN_PASSWORD = "Correct-Horse-9";

/** An agent "Builder" whose account a human, "grace" <grace@example.com>, claimed: the agent's client and token, and the account's row. */
export async function claimedAccount(env: TestEnv, keepAgentAccess = true) {
  const { client, claimToken, token } = await signUp(env, { agentName: "Builder" });
  await claimAccount(env.deps, { claimToken, username: "grace", email: "grace@example.com", password: HUMAN_PASSWORD, keepAgentAccess });
  const user = (await authenticate(env.deps, token)).user;
  return { client, token, user };
}
