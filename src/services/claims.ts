import { and, eq, gt, isNull } from "drizzle-orm";
import { z } from "zod";
import { accessTokens, claimTokens, users } from "../../db/schema.js";
import { AppError } from "../errors.js";
import { assertIdentityFree, emailShape, usernameShape } from "./accounts.js";
import type { Deps } from "./deps.js";
import { hashPassword, passwordProblem } from "./passwords.js";
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

export function getClaimStatus(deps: Deps, userId: number): ClaimStatus {
  const row = deps.db
    .select({ claim: claimTokens, login: users.login })
    .from(claimTokens)
    .innerJoin(users, eq(users.id, claimTokens.userId))
    .where(eq(claimTokens.userId, userId))
    .get();
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

type ClaimState = "claimable" | "claimed" | "expired";

function findClaim(deps: Deps, claimToken: string) {
  const claim = deps.db.select().from(claimTokens).where(eq(claimTokens.tokenHash, hashSecret(claimToken))).get();
  if (!claim) {
    throw new AppError("not_found", "This claim link is not known. Check that the whole link was copied, or ask the agent for its claim URL again.");
  }
  const state: ClaimState = claim.consumedAt ? "claimed" : claim.expiresAt <= deps.clock() ? "expired" : "claimable";
  return { claim, state };
}

function refuse(state: Exclude<ClaimState, "claimable">): never {
  if (state === "claimed") {
    throw new AppError("conflict", "This account has already been claimed; a claim link works only once.");
  }
  throw new AppError("gone", "This claim link has expired. The agent can sign up again with agent_signup to get a new one.");
}

/** What the claim page shows before the human decides; never consumes the token. */
export function inspectClaim(deps: Deps, claimToken: string) {
  const { claim, state } = findClaim(deps, claimToken);
  return { state, userId: claim.userId, expiresAt: claim.expiresAt, claimedAt: claim.consumedAt };
}

/**
 * Turns an agent account into the human's, exactly once: same id,
 * organizations and stacks; username, email and password set.
 */
export async function claimAccount(deps: Deps, input: ClaimInput): Promise<ClaimResult> {
  const { claim, state } = findClaim(deps, input.claimToken);
  if (state !== "claimable") refuse(state);

  const username = usernameShape.safeParse(input.username);
  if (!username.success) throw new AppError("validation", username.error.issues[0]!.message, { field: "username" });
  const email = emailShape.safeParse(input.email);
  if (!email.success) throw new AppError("validation", email.error.issues[0]!.message, { field: "email" });
  const problem = passwordProblem(input.password);
  if (problem) throw new AppError("validation", problem, { field: "password" });

  const identity = { login: username.data, email: email.data };
  assertIdentityFree(deps.db, identity, claim.userId);
  const passwordHash = await hashPassword(input.password);

  return deps.db.transaction(
    (tx) => {
      const now = deps.clock();
      // The conditional update is the single point that decides who wins a race.
      const taken = tx
        .update(claimTokens)
        .set({ consumedAt: now, agentAccessKept: input.keepAgentAccess })
        .where(and(eq(claimTokens.id, claim.id), isNull(claimTokens.consumedAt), gt(claimTokens.expiresAt, now)))
        .run();
      if (taken.changes !== 1) refuse(findClaim(deps, input.claimToken).state as Exclude<ClaimState, "claimable">);
      assertIdentityFree(tx, identity, claim.userId);
      tx.update(users)
        .set({ login: identity.login, email: identity.email, passwordHash, isAgent: false, claimedAt: now })
        .where(eq(users.id, claim.userId))
        .run();
      if (!input.keepAgentAccess) {
        tx.update(accessTokens)
          .set({ revokedAt: now, revokedReason: "claimed" })
          .where(and(eq(accessTokens.userId, claim.userId), isNull(accessTokens.revokedAt)))
          .run();
      }
      return { userId: claim.userId, login: identity.login, claimedAt: now };
    },
    { behavior: "immediate" },
  );
}

