import { and, asc, desc, eq, gt, inArray, isNotNull, isNull, ne, notInArray, or } from "drizzle-orm";
import type { ReadDb } from "../../db/client.js";
import { AppError } from "../errors.js";
import { disconnectAllHosts } from "./connected-hosts.js";
import { type AccessTokenSummary, consoleTokenNames, issueToken, listAccessTokens, revokeAccessToken } from "./access-tokens.js";
import type { Deps } from "./deps.js";
import { type Page, pageWindow, toPage } from "./paging.js";
import { revokeRefreshTokens } from "./refresh-tokens.js";

/** An agent the human answers for: the one that created their account, or one they claimed into it. */
export interface OwnedAgent {
  uid: string;
  login: string;
  name: string;
  model: string | null;
  claimedAt: Date | null;
  /** The agent that created this very account (claimed as a new account): its tokens are the account's agent tokens. */
  isThisAccount: boolean;
  activeTokens: number;
  lastUsedAt: Date | null;
}

/** Another agent acting in one of the human's organizations, which the human does not own. */
export interface TeamAgent {
  login: string;
  name: string;
  model: string | null;
  organizations: { name: string; role: string }[];
}

const AGENTS_PER_PAGE = 20;

/** The human's own account's agent side, and every agent claimed into it, as rows of users. */
async function ownedAgentRows(db: ReadDb, humanId: number, page?: number) {
  const { claimTokens, users } = db.tables;
  const query = db
    .select({ id: users.id, uid: users.uid, login: users.login, name: users.name, model: users.agentModel, claimedAt: claimTokens.consumedAt })
    .from(claimTokens)
    .innerJoin(users, eq(users.id, claimTokens.userId))
    .where(
      and(
        isNotNull(claimTokens.consumedAt),
        or(and(eq(claimTokens.userId, humanId), isNull(claimTokens.claimedByUserId)), eq(claimTokens.claimedByUserId, humanId)),
      ),
    )
    // This account first, then the agents claimed into it, newest claim first.
    .orderBy(desc(eq(users.id, humanId)), desc(claimTokens.consumedAt), asc(users.id));
  return page === undefined ? query : query.limit(pageWindow(page, AGENTS_PER_PAGE).limit).offset(pageWindow(page, AGENTS_PER_PAGE).offset);
}

export async function listOwnedAgents(deps: Deps, humanId: number, page: number): Promise<Page<OwnedAgent>> {
  const rows = await ownedAgentRows(deps.db, humanId, page);
  const { accessTokens } = deps.db.tables;
  const ids = rows.map((row) => row.id);
  const tokens = ids.length
    ? await deps.db
        .select({ userId: accessTokens.userId, kind: accessTokens.kind, revokedAt: accessTokens.revokedAt, expiresAt: accessTokens.expiresAt, lastUsedAt: accessTokens.lastUsedAt })
        .from(accessTokens)
        .where(and(inArray(accessTokens.userId, ids), eq(accessTokens.kind, "agent")))
    : [];
  const now = deps.clock();
  const agents = rows.map((row): OwnedAgent => {
    const own = tokens.filter((token) => token.userId === row.id);
    const used = own.map((token) => token.lastUsedAt?.getTime() ?? 0).reduce((a, b) => Math.max(a, b), 0);
    return {
      uid: row.uid,
      login: row.login,
      name: row.name,
      model: row.model,
      claimedAt: row.claimedAt,
      isThisAccount: row.id === humanId,
      activeTokens: own.filter((token) => !token.revokedAt && token.expiresAt > now).length,
      lastUsedAt: used ? new Date(used) : null,
    };
  });
  return toPage(agents, page, AGENTS_PER_PAGE);
}

