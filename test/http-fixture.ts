import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { openStore, type Store } from "../db/client.js";
import { freshDatabase } from "./databases.js";
import { loadConfig } from "../src/config.js";
import { type HttpHandle, type HttpOptions, startHttp } from "../src/transports/http.js";
import { captureLogs, type ConnectOptions, TestClock } from "./fixture.js";

export interface TestHttp {
  handle: HttpHandle;
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  store: Store;
  clock: TestClock;
  logs: string[];
  /** The mail the server has written so far, oldest first: recipient, subject and text. */
  mailbox(): Array<{ to: string; subject: string; text: string }>;
  /**
   * An SDK v2 client over Streamable HTTP, with extra request headers (e.g.
   * Authorization), speaking 2026-07-28 unless told `era: "legacy"`.
   */
  connect(
    headers?: Record<string, string>,
    options?: ConnectOptions,
  ): Promise<{ client: Client; transport: StreamableHTTPClientTransport }>;
  close(): Promise<void>;
}

/**
 * Starts the full HTTP server (MCP, REST, pages) on a free port over a temp
 * db. `env` takes the same variables as the real server (ONBOARD_*);
 * `options`, how client metadata documents are fetched.
 */
export async function startTestHttp(env: Record<string, string> = {}, options: Pick<HttpOptions, "clientMetadataFetch"> = {}): Promise<TestHttp> {
  const dir = mkdtempSync(join(tmpdir(), "onboard-http-"));
  const database = await freshDatabase();
  const store = await openStore(database.settings);
  const clock = new TestClock(new Date());
  const { logs, log } = captureLogs();
  const mailDir = join(dir, "mail");
  const config = loadConfig({ ONBOARD_PORT: "0", ONBOARD_SIGNUPS_PER_HOUR: "0", ONBOARD_SIGNUP_CHALLENGE_BITS: "0", ONBOARD_MAILS_PER_SENDER: "0", ONBOARD_MAILS_PER_RECIPIENT: "0", ONBOARD_MAIL_DIR: mailDir, ...env });
  const handle = await startHttp(config, log, { full: true, store, clock: clock.now, ...options });
  const clients: Client[] = [];
  return {
    handle,
    url: handle.url,
    store,
    clock,
    logs,
    mailbox: () => readMailDir(mailDir),
    async connect(headers = {}, { era = "modern", capabilities = {} } = {}) {
      const transport = new StreamableHTTPClientTransport(new URL(`${handle.url}/mcp`), { requestInit: { headers } });
      const client = new Client(
        { name: "http-test", version: "1.0.0" },
        { capabilities, ...(era === "modern" ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {}) },
      );
      await client.connect(transport);
      clients.push(client);
      return { client, transport };
    },
    async close() {
      await Promise.allSettled(clients.map((client) => client.close()));
      await handle.close();
      await store.close();
      await database.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readMailDir(dir: string) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith(".eml"))
    .sort()
    .map((name) => {
      const [head = "", ...body] = readFileSync(join(dir, name), "utf8").split("\r\n\r\n");
      const header = (key: string) => head.match(new RegExp(`^${key}: (.*)$`, "m"))?.[1] ?? "";
      return { to: header("To"), subject: header("Subject"), text: body.join("\r\n\r\n").trim() };
    });
}
