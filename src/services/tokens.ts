import { randomBytes, type webcrypto } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import type { ReadDb, Tables } from "../../db/client.js";
import { AppError } from "../errors.js";
import type { Deps, SigningKeySetting } from "./deps.js";
import { preparedPerDb } from "./prepared.js";
import { newUid } from "./secrets.js";

const ISSUER = "agent-onboard";
const keyCache = new WeakMap<ReadDb, Promise<Uint8Array>>();

/** The HMAC key for access tokens, created once per db and shared by every process that opens it. */
export function signingKey(db: ReadDb): Promise<Uint8Array> {
  let key = keyCache.get(db);
  if (!key) {
    key = db.transact(async (tx) => {
      const { signingKeys } = tx.tables;
      await tx
        .insert(signingKeys)
        .values({ id: 1, secret: randomBytes(32).toString("base64url"), createdAt: new Date() })
        .onConflictDoNothing();
      const [row] = await tx.select().from(signingKeys).where(eq(signingKeys.id, 1));
      return Buffer.from(row!.secret, "base64url");
    });
    keyCache.set(db, key);
    // A failure (the database unreachable) is not kept: the next call tries again.
    key.catch(() => keyCache.delete(db));
  }
  return key;
}

/** The id of the key kept in the database; tokens from before key ids carry none and mean it. */
export const DATABASE_KEY_ID = "db";

interface Keyring {
  signer: { id: string; key: webcrypto.CryptoKey };
  verifiers: Map<string, webcrypto.CryptoKey>;
}

// Imported once per db and key list: jose would otherwise import the raw bytes again on every sign and verify.
const keyrings = new WeakMap<ReadDb, Map<SigningKeySetting[] | undefined, Promise<Keyring>>>();

function keyringOf(deps: Deps): Promise<Keyring> {
  let perList = keyrings.get(deps.db);
  if (!perList) keyrings.set(deps.db, (perList = new Map()));
  const list = deps.settings.signingKeys;
  let keyring = perList.get(list);
  if (!keyring) {
    keyring = (async () => {
      const settings = list?.length ? list : [{ id: DATABASE_KEY_ID }];
      const verifiers = new Map<string, webcrypto.CryptoKey>();
      for (const { id, secret } of settings) {
        const raw = secret ?? (await signingKey(deps.db));
        verifiers.set(id, await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]));
      }
      const first = settings[0]!;
      return { signer: { id: first.id, key: verifiers.get(first.id)! }, verifiers };
    })();
    perList.set(list, keyring);
    keyring.catch(() => perList.delete(list));
  }
  return keyring;
}

/** The secret that keys what the server seals for itself (request states): the signing key's. */
export async function sealingSecret(deps: Deps): Promise<Uint8Array> {
  return deps.settings.signingKeys?.[0]?.secret ?? signingKey(deps.db);
}

/** What issued a token: stored as access_tokens.name and shown in the console. */
export const tokenNames = {
  agentSignup: "agent signup",
  inviteSignup: "invite signup",
} as const;

export interface PreparedAccessToken {
  token: string;
  validUntil: Date;
  row: (userId: number) => Tables["accessTokens"]["$inferInsert"];
}

/**
 * Signs an access token before the transaction that stores it, so that the
 * transaction holds its locks only for the writes; the caller inserts `row`.
 */
export async function prepareAccessToken(
  deps: Deps,
  userUid: string,
  name?: string,
  options: { ttlMs?: number; kind?: "agent" | "personal"; description?: string } = {},
): Promise<PreparedAccessToken> {
  const now = deps.clock();
  const expiresAt = new Date(now.getTime() + (options.ttlMs ?? deps.settings.accessTokenTtlMs));
  const jti = newUid();
  const { signer } = await keyringOf(deps);
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: signer.id })
    .setIssuer(ISSUER)
    .setSubject(userUid)
    .setJti(jti)
    .setIssuedAt(Math.floor(now.getTime() / 1000))
    // JWT times are whole seconds; rounding up leaves the exact expiry to the db row, so
    // the token works until the very millisecond accessTokenValidUntil names.
    .setExpirationTime(Math.ceil(expiresAt.getTime() / 1000))
    .sign(signer.key);
  // Without a name the column's default ("access token") applies.
  return {
    token,
    validUntil: expiresAt,
    row: (userId) => ({ jti, userId, createdAt: now, expiresAt, ...(name ? { name } : {}), kind: options.kind ?? "agent", description: options.description }),
  };
}

