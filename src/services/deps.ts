import type { Db } from "../../db/client.js";

/** The current time; tests pass their own to move through token lifetimes. */
export type Clock = () => Date;

export interface ServiceSettings {
  /** Base of every claim and invite URL, without a trailing slash. */
  publicUrl: string;
  accessTokenTtlMs: number;
  claimTokenTtlMs: number;
}

/** What every service function receives first. */
export interface Deps {
  db: Db;
  clock: Clock;
  settings: ServiceSettings;
}
