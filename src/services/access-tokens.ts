import { and, desc, eq } from "drizzle-orm";
import { z } from "zod";
import type { Tables } from "../../db/client.js";
import { AppError } from "../errors.js";
import type { Deps } from "./deps.js";
import { cleanFreeText } from "./free-text.js";
import { prepareAccessToken } from "./tokens.js";

const DAY = 86_400_000;

/** What issued a token made in the console. */
export const consoleTokenNames = {
  personal: "personal access token",
  agentRestored: "agent access restored",
} as const;

export interface AccessTokenSummary {
  id: string;
  kind: "agent" | "personal";
  name: string;
  description: string | null;
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  /** active, expired, or revoked (and by whom: at the claim, or later by the owner). */
  state: "active" | "expired" | "revoked";
}

const summaryOf = (row: Tables["accessTokens"]["$inferSelect"], now: Date): AccessTokenSummary => ({
  id: row.jti,
  kind: row.kind,
  name: row.name,
  description: row.description,
  createdAt: row.createdAt,
  expiresAt: row.expiresAt,
  lastUsedAt: row.lastUsedAt,
  revokedAt: row.revokedAt,
  state: row.revokedAt ? "revoked" : row.expiresAt <= now ? "expired" : "active",
});

/** Every access token of the account, newest first. */
export async function listAccessTokens(
  deps: Deps,
  userId: number,
  kind?: "agent" | "personal",
  window: { limit: number; offset: number } = { limit: -1, offset: 0 },
): Promise<AccessTokenSummary[]> {
  const { accessTokens } = deps.db.tables;
  const query = deps.db
    .select()
    .from(accessTokens)
    .where(kind ? and(eq(accessTokens.userId, userId), eq(accessTokens.kind, kind)) : eq(accessTokens.userId, userId))
    .orderBy(desc(accessTokens.createdAt), desc(accessTokens.jti));
  const rows = await (window.limit < 0 ? query : query.limit(window.limit).offset(window.offset));
  const now = deps.clock();
  return rows.map((row) => summaryOf(row, now));
}

export const personalTokenInput = z.object({
  description: z
    .string({ message: "Say what the token is for, e.g. \"laptop CLI\"." })
    .trim()
    .min(1, "Say what the token is for, e.g. \"laptop CLI\".")
    .max(255, "The description is at most 255 characters."),
  expiresInDays: z.coerce
    .number({ message: "Choose how many days the token lasts." })
    .int("Choose a whole number of days.")
    .min(1, "A token lasts at least one day.")
    .max(365, "A token lasts at most 365 days; make a new one when it ends."),
});

/** A personal access token for the human's own tools; its value is shown once, here, and only its id is kept. */
export async function createPersonalToken(deps: Deps, user: { id: number; uid: string }, input: z.input<typeof personalTokenInput>) {
  const parsed = personalTokenInput.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError("validation", issue.message, { field: String(issue.path[0] ?? "description") });
  }
  return storePersonalToken(deps, user, parsed.data.description, parsed.data.expiresInDays * DAY);
}

/** The same with an exact end, as Pulumi's POST /api/user/tokens gives it (`expires`, Unix seconds). */
export async function createPersonalTokenUntil(deps: Deps, user: { id: number; uid: string }, description: unknown, expires: unknown) {
  const named = personalTokenInput.shape.description.safeParse(description);
  if (!named.success) throw new AppError("validation", named.error.issues[0]!.message, { field: "description" });
  const ttlMs = typeof expires === "number" && Number.isInteger(expires) ? expires * 1000 - deps.clock().getTime() : Number.NaN;
  if (!(ttlMs > 0 && ttlMs <= 365 * DAY)) {
    throw new AppError("validation", "expires must be a time in the next 365 days, in Unix seconds; tokens here always end, so make a new one when it does.", {
      field: "expires",
    });
  }
  return storePersonalToken(deps, user, named.data, ttlMs);
}

/** Signs a token for the account and stores it; its value is in the answer only. */
export async function issueToken(deps: Deps, user: { id: number; uid: string }, name: string, options: Parameters<typeof prepareAccessToken>[3]) {
  const access = await prepareAccessToken(deps, user.uid, name, options);
  const row = access.row(user.id);
  await deps.db.transact((tx) => tx.insert(tx.tables.accessTokens).values(row));
  return { id: row.jti, token: access.token, expiresAt: access.validUntil };
}

async function storePersonalToken(deps: Deps, user: { id: number; uid: string }, description: string, ttlMs: number) {
  const clean = cleanFreeText(description) || consoleTokenNames.personal;
  return { ...(await issueToken(deps, user, consoleTokenNames.personal, { kind: "personal", description: clean, ttlMs })), description: clean };
}

/** Revokes one of the account's own tokens; another account's gets the same answer as one that does not exist. */
export async function revokeAccessToken(deps: Deps, userId: number, tokenId: string, kind?: "agent" | "personal"): Promise<AccessTokenSummary> {
  const now = deps.clock();
  return deps.db.transact(async (tx) => {
    const { accessTokens } = tx.tables;
    const [row] = await tx.select().from(accessTokens).where(and(eq(accessTokens.jti, tokenId), eq(accessTokens.userId, userId)));
    if (!row || (kind && row.kind !== kind)) throw new AppError("not_found", "No such token on your account; it may have been removed. Reload the list.");
    if (row.revokedAt) return summaryOf(row, now);
    const [revoked] = await tx
      .update(accessTokens)
      .set({ revokedAt: now, revokedReason: "owner" })
      .where(eq(accessTokens.jti, tokenId))
      .returning();
    return summaryOf(revoked!, now);
  });
}
