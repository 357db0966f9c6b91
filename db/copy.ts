import { existsSync } from "node:fs";
import Database from "better-sqlite3";
import { count, getTableColumns, is, type SQL, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { getTableConfig as pgTableConfig, PgTable } from "drizzle-orm/pg-core";
import { getTableConfig as sqliteTableConfig, type SQLiteColumn, SQLiteTable } from "drizzle-orm/sqlite-core";
import pg from "pg";
import { connectionProblem, driverCode } from "./errors.js";
import type { Db } from "./handle.js";
import { openPostgres } from "./postgres.js";
import * as pgSchema from "./schema/pg.js";
import * as sqliteSchema from "./schema/sqlite.js";
import { openSqlite } from "./sqlite.js";
import type { Store } from "./store.js";

/**
 * Why a copy did not happen. In every case the target holds nothing of the
 * source: the copy is one PostgreSQL transaction. Messages never hold the
 * target URL (it may carry a password).
 *
 * - `source`: no SQLite database at the file given;
 * - `target`: the PostgreSQL database cannot be reached or used;
 * - `not-empty`: the target already holds data, or tables that are not ours;
 * - `failed`: PostgreSQL refused a row (or the copy broke off midway).
 */
export class CopyError extends Error {
  constructor(
    readonly kind: "source" | "target" | "not-empty" | "failed",
    message: string,
    options?: { cause?: unknown },
  ) {
    // The cause keeps the driver's code reachable (driverCode), so that a serialization failure is still replayed.
    super(message, options);
    this.name = "CopyError";
  }
}

export interface CopyReport {
  /** Every table of the schema, in the order copied (foreign keys first), with its rows. */
  tables: { table: string; rows: number }[];
  rows: number;
}

export interface CopyOptions {
  /** Rows read and inserted at a time; the whole database is never held in memory. */
  batchSize?: number;
}

/** A table as both engines have it: the same export name, table name and columns. */
export interface TablePair {
  name: string;
  sqlite: SQLiteTable;
  pg: PgTable;
}

/**
 * Copies the SQLite database in `sqliteFile` into the empty PostgreSQL
 * database at `targetUrl`: every table of the schema (signing keys included,
 * so tokens already issued keep verifying; drizzle's migration bookkeeping
 * not), with the same ids, in one transaction, so the target ends up with
 * all of it or none. The source is read from one snapshot, so a server still
 * writing to it cannot make the copy mix two states, but whatever it writes
 * after the copy starts is not copied: stop it first.
 *
 * Refuses a target that already holds rows, or tables other than ours.
 */
export async function copySqliteToPostgres(
  sqliteFile: string,
  targetUrl: string,
  { batchSize = 1000 }: CopyOptions = {},
): Promise<CopyReport> {
  if (sqliteFile === ":memory:" || !existsSync(sqliteFile)) {
    throw new CopyError("source", `there is no SQLite database at ${sqliteFile}`);
  }
  // The snapshot is taken before the first await: the copy is of the database as it was when called.
  let source: Snapshot;
  try {
    // Brings an older file up to the schema the pg tables have (what the server would do on start).
    const migrated = openSqlite(sqliteFile);
    try {
      source = openSnapshot(sqliteFile);
    } finally {
      await migrated.close();
    }
  } catch (error) {
    throw new CopyError("source", `cannot read the SQLite database at ${sqliteFile} (${problemOf(error)})`, { cause: error });
  }

  try {
    await refuseForeignTables(targetUrl);
    let target: Store;
    try {
      target = await openPostgres({ url: targetUrl, poolSize: 2 });
    } catch (error) {
      throw new CopyError("target", `cannot use the PostgreSQL database (${connectionProblem(error)})`);
    }
    try {
      return await target.db.transact((tx) => copyTables(source, tx, batchSize));
    } catch (error) {
      if (error instanceof CopyError) throw error;
      throw new CopyError("failed", `the copy failed and nothing was written (${problemOf(error)})`, { cause: error });
    } finally {
      await target.close();
    }
  } finally {
    source.end();
  }
}

/** The schema's tables paired across the dialects, each after the tables it references. */
export function tablesInCopyOrder(): TablePair[] {
  const pairs = new Map<PgTable, TablePair>();
  // By name: a module namespace lists its exports sorted in Node, in source order under vite (vitest).
  const exports = Object.entries(pgSchema).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, table] of exports) {
    if (!is(table, PgTable)) continue;
    const sqlite = (sqliteSchema as Record<string, unknown>)[name];
    if (!is(sqlite, SQLiteTable)) throw new Error(`schema/sqlite.ts has no table ${name}`);
    const pgConfig = pgTableConfig(table);
    const sqliteConfig = sqliteTableConfig(sqlite);
    const pgColumns = pgConfig.columns.map((column) => column.name).sort();
    const sqliteColumns = sqliteConfig.columns.map((column) => column.name).sort();
    if (pgConfig.name !== sqliteConfig.name || pgColumns.join() !== sqliteColumns.join()) {
      throw new Error(`table ${name} differs between schema/pg.ts and schema/sqlite.ts`);
    }
    pairs.set(table, { name: pgConfig.name, sqlite, pg: table });
  }
  for (const [name, table] of Object.entries(sqliteSchema)) {
    if (is(table, SQLiteTable) && !is((pgSchema as Record<string, unknown>)[name], PgTable)) {
      throw new Error(`schema/pg.ts has no table ${name}`);
    }
  }

  const ordered: TablePair[] = [];
  const state = new Map<PgTable, "visiting" | "done">();
  const visit = (table: PgTable, path: string[]) => {
    const pair = pairs.get(table)!;
    if (state.get(table) === "done") return;
    if (state.get(table) === "visiting") {
      throw new Error(`the foreign keys run in a circle (${[...path, pair.name].join(" → ")}); they cannot be copied in order`);
    }
    state.set(table, "visiting");
    for (const foreignKey of pgTableConfig(table).foreignKeys) {
      const referenced = foreignKey.reference().foreignTable;
      if (referenced !== table) visit(referenced, [...path, pair.name]);
    }
    state.set(table, "done");
    ordered.push(pair);
  };
  for (const table of pairs.keys()) visit(table, []);
  return ordered;
}

