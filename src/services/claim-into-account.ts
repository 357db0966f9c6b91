import { and, asc, count, eq, gt, inArray, isNull } from "drizzle-orm";
import type { ReadDb } from "../../db/client.js";
import { AppError } from "../errors.js";
import { type ClaimState, endAgentAccessAtClaim, findClaim, refuseClaim } from "./claims.js";
import type { Deps } from "./deps.js";

/** What happens to one of the agent's organizations when a human claims the agent into their own account. */
export interface MovingOrganization {
  name: string;
  /** join: the human becomes its admin; promote: the human was a member or viewer and becomes admin; none: already its admin. */
  change: "join" | "promote" | "none";
  stackCount: number;
  inviteLinkCount: number;
}

export interface ClaimIntoPreview {
  into: string;
  agentLogin: string;
  /** The organizations the agent administers: the human becomes admin of each, with its stacks and invite links. */
  moving: MovingOrganization[];
  /** Organizations the agent is only a member or viewer of: they are not the agent's to give, so they stay with it alone. */
  staying: { name: string; role: string }[];
  /** A fingerprint of `moving`: the claim is refused if what would move changed after the human looked. */
  expected: string;
}

const fingerprint = (moving: MovingOrganization[]) => moving.map((org) => `${org.name.toLowerCase()}:${org.change}`).join(",");

async function planFor(db: ReadDb, agentId: number, humanId: number) {
  const { inviteLinks, memberships, organizations, stacks, users } = db.tables;
  const agentOrgs = await db
    .select({ orgId: organizations.id, name: organizations.name, role: memberships.role })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .where(eq(memberships.userId, agentId))
    .orderBy(asc(organizations.name));
  const administered = agentOrgs.filter((org) => org.role === "admin");
  const ids = administered.map((org) => org.orgId);
  // One after another: inside a transaction these share one connection.
  const humanRoles = ids.length
    ? await db.select({ orgId: memberships.orgId, role: memberships.role }).from(memberships).where(and(eq(memberships.userId, humanId), inArray(memberships.orgId, ids)))
    : [];
  const stackCounts = ids.length ? await db.select({ orgId: stacks.orgId, n: count() }).from(stacks).where(inArray(stacks.orgId, ids)).groupBy(stacks.orgId) : [];
  const linkCounts = ids.length ? await db.select({ orgId: inviteLinks.orgId, n: count() }).from(inviteLinks).where(inArray(inviteLinks.orgId, ids)).groupBy(inviteLinks.orgId) : [];
  const [human] = await db.select({ login: users.login, defaultOrgId: users.defaultOrgId }).from(users).where(eq(users.id, humanId));
  const roleOf = new Map(humanRoles.map((row) => [row.orgId, row.role]));
  const counted = (rows: { orgId: number; n: number }[], orgId: number) => rows.find((row) => row.orgId === orgId)?.n ?? 0;
  const moving = administered.map((org): MovingOrganization & { orgId: number } => {
    const role = roleOf.get(org.orgId);
    return {
      orgId: org.orgId,
      name: org.name,
      change: role === "admin" ? "none" : role ? "promote" : "join",
      stackCount: counted(stackCounts, org.orgId),
      inviteLinkCount: counted(linkCounts, org.orgId),
    };
  });
  const staying = agentOrgs.filter((org) => org.role !== "admin").map((org) => ({ name: org.name, role: org.role }));
  return { human: human!, moving, staying };
}

function refuseUnlessClaimable(state: ClaimState) {
  if (state !== "claimable") refuseClaim(state);
}

/** Exactly what claiming the agent into the signed-in human's account would change; changes nothing. */
export async function previewClaimInto(deps: Deps, claimToken: string, humanId: number): Promise<ClaimIntoPreview> {
  const { claim, state } = await findClaim(deps, claimToken);
  refuseUnlessClaimable(state);
  const { users } = deps.db.tables;
  const [agent] = await deps.db.select({ login: users.login }).from(users).where(eq(users.id, claim.userId));
  const plan = await planFor(deps.db, claim.userId, humanId);
  return {
    into: plan.human.login,
    agentLogin: agent!.login,
    moving: plan.moving.map(({ orgId: _orgId, ...org }) => org),
    staying: plan.staying,
    expected: fingerprint(plan.moving),
  };
}

export interface ClaimIntoInput {
  claimToken: string;
  humanId: number;
  keepAgentAccess: boolean;
  /** The preview's fingerprint, as the human saw it. */
  expected: string;
}

/**
 * Pulumi's model of a claim by a signed-in human: the human becomes admin of
 * every organization the agent administers (stacks and invite links stay with
 * the organization, so they come along), and the agent account, which stays an
 * agent, is marked claimed by that human. One transaction: all of it or none.
 */
export async function claimIntoAccount(deps: Deps, input: ClaimIntoInput): Promise<{ into: string; organizations: string[] }> {
  const { claim, state } = await findClaim(deps, input.claimToken);
  refuseUnlessClaimable(state);
  if (claim.userId === input.humanId) throw new AppError("conflict", "This is the agent's own account; sign in as yourself to claim it into your account.");
  return deps.db.transact(async (tx) => {
    const { claimTokens, memberships, users } = tx.tables;
    const now = deps.clock();
    const [human] = await tx.select({ isAgent: users.isAgent, lockedAt: users.lockedAt }).from(users).where(eq(users.id, input.humanId));
    if (!human || human.isAgent || human.lockedAt) {
      throw new AppError("forbidden", "Only a human's account can take an agent in. Sign in with your own account, or claim the agent as a new account below.");
    }
    // The conditional update decides who wins a race, here as in a claim as a new account.
    const taken = await tx
      .update(claimTokens)
      .set({ consumedAt: now, agentAccessKept: input.keepAgentAccess, claimedByUserId: input.humanId })
      .where(and(eq(claimTokens.id, claim.id), isNull(claimTokens.consumedAt), gt(claimTokens.expiresAt, now)))
      .returning({ id: claimTokens.id });
    if (taken.length !== 1) refuseClaim((await findClaim(deps, input.claimToken)).state as Exclude<ClaimState, "claimable">);

    const plan = await planFor(tx, claim.userId, input.humanId);
    if (fingerprint(plan.moving) !== input.expected) {
      throw new AppError(
        "conflict",
        "What the agent owns changed after you looked (it joined or left an organization, or you did). Nothing was claimed; review the new preview and claim again.",
        { field: "preview" },
      );
    }
    for (const org of plan.moving.filter((org) => org.change !== "none")) {
      await tx
        .insert(memberships)
        .values({ userId: input.humanId, orgId: org.orgId, role: "admin", createdAt: now })
        .onConflictDoUpdate({ target: [memberships.userId, memberships.orgId], set: { role: "admin" } });
    }
    if (plan.human.defaultOrgId === null && plan.moving.length > 0) {
      await tx.update(users).set({ defaultOrgId: plan.moving[0]!.orgId }).where(eq(users.id, input.humanId));
    }
    await tx.update(users).set({ claimedAt: now }).where(eq(users.id, claim.userId));
    if (!input.keepAgentAccess) await endAgentAccessAtClaim(tx, claim.userId, now);
    return { into: plan.human.login, organizations: plan.moving.map((org) => org.name) };
  });
}
