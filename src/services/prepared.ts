import type { Db } from "../../db/client.js";

/**
 * A query built and compiled once per connection, for the hot paths (every
 * authenticated call runs them). Drizzle otherwise rebuilds the SQL string and
 * SQLite recompiles it on each call, which costs more than running it.
 * Values go in through `sql.placeholder`.
 */
export function preparedPerDb<Query>(build: (db: Db) => Query): (db: Db) => Query {
  const cache = new WeakMap<Db, Query>();
  return (db) => {
    let query = cache.get(db);
    if (!query) {
      query = build(db);
      cache.set(db, query);
    }
    return query;
  };
}