type Snapshot = ReturnType<typeof openSnapshot>;

/** The SQLite file on a connection of its own, inside one read transaction: every read sees the same state. */
function openSnapshot(file: string) {
  const connection = new Database(file, { fileMustExist: true });
  connection.pragma("busy_timeout = 5000");
  connection.pragma("query_only = ON");
  connection.exec("BEGIN");
  // The snapshot is taken at the first read, not at BEGIN.
  connection.prepare("SELECT count(*) FROM sqlite_master").get();
  return {
    db: drizzle(connection),
    end() {
      if (connection.inTransaction) connection.exec("ROLLBACK");
      connection.close();
    },
  };
}


async function copyTables(source: Snapshot, tx: Db, batchSize: number): Promise<CopyReport> {
  const tables = tablesInCopyOrder();
  // Inside the transaction, so that a second copy started meanwhile cannot slip in between.
  const held: string[] = [];
  for (const { name, pg: table } of tables) {
    const [row] = await tx.select({ rows: count() }).from(table);
    if (row!.rows > 0) held.push(`${row!.rows} ${name}`);
  }
  if (held.length > 0) {
    throw new CopyError(
      "not-empty",
      `the target database already holds data (${held.join(", ")}); copy only into an empty database, e.g. createdb onboard_new`,
    );
  }

  const report: CopyReport = { tables: [], rows: 0 };
  for (const pair of tables) {
    let rows = 0;
    try {
      for (const batch of batchesOf(source, pair.sqlite, batchSize)) {
        await tx.insert(pair.pg).values(batch as never);
        rows += batch.length;
      }
      await resetIdentities(tx, pair.pg);
    } catch (error) {
      throw new CopyError(
        "failed",
        `the copy failed and nothing was written (${pair.name}, after ${rows} rows: ${problemOf(error)})`,
        { cause: error },
      );
    }
    report.tables.push({ table: pair.name, rows });
    report.rows += rows;
  }
  return report;
}

