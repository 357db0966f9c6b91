import { eq } from "drizzle-orm";
import { AppError } from "../errors.js";
import type { Deps } from "./deps.js";
import { findOAuthRecord, grantLastUsed, touchOAuthGrant } from "./oauth-records.js";
import type { Caller } from "./tokens.js";

const MINUTE = 60_000;

/** Whether a bearer value is one of the authorization server's opaque access tokens rather than one of our JWTs. */
export const isOAuthAccessToken = (token: string) => /^[A-Za-z0-9_-]{20,100}$/.test(token);

const refused = (why: string) =>
  new AppError("unauthenticated", `${why} Connect the host again: it opens the sign-in page, where you approve it once more.`);

/**
 * The account an MCP host acts as with an access token from the OAuth flow:
 * unexpired, issued for exactly this resource (a token for another audience
 * is refused, RFC 8707), and of a grant the human has not disconnected.
 */
export async function authenticateOAuth(deps: Deps, token: string, resource: string): Promise<Caller> {
  const now = deps.clock();
  const access = await findOAuthRecord(deps.db, "AccessToken", token, now);
  if (!access) throw refused("This access token is unknown, expired or revoked.");
  const audience = access.aud;
  const audiences = Array.isArray(audience) ? audience : [audience];
  if (!audiences.includes(resource)) throw refused(`This access token was issued for another resource, not ${resource}.`);
  const grantId = String(access.grantId);
  const grant = await findOAuthRecord(deps.db, "Grant", grantId, now);
  if (!grant) throw refused("This host was disconnected from its account.");
  const { users } = deps.db.tables;
  const [user] = await deps.db.select().from(users).where(eq(users.uid, String(access.accountId)));
  if (!user) throw refused("The account this host was connected to no longer exists.");
  if (user.lockedAt) throw refused(`This agent account was locked at ${user.lockedAt.toISOString()} because nobody claimed it in time.`);
  const lastUsed = await grantLastUsed(deps.db, grantId);
  if (!lastUsed || now.getTime() - lastUsed.getTime() >= MINUTE) await touchOAuthGrant(deps.db, grantId, now);
  return { user, jti: `oauth:${grantId}`, revokedByClaim: false };
}
