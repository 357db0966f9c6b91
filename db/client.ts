import { openPostgres } from "./postgres.js";
import { openSqlite } from "./sqlite.js";
import type { Store } from "./store.js";

export type { Db, Engine, ReadDb, Tables } from "./handle.js";
export type { Store } from "./store.js";

export interface DatabaseSettings {
  /** `postgres://…`; unset, the SQLite file. */
  databaseUrl?: string;
  dbFile: string;
  /** PostgreSQL connections per process. */
  poolSize?: number;
}

/** Opens the configured database, applying the committed migrations of its engine. */
export function openStore(settings: DatabaseSettings): Promise<Store> {
  if (settings.databaseUrl) return openPostgres({ url: settings.databaseUrl, poolSize: settings.poolSize ?? 10 });
  return Promise.resolve(openSqlite(settings.dbFile));
}
