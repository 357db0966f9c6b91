import type { Db } from "../../db/client.js";
import type { Mailer } from "./mail.js";

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
  /** Outgoing mail (verification links, organization invites), sent after the change commits. */
  mailer: Mailer;
}
