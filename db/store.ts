import type { Engine, ReadDb } from "./handle.js";

/** An open database on either engine. */
export interface Store {
  engine: Engine;
  /** Reads; writes through `db.transact`. */
  db: ReadDb;
  /**
   * One raw SQL statement with `?` placeholders, for what is not a service
   * query: checks in tests, `agent-onboard copy`. Rows come back as the
   * driver reads them (PostgreSQL timestamps as Dates, SQLite's as numbers).
   */
  query(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Waits for the transactions under way, then closes the connections. */
  close(): Promise<void>;
}
