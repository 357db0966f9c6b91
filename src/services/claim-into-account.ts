import { and, asc, count, desc, eq, gt, inArray, isNull, ne, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db, ReadDb } from "../../db/client.js";
import { AppError } from "../errors.js";
import { type ClaimState, endAgentAccessAtClaim, findClaim, refuseClaim } from "./claims.js";
import type { Deps } from "./deps.js";
import { requireWriter } from "./orgs.js";
import { newUid } from "./secrets.js";
import { stackNamePart } from "./stacks.js";

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

/**
 * The step both claims by a signed-in human share: the claim token is spent
 * for that human, the agent stays an agent marked claimed, and its tokens end
 * unless the human let it keep them. The conditional update decides who wins a
 * race; false means another claim (or the clock) got there first.
 */
async function handOver(tx: Db, claim: { id: number; userId: number }, humanId: number, keepAgentAccess: boolean, now: Date): Promise<boolean> {
  const { claimTokens, users } = tx.tables;
  const taken = await tx
    .update(claimTokens)
    .set({ consumedAt: now, agentAccessKept: keepAgentAccess, claimedByUserId: humanId })
    .where(and(eq(claimTokens.id, claim.id), isNull(claimTokens.consumedAt), gt(claimTokens.expiresAt, now)))
    .returning({ id: claimTokens.id });
  if (taken.length !== 1) return false;
  await tx.update(users).set({ claimedAt: now }).where(eq(users.id, claim.userId));
  if (!keepAgentAccess) await endAgentAccessAtClaim(tx, claim.userId, now);
  return true;
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
    const { memberships, users } = tx.tables;
    const now = deps.clock();
    const [human] = await tx.select({ isAgent: users.isAgent, lockedAt: users.lockedAt }).from(users).where(eq(users.id, input.humanId));
    if (!human || human.isAgent || human.lockedAt) {
      throw new AppError("forbidden", "Only a human's account can take an agent in. Sign in with your own account, or claim the agent as a new account below.");
    }
    if (!(await handOver(tx, claim, input.humanId, input.keepAgentAccess, now))) {
      refuseClaim((await findClaim(deps, input.claimToken)).state as Exclude<ClaimState, "claimable">);
    }

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
    return { into: plan.human.login, organizations: plan.moving.map((org) => org.name) };
  });
}

// Pulumi's claim API (pulumi-pulumiservice provider/pkg/cloud/spec.json, tag "AI Agents"): the
// agent's own organization is emptied into one of the human's, stack by stack.

const stackEntityShape = z.object({ kind: z.literal("TransferEntityStack"), projectName: z.string(), stackName: z.string() });
const stackRenameShape = stackEntityShape.extend({
  kind: z.literal("TransferEntityStackRename"),
  renameAs: z.object({ kind: z.literal("TransferEntityStack").optional(), projectName: stackNamePart("projectName"), stackName: stackNamePart("stackName") }),
});
const transferEntityShape = z.discriminatedUnion("kind", [stackEntityShape, stackRenameShape]);
export type TransferEntity = z.infer<typeof transferEntityShape>;

/** Pulumi's AgentClaimResponse: the same body for a preview, a blocked commit and a done one. */
export const agentClaimResponseShape = z.object({
  agent: z.object({ login: z.string(), orgName: z.string(), createdAt: z.string() }),
  entities: z.array(transferEntityShape),
  conflicts: z.array(stackEntityShape),
  failures: z.array(z.object({ entity: stackEntityShape, failureDetails: z.string() })),
  claimExpiresAt: z.string(),
  transferToken: z.string().optional(),
});
export type AgentClaimResponse = z.infer<typeof agentClaimResponseShape>;

/** Pulumi's AgentClaimRequest. Renames are the only resolution: stacks are all a claim moves here. */
export const agentClaimRequestShape = z.object({
  claimToken: z.string({ error: "claimToken is required: the token at the end of the claim URL the agent gave you." }).min(1).max(200),
  conflictsResolution: z
    .array(
      stackRenameShape.extend({
        kind: z.literal("TransferEntityStackRename", {
          error: "Each conflictsResolution entry is a TransferEntityStackRename (projectName, stackName, renameAs): stacks are all that moves with a claim here.",
        }),
      }),
    )
    .max(1000)
    .optional(),
});
export type AgentClaimRequest = z.infer<typeof agentClaimRequestShape>;

const noSuchClaim = () =>
  new AppError("not_found", "This claim token is unknown, has expired or has already been used. Ask the agent for its claim URL again; it can call get_claim_status to see whether it was claimed.");

