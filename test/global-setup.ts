/**
 * vitest globalSetup of each project (vitest.config.ts). On the postgres
 * project it creates this run's template database once, migrated, and hands
 * its name to the workers (`project.provide`, read by `inject` in
 * test/databases.ts), so that each `freshDatabase()` is a quick
 * `CREATE DATABASE … TEMPLATE …`. Teardown drops the template and whatever
 * databases of this run the tests left behind. On the sqlite project it does
 * nothing.
 *
 * Every name starts with `onboard_test_<start time>_<random>_`, so that runs
 * on one server (two checkouts, two CI jobs) never touch each other's
 * databases; only what a run started over a day ago left (killed before its
 * teardown) is dropped by another.
 */
import type { Client } from "pg";
import type { TestProject } from "vitest/node";
import { openStore } from "../db/client.js";
import {
  type PostgresTestRun,
  engineFrom,
  quoteIdentifier,
  databaseUrlFor,
  serverOf,
  testPostgresUrl,
  uniqueId,
  withAdmin,
} from "./databases.js";

/** Every database a test run makes is named `onboard_test_<start time, base 36>_<random>_…`. */
const RUN_PREFIX = "onboard_test_";
/** A run that started this long ago is over (the suite takes minutes); what it left is dropped. */
const ABANDONED_AFTER_MS = 24 * 3_600_000;

const HOW_TO_START =
  "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` (or run .ci/run, which installs and starts it), " +
  "or point ONBOARD_TEST_PG_URL at another server";

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const engine = engineFrom(project.config.env?.ONBOARD_TEST_ENGINE ?? process.env.ONBOARD_TEST_ENGINE);
  if (engine !== "postgres") return undefined;

  const adminUrl = testPostgresUrl();
  await reachable(adminUrl);

  await dropAbandonedRuns(adminUrl);
  const prefix = `${RUN_PREFIX}${Date.now().toString(36)}_${uniqueId(3)}_`;
  const template = `${prefix}template`;
  const run: PostgresTestRun = { adminUrl, template, prefix };

  await withAdmin(adminUrl, (client) => client.query(`CREATE DATABASE ${quoteIdentifier(template)}`));
  try {
    const store = await openStore({ databaseUrl: databaseUrlFor(adminUrl, template), dbFile: "", poolSize: 1 });
    await store.close();
    // Nobody may connect to it from now on: CREATE DATABASE … TEMPLATE fails while anyone is.
    await withAdmin(adminUrl, (client) => client.query(`ALTER DATABASE ${quoteIdentifier(template)} ALLOW_CONNECTIONS false`));
  } catch (error) {
    await dropRun(run);
    throw error;
  }
  project.provide("onboardPostgres", run);
  return () => dropRun(run);
}

/** Fails with one line, saying how to start the server, when PostgreSQL does not answer. */
async function reachable(adminUrl: string): Promise<void> {
  try {
    await withAdmin(adminUrl, (client) => client.query("SELECT 1"));
  } catch (error) {
    const code = (error as { code?: string }).code;
    const reason = code ?? (error instanceof Error ? error.message : String(error));
    const message = `PostgreSQL tests: cannot use the server at ${serverOf(adminUrl)} (${reason}); ${HOW_TO_START}.`;
    const failure = new Error(message);
    failure.stack = message; // one line, not a trace through pg's internals
    throw failure;
  }
}

/** Drops the template and every database of this run still there. */
async function dropRun({ adminUrl, prefix }: PostgresTestRun): Promise<void> {
  await withAdmin(adminUrl, async (client) => {
    // A worker that was killed may have left a CREATE DATABASE running; what it makes must go too.
    for (let waited = 0; waited < 10_000; waited += 100) {
      const { rows } = await client.query(
        "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE 'CREATE DATABASE %' AND strpos(query, $1) > 0",
        [prefix],
      );
      if (rows.length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await dropWhere(client, (name) => name.startsWith(prefix));
  });
}

/** Drops what runs that began more than a day ago left behind (a run killed before its teardown). */
async function dropAbandonedRuns(adminUrl: string): Promise<void> {
  await withAdmin(adminUrl, (client) =>
    dropWhere(client, (name) => {
      const started = /^onboard_test_([0-9a-z]+)_[0-9a-f]+_/.exec(name)?.[1];
      return started !== undefined && Date.now() - Number.parseInt(started, 36) > ABANDONED_AFTER_MS;
    }),
  );
}

async function dropWhere(client: Client, chosen: (name: string) => boolean): Promise<void> {
  const { rows } = await client.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE starts_with(datname, $1)",
    [RUN_PREFIX],
  );
  for (const { datname } of rows.filter((row) => chosen(row.datname))) {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(datname)} WITH (FORCE)`);
  }
}
