import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { driverCode } from "./errors.js";
import { type Db, readHandleOn, transactionHandleOn } from "./handle.js";
import * as tables from "./schema/pg.js";
import type { Store } from "./store.js";

const migrationsFolder = fileURLToPath(new URL("./migrations/pg", import.meta.url));

/** Held while migrating, so that instances starting together apply each migration once. */
const MIGRATION_LOCK = 0x6f6e626f; // "onbo"

/** SQLSTATEs after which a transaction is replayed: serialization failure, deadlock. */
const RETRYABLE = new Set(["40001", "40P01"]);
const MAX_ATTEMPTS = 10;

/**
 * Every transaction holds this advisory lock shared, taken on its connection
 * before BEGIN. One that has lost RUN_ALONE_AFTER serialization conflicts
 * takes it exclusively instead: it waits for the transactions under way (of
 * every process on this database) to end and holds new ones back, so that,
 * its snapshot taken after they all ended, it conflicts with nobody. Without
 * this a longer transaction (an invite redeem: reads, then seven writes) can
 * lose to a steady stream of short ones (agent signups) on every attempt:
 * SERIALIZABLE promises that one of two conflicting transactions commits,
 * not which.
 */
const WRITE_LOCK = 0x6f6e6277; // "onbw"
const RUN_ALONE_AFTER = 3;
/** How long a transaction waits to run alone before it gives up (a stuck transaction elsewhere must not stall everyone). */
const RUN_ALONE_WAIT = "5s";

export interface PostgresOptions {
  url: string;
  /** Connections this process keeps at most. */
  poolSize: number;
}

/**
 * Connects to PostgreSQL and applies the migrations under an advisory lock.
 *
 * Transactions run SERIALIZABLE, so that a check followed by a write (is this
 * email free? is this claim still open?) holds as it does under SQLite's
 * single writer; when PostgreSQL reports a conflict the transaction is
 * replayed from the start.
 */
export async function openPostgres(options: PostgresOptions): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: 10_000,
    // Idle connections do not keep the process alive: `stdio` exits once its host closes stdin and the work read is done.
    allowExitOnIdle: true,
    // Counts come back as numbers, as on SQLite; they never get near 2^53.
    types: { getTypeParser: (oid: number, format?: string) => (oid === 20 ? Number : pg.types.getTypeParser(oid, format as "text")) },
  });
  // An idle connection that the server drops must not take the process down.
  pool.on("error", () => undefined);
  try {
    await migrateExclusively(pool);
  } catch (error) {
    await pool.end();
    throw error;
  }
  const base = drizzle(pool, { schema: tables });

  const transact = async <T>(work: (tx: Db) => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await underWriteLock(pool, attempt > RUN_ALONE_AFTER, (client) =>
          drizzle(client).transaction(
            (tx) => {
              const joined: Db = transactionHandleOn(tx, "postgres", tables, (inner) => inner(joined));
              return work(joined);
            },
            { isolationLevel: "serializable" },
          ),
        );
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !RETRYABLE.has(driverCode(error) ?? "")) throw error;
        // Exponential, jittered: with a linear 0–5·n ms the ten attempts span ~0.1 s, less than a burst of
        // transactions on one hot table takes to drain, and some of them ran out of attempts.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(1000, 5 * 2 ** attempt)));
      }
    }
  };

  return {
    engine: "postgres",
    db: readHandleOn(base, "postgres", tables, transact),
    async query(text, params = []) {
      let n = 0;
      const result = await pool.query(text.replace(/\?/g, () => `$${++n}`), params);
      return result.rows;
    },
    close: () => pool.end(),
  };
}

/** Runs `work` on one connection holding WRITE_LOCK, shared or (`alone`) exclusive. */
async function underWriteLock<T>(pool: pg.Pool, alone: boolean, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A connection whose lock state is unknown (its lock or unlock failed) is closed, which releases the lock, never reused.
  let reusable = false;
  try {
    if (alone) {
      // On a timeout the RESET is skipped, and the connection closed with the rest.
      await client.query(`SET lock_timeout = '${RUN_ALONE_WAIT}'; SELECT pg_advisory_lock(${WRITE_LOCK}); RESET lock_timeout`);
    } else {
      await client.query("SELECT pg_advisory_lock_shared($1)", [WRITE_LOCK]);
    }
    try {
      return await work(client);
    } finally {
      await client.query(alone ? "SELECT pg_advisory_unlock($1)" : "SELECT pg_advisory_unlock_shared($1)", [WRITE_LOCK]);
      reusable = true;
    }
  } finally {
    client.release(!reusable);
  }
}

async function migrateExclusively(pool: pg.Pool) {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      await migrate(drizzle(client), { migrationsFolder });
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}
