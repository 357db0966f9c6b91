// Crash safety: a `serve` process under write-heavy load is killed with
// SIGKILL, at a few different moments, and the database it leaves behind (a
// SQLite file, or a PostgreSQL database) must open, be whole, hold every
// write it acknowledged, and hold no half-made account.
import { setMaxListeners } from "node:events";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CallToolResult, Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openStore, type Store } from "../db/client.js";
import { type FreshDatabase, freshDatabase, testEngine } from "./databases.js";
import { jsonOrUndefined } from "./fixture.js";
import { brokenRules } from "./invariants.js";
import { type Serving, startServe } from "./processes.js";

const PASSWORD = "Crash-t3st!ng";
/**
 * When each SIGKILL lands: after `ms` of load and once `writes` writes were
 * acknowledged, with at least `eachKind` of signups, redeems and stacks (the
 * count keeps the moments apart on a busy machine, where time alone does not).
 */
const KILL_MOMENTS = [
  { ms: 100, writes: 3, eachKind: 0 },
  { ms: 300, writes: 30, eachKind: 1 },
  { ms: 600, writes: 90, eachKind: 5 },
];
/** Longest wait for a kill moment; the kill then happens anyway and the run fails if the load was too thin. */
const MOMENT_LIMIT_MS = 10_000;
const SIGNUP_WORKERS = 10;
const STACK_WORKERS = 4;
const REDEEM_WORKERS = 4;
const REQUEST_MS = 10_000;

async function post(url: string, json: unknown, options: { token?: string; signal?: AbortSignal } = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(options.token ? { authorization: `token ${options.token}` } : {}) },
    body: JSON.stringify(json),
    signal: options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(REQUEST_MS)]) : AbortSignal.timeout(REQUEST_MS),
  });
  const text = await res.text();
  const body = jsonOrUndefined(text);
  return { status: res.status, body, text };
}

/** Starts `agent-onboard serve` on the crash database, without the signup rate limit, and keeps it for clean-up. */
async function serve(): Promise<Serving> {
  const served = await startServe({ HOME: home, ...database.env, ONBOARD_SIGNUPS_PER_HOUR: "0", LOG_LEVEL: "warn" });
  servers.push(served);
  return served;
}

interface Acknowledged {
  logins: string[];
  emails: string[];
  stacks: Array<{ org: string; project: string; stack: string }>;
  /** Anything but success before the kill: a 500, a 409 that should not be, a dropped connection. */
  unexpected: string[];
}

let home: string;
let database: FreshDatabase;
const servers: Serving[] = [];
const figures: string[] = [];

/** Bytes in SQLite's write-ahead log at the kill: what a reopening has to recover from (none on PostgreSQL, whose server lives on). */
const walBytes = () => {
  const wal = `${database.settings.dbFile}-wal`;
  return database.engine === "sqlite" && existsSync(wal) ? statSync(wal).size : undefined;
};

/** Rows of `sql` as one set of strings, for "is every acknowledged write there". */
const keysOf = async (store: Store, sql: string) =>
  new Set((await store.query(sql)).map((row) => Object.values(row).join("/")));

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "onboard-crash-"));
  database = await freshDatabase();
});

afterAll(async () => {
  await Promise.all(servers.map((served) => served.stop("SIGKILL")));
  await database?.drop();
  rmSync(home, { recursive: true, force: true });
  if (figures.length) console.info(`crash runs:\n  ${figures.join("\n  ")}`);
});

/**
 * Runs write-heavy load against `served` and records what the server acknowledged.
 * `cut` is aborted just before the kill (errors after it are expected, and no new
 * request starts); `stop` once the process is gone, to end requests still waiting.
 */
