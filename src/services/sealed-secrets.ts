import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import type { ReadDb } from "../../db/client.js";
import { signingKey } from "./tokens.js";

/** What a sealed value is for: each use has its own key, so one kind can never be opened as another. */
export type SealedUse = "invite link secret" | "outgoing mail";

const keys = new WeakMap<Uint8Array, Map<SealedUse, Buffer>>();

/** Derived from the database's own key (never a configured one, which may rotate), for one use. */
async function sealingKey(db: ReadDb, use: SealedUse): Promise<Buffer> {
  const secret = await signingKey(db);
  let ofSecret = keys.get(secret);
  if (!ofSecret) keys.set(secret, (ofSecret = new Map()));
  let key = ofSecret.get(use);
  if (!key) {
    key = Buffer.from(hkdfSync("sha256", secret, new Uint8Array(0), `agent-onboard ${use} v1`, 32));
    ofSecret.set(use, key);
  }
  return key;
}

/** A secret encrypted and authenticated (AES-256-GCM) for keeping in the database: nonce, ciphertext and tag, base64url. */
export async function sealSecret(db: ReadDb, secret: string, use: SealedUse = "invite link secret"): Promise<string> {
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", await sealingKey(db, use), nonce);
  const sealed = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
  return Buffer.concat([nonce, sealed, cipher.getAuthTag()]).toString("base64url");
}

/** The secret back; undefined when it was sealed with another database's key or altered. */
export async function openSealed(db: ReadDb, sealed: string, use: SealedUse = "invite link secret"): Promise<string | undefined> {
  const bytes = Buffer.from(sealed, "base64url");
  if (bytes.length < 28) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", await sealingKey(db, use), bytes.subarray(0, 12));
    decipher.setAuthTag(bytes.subarray(bytes.length - 16));
    return Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString("utf8");
  } catch {
    return undefined;
  }
}
