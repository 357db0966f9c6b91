import { createHash } from "node:crypto";
import { and, eq, lte } from "drizzle-orm";
import type { ReadDb } from "../../db/client.js";

/** One record of the OAuth authorization server, as oidc-provider hands it to its storage adapter. */
export type OAuthPayload = Record<string, unknown> & { grantId?: string; uid?: string; jti?: string | null; consumed?: number };

/**
 * Records are found by a hash of their id: for codes and tokens the id is the
 * secret itself, so the table holds nothing a copy of it could present.
 */
export const oauthRecordKey = (id: string) => createHash("sha256").update(id).digest("base64url");

/**
 * The models whose id is no credential: a grant is listed by it in the
 * console, and a session is also found by uid.
 */
const KEEPS_ITS_ID = new Set(["Grant", "Session"]);

const expiryOf = (expiresInSeconds: number | undefined, now: Date) =>
  expiresInSeconds ? new Date(now.getTime() + expiresInSeconds * 1000) : null;

export async function saveOAuthRecord(db: ReadDb, model: string, id: string, payload: OAuthPayload, expiresInSeconds: number | undefined, now: Date): Promise<void> {
  // A code's or token's payload repeats its id as jti: kept as null, and put back from the id it is found by.
  const stored = payload.jti === id && !KEEPS_ITS_ID.has(model) ? { ...payload, jti: null } : payload;
  const values = {
    payload: JSON.stringify(stored),
    grantId: typeof payload.grantId === "string" ? payload.grantId : null,
    accountId: typeof payload.accountId === "string" ? payload.accountId : null,
    uid: typeof payload.uid === "string" ? payload.uid : null,
    expiresAt: expiryOf(expiresInSeconds, now),
  };
  await db.transact((tx) =>
    tx
      .insert(tx.tables.oauthRecords)
      .values({ model, id: oauthRecordKey(id), ...values })
      .onConflictDoUpdate({ target: [tx.tables.oauthRecords.model, tx.tables.oauthRecords.id], set: values }),
  );
}

type Found = { payload: string; consumedAt: Date | null; expiresAt: Date | null } | undefined;

function payloadOf(row: Found, now: Date, id?: string): OAuthPayload | undefined {
  if (!row || (row.expiresAt && row.expiresAt <= now)) return undefined;
  const payload = JSON.parse(row.payload) as OAuthPayload;
  const withJti = payload.jti === null && id !== undefined ? { ...payload, jti: id } : payload;
  return row.consumedAt ? { ...withJti, consumed: Math.floor(row.consumedAt.getTime() / 1000) } : withJti;
}

const columns = (db: ReadDb) => ({ payload: db.tables.oauthRecords.payload, consumedAt: db.tables.oauthRecords.consumedAt, expiresAt: db.tables.oauthRecords.expiresAt });

export async function findOAuthRecord(db: ReadDb, model: string, id: string, now: Date): Promise<OAuthPayload | undefined> {
  const { oauthRecords } = db.tables;
  const [row] = await db.select(columns(db)).from(oauthRecords).where(and(eq(oauthRecords.model, model), eq(oauthRecords.id, oauthRecordKey(id))));
  return payloadOf(row, now, id);
}

/** A session by the uid its cookie names. */
export async function findOAuthRecordByUid(db: ReadDb, model: string, uid: string, now: Date): Promise<OAuthPayload | undefined> {
  const { oauthRecords } = db.tables;
  const [row] = await db.select(columns(db)).from(oauthRecords).where(and(eq(oauthRecords.model, model), eq(oauthRecords.uid, uid)));
  return payloadOf(row, now);
}

/** Marks a code or refresh token used; oidc-provider sees `consumed` on the next find and treats a reuse as theft. */
export async function consumeOAuthRecord(db: ReadDb, model: string, id: string, now: Date): Promise<void> {
  await db.transact((tx) =>
    tx
      .update(tx.tables.oauthRecords)
      .set({ consumedAt: now })
      .where(and(eq(tx.tables.oauthRecords.model, model), eq(tx.tables.oauthRecords.id, oauthRecordKey(id)))),
  );
}

export async function destroyOAuthRecord(db: ReadDb, model: string, id: string): Promise<void> {
  await db.transact((tx) => tx.delete(tx.tables.oauthRecords).where(and(eq(tx.tables.oauthRecords.model, model), eq(tx.tables.oauthRecords.id, oauthRecordKey(id)))));
}

/** Every record of a grant, whatever its model: what a disconnect or a detected reuse ends. */
export async function revokeOAuthGrant(db: ReadDb, grantId: string): Promise<void> {
  await db.transact(async (tx) => {
    const { oauthRecords } = tx.tables;
    await tx.delete(oauthRecords).where(eq(oauthRecords.grantId, grantId));
    await tx.delete(oauthRecords).where(and(eq(oauthRecords.model, "Grant"), eq(oauthRecords.id, oauthRecordKey(grantId))));
  });
}

/** Stamps a grant as used now; callers keep this to about once a minute. */
export async function touchOAuthGrant(db: ReadDb, grantId: string, now: Date): Promise<void> {
  await db.transact((tx) =>
    tx
      .update(tx.tables.oauthRecords)
      .set({ lastUsedAt: now })
      .where(and(eq(tx.tables.oauthRecords.model, "Grant"), eq(tx.tables.oauthRecords.id, oauthRecordKey(grantId)))),
  );
}

/** Forgets codes, tokens, interactions and grants past their expiry: nothing can use them any more. */
export function forgetExpiredOAuthRecords(deps: { db: ReadDb; clock: () => Date }): Promise<number> {
  return deps.db.transact(async (tx) => {
    const { oauthRecords } = tx.tables;
    const forgotten = await tx
      .delete(oauthRecords)
      .where(lte(oauthRecords.expiresAt, deps.clock()))
      .returning({ id: oauthRecords.id });
    return forgotten.length;
  });
}
