import { openStore, type Store } from "../db/client.js";
import { connectionProblem } from "../db/errors.js";
import { ConfigError, type Config } from "./config.js";

/**
 * Opens the configured database. A PostgreSQL server that cannot be reached
 * or refuses us is the operator's to fix: one line naming the variable, and
 * never the URL itself (it may hold a password).
 */
export async function openConfiguredStore(config: Config): Promise<Store> {
  if (!config.databaseUrl) return openStore(config);
  try {
    return await openStore(config);
  } catch (error) {
    throw new ConfigError(`ONBOARD_DATABASE_URL: cannot use the PostgreSQL database there (${connectionProblem(error)})`);
  }
}

/** Which database a log line names: the SQLite file, or the PostgreSQL host and database without credentials. */
export function describeDatabase(config: Config): string {
  if (!config.databaseUrl) return config.dbFile;
  const url = new URL(config.databaseUrl);
  return `postgres://${url.host}${url.pathname}`;
}
