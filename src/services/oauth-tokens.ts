import { and, eq, sql } from "drizzle-orm";
import { AppError } from "../errors.js";
import type { Deps } from "./deps.js";
import { oauthRecordKey, touchOAuthGrant } from "./oauth-records.js";
import { preparedPerDb } from "./prepared.js";
import type { Caller } from "./tokens.js";

const MINUTE = 60_000;

/**
 * What an OAuth grant may do on /mcp: `mcp` every tool the account may call,
 * `mcp:read` only the tools that change nothing (readOnlyHint). `mcp`
 * includes `mcp:read`.
 */
export const OAUTH_SCOPES = { full: "mcp", read: "mcp:read" } as const;

/** Whether a bearer value is one of the authorization server's opaque access tokens rather than one of our JWTs. */
export const isOAuthAccessToken = (token: string) => /^[A-Za-z0-9_-]{20,100}$/.test(token);

const refused = (why: string) =>
  new AppError("unauthenticated", `${why} Connect the host again: it opens the sign-in page, where you approve it once more.`);

const accessTokenRecord = preparedPerDb((db, name) => {
  const { oauthRecords } = db.tables;
  return db
    .select({ payload: oauthRecords.payload, expiresAt: oauthRecords.expiresAt })
    .from(oauthRecords)
    .where(and(eq(oauthRecords.model, "AccessToken"), eq(oauthRecords.id, sql.placeholder("key"))))
    .prepare(name);
}, "oauth_access_token");

const grantWithUser = preparedPerDb((db, name) => {
  const { oauthRecords, users } = db.tables;
  return db
    .select({ user: users, grantExpiresAt: oauthRecords.expiresAt, lastUsedAt: oauthRecords.lastUsedAt })
    .from(oauthRecords)
    .innerJoin(users, eq(users.uid, oauthRecords.accountId))
    .where(and(eq(oauthRecords.model, "Grant"), eq(oauthRecords.id, sql.placeholder("grantKey"))))
    .prepare(name);
}, "oauth_grant_with_user");

/**
 * The account an MCP host acts as with an access token from the OAuth flow:
 * unexpired, issued for exactly this resource (a token for another audience
 * is refused, RFC 8707), and of a grant the human has not disconnected.
 */
export async function authenticateOAuth(deps: Deps, token: string, resource: string): Promise<Caller> {
  const now = deps.clock();
  // Read on every call: a prepared statement, as the JWT path's is.
  const [row] = await accessTokenRecord(deps.db).execute({ key: oauthRecordKey(token) });
  if (!row || (row.expiresAt && row.expiresAt <= now)) throw refused("This access token is unknown, expired or revoked.");
  const access = JSON.parse(row.payload) as { aud?: unknown; grantId?: unknown; accountId?: unknown; scope?: unknown };
  const audience = access.aud;
  const audiences = Array.isArray(audience) ? audience : [audience];
  if (!audiences.includes(resource)) throw refused(`This access token was issued for another resource, not ${resource}.`);
  const grantId = String(access.grantId);
  // The grant and its account in one read: the grant's row is gone once the host is disconnected.
  const [found] = await grantWithUser(deps.db).execute({ grantKey: oauthRecordKey(grantId) });
  if (!found || (found.grantExpiresAt && found.grantExpiresAt <= now)) throw refused("This host was disconnected from its account.");
  const { user, lastUsedAt } = found;
  if (user.uid !== access.accountId) throw refused("This access token's account is not its grant's.");
  if (user.lockedAt) throw refused(`This agent account was locked at ${user.lockedAt.toISOString()} because nobody claimed it in time.`);
  if (!lastUsedAt || now.getTime() - lastUsedAt.getTime() >= MINUTE) await touchOAuthGrant(deps.db, grantId, now);
  const scopes = String(access.scope ?? "").split(" ");
  return { user, jti: `oauth:${grantId}`, revokedByClaim: false, readOnly: !scopes.includes(OAUTH_SCOPES.full) };
}
