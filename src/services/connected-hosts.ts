import { and, desc, eq, inArray } from "drizzle-orm";
import type { Db, ReadDb } from "../../db/client.js";
import { AppError } from "../errors.js";
import type { Deps } from "./deps.js";
import { oauthRecordKey, revokeOAuthGrant } from "./oauth-records.js";
import { OAUTH_SCOPES } from "./oauth-tokens.js";
import { type Page, pageWindow, toPage } from "./paging.js";

/** An MCP host the human approved through OAuth: one grant of the authorization server. */
export interface ConnectedHost {
  grantId: string;
  /** The name the host registered with, or its client id (a URL, for a host that publishes its metadata). */
  name: string;
  /** What the human let it do: every tool, or only those that change nothing. */
  access: "everything" | "read only";
  connectedAt: Date | null;
  lastUsedAt: Date | null;
}

const HOSTS_PER_PAGE = 20;

interface GrantPayload {
  jti?: string;
  clientId?: string;
  iat?: number;
  /** The scopes granted per resource, space-separated; `rejected` holds those the human said no to. */
  resources?: Record<string, string>;
  rejected?: { resources?: Record<string, string> };
}

const accessOf = (grant: GrantPayload) => {
  const has = (scopes?: Record<string, string>) => Object.values(scopes ?? {}).some((list) => list.split(" ").includes(OAUTH_SCOPES.full));
  return has(grant.resources) && !has(grant.rejected?.resources) ? "everything" : "read only";
};

/** How a host calls itself: its registered client_name, else the host part of a metadata-document client id, else the id. */
async function hostNames(db: ReadDb, clientIds: string[]): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const clientId of clientIds) {
    try {
      names.set(clientId, new URL(clientId).host);
    } catch {
      names.set(clientId, clientId);
    }
  }
  if (clientIds.length === 0) return names;
  const { oauthRecords } = db.tables;
  const rows = await db
    .select({ payload: oauthRecords.payload })
    .from(oauthRecords)
    .where(and(eq(oauthRecords.model, "Client"), inArray(oauthRecords.id, clientIds.map(oauthRecordKey))));
  for (const row of rows) {
    const client = JSON.parse(row.payload) as { client_id?: string; client_name?: string };
    if (client.client_id && client.client_name) names.set(client.client_id, client.client_name);
  }
  return names;
}

type GrantRow = { payload: string; lastUsedAt: Date | null };

async function hostsOf(db: ReadDb, rows: GrantRow[]): Promise<ConnectedHost[]> {
  const grants = rows.map((row) => ({ ...(JSON.parse(row.payload) as GrantPayload), lastUsedAt: row.lastUsedAt }));
  const names = await hostNames(db, [...new Set(grants.map((grant) => grant.clientId ?? ""))]);
  return grants.map((grant) => ({
    grantId: grant.jti ?? "",
    name: names.get(grant.clientId ?? "") ?? "an unnamed host",
    access: accessOf(grant),
    connectedAt: grant.iat ? new Date(grant.iat * 1000) : null,
    lastUsedAt: grant.lastUsedAt,
  }));
}

/** The hosts acting as this account, the most recently used first. */
export async function listConnectedHosts(deps: Deps, accountUid: string, page: number): Promise<Page<ConnectedHost>> {
  const { oauthRecords } = deps.db.tables;
  const { limit, offset } = pageWindow(page, HOSTS_PER_PAGE);
  const rows = await deps.db
    .select({ payload: oauthRecords.payload, lastUsedAt: oauthRecords.lastUsedAt })
    .from(oauthRecords)
    .where(and(eq(oauthRecords.model, "Grant"), eq(oauthRecords.accountId, accountUid)))
    .orderBy(desc(oauthRecords.lastUsedAt), desc(oauthRecords.id))
    .limit(limit)
    .offset(offset);
  return toPage(await hostsOf(deps.db, rows), page, HOSTS_PER_PAGE);
}

/** Disconnects one of the account's hosts: its grant, codes and tokens end at once. */
export async function disconnectHost(deps: Deps, accountUid: string, grantId: string): Promise<ConnectedHost> {
  const { oauthRecords } = deps.db.tables;
  const [row] = await deps.db
    .select({ payload: oauthRecords.payload, lastUsedAt: oauthRecords.lastUsedAt, accountId: oauthRecords.accountId })
    .from(oauthRecords)
    .where(and(eq(oauthRecords.model, "Grant"), eq(oauthRecords.id, oauthRecordKey(grantId))));
  if (!row || row.accountId !== accountUid) {
    throw new AppError("not_found", "No host of yours is connected with this id; it may be disconnected already. Go back to Connected hosts and pick one from the list.");
  }
  await revokeOAuthGrant(deps.db, grantId);
  const [host] = await hostsOf(deps.db, [row]);
  return host!;
}

/** Ends every host acting as an account, inside the caller's change: when the human ends an agent's access. */
export async function disconnectAllHosts(tx: Db, userId: number): Promise<void> {
  const { oauthRecords, users } = tx.tables;
  const [user] = await tx.select({ uid: users.uid }).from(users).where(eq(users.id, userId));
  if (user) await tx.delete(oauthRecords).where(eq(oauthRecords.accountId, user.uid));
}
