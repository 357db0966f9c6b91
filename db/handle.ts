import type { NodePgDatabase } from "drizzle-orm/node-postgres";
import * as tables from "./schema/pg.js";

/** The tables as services see them; each engine hands over its own dialect's, with the same names and columns. */
export type Tables = typeof tables;

export type Engine = "sqlite" | "postgres";

type Drizzle = NodePgDatabase<Tables>;

/**
 * What a service may do outside a transaction: read. Writes exist only on the
 * handle a transaction passes in, so a write can never land half-done or
 * inside someone else's transaction.
 *
 * Both engines' drizzle builders run the same calls (select, insert with
 * returning, update, delete, onConflict…) and are awaited the same way; the
 * types are the pg dialect's, and the whole test suite runs on both engines
 * to keep that honest. Never `.get()`, `.all()` or `.run()` (SQLite only),
 * never `.for("update")` or `execute` (PostgreSQL only).
 */
export interface ReadDb extends Pick<Drizzle, "select" | "selectDistinct" | "$count"> {
  readonly engine: Engine;
  readonly tables: Tables;
  /**
   * Runs `work` as one transaction: all of its writes or none. Inside a
   * transaction it joins it. `work` is async on both engines and may await
   * anything; nothing else writes on this connection meanwhile (SQLite) and a
   * serialization failure replays it from the start (PostgreSQL), so `work`
   * must not do anything outside the database that cannot be repeated.
   */
  transact<T>(work: (tx: Db) => Promise<T>): Promise<T>;
}

/** The handle inside a transaction: reads and writes. */
export interface Db extends ReadDb, Pick<Drizzle, "insert" | "update" | "delete"> {}

/** The drizzle methods a handle passes through, from either dialect's database or transaction. */
const reads = ["select", "selectDistinct", "$count"] as const;
const writes = ["insert", "update", "delete"] as const;

type Drizzles = Record<(typeof reads)[number] | (typeof writes)[number], (...args: unknown[]) => unknown>;

function passThrough(drizzle: object, engine: Engine, tablesOfEngine: object, transact: ReadDb["transact"], methods: readonly string[]) {
  const source = drizzle as Drizzles;
  const handle: Record<string, unknown> = { engine, tables: tablesOfEngine, transact };
  for (const method of methods) handle[method] = source[method as keyof Drizzles].bind(source);
  return handle;
}

// The SQLite builders are typed by their own dialect; they answer the same calls (see ReadDb).

/** The handle outside transactions: it has no write methods at all, not even untyped. */
export const readHandleOn = (drizzle: object, engine: Engine, tablesOfEngine: object, transact: ReadDb["transact"]): ReadDb =>
  passThrough(drizzle, engine, tablesOfEngine, transact, reads) as unknown as ReadDb;

/** The handle a transaction passes to its work. */
export const transactionHandleOn = (drizzle: object, engine: Engine, tablesOfEngine: object, transact: ReadDb["transact"]): Db =>
  passThrough(drizzle, engine, tablesOfEngine, transact, [...reads, ...writes]) as unknown as Db;
