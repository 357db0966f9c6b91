import { and, eq, isNull } from "drizzle-orm";
import type { Db, Tables } from "../../db/client.js";
import { AppError } from "../errors.js";
import type { Deps } from "./deps.js";
import { hashSecret, newSecret, newUid } from "./secrets.js";
import { prepareAccessToken } from "./tokens.js";

/** What issued an access token made from a refresh token. */
const REFRESHED_TOKEN_NAME = "token refresh";

export interface PreparedRefreshToken {
  refreshToken: string;
  row: (userId: number) => Tables["refreshTokens"]["$inferInsert"];
}

/** A refresh token, valid as long as the claim window: an agent keeps working until its human claims it or the window closes. */
export function prepareRefreshToken(deps: Deps, family = newUid()): PreparedRefreshToken {
  const now = deps.clock();
  const refreshToken = newSecret();
  const expiresAt = new Date(now.getTime() + deps.settings.claimTokenTtlMs);
  return { refreshToken, row: (userId) => ({ idHash: hashSecret(refreshToken), family, userId, createdAt: now, expiresAt }) };
}

/** Ends every refresh token of the account at once: at a claim that ends the agent's access, and when its owner ends it. */
export async function revokeRefreshTokens(tx: Db, userId: number, now: Date): Promise<void> {
  const { refreshTokens } = tx.tables;
  await tx.update(refreshTokens).set({ revokedAt: now }).where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt)));
}

/** RFC 6749's error for a refresh token that cannot be used, with what to do next. */
const invalidGrant = (why: string) => new AppError("bad_request", `${why} Sign up again (POST /api/agents/signup) or ask your human for a new token.`, { oauthError: "invalid_grant" });

export interface RefreshedTokens {
  accessToken: string;
  expiresInSeconds: number;
  refreshToken: string;
}

/**
 * Trades a refresh token for a new access token and the next refresh token
 * of its family (RFC 6749 §6, rotated). A token used before is a sign it was
 * stolen: the whole family is revoked, the thief's copy and the owner's alike.
 */
export async function refreshAccessToken(deps: Deps, refreshToken: string): Promise<RefreshedTokens> {
  const { refreshTokens, users } = deps.db.tables;
  const [found] = await deps.db
    .select({ token: refreshTokens, user: users })
    .from(refreshTokens)
    .innerJoin(users, eq(users.id, refreshTokens.userId))
    .where(eq(refreshTokens.idHash, hashSecret(refreshToken)));
  if (!found) throw invalidGrant("This refresh token is not known.");
  const { token, user } = found;
  const now = deps.clock();
  if (token.revokedAt) throw invalidGrant("This refresh token was revoked.");
  if (token.expiresAt <= now) throw invalidGrant("This refresh token has expired.");
  if (user.lockedAt) throw invalidGrant("This agent account was locked because nobody claimed it in time.");
  const access = await prepareAccessToken(deps, user.uid, REFRESHED_TOKEN_NAME);
  const next = prepareRefreshToken(deps, token.family);
  const outcome = await deps.db.transact(async (tx) => {
    const { accessTokens } = tx.tables;
    const taken = await tx
      .update(tx.tables.refreshTokens)
      .set({ usedAt: now })
      .where(and(eq(tx.tables.refreshTokens.idHash, token.idHash), isNull(tx.tables.refreshTokens.usedAt), isNull(tx.tables.refreshTokens.revokedAt)))
      .returning({ idHash: tx.tables.refreshTokens.idHash });
    if (taken.length !== 1) {
      await tx.update(tx.tables.refreshTokens).set({ revokedAt: now }).where(and(eq(tx.tables.refreshTokens.family, token.family), isNull(tx.tables.refreshTokens.revokedAt)));
      return "reused" as const;
    }
    await tx.insert(tx.tables.refreshTokens).values(next.row(user.id));
    await tx.insert(accessTokens).values(access.row(user.id));
    return "refreshed" as const;
  });
  if (outcome === "reused") throw invalidGrant("This refresh token was already used once, so every refresh token of this signup is now revoked.");
  return {
    accessToken: access.token,
    expiresInSeconds: Math.round((access.validUntil.getTime() - now.getTime()) / 1000),
    refreshToken: next.refreshToken,
  };
}
