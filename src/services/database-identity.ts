import { createHmac } from "node:crypto";
import type { ReadDb } from "../../db/client.js";
import { signingKey } from "./tokens.js";

/**
 * Names the database without revealing anything of it: a keyed hash of the
 * key kept in it, so two servers can tell whether they share one database.
 */
export async function databaseIdentity(db: ReadDb): Promise<string> {
  return createHmac("sha256", await signingKey(db)).update("database identity").digest("base64url").slice(0, 32);
}