/** The rows of `table` in primary-key order, `size` at a time, each batch read after the last one's key. */
function* batchesOf(source: Snapshot, table: SQLiteTable, size: number): Generator<Record<string, unknown>[]> {
  const keys = primaryKeyOf(table);
  let after: unknown[] | undefined;
  for (;;) {
    const rows: Record<string, unknown>[] = source.db
      .select()
      .from(table)
      .where(after ? rowValue(keys.map(({ column }) => sql`${column}`)).append(sql` > `).append(rowValue(after.map((value) => sql`${value}`))) : undefined)
      .orderBy(...keys.map(({ column }) => column))
      .limit(size)
      .all();
    if (rows.length === 0) return;
    yield rows;
    if (rows.length < size) return;
    const last = rows[rows.length - 1]!;
    after = keys.map(({ key, column }) => column.mapToDriverValue(last[key]));
  }
}

function rowValue(parts: SQL[]): SQL {
  return sql`(${sql.join(parts, sql`, `)})`;
}

/** The primary-key columns of a SQLite table, with the property each has in a row. */
function primaryKeyOf(table: SQLiteTable): { key: string; column: SQLiteColumn }[] {
  const columns = Object.entries(getTableColumns(table));
  const composite = sqliteTableConfig(table).primaryKeys[0]?.columns;
  const primary = composite ?? columns.filter(([, column]) => column.primary).map(([, column]) => column);
  if (primary.length === 0) throw new Error(`table ${sqliteTableConfig(table).name} has no primary key to copy it in order by`);
  return primary.map((column) => ({ key: columns.find(([, c]) => c === column)![0], column }));
}

/** Moves each identity sequence past the ids copied in, so that the next row drawn does not collide. */
async function resetIdentities(tx: Db, table: PgTable) {
  const { name, columns } = pgTableConfig(table);
  for (const column of columns) {
    if (!column.generatedIdentity) continue;
    // Through a select, since the transaction handle runs no raw SQL: setval over max(id), once.
    await tx
      .select({
        value: sql`setval(pg_get_serial_sequence(${`"${name}"`}, ${column.name}), coalesce(max(${column}), 1), max(${column}) IS NOT NULL)`,
      })
      .from(table);
  }
}

/** Tables in the target that agent-onboard did not make: the URL points at someone else's database. */
async function refuseForeignTables(url: string) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // An idle client dropped by the server must not take the process down.
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new CopyError("target", `cannot reach the PostgreSQL database (${connectionProblem(error)})`);
  }
  try {
    const ours = new Set(tablesInCopyOrder().map((pair) => pair.name));
    const { rows } = await client.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name",
    );
    const foreign = rows.map((row) => row.table_name).filter((name) => !ours.has(name));
    if (foreign.length > 0) {
      const shown = foreign.slice(0, 5).join(", ") + (foreign.length > 5 ? `, and ${foreign.length - 5} more` : "");
      throw new CopyError(
        "not-empty",
        `the target database already holds tables that are not agent-onboard's (${shown}); copy only into an empty database, e.g. createdb onboard_new`,
      );
    }
  } catch (error) {
    if (error instanceof CopyError) throw error;
    throw new CopyError("target", `cannot use the PostgreSQL database (${connectionProblem(error)})`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function problemOf(error: unknown): string {
  for (let e = error; e && typeof e === "object"; e = (e as { cause?: unknown }).cause) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === "string") return typeof message === "string" && message ? `${message} [${code}]` : `error ${code}`;
  }
  return error instanceof Error && !/params:/.test(error.message) ? error.message : "unexpected error";
}
