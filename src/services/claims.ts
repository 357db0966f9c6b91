import { and, asc, eq, gt, inArray, isNull, lte, or, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import { z } from "zod";
import type { Db, Tables } from "../../db/client.js";
import { AppError } from "../errors.js";
import { disconnectAllHosts } from "./connected-hosts.js";
import { assertIdentityFree, heldUnconfirmed, usernameShape } from "./accounts.js";
import { emailShape } from "./email-address.js";
import type { Deps } from "./deps.js";
import { prepareVerification, recordVerification, sendVerification } from "./emails.js";
import { hashPassword, passwordProblem } from "./passwords.js";
import { cleanFreeText } from "./free-text.js";
import { revokeRefreshTokens } from "./refresh-tokens.js";
import { hashSecret } from "./secrets.js";

/** What get_claim_status answers. */
export const claimStatusShape = z.object({
  claimed: z.boolean(),
  claimedAt: z.string().optional(),
  claimedBy: z.string().optional(),
  claimTokenValidUntil: z.string(),
  agentAccessKept: z.boolean().optional(),
});
export type ClaimStatus = z.infer<typeof claimStatusShape>;

export async function getClaimStatus(deps: Deps, userId: number): Promise<ClaimStatus> {
  const { claimTokens, users } = deps.db.tables;
  const claimer = alias(users, "claimer");
  const [row] = await deps.db
    .select({ claim: claimTokens, login: sql<string>`coalesce(${claimer.login}, ${users.login})` })
    .from(claimTokens)
    .innerJoin(users, eq(users.id, claimTokens.userId))
    // Claimed into a human's own account, the claimer is that human; otherwise the account itself became theirs.
    .leftJoin(claimer, eq(claimer.id, claimTokens.claimedByUserId))
    .where(eq(claimTokens.userId, userId));
  if (!row) {
    throw new AppError("not_found", "This account was created by a human with a password, so there is nothing to claim.");
  }
  const { claim, login } = row;
  if (!claim.consumedAt) return { claimed: false, claimTokenValidUntil: claim.expiresAt.toISOString() };
  return {
    claimed: true,
    claimedAt: claim.consumedAt.toISOString(),
    claimedBy: login,
    claimTokenValidUntil: claim.expiresAt.toISOString(),
    agentAccessKept: claim.agentAccessKept ?? undefined,
  };
}

export interface ClaimInput {
  claimToken: string;
  username: string;
  /** The human's display name; left empty, the account keeps the agent's. */
  name?: string;
  email: string;
  password: string;
  /** Let the agent keep its access token until it expires (the claim form's default). */
  keepAgentAccess: boolean;
}

export interface ClaimResult {
  userId: number;
  login: string;
  claimedAt: Date;
}

export type ClaimState = "claimable" | "claimed" | "expired";

export async function findClaim(deps: Deps, claimToken: string) {
  const { claimTokens } = deps.db.tables;
  const [claim] = await deps.db.select().from(claimTokens).where(eq(claimTokens.tokenHash, hashSecret(claimToken)));
  if (!claim) {
    throw new AppError("not_found", "This claim link is not known. Check that the whole link was copied, or ask the agent for its claim URL again.");
  }
  const state: ClaimState = claim.consumedAt ? "claimed" : claim.expiresAt <= deps.clock() ? "expired" : "claimable";
  return { claim, state };
}

export function refuseClaim(state: Exclude<ClaimState, "claimable">): never {
  if (state === "claimed") {
    throw new AppError("conflict", "This account has already been claimed; a claim link works only once.");
  }
  throw new AppError("gone", "This claim link has expired. The agent can sign up again with agent_signup to get a new one.");
}

/**
 * Turns an agent account into the human's, exactly once: same id,
 * organizations and stacks; username, email and password set.
 */
export async function claimAccount(deps: Deps, input: ClaimInput): Promise<ClaimResult> {
  const { claim, state } = await findClaim(deps, input.claimToken);
  if (state !== "claimable") refuseClaim(state);

  const username = usernameShape.safeParse(input.username);
  if (!username.success) throw new AppError("validation", username.error.issues[0]!.message, { field: "username" });
  const email = emailShape.safeParse(input.email);
  if (!email.success) throw new AppError("validation", email.error.issues[0]!.message, { field: "email" });
  const name = cleanFreeText(input.name ?? "");
  if (name.length > 255) throw new AppError("validation", "Your name is at most 255 characters.", { field: "name" });
  const problem = passwordProblem(input.password);
  if (problem) throw new AppError("validation", problem, { field: "password" });

  const identity = { login: username.data, email: email.data };
  // An address another account typed in but never confirmed does not stop the claim: it waits as
  // this account's pending email, and whoever confirms it through the mailed link takes it.
  const free = { unconfirmedEmailIsFree: true };
  await assertIdentityFree(deps.db, identity, claim.userId, free);
  const heldUntil = await holdForHashing(deps, claim.id, input.claimToken);
  try {
    return await finishClaim(deps, input, claim, identity, name, await hashPassword(input.password));
  } finally {
    // Only this attempt's hold: a later one may have taken the link after this one overran.
    await deps.db.transact((tx) => {
      const { claimTokens } = tx.tables;
      return tx.update(claimTokens).set({ claimingUntil: null }).where(and(eq(claimTokens.id, claim.id), eq(claimTokens.claimingUntil, heldUntil)));
    });
  }
}

/** How long one claim may hash its password before another attempt on the same link may start. */
const CLAIMING_MS = 30_000;

/**
 * Takes the link for the one claim that may hash now. Every other attempt
 * meanwhile (a double click, a second tab, a flood) is refused before it
 * costs a hash; the conditional update decides between them.
 */
async function holdForHashing(deps: Deps, claimId: number, claimToken: string): Promise<Date> {
  const now = deps.clock();
  const until = new Date(now.getTime() + CLAIMING_MS);
  const held = await deps.db.transact((tx) => {
    const { claimTokens } = tx.tables;
    return tx
      .update(claimTokens)
      .set({ claimingUntil: until })
      .where(
        and(
          eq(claimTokens.id, claimId),
          isNull(claimTokens.consumedAt),
          gt(claimTokens.expiresAt, now),
          or(isNull(claimTokens.claimingUntil), lte(claimTokens.claimingUntil, now)),
        ),
      )
      .returning({ id: claimTokens.id });
  });
  if (held.length === 1) return until;
  const { state } = await findClaim(deps, claimToken);
  if (state !== "claimable") refuseClaim(state);
  throw new AppError(
    "conflict",
    "This account is being claimed in another window right now. Wait a few seconds, then reload this page to see whether that claim went through.",
    { field: "form" },
  );
}

async function finishClaim(
  deps: Deps,
  input: ClaimInput,
  claim: Tables["claimTokens"]["$inferSelect"],
  identity: { login: string; email: string },
  name: string,
  passwordHash: string,
): Promise<ClaimResult> {
  const free = { unconfirmedEmailIsFree: true };
  const claimed = await deps.db.transact(async (tx) => {
    const { claimTokens, users } = tx.tables;
    const now = deps.clock();
    // The conditional update is the single point that decides who wins a race.
    const taken = await tx
      .update(claimTokens)
      .set({ consumedAt: now, agentAccessKept: input.keepAgentAccess })
      .where(and(eq(claimTokens.id, claim.id), isNull(claimTokens.consumedAt), gt(claimTokens.expiresAt, now)))
      .returning({ id: claimTokens.id });
    if (taken.length !== 1) refuseClaim((await findClaim(deps, input.claimToken)).state as Exclude<ClaimState, "claimable">);
    await assertIdentityFree(tx, identity, claim.userId, free);
    const squatted = await heldUnconfirmed(tx, identity.email, claim.userId);
    await tx
      .update(users)
      .set({
        login: identity.login,
        ...(name ? { name } : {}),
        email: squatted ? null : identity.email,
        emailVerifiedAt: null,
        passwordHash,
        isAgent: false,
        claimedAt: now,
      })
      .where(eq(users.id, claim.userId));
    const verification = prepareVerification(deps, identity.email, !squatted);
    await recordVerification(deps, tx, verification, claim.userId, now, "skip");
    if (!input.keepAgentAccess) await endAgentAccessAtClaim(tx, claim.userId, now);
    return { result: { userId: claim.userId, login: identity.login, claimedAt: now }, verification };
  });
  sendVerification(deps, claimed.verification, claimed.result.login);
  return claimed.result;
}


/** The human's "end the agent's access" at a claim: every token of the agent stops, access and refresh alike, and every host connected to it. */
export async function endAgentAccessAtClaim(tx: Db, agentId: number, now: Date): Promise<void> {
  const { accessTokens } = tx.tables;
  await tx
    .update(accessTokens)
    .set({ revokedAt: now, revokedReason: "claimed" })
    .where(and(eq(accessTokens.userId, agentId), isNull(accessTokens.revokedAt)));
  await revokeRefreshTokens(tx, agentId, now);
  await disconnectAllHosts(tx, agentId);
}

/** What the human is about to own, for the claim page; never consumes the token. */
export interface ClaimPreview {
  state: ClaimState;
  expiresAt: Date;
  claimedAt: Date | null;
  agentName: string;
  agentModel: string | null;
  login: string;
  organizations: string[];
  stacks: string[];
  stackCount: number;
}

const PREVIEW_STACKS = 20;

export async function previewClaim(deps: Deps, claimToken: string): Promise<ClaimPreview> {
  const { memberships, organizations, stacks, users } = deps.db.tables;
  const { claim, state } = await findClaim(deps, claimToken);
  const [user] = await deps.db.select().from(users).where(eq(users.id, claim.userId));
  if (!user) throw new AppError("not_found", "This claim link is not known. Check that the whole link was copied, or ask the agent for its claim URL again.");
  const orgs = await deps.db
    .select({ id: organizations.id, name: organizations.name })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .where(eq(memberships.userId, user.id))
    .orderBy(asc(organizations.name));
  const orgIds = orgs.map((org) => org.id);
  const stackRows = orgIds.length
    ? await deps.db
        .select({ org: organizations.name, project: stacks.projectName, stack: stacks.stackName })
        .from(stacks)
        .innerJoin(organizations, eq(organizations.id, stacks.orgId))
        .where(inArray(stacks.orgId, orgIds))
        .orderBy(asc(stacks.id))
        .limit(PREVIEW_STACKS)
    : [];
  const stackCount = orgIds.length ? await deps.db.$count(stacks, inArray(stacks.orgId, orgIds)) : 0;
  return {
    state,
    expiresAt: claim.expiresAt,
    claimedAt: claim.consumedAt,
    agentName: user.name,
    agentModel: user.agentModel,
    login: user.login,
    organizations: orgs.map((org) => org.name),
    stacks: stackRows.map((row) => `${row.org}/${row.project}/${row.stack}`),
    stackCount,
  };
}

/**
 * Locks agent accounts whose claim window closed with nobody claiming them.
 * Nothing is deleted: a locked account keeps its organizations and stacks, it
 * just no longer answers to its tokens. Returns how many were locked.
 */
export function lockUnclaimedAgents(deps: Deps): Promise<number> {
  const now = deps.clock();
  return deps.db.transact(async (tx) => {
    const { claimTokens, users } = tx.tables;
    const expired = tx
      .select({ userId: claimTokens.userId })
      .from(claimTokens)
      .where(and(isNull(claimTokens.consumedAt), lte(claimTokens.expiresAt, now)));
    const locked = await tx
      .update(users)
      .set({ lockedAt: now })
      .where(and(eq(users.isAgent, true), isNull(users.lockedAt), inArray(users.id, expired)))
      .returning({ id: users.id });
    return locked.length;
  });
}
