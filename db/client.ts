import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import type { BaseSQLiteDatabase } from "drizzle-orm/sqlite-core";
import { readMigrationFiles } from "drizzle-orm/migrator";
import * as schema from "./schema.js";

/** The db or a transaction on it: services take either. */
export type Db = BaseSQLiteDatabase<"sync", Database.RunResult, typeof schema>;
export { schema };

const migrationsFolder = fileURLToPath(new URL("./migrations", import.meta.url));

export interface OpenDb {
  db: Db;
  sqlite: Database.Database;
  close(): void;
}

/** Opens (creating if needed) the SQLite file, tunes it for concurrent writers and applies migrations. */
export function openDb(file: string): OpenDb {
  if (file !== ":memory:") createPrivately(file);
  const sqlite = new Database(file);
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("synchronous = NORMAL");
  const db = drizzle(sqlite, { schema });
  migrateExclusively(sqlite);
  return { db, sqlite, close: () => sqlite.close() };
}

/**
 * A new database file (and the folder made for it) is readable by its owner
 * only: it holds the token signing key. SQLite gives the -wal and -shm files
 * the same mode as the database file. An existing file keeps the mode it has.
 */
function createPrivately(file: string) {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, "a", 0o600));
}

// Several processes may start on one fresh file at once. drizzle's own
// migrator opens a deferred transaction, so two of them would both replay the
// DDL; taking the write lock first makes the second wait and then skip. The
// bookkeeping table is drizzle-kit's, so its tools read the same history.
function migrateExclusively(sqlite: Database.Database) {
  const migrations = readMigrationFiles({ migrationsFolder });
  sqlite
    .transaction(() => {
      sqlite.exec(
        "CREATE TABLE IF NOT EXISTS __drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)",
      );
      const last = sqlite
        .prepare("SELECT created_at FROM __drizzle_migrations ORDER BY created_at DESC LIMIT 1")
        .get() as { created_at: number } | undefined;
      const record = sqlite.prepare("INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)");
      for (const migration of migrations) {
        if (last && Number(last.created_at) >= migration.folderMillis) continue;
        for (const statement of migration.sql) sqlite.exec(statement);
        record.run(migration.hash, migration.folderMillis);
      }
    })
    .immediate();
}
