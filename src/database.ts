import { openStore, type Store } from "../db/client.js";
import { driverCode } from "../db/errors.js";
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
    throw new ConfigError(`ONBOARD_DATABASE_URL: cannot use the PostgreSQL database there (${reasonOf(error)})`);
  }
}

/** Which database a log line names: the SQLite file, or the PostgreSQL host and database without credentials. */
export function describeDatabase(config: Config): string {
  if (!config.databaseUrl) return config.dbFile;
  const url = new URL(config.databaseUrl);
  return `postgres://${url.host}${url.pathname}`;
}

function reasonOf(error: unknown): string {
  const code = driverCode(error);
  const reasons: Record<string, string> = {
    ECONNREFUSED: "connection refused: is the server running and listening on that host and port?",
    ENOTFOUND: "unknown host",
    EAI_AGAIN: "the host name could not be looked up",
    ETIMEDOUT: "the connection timed out",
    "28P01": "wrong password",
    "28000": "the server refused this user",
    "3D000": "the database does not exist; create it first (createdb)",
    "42501": "this user may not create tables there",
  };
  return (code && reasons[code]) ?? (code ? `error ${code}` : "unexpected error");
}
