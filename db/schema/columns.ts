import { boolean, integer as pgInteger, timestamp } from "drizzle-orm/pg-core";
import { integer as sqliteInteger } from "drizzle-orm/sqlite-core";

/**
 * The column kinds every table is built from, once per dialect: the same
 * names and the same JavaScript values (numbers, booleans, Dates) on either
 * engine, so that one service code path reads and writes both.
 */
export const sqliteColumns = {
  /** A surrogate key the database draws. */
  serialId: () => sqliteInteger("id").primaryKey({ autoIncrement: true }),
  /** A point in time, kept to the millisecond. */
  instant: (name: string) => sqliteInteger(name, { mode: "timestamp_ms" }),
  flag: (name: string) => sqliteInteger(name, { mode: "boolean" }),
  createdAt: () => sqliteInteger("created_at", { mode: "timestamp_ms" }).notNull(),
};

export const pgColumns = {
  // By default, not always: `agent-onboard copy` carries the ids over as they are.
  serialId: () => pgInteger("id").primaryKey().generatedByDefaultAsIdentity(),
  instant: (name: string) => timestamp(name, { mode: "date", precision: 3, withTimezone: true }),
  flag: (name: string) => boolean(name),
  createdAt: () => timestamp("created_at", { mode: "date", precision: 3, withTimezone: true }).notNull(),
};
