import type { ReadDb } from "../../db/client.js";
import type { Mailer } from "./mail.js";

/** The current time; tests pass their own to move through token lifetimes. */
export type Clock = () => Date;

/**
 * One key of ONBOARD_SIGNING_KEYS: an id (the JWT's `kid`) and its secret,
 * or, without a secret, the key kept in the database (id "db").
 */
export interface SigningKeySetting {
  id: string;
  secret?: Uint8Array;
}

export interface ServiceSettings {
  /** Base of every claim and invite URL, without a trailing slash. */
  publicUrl: string;
  accessTokenTtlMs: number;
  claimTokenTtlMs: number;
  sessionIdleMs: number;
  sessionMaxMs: number;
  /** Mails per hour an account may cause and an address may receive (0: no limit); unset, none is counted. */
  mailLimits?: { perSender: number; perRecipient: number };
  /** The proof of work of Pulumi's REST agent signup; unset, none is asked for. */
  signupChallenge?: { bits: number; ttlMs: number };
  /** Over stdio, when the claim links handed out open, said with each one; unset where this server itself serves them. */
  claimLinkNote?: string;
  /** The first signs access tokens, all verify them; unset, the database's own key alone (id "db"). */
  signingKeys?: SigningKeySetting[];
}

/** What every service function receives first. */
export interface Deps {
  db: ReadDb;
  clock: Clock;
  settings: ServiceSettings;
  /** Outgoing mail (verification links, organization invites), sent after the change commits. */
  mailer: Mailer;
}