/** Agents that are members of the human's organizations and are not the human's own. */
export async function listTeamAgents(deps: Deps, humanId: number, page: number): Promise<Page<TeamAgent>> {
  const { memberships, organizations, users } = deps.db.tables;
  const owned = (await ownedAgentRows(deps.db, humanId)).map((row) => row.id);
  const mine = deps.db.select({ orgId: memberships.orgId }).from(memberships).where(eq(memberships.userId, humanId));
  const window = pageWindow(page, AGENTS_PER_PAGE);
  const agents = await deps.db
    .selectDistinct({ id: users.id, login: users.login, name: users.name, model: users.agentModel })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(inArray(memberships.orgId, mine), eq(users.isAgent, true), ne(users.id, humanId), owned.length ? notInArray(users.id, owned) : undefined))
    .orderBy(asc(users.login), asc(users.id))
    .limit(window.limit)
    .offset(window.offset);
  const ids = agents.map((agent) => agent.id);
  const roles = ids.length
    ? await deps.db
        .select({ userId: memberships.userId, name: organizations.name, role: memberships.role })
        .from(memberships)
        .innerJoin(organizations, eq(organizations.id, memberships.orgId))
        .where(and(inArray(memberships.userId, ids), inArray(memberships.orgId, mine)))
        .orderBy(asc(organizations.name))
    : [];
  return toPage(
    agents.map((agent) => ({
      login: agent.login,
      name: agent.name,
      model: agent.model,
      organizations: roles.filter((row) => row.userId === agent.id).map(({ name, role }) => ({ name, role })),
    })),
    page,
    AGENTS_PER_PAGE,
  );
}

/** One of the human's own agents by uid; anyone else's answers like one that does not exist. */
export async function ownedAgent(deps: Deps, humanId: number, agentUid: string) {
  const found = (await ownedAgentRows(deps.db, humanId)).find((row) => row.uid === agentUid);
  if (!found) throw new AppError("not_found", "No agent of yours has this id; it may belong to someone else. Go back to Agents and pick one from the list.");
  return { ...found, isThisAccount: found.id === humanId };
}

const TOKENS_PER_PAGE = 20;

export async function listAgentTokens(deps: Deps, humanId: number, agentUid: string, page: number): Promise<{ agent: Awaited<ReturnType<typeof ownedAgent>>; tokens: Page<AccessTokenSummary> }> {
  const agent = await ownedAgent(deps, humanId, agentUid);
  const tokens = await listAccessTokens(deps, agent.id, "agent", pageWindow(page, TOKENS_PER_PAGE));
  return { agent, tokens: toPage(tokens, page, TOKENS_PER_PAGE) };
}

/** Ends one of the human's agents' access: every agent token of it still working is revoked at once, and every host connected to it. */
export async function endAgentAccess(deps: Deps, humanId: number, agentUid: string): Promise<number> {
  const agent = await ownedAgent(deps, humanId, agentUid);
  const now = deps.clock();
  return deps.db.transact(async (tx) => {
    const { accessTokens } = tx.tables;
    const revoked = await tx
      .update(accessTokens)
      .set({ revokedAt: now, revokedReason: "owner" })
      .where(and(eq(accessTokens.userId, agent.id), eq(accessTokens.kind, "agent"), isNull(accessTokens.revokedAt), gt(accessTokens.expiresAt, now)))
      .returning({ jti: accessTokens.jti });
    await revokeRefreshTokens(tx, agent.id, now);
    await disconnectAllHosts(tx, agent.id);
    return revoked.length;
  });
}

/** Gives one of the human's agents access again: a new agent token, shown once, for the human to hand to the agent. */
export async function restoreAgentAccess(deps: Deps, humanId: number, agentUid: string) {
  const agent = await ownedAgent(deps, humanId, agentUid);
  return { agent, ...(await issueToken(deps, agent, consoleTokenNames.agentRestored, { kind: "agent" })) };
}

/** Revokes one token of one of the human's agents. */
export async function revokeAgentToken(deps: Deps, humanId: number, agentUid: string, tokenId: string) {
  const agent = await ownedAgent(deps, humanId, agentUid);
  return { agent, token: await revokeAccessToken(deps, agent.id, tokenId, "agent") };
}