/** Pulumi's API answers an unknown, used and expired claim token alike: 404. */
async function claimableOrNotFound(deps: Deps, claimToken: string) {
  const found = await findClaim(deps, claimToken).catch((error: unknown) => {
    throw error instanceof AppError && error.code === "not_found" ? noSuchClaim() : error;
  });
  if (found.state !== "claimable") throw noSuchClaim();
  return found.claim;
}

/** The organization an agent got at signup, named after it: the one Pulumi's claim empties. */
async function agentSummary(db: ReadDb, agentId: number) {
  const { memberships, organizations, users } = db.tables;
  const [agent] = await db.select({ login: users.login, createdAt: users.createdAt }).from(users).where(eq(users.id, agentId));
  const [own] = await db
    .select({ orgId: organizations.id, name: organizations.name })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .where(and(eq(memberships.userId, agentId), eq(memberships.role, "admin"), sql`lower(${organizations.name}) = lower(${agent!.login})`));
  return { agent: { login: agent!.login, orgName: own?.name ?? agent!.login, createdAt: agent!.createdAt.toISOString() }, ownOrgId: own?.orgId };
}

const stackKey = (projectName: string, stackName: string) => `${projectName.toLowerCase()}/${stackName.toLowerCase()}`;

/**
 * What a claim into the organization would move, under the given renames, and
 * which of the moved names would collide there (with a stack of it, or with
 * another moved stack).
 */
async function transferPlan(db: ReadDb, ownOrgId: number | undefined, destinationOrgId: number | undefined, renames: AgentClaimRequest["conflictsResolution"] = []) {
  const { stacks } = db.tables;
  const owned = ownOrgId === undefined ? [] : await db.select({ id: stacks.id, projectName: stacks.projectName, stackName: stacks.stackName }).from(stacks).where(eq(stacks.orgId, ownOrgId)).orderBy(asc(stacks.id));
  const renameOf = new Map(renames.map((rename) => [stackKey(rename.projectName, rename.stackName), rename.renameAs]));
  const moves = owned.map((stack) => {
    const target = renameOf.get(stackKey(stack.projectName, stack.stackName));
    const entity: TransferEntity = target
      ? { kind: "TransferEntityStackRename", projectName: stack.projectName, stackName: stack.stackName, renameAs: { kind: "TransferEntityStack", projectName: target.projectName, stackName: target.stackName } }
      : { kind: "TransferEntityStack", projectName: stack.projectName, stackName: stack.stackName };
    return { id: stack.id, entity, to: target ?? stack };
  });
  const taken = new Set(
    destinationOrgId === undefined ? [] : (await db.select({ projectName: stacks.projectName, stackName: stacks.stackName }).from(stacks).where(eq(stacks.orgId, destinationOrgId))).map((stack) => stackKey(stack.projectName, stack.stackName)),
  );
  const conflicts: z.infer<typeof stackEntityShape>[] = [];
  for (const move of moves) {
    const key = stackKey(move.to.projectName, move.to.stackName);
    if (taken.has(key)) conflicts.push({ kind: "TransferEntityStack", projectName: move.entity.projectName, stackName: move.entity.stackName });
    taken.add(key);
  }
  return { moves, conflicts };
}

/**
 * GET /api/agents/signup/validate/{claimToken}: the agent and the stacks a
 * claim would move, while the token is claimable; a used or expired one is not found.
 */
export async function validateClaimToken(deps: Deps, claimToken: string): Promise<AgentClaimResponse> {
  const claim = await claimableOrNotFound(deps, claimToken);
  const { agent, ownOrgId } = await agentSummary(deps.db, claim.userId);
  const { moves } = await transferPlan(deps.db, ownOrgId, undefined);
  return { agent, entities: moves.map((move) => move.entity), conflicts: [], failures: [], claimExpiresAt: claim.expiresAt.toISOString() };
}

/** The destination, for a human with a role in it; strangers and agents are refused alike (403, as Pulumi's). */
async function destinationFor(db: ReadDb, caller: { id: number; isAgent: boolean }, orgName: string) {
  if (caller.isAgent) {
    throw new AppError("forbidden", "An agent cannot claim an agent: sign in as the human who owns the destination organization and use a personal access token.");
  }
  const { memberships, organizations } = db.tables;
  const [membership] = await db
    .select({ orgId: organizations.id, name: organizations.name, role: memberships.role })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .where(and(eq(memberships.userId, caller.id), sql`lower(${organizations.name}) = lower(${orgName})`));
  if (!membership) throw new AppError("forbidden", `You have no role in an organization named "${orgName}". Claim into one of your organizations (GET /api/user lists them).`);
  return membership;
}