async function load(served: Serving, run: number, cut: AbortSignal, stop: AbortSignal) {
  const acked: Acknowledged = { logins: [], emails: [], stacks: [], unexpected: [] };
  const failed = (what: string, error: unknown) => {
    if (cut.aborted) return;
    // fetch's own message ("fetch failed") says little; its cause says what happened to the connection.
    const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : "";
    acked.unexpected.push(`${what}: ${error instanceof Error ? error.message : String(error)}${cause}`);
  };

  // Set-up, before the clock starts: an admin with an invite link, and MCP sessions holding its token.
  const admin = await post(`${served.url}/api/agents/signup`, { agentName: `Crash admin ${run}` });
  expect(admin.status, admin.text).toBe(200);
  const org = admin.body.userInfo.organizations[0].name as string;
  acked.logins.push(admin.body.userInfo.githubLogin);
  const link = await post(
    `${served.url}/api/admin/invite-link/tokens`,
    { name: `crash ${run}`, expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
    { token: admin.body.accessToken },
  );
  expect(link.status, link.text).toBe(201);
  const clients = await Promise.all(
    Array.from({ length: STACK_WORKERS }, async (_, i) => {
      const client = new Client({ name: `crash-${run}-${i}`, version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${served.url}/mcp`), {
          requestInit: { headers: { Authorization: `Bearer ${admin.body.accessToken}` } },
        }),
        { timeout: REQUEST_MS },
      );
      return client;
    }),
  );

  const signups = Array.from({ length: SIGNUP_WORKERS }, async (_, w) => {
    for (let n = 0; !cut.aborted; n++) {
      try {
        const answer = await post(`${served.url}/api/agents/signup`, { agentName: `Load ${run}.${w}.${n}` }, { signal: stop });
        if (answer.status === 200) acked.logins.push(answer.body.userInfo.githubLogin);
        else failed(`signup ${answer.status}`, answer.text);
      } catch (error) {
        failed("signup", error);
      }
    }
  });
  const stackCalls = clients.map(async (client, w) => {
    for (let n = 0; !cut.aborted; n++) {
      const name = { org, project: `crash-${run}`, stack: `s-${w}-${n}` };
      try {
        const result = (await client.callTool(
          { name: "create_stack", arguments: { projectName: name.project, stackName: name.stack, tags: { worker: String(w) } } },
          { signal: stop, timeout: REQUEST_MS },
        )) as CallToolResult;
        if (!result.isError) acked.stacks.push(name);
        else failed("create_stack", JSON.stringify(result.content));
      } catch (error) {
        failed("create_stack", error);
      }
    }
  });
  const redeems = Array.from({ length: REDEEM_WORKERS }, async (_, w) => {
    for (let n = 0; !cut.aborted; n++) {
      const email = `crash-${run}-${w}-${n}@example.com`;
      // Half humans with a password (a slow KDF before the write), half agents without (tokens in the same transaction).
      const body = { email, name: `Joiner ${w}.${n}`, ...(n % 2 ? { password: PASSWORD } : {}) };
      try {
        const answer = await post(`${served.url}/invite/${link.body.secret}/signup`, body, { signal: stop });
        if (answer.status === 200) acked.emails.push(email);
        else failed(`redeem ${answer.status}`, answer.text);
      } catch (error) {
        failed("redeem", error);
      }
    }
  });
  const done = Promise.allSettled([...signups, ...stackCalls, ...redeems]).then(() =>
    Promise.allSettled(clients.map((client) => client.close())),
  );
  return { acked, done };
}

describe(`SIGKILL under write-heavy load (${testEngine})`, () => {
  for (const [run, moment] of KILL_MOMENTS.entries()) {
    test(`run ${run + 1}: killed after ${moment.ms} ms and ${moment.writes} acknowledged writes, the database opens whole with no half-made account`, async () => {
      const served = await serve();
      const cut = new AbortController();
      const stop = new AbortController();
      setMaxListeners(0, stop.signal); // every request in flight listens to it
      const { acked, done } = await load(served, run, cut.signal, stop.signal);

      const started = Date.now();
      const kinds = () => [acked.logins.length - 1, acked.emails.length, acked.stacks.length];
      const reached = () => {
        const counts = kinds();
        return (
          Date.now() - started >= moment.ms &&
          counts.reduce((sum, n) => sum + n, 0) >= moment.writes &&
          counts.every((n) => n >= moment.eachKind)
        );
      };
      while (!reached() && Date.now() - started < MOMENT_LIMIT_MS && acked.unexpected.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const loadMs = Date.now() - started;
      const before = served.errorLines();
      cut.abort();
      await served.stop("SIGKILL");
      stop.abort();
      // Workers see refused or reset connections, or the abort, and stop; bounded in case one hangs.
      await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      expect(served.child.signalCode).toBe("SIGKILL");
      const wal = walBytes();

      expect(acked.unexpected, `the server's error lines: ${before.join("\n")}`).toEqual([]);
      expect(before).toEqual([]);
      // The load really was under way, and mixed, when it was cut.
      const counts = kinds();
      expect(counts.reduce((sum, n) => sum + n, 0)).toBeGreaterThanOrEqual(moment.writes);
      for (const n of counts) expect(n).toBeGreaterThanOrEqual(moment.eachKind);

      const store = await openStore(database.settings);
      try {
        expect(await brokenRules(store)).toEqual({});

        // Nothing that was acknowledged before the kill is lost.
        const logins = await keysOf(store, "SELECT login FROM users");
        const emails = await keysOf(store, "SELECT email FROM users WHERE email IS NOT NULL");
        const stacks = await keysOf(store, "SELECT o.name, s.project_name, s.stack_name FROM stacks s JOIN organizations o ON o.id = s.org_id");
        expect(acked.logins.filter((login) => !logins.has(login)), "lost signups").toEqual([]);
        expect(acked.emails.filter((email) => !emails.has(email)), "lost redeems").toEqual([]);
        expect(acked.stacks.filter((s) => !stacks.has(`${s.org}/${s.project}/${s.stack}`)), "lost stacks").toEqual([]);

        const count = async (sql: string, ...params: unknown[]) => Number((await store.query(sql, params))[0]!.n);
        const rows = (table: string) => count(`SELECT count(*) AS n FROM ${table}`);
        const loadUsers = await count("SELECT count(*) AS n FROM users WHERE name LIKE ?", `Load ${run}.%`);
        const joiners = await count("SELECT count(*) AS n FROM users WHERE email LIKE ?", `crash-${run}-%`);
        const runStacks = await count("SELECT count(*) AS n FROM stacks WHERE project_name = ?", `crash-${run}`);
        figures.push(
          `run ${run + 1} on ${database.engine} (killed after ${loadMs} ms of load): acknowledged ${acked.logins.length - 1} signups, ${acked.emails.length} redeems, ` +
            `${acked.stacks.length} stacks; in the database ${loadUsers} signups, ${joiners} redeems, ${runStacks} stacks ` +
            `(committed but unacknowledged: ${loadUsers - (acked.logins.length - 1)}, ${joiners - acked.emails.length}, ${runStacks - acked.stacks.length}); ` +
            `${wal === undefined ? "" : `WAL ${wal} bytes at the kill; `}` +
            `totals users ${await rows("users")}, organizations ${await rows("organizations")}, stacks ${await rows("stacks")}`,
        );
      } finally {
        await store.close();
      }
    }, 45_000);
  }

  test("a new server on the crashed database serves requests normally", async () => {
    const served = await serve();
    try {
      const signup = await post(`${served.url}/api/agents/signup`, { agentName: "After the crash" });
      expect(signup.status, signup.text).toBe(200);
      const me = await fetch(`${served.url}/api/user`, {
        headers: { authorization: `token ${signup.body.accessToken}` },
        signal: AbortSignal.timeout(REQUEST_MS),
      });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ githubLogin: signup.body.userInfo.githubLogin, isAgent: true });

      const client = new Client({ name: "after-crash", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${served.url}/mcp`), {
          requestInit: { headers: { Authorization: `Bearer ${signup.body.accessToken}` } },
        }),
        { timeout: REQUEST_MS },
      );
      try {
        const stack = (await client.callTool({ name: "create_stack", arguments: { projectName: "after", stackName: "crash" } }, {
          timeout: REQUEST_MS,
        })) as CallToolResult;
        expect(stack.isError).toBeFalsy();
      } finally {
        await client.close();
      }
      expect(served.errorLines()).toEqual([]);
    } finally {
      await served.stop();
    }

    const store = await openStore(database.settings);
    try {
      expect(await brokenRules(store)).toEqual({});
    } finally {
      await store.close();
    }
  }, 30_000);
});
