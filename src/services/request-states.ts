import { hkdfSync } from "node:crypto";
import { eq, lt } from "drizzle-orm";
import { EncryptJWT, jwtDecrypt } from "jose";
import { AppError } from "../errors.js";
import type { Deps } from "./deps.js";
import { newUid } from "./secrets.js";
import { sealingSecret } from "./tokens.js";

/**
 * A call's answer held back while the client does something for its human
 * (opens the claim URL), sealed into the `requestState` the client echoes on
 * its retry. Encrypted and authenticated (JWE, A256GCM) because the answer
 * carries the new account's access token; bound to that account and to the
 * call that minted it; short-lived; single use, recorded in the db so that it
 * holds across processes.
 */
export interface HeldAnswer<Data = unknown> {
  data: Data;
  text: string;
}

export const REQUEST_STATE_TTL_MS = 10 * 60_000;
const ISSUER = "agent-onboard/request-state";

const keyCache = new WeakMap<Uint8Array, Uint8Array>();
/** Derived from the token signing key, so every process that verifies tokens shares it, and no token key is ever reused as is. */
async function stateKey(deps: Deps): Promise<Uint8Array> {
  const secret = await sealingSecret(deps);
  let key = keyCache.get(secret);
  if (!key) {
    key = new Uint8Array(hkdfSync("sha256", secret, new Uint8Array(0), "agent-onboard request state v1", 32));
    keyCache.set(secret, key);
  }
  return key;
}

/** Seals `answer` for the retry of `purpose` (e.g. "tools/call agent_signup") by the account `userUid`. */
export async function sealRequestState(deps: Deps, purpose: string, userUid: string, answer: HeldAnswer): Promise<string> {
  const now = deps.clock().getTime();
  return new EncryptJWT({ answer })
    .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
    .setIssuer(ISSUER)
    .setAudience(purpose)
    .setSubject(userUid)
    .setJti(newUid())
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(Math.floor((now + REQUEST_STATE_TTL_MS) / 1000))
    .encrypt(await stateKey(deps));
}

const refused = (why: string) =>
  new AppError(
    "bad_request",
    `${why} Nothing was created or changed. Call the tool again without it to start over.`,
  );

/**
 * Opens a state echoed by a retried call and marks it used. `callerUid` is
 * the account the retry is signed in as, if any: a state minted for another
 * account is refused.
 */
export async function redeemRequestState(
  deps: Deps,
  purpose: string,
  state: string,
  callerUid: string | undefined,
): Promise<HeldAnswer> {
  const now = deps.clock();
  let claims: { sub?: string; jti?: string; exp?: number; answer?: unknown };
  try {
    ({ payload: claims } = await jwtDecrypt(state, await stateKey(deps), {
      issuer: ISSUER,
      audience: purpose,
      currentDate: now,
      clockTolerance: 0,
      keyManagementAlgorithms: ["dir"],
      contentEncryptionAlgorithms: ["A256GCM"],
    }));
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_JWT_EXPIRED") {
      throw refused("This confirmation round expired (it is valid for 10 minutes).");
    }
    throw refused("This requestState was not issued by this server for this tool, or it was altered.");
  }
  const { sub, jti, exp, answer } = claims;
  const held = answer as HeldAnswer | undefined;
  if (!sub || !jti || !exp || !held || typeof held.text !== "string") {
    throw refused("This requestState was not issued by this server for this tool, or it was altered.");
  }
  if (callerUid !== undefined && callerUid !== sub) {
    throw refused("This requestState belongs to another account than the one you are signed in as.");
  }
  const { users } = deps.db.tables;
  const [owner] = await deps.db.select({ id: users.id }).from(users).where(eq(users.uid, sub));
  if (!owner) throw refused("The account this requestState was issued for no longer exists.");
  const recorded = await deps.db.transact(async (tx) => {
    const { usedRequestStates } = tx.tables;
    return tx
      .insert(usedRequestStates)
      .values({ jti, userId: owner.id, expiresAt: new Date(exp * 1000), usedAt: now })
      .onConflictDoNothing()
      .returning({ jti: usedRequestStates.jti });
  });
  if (recorded.length === 0) {
    throw refused("This requestState was already used: the call it continues has finished, and its answer was given then.");
  }
  return held;
}

/** Forgets used states past their expiry: they can no longer be replayed anyway. */
export function forgetExpiredRequestStates(deps: Deps): Promise<number> {
  return deps.db.transact(async (tx) => {
    const { usedRequestStates } = tx.tables;
    const forgotten = await tx
      .delete(usedRequestStates)
      .where(lt(usedRequestStates.expiresAt, deps.clock()))
      .returning({ jti: usedRequestStates.jti });
    return forgotten.length;
  });
}