export interface ClaimIntoOrganizationInput {
  caller: { id: number; isAgent: boolean };
  orgName: string;
  request: AgentClaimRequest;
  dryRun: boolean;
}

/**
 * POST /api/agents/{orgName}/claim. A preview (dryRun), or a commit that, in
 * one transaction, moves the agent's stacks (with their tags) into the
 * organization under the requested renames, spends the claim token for the
 * human, ends the agent's tokens and removes the agent's own organization
 * (kept, with the human as admin, when teammates belong to it). Conflicts
 * block the commit and change nothing.
 */
export async function claimIntoOrganization(deps: Deps, input: ClaimIntoOrganizationInput): Promise<AgentClaimResponse> {
  const destination = await destinationFor(deps.db, input.caller, input.orgName);
  requireWriter(destination, "claim an agent's stacks into it");
  const claim = await claimableOrNotFound(deps, input.request.claimToken);
  if (claim.userId === input.caller.id) throw new AppError("forbidden", "This is the agent's own account; sign in as yourself to claim it.");

  return deps.db.transact(async (tx) => {
    const { agent, ownOrgId } = await agentSummary(tx, claim.userId);
    if (ownOrgId === destination.orgId) {
      throw new AppError("validation", `The agent's stacks are already in "${destination.name}". Claim into another of your organizations.`);
    }
    const { moves, conflicts } = await transferPlan(tx, ownOrgId, destination.orgId, input.request.conflictsResolution);
    const answer: AgentClaimResponse = { agent, entities: moves.map((move) => move.entity), conflicts, failures: [], claimExpiresAt: claim.expiresAt.toISOString() };
    if (input.dryRun || conflicts.length > 0) return answer;

    const now = deps.clock();
    if (!(await handOver(tx, claim, input.caller.id, false, now))) throw noSuchClaim();
    const { claimTransfers, memberships, organizations, stacks } = tx.tables;
    for (const move of moves) {
      await tx.update(stacks).set({ orgId: destination.orgId, projectName: move.to.projectName, stackName: move.to.stackName }).where(eq(stacks.id, move.id));
    }
    if (ownOrgId !== undefined) {
      const others = await tx.$count(memberships, and(eq(memberships.orgId, ownOrgId), ne(memberships.userId, claim.userId)));
      if (others === 0) await tx.delete(organizations).where(eq(organizations.id, ownOrgId));
      else {
        await tx
          .insert(memberships)
          .values({ userId: input.caller.id, orgId: ownOrgId, role: "admin", createdAt: now })
          .onConflictDoUpdate({ target: [memberships.userId, memberships.orgId], set: { role: "admin" } });
      }
    }
    const transferToken = newUid();
    await tx.insert(claimTransfers).values({ uid: transferToken, claimTokenId: claim.id, orgId: destination.orgId, agentOrgName: agent.orgName, entities: JSON.stringify(answer.entities), createdAt: now });
    return { ...answer, transferToken };
  });
}

/** How far back GET /api/agents/{orgName}/claim/status reaches. */
const RECENT_CLAIM_DAYS = 30;

/** GET /api/agents/{orgName}/claim/status: the claims into the organization in the last 30 days, keyed by transferToken. */
export async function recentClaims(deps: Deps, caller: { id: number; isAgent: boolean }, orgName: string): Promise<{ claims: Record<string, AgentClaimResponse> }> {
  const destination = await destinationFor(deps.db, caller, orgName);
  const { claimTokens, claimTransfers, users } = deps.db.tables;
  const since = new Date(deps.clock().getTime() - RECENT_CLAIM_DAYS * 86_400_000);
  const rows = await deps.db
    .select({ transfer: claimTransfers, login: users.login, agentCreatedAt: users.createdAt, claimExpiresAt: claimTokens.expiresAt })
    .from(claimTransfers)
    .innerJoin(claimTokens, eq(claimTokens.id, claimTransfers.claimTokenId))
    .innerJoin(users, eq(users.id, claimTokens.userId))
    .where(and(eq(claimTransfers.orgId, destination.orgId), gt(claimTransfers.createdAt, since)))
    .orderBy(desc(claimTransfers.createdAt))
    .limit(100);
  const claims = Object.fromEntries(
    rows.map((row): [string, AgentClaimResponse] => [
      row.transfer.uid,
      {
        agent: { login: row.login, orgName: row.transfer.agentOrgName, createdAt: row.agentCreatedAt.toISOString() },
        entities: z.array(transferEntityShape).parse(JSON.parse(row.transfer.entities)),
        conflicts: [],
        failures: [],
        claimExpiresAt: row.claimExpiresAt.toISOString(),
        transferToken: row.transfer.uid,
      },
    ]),
  );
  return { claims };
}
