import { eq } from "drizzle-orm";
import { AppError } from "../errors.js";
import type { Deps } from "./deps.js";

/**
 * The ways an account can sign in that this server knows of, as Pulumi's
 * User.identities. An access token is a credential of the account, not an
 * identity it is tied to, so an agent that has only tokens has none. An email
 * address with a password (set when a human claims the account or signs up
 * through an invite link with a password) is the one identity the model has;
 * whether the address is verified is a separate question
 * (GET /api/user/verified-email). There are no VCS identities (GitHub,
 * GitLab, Bitbucket): this server links to none.
 */
export function identitiesOf(user: { email: string | null; passwordHash: string | null }): string[] {
  return user.email && user.passwordHash ? ["email"] : [];
}

/** The VCS identity providers the seed names for the `identity` query parameter. */
export const vcsProviders = ["github", "gitlab", "bitbucket"] as const;

const noVcs =
  "agent-onboard accounts are not linked to GitHub, GitLab or Bitbucket: an agent signs in with access tokens, " +
  "and a human who claimed or joined an account with an email address and password signs in with those.";

async function identitiesOfUser(deps: Deps, userId: number): Promise<string[]> {
  const { users } = deps.db.tables;
  const [user] = await deps.db.select({ email: users.email, passwordHash: users.passwordHash }).from(users).where(eq(users.id, userId));
  return user ? identitiesOf(user) : [];
}

const describeIdentities = (identities: string[]) =>
  identities.length ? `This account's only identity is ${identities.map((name) => `"${name}"`).join(", ")}` : "This account has no identity provider at all";

/** Pulumi's GET /api/user/github/{ghOrgName}/teams, for a user who is never GitHub-backed here. */
export function listGitHubTeams(_deps: Deps, _userId: number, _ghOrgName: string): never {
  throw new AppError(
    "bad_request",
    `operation only supported for GitHub-backed users. ${noVcs} There are no GitHub teams to list; ` +
      "the organizations this account belongs to are in GET /api/user.",
  );
}

/** Pulumi's GET /api/user/vcs/organizations: a missing backing identity is not an error there, so the list is empty. */
export function listIdentityProviderOrganizations(_deps: Deps, _userId: number): { organizations: never[] } {
  return { organizations: [] };
}

/** Pulumi's deprecated GET /api/user/gitlab-app/organizations: no GitLab identity, so no group the user may use. */
export function listGitLabAppOrganizations(_deps: Deps, _userId: number): { organizations: never[] } {
  return { organizations: [] };
}

/**
 * Pulumi's POST /api/user/vcs/sync. `identity` is the raw query value:
 * undefined when absent, an array when repeated.
 */
export async function syncWithIdentityProvider(deps: Deps, userId: number, identity: unknown): Promise<never> {
  if (identity !== undefined && !(typeof identity === "string" && (vcsProviders as readonly string[]).includes(identity.toLowerCase()))) {
    throw new AppError(
      "validation",
      `invalid query parameter: identity must be one of ${vcsProviders.join(", ")}, given once, or left out.`,
    );
  }
  const which = typeof identity === "string" ? `${identity.toLowerCase()} identity` : "linked identity provider";
  throw new AppError(
    "bad_request",
    `There is no ${which} to sync from. ${noVcs} ${describeIdentities(await identitiesOfUser(deps, userId))}, ` +
      "and this server is where the profile (name, avatar) comes from, so it is already current.",
  );
}

/** Pulumi's DELETE /api/user/vcs: removing a provider must leave at least one, and here there is never a second. */
export async function deleteIdentityProvider(deps: Deps, userId: number, _identity?: string): Promise<never> {
  throw new AppError(
    "bad_request",
    `must have more than one identity provider. ${describeIdentities(await identitiesOfUser(deps, userId))}, ` +
      `and none is a VCS provider that could be disconnected: ${noVcs} Nothing was changed.`,
  );
}
