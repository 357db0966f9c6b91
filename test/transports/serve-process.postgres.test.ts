// What these check does not exist with a SQLite file; the server they need is the postgres
// project's (its global setup checks that it answers).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { databaseUrlFor, type FreshDatabase, freshDatabase, testPostgresUrl, uniqueId, withAdmin } from "../databases.js";
import { runCli, type Serving, startServe } from "../processes.js";

let dir: string;
let database: FreshDatabase;
let servers: Serving[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "onboard-serve-pg-"));
  database = await freshDatabase();
  servers = [];
});

afterEach(async () => {
  await Promise.all(servers.map((served) => served.stop("SIGKILL")));
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(env: Record<string, string>): Promise<Serving> {
  const served = await startServe({ HOME: dir, ...database.env, ...env });
  servers.push(served);
  return served;
}

/** `agent-onboard serve` with ONBOARD_DATABASE_URL set to `url`; ONBOARD_DB names a file that must never be made. */
const serveOn = (url: string) =>
  runCli(["serve"], { HOME: dir, ONBOARD_DATABASE_URL: url, ONBOARD_DB: join(dir, "never-made.db"), ONBOARD_PORT: "0" });

test("an ONBOARD_DATABASE_URL naming a database that does not exist stops serve with exit code 2 and a line saying so", async () => {
  // The test server's own user (and password, if it has one), and a database nobody made.
  const url = databaseUrlFor(testPostgresUrl(), `onboard_missing_${uniqueId()}`);
  const { code, stdout, stderr } = await serveOn(url);
  expect(code).toBe(2);
  expect(stdout).toBe("");
  expect(stderr.trim().split("\n")).toHaveLength(1);
  expect(stderr).toMatch(/^agent-onboard: ONBOARD_DATABASE_URL: .*the database does not exist/);
  const { password } = new URL(url);
  if (password) expect(stderr).not.toContain(password);
  expect(existsSync(join(dir, "never-made.db")), "fell back to SQLite").toBe(false);
});

test("ONBOARD_DATABASE_POOL_SIZE caps the connections one process opens, however many requests wait", async () => {
  const served = await serve({ ONBOARD_DATABASE_POOL_SIZE: "2", ONBOARD_SIGNUPS_PER_HOUR: "0" });
  const answers = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      fetch(`${served.url}/api/agents/signup`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ agentName: `Pooled ${i}` }),
      }).then((response) => response.status),
    ),
  );
  expect(answers).toEqual(Array(12).fill(200));
  // Its connections stay open, idle, for a while after the burst.
  const name = new URL(database.settings.databaseUrl!).pathname.slice(1);
  const { rows } = await withAdmin(testPostgresUrl(), (client) =>
    client.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1", [name]),
  );
  expect(rows[0]!.n).toBe(2);
  expect(served.errorLines()).toEqual([]);
});
