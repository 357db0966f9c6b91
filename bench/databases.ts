// A new, empty database for one benchmark subject, on either engine: a file
// in a temp folder (SQLite) or a database created for it on the PostgreSQL
// server of ONBOARD_BENCH_PG_URL (default: the machine's, database `test`).
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { DatabaseSettings, Engine } from "../db/client.js";

export interface BenchDatabase {
  engine: Engine;
  settings: DatabaseSettings;
  /** For a server process: ONBOARD_DB or ONBOARD_DATABASE_URL. */
  env: Record<string, string>;
  drop(): Promise<void>;
}

const adminUrl = () => process.env.ONBOARD_BENCH_PG_URL || "postgres://postgres@127.0.0.1:5432/test";

async function onAdmin(statement: string) {
  const client = new pg.Client({ connectionString: adminUrl(), connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

export async function benchDatabase(engine: Engine, name: string): Promise<BenchDatabase> {
  const dir = mkdtempSync(join(tmpdir(), `onboard-bench-${name}-`));
  if (engine === "sqlite") {
    const dbFile = join(dir, "onboard.db");
    return { engine, settings: { dbFile }, env: { ONBOARD_DB: dbFile }, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const database = `onboard_bench_${name.replace(/\W/g, "_")}_${randomBytes(4).toString("hex")}`;
  await onAdmin(`CREATE DATABASE "${database}"`);
  const url = new URL(adminUrl());
  url.pathname = `/${database}`;
  const databaseUrl = url.toString();
  return {
    engine,
    settings: { databaseUrl, dbFile: join(dir, "unused.db") },
    env: { ONBOARD_DATABASE_URL: databaseUrl },
    async drop() {
      await onAdmin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
