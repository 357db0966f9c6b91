/**
 * The one place tests get a database. Every call of `freshDatabase()` is a
 * new, empty (migrated) database of the engine under test, seen by nobody
 * else: a file in a new temporary folder on SQLite, a database copied from
 * this run's migrated template on PostgreSQL (see test/global-setup.ts).
 *
 * The engine is ONBOARD_TEST_ENGINE ("sqlite" unless told), which each vitest
 * project (vitest.config.ts) sets for its workers.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { inject } from "vitest";
import type { DatabaseSettings, Engine } from "../db/client.js";

/** What test/global-setup.ts hands the workers of the postgres project. */
export interface PostgresTestRun {
  /** Where databases are created and dropped from (ONBOARD_TEST_PG_URL). */
  adminUrl: string;
  /** The migrated database every fresh one is copied from. */
  template: string;
  /** Every database of this run is named `${prefix}…`; teardown drops them all. */
  prefix: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    onboardPostgres: PostgresTestRun;
  }
}

export const ENGINES: readonly Engine[] = ["sqlite", "postgres"];

/** The engine an ONBOARD_TEST_ENGINE value names; unset or empty is SQLite. */
export function engineFrom(value: string | undefined): Engine {
  if (value === undefined || value === "") return "sqlite";
  if ((ENGINES as readonly string[]).includes(value)) return value as Engine;
  throw new Error(`ONBOARD_TEST_ENGINE must be "sqlite" or "postgres" (got ${JSON.stringify(value)})`);
}

/** The engine this test run uses. */
export const testEngine: Engine = engineFrom(process.env.ONBOARD_TEST_ENGINE);

export const DEFAULT_TEST_PG_URL = "postgres://postgres@127.0.0.1:5432/test";

/** The PostgreSQL server tests create their databases on, as an admin URL (a database that exists there). */
export const testPostgresUrl = (): string => process.env.ONBOARD_TEST_PG_URL || DEFAULT_TEST_PG_URL;

/** The URL of database `name` on the server of `adminUrl`, with its user, password and options. */
export function databaseUrlFor(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** `host:port` of a URL, for messages (never the password). */
export function serverOf(url: string): string {
  const { hostname, port } = new URL(url);
  return `${hostname}:${port || 5432}`;
}

/** A double-quoted identifier. Names made here are [a-z0-9_] only; this is for safety's sake. */
export const quoteIdentifier = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** A name part no other run or worker will make: random bytes in lower-case hex. */
export const uniqueId = (bytes = 4): string => randomBytes(bytes).toString("hex");

/** Runs `work` on one admin connection to the test server, then closes it. */
export async function withAdmin<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  // A connection the server drops (DROP … WITH (FORCE) elsewhere, a restart) must not crash the worker.
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface FreshDatabase {
  engine: Engine;
  /** For `openStore(settings)` in the test's own process. */
  settings: DatabaseSettings;
  /**
   * For a server process the test starts (startServe, runCli, launchStdio):
   * ONBOARD_DB on SQLite; ONBOARD_DATABASE_URL on PostgreSQL, with ONBOARD_DB
   * set to a scratch path that nothing should create (so a code path that
   * wrongly opens SQLite never lands in the project's ./data).
   */
  env: Record<string, string>;
  /** Removes the database (and its folder). Closing stores first is polite, not needed. Safe to call twice. */
  drop(): Promise<void>;
}

/** A new database nobody else sees, migrated on PostgreSQL, not yet created on SQLite (openStore creates and migrates it). */
export async function freshDatabase(engine: Engine = testEngine): Promise<FreshDatabase> {
  return engine === "postgres" ? freshPostgres() : freshSqlite();
}

function freshSqlite(): Promise<FreshDatabase> {
  const dir = mkdtempSync(join(tmpdir(), "onboard-test-"));
  const dbFile = join(dir, "onboard.db");
  return Promise.resolve({
    engine: "sqlite",
    settings: { dbFile },
    env: { ONBOARD_DB: dbFile },
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  });
}

/** This worker's view of the run's PostgreSQL template, as test/global-setup.ts provided it. */
export function postgresTestRun(): PostgresTestRun {
  let run: PostgresTestRun | undefined;
  try {
    run = inject("onboardPostgres");
  } catch {
    run = undefined;
  }
  if (!run) {
    throw new Error(
      "freshDatabase(\"postgres\"): no template database for this run. Run the tests of the postgres project " +
        "(npx vitest run --project postgres), whose globalSetup test/global-setup.ts creates it.",
    );
  }
  return run;
}

/** Admin connections of this worker: kept between calls, never keeping the worker alive. */
const adminPools = new Map<string, pg.Pool>();
function adminPool(adminUrl: string): pg.Pool {
  let pool = adminPools.get(adminUrl);
  if (!pool) {
    pool = new pg.Pool({ connectionString: adminUrl, max: 2, idleTimeoutMillis: 5_000, allowExitOnIdle: true, connectionTimeoutMillis: 10_000 });
    pool.on("error", () => undefined);
    adminPools.set(adminUrl, pool);
  }
  return pool;
}

let made = 0;

/** Creates one database of this run from its template and returns its name. */
async function createFromTemplate({ adminUrl, template, prefix }: PostgresTestRun): Promise<string> {
  const name = `${prefix}${uniqueId()}_${++made}`;
  await adminPool(adminUrl).query(`CREATE DATABASE ${quoteIdentifier(name)} TEMPLATE ${quoteIdentifier(template)}`);
  return name;
}

async function freshPostgres(): Promise<FreshDatabase> {
  const run = postgresTestRun();
  return postgresDatabase(run, await createFromTemplate(run));
}

/** Database `name` of this run as a FreshDatabase: its URL, a scratch ONBOARD_DB nothing should create, and its drop. */
export function postgresDatabase(run: PostgresTestRun, name: string): FreshDatabase {
  const databaseUrl = databaseUrlFor(run.adminUrl, name);
  const scratch = mkdtempSync(join(tmpdir(), "onboard-test-pg-"));
  const dbFile = join(scratch, "unused-sqlite.db");
  let dropped: Promise<void> | undefined;
  return {
    engine: "postgres",
    settings: { databaseUrl, dbFile },
    env: { ONBOARD_DATABASE_URL: databaseUrl, ONBOARD_DB: dbFile },
    drop: () =>
      (dropped ??= adminPool(run.adminUrl)
        .query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`)
        .then(() => undefined)
        .finally(() => rmSync(scratch, { recursive: true, force: true }))),
  };
}
