import type { ReadDb } from "../../db/client.js";

/**
 * A query built and compiled once per database handle, for the hot paths
 * (every authenticated call runs them). Drizzle otherwise rebuilds the SQL
 * string on each call, SQLite recompiles it and PostgreSQL plans it again.
 * Values go in through `sql.placeholder`; `name` is the PostgreSQL statement
 * name, unique per query.
 */
export function preparedPerDb<Query>(build: (db: ReadDb, name: string) => Query, name: string): (db: ReadDb) => Query {
  const cache = new WeakMap<ReadDb, Query>();
  return (db) => {
    let query = cache.get(db);
    if (!query) {
      query = build(db, name);
      cache.set(db, query);
    }
    return query;
  };
}