export type UserRow = Tables["users"]["$inferSelect"];

/** Who a valid access token speaks for. */
export interface Caller {
  user: UserRow;
  jti: string;
  /** The human who claimed the account ended this token; only get_claim_status still answers it. */
  revokedByClaim: boolean;
  /** An MCP host the human let only read: the tools that change nothing are all it gets. */
  readOnly?: boolean;
}

const invalidToken = () =>
  new AppError(
    "unauthenticated",
    "This access token is not valid here: it is malformed, was issued by another server, or its account no longer exists. " +
      "Call agent_signup to create a new account, or use a token your human gives you.",
  );

const tokenWithUser = preparedPerDb((db, name) => {
  const { accessTokens, users } = db.tables;
  return db
    .select({ token: accessTokens, user: users })
    .from(accessTokens)
    .innerJoin(users, eq(users.id, accessTokens.userId))
    .where(eq(accessTokens.jti, sql.placeholder("jti")))
    .prepare(name);
}, "token_with_user");

interface VerifiedClaims {
  jti: string;
  subject: string;
  /** The JWT's exp, in seconds. */
  exp: number;
}

// Tokens whose signature and claims jose has already accepted, per keyring (a db and
// its key list, which never change in a process). A caller sends the same token on every call, and WebCrypto's
// HMAC (a job on libuv's pool) was the costliest step of a call. Only validly
// signed tokens get in, and the db still rules on expiry and revocation below.
const verifiedTokens = new WeakMap<Keyring, Map<string, VerifiedClaims>>();
const VERIFIED_TOKENS_KEPT = 10_000;

async function verifyJwt(deps: Deps, token: string, now: Date): Promise<VerifiedClaims> {
  const keyring = await keyringOf(deps);
  let verified = verifiedTokens.get(keyring);
  if (!verified) {
    verified = new Map();
    verifiedTokens.set(keyring, verified);
  }
  const cached = verified.get(token);
  if (cached) {
    // jose's own expiry rule, in whole seconds.
    if (cached.exp <= Math.floor(now.getTime() / 1000)) throw expiredToken(new Date(cached.exp * 1000));
    return cached;
  }
  let claims: VerifiedClaims;
  try {
    const { verifiers } = keyring;
    // A key no longer listed (rotated out) verifies nothing: its tokens are refused.
    const keyFor = (header: { kid?: string }) => verifiers.get(header.kid ?? DATABASE_KEY_ID) ?? Promise.reject(invalidToken());
    const { payload } = await jwtVerify(token, keyFor, {
      issuer: ISSUER,
      algorithms: ["HS256"],
      requiredClaims: ["exp"],
      currentDate: now,
    });
    if (!payload.jti || !payload.sub) throw invalidToken();
    claims = { jti: payload.jti, subject: payload.sub, exp: payload.exp! };
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) throw expiredToken(new Date(Number(error.payload.exp) * 1000));
    throw invalidToken();
  }
  if (verified.size >= VERIFIED_TOKENS_KEPT) verified.delete(verified.keys().next().value!);
  verified.set(token, claims);
  return claims;
}

/** A token's last use is kept to the minute: writing it on every call would cost every call a write. */
const LAST_USED_EVERY_MS = 60_000;

/** Verifies signature, expiry and revocation; the db is the authority on the last two. */
export async function authenticate(deps: Deps, token: string): Promise<Caller> {
  const now = deps.clock();
  const { jti, subject } = await verifyJwt(deps, token, now);
  const [found] = await tokenWithUser(deps.db).execute({ jti });
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
  const lastUsed = found.token.lastUsedAt;
  if (!lastUsed || now.getTime() - lastUsed.getTime() >= LAST_USED_EVERY_MS) {
    await deps.db.transact((tx) => tx.update(tx.tables.accessTokens).set({ lastUsedAt: now }).where(eq(tx.tables.accessTokens.jti, jti)));
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
