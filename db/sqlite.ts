import { closeSync, mkdirSync, openSync, realpathSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { readMigrationFiles } from "drizzle-orm/migrator";
import { type Db, readHandleOn, transactionHandleOn } from "./handle.js";
import * as tables from "./schema/sqlite.js";
import type { Store } from "./store.js";

const migrationsFolder = fileURLToPath(new URL("./migrations/sqlite", import.meta.url));

/**
 * Opens (creating if needed) the SQLite file and applies the migrations.
 *
 * Two connections: reads outside a transaction go to one that may only read,
 * so they see committed data only; transactions run one at a time on the
 * other. better-sqlite3 is synchronous, so drizzle's own transaction cannot
 * span an `await` (the callback would return at its first await and the
 * rest would run outside the transaction); here BEGIN IMMEDIATE … COMMIT wrap
 * the whole awaited callback, and a queue keeps every other transaction of
 * this process (of every store it has open on the file) off the file until
 * it ends. Other processes wait on SQLite's write lock (busy_timeout).
 */
export function openSqlite(file: string): Store {
  const inMemory = file === ":memory:";
  if (!inMemory) createPrivately(file);
  const writer = connect(file);
  migrateExclusively(writer);
  // An in-memory database exists on one connection only; it is for trying things out.
  const reader = inMemory ? writer : connect(file);
  if (!inMemory) reader.pragma("query_only = ON");

  const key = inMemory ? undefined : realpathSync(file);
  const turns = (key && turnsOfFile.get(key)) || { queue: Promise.resolve() as Promise<unknown>, stores: 0 };
  turns.stores++;
  if (key) turnsOfFile.set(key, turns);
  let underway = 0;
  const inTransaction: Db = transactionHandleOn(drizzle(writer), "sqlite", tables, (work) => work(inTransaction));

  async function runTransaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
    writer.exec("BEGIN IMMEDIATE");
    try {
      const result = await work(inTransaction);
      writer.exec("COMMIT");
      return result;
    } catch (error) {
      if (writer.inTransaction) writer.exec("ROLLBACK");
      throw error;
    }
  }

  const transact = <T>(work: (tx: Db) => Promise<T>): Promise<T> => {
    underway++;
    const turn = turns.queue.then(() => runTransaction(work)).finally(() => underway--);
    turns.queue = turn.catch(() => undefined);
    return turn;
  };

  let closed = false;
  const closeNow = () => {
    if (closed) return;
    closed = true;
    if (reader !== writer) reader.close();
    writer.close();
    if (key && --turns.stores === 0) turnsOfFile.delete(key);
  };

  return {
    engine: "sqlite",
    db: readHandleOn(drizzle(reader), "sqlite", tables, transact),
    // As on PostgreSQL: a read sees committed data only, a write is a transaction of its own.
    async query(text, params = []) {
      const read = reader.prepare(text);
      if (read.readonly) return read.all(...params) as Record<string, unknown>[];
      return transact(async () => {
        const statement = writer.prepare(text);
        if (statement.reader) return statement.all(...params) as Record<string, unknown>[];
        statement.run(...params);
        return [];
      });
    },
    // At once when idle, so that a process on its way out still closes (and checkpoints) the file.
    close() {
      if (underway === 0) {
        closeNow();
        return Promise.resolve();
      }
      return turns.queue.then(closeNow);
    },
  };
}

/**
 * The transactions of every store this process has open on one file, taking
 * turns. Two stores on one file in one process must never hold transactions
 * at once: the second's BEGIN IMMEDIATE waits on SQLite's lock synchronously,
 * freezing the event loop that the first needs to reach its COMMIT, until
 * busy_timeout fails it with SQLITE_BUSY.
 */
const turnsOfFile = new Map<string, { queue: Promise<unknown>; stores: number }>();

function connect(file: string) {
  const sqlite = new Database(file);
  sqlite.pragma("busy_timeout = 5000");
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("synchronous = NORMAL");
  return sqlite;
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
