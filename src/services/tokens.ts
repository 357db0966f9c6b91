import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import type { Db } from "../../db/client.js";
import { accessTokens, signingKeys, users } from "../../db/schema.js";
import { AppError } from "../errors.js";
import type { Deps } from "./deps.js";
import { newUid } from "./secrets.js";

const ISSUER = "agent-onboard";
const keyCache = new WeakMap<Db, Uint8Array>();

/** The HMAC key for access tokens, created once per db and shared by every process that opens it. */
export function signingKey(db: Db): Uint8Array {
  const cached = keyCache.get(db);
  if (cached) return cached;
  db.insert(signingKeys)
    .values({ id: 1, secret: randomBytes(32).toString("base64url"), createdAt: new Date() })
    .onConflictDoNothing()
    .run();
  const row = db.select().from(signingKeys).where(eq(signingKeys.id, 1)).get()!;
  const key = Buffer.from(row.secret, "base64url");
  keyCache.set(db, key);
  return key;
}

export interface PreparedAccessToken {
  token: string;
  validUntil: Date;
  row: (userId: number) => typeof accessTokens.$inferInsert;
}

/**
 * Signs an access token before the transaction that stores it (signing is
 * async and better-sqlite3 transactions are not); the caller inserts `row`.
 */
export async function prepareAccessToken(deps: Deps, userUid: string): Promise<PreparedAccessToken> {
  const now = deps.clock();
  const expiresAt = new Date(now.getTime() + deps.settings.accessTokenTtlMs);
  const jti = newUid();
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer(ISSUER)
    .setSubject(userUid)
    .setJti(jti)
    .setIssuedAt(Math.floor(now.getTime() / 1000))
    // JWT times are whole seconds; rounding up leaves the exact expiry to the db row, so
    // the token works until the very millisecond accessTokenValidUntil names.
    .setExpirationTime(Math.ceil(expiresAt.getTime() / 1000))
    .sign(signingKey(deps.db));
  return { token, validUntil: expiresAt, row: (userId) => ({ jti, userId, createdAt: now, expiresAt }) };
}

export type UserRow = typeof users.$inferSelect;

/** Who a valid access token speaks for. */
export interface Caller {
  user: UserRow;
  jti: string;
  /** The human who claimed the account ended this token; only get_claim_status still answers it. */
  revokedByClaim: boolean;
}

const invalidToken = () =>
  new AppError(
    "unauthenticated",
    "This access token is not valid here: it is malformed, was issued by another server, or its account no longer exists. " +
      "Call agent_signup to create a new account, or use a token your human gives you.",
  );

/** Verifies signature, expiry and revocation; the db is the authority on the last two. */
export async function authenticate(deps: Deps, token: string): Promise<Caller> {
  const now = deps.clock();
  let jti: string | undefined;
  let subject: string | undefined;
  try {
    const { payload } = await jwtVerify(token, signingKey(deps.db), {
      issuer: ISSUER,
      algorithms: ["HS256"],
      currentDate: now,
    });
    jti = payload.jti;
    subject = payload.sub;
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw expiredToken(new Date(Number(error.payload.exp) * 1000));
    throw invalidToken();
  }
  if (!jti || !subject) throw invalidToken();
  const found = deps.db
    .select({ token: accessTokens, user: users })
    .from(accessTokens)
    .innerJoin(users, eq(users.id, accessTokens.userId))
    .where(eq(accessTokens.jti, jti))
    .get();
  if (!found || found.user.uid !== subject) throw invalidToken();
  if (found.token.expiresAt <= now) throw expiredToken(found.token.expiresAt);
  if (found.user.lockedAt) {
    throw new AppError(
      "unauthenticated",
      `This agent account was locked at ${found.user.lockedAt.toISOString()} because nobody claimed it in time; its data is kept. ` +
        "Call agent_signup to start a new account.",
    );
  }
  if (found.token.revokedAt && found.token.revokedReason !== "claimed") {
    throw new AppError("unauthenticated", "This access token has been revoked. Ask your human for a new token, or call agent_signup to create a new account.");
  }
  return { user: found.user, jti, revokedByClaim: found.token.revokedAt !== null };
}

function expiredToken(expiredAt: Date) {
  return new AppError(
    "unauthenticated",
    `This access token expired at ${expiredAt.toISOString()}. ` +
      "If your human has claimed the account, ask them for a new token; otherwise call agent_signup to start a new account.",
  );
}

export const claimEndedAccess = (claimedAt: Date | null) =>
  new AppError(
    "unauthenticated",
    `Your human claimed this account${claimedAt ? ` at ${claimedAt.toISOString()}` : ""} and ended your access. ` +
      "Only get_claim_status still answers with this token; ask your human for a new token if you should keep working.",
  );
