import { randomBytes } from "node:crypto";
import { and, eq, isNotNull, isNull, ne, or, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db, ReadDb, Tables } from "../../db/client.js";
import { AppError } from "../errors.js";
import { userAvatarUrl } from "./avatars.js";
import type { Deps } from "./deps.js";
import { identitiesOf } from "./identities.js";
import { listMemberships, organizationSummaryShape, toOrganizationSummary } from "./orgs.js";
import { potentialOrganizations } from "./org-invites.js";
import { preparedPerDb } from "./prepared.js";
import { hashSecret, newSecret, newUid } from "./secrets.js";
import { cleanFreeText } from "./free-text.js";
import { prepareRefreshToken } from "./refresh-tokens.js";
import { prepareAccessToken, tokenNames, type UserRow } from "./tokens.js";

/** Pulumi's TokenInfo (seed 001). */
export const tokenInfoShape = z.object({
  name: z.string(),
  organization: z.string(),
  team: z.string(),
});

/** Pulumi's User (seeds 000 and 001). */
export const userShape = z.object({
  id: z.string(),
  githubLogin: z.string(),
  name: z.string(),
  email: z.string(),
  avatarUrl: z.string(),
  organizations: z.array(organizationSummaryShape),
  potentialOrganizations: z.array(organizationSummaryShape).optional(),
  identities: z.array(z.string()),
  siteAdmin: z.boolean().optional(),
  registryAdmin: z.boolean().optional(),
  tokenInfo: tokenInfoShape.optional(),
  hasMFA: z.boolean(),
  isOrgManaged: z.boolean(),
  isManagedByMultiOrg: z.boolean(),
  isAgent: z.boolean().optional(),
});
export type User = z.infer<typeof userShape>;

/** Pulumi's AgentSignupResponse (seed 000) plus the claim URL built from its claim token. */
export const agentSignupResponseShape = z.object({
  accessToken: z.string(),
  accessTokenValidUntil: z.string(),
  claimToken: z.string(),
  claimTokenValidUntil: z.string(),
  userInfo: userShape,
  claimUrl: z.string(),
  /** For POST /api/oauth/token, when the access token has expired (Pulumi's CLI since v3.247.0); REST only. */
  refreshToken: z.string().optional(),
});
export type AgentSignupResponse = z.infer<typeof agentSignupResponseShape>;

export const agentSignupInput = z.object({
  agentName: z
    .string()
    .trim()
    .min(1, "agentName may not be empty; leave it out to be called \"Agent\".")
    .max(100, "agentName is at most 100 characters.")
    .optional()
    .describe('A display name for this agent, shown to the human on the claim page (e.g. "Release helper").'),
  agentModel: z
    .string()
    .trim()
    .min(1, "agentModel may not be empty; leave it out if unknown.")
    .max(100, "agentModel is at most 100 characters.")
    .optional()
    .describe('The model behind this agent (e.g. "claude-sonnet-4"), shown to the human on the claim page.'),
});
export type AgentSignupInput = z.infer<typeof agentSignupInput>;

/** Usernames (githubLogin) as Pulumi allows them. */
export const usernameShape = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{2,38}$/,
    "A username is 3–39 characters: letters, digits, '-', '_' or '.', starting with a letter or digit.",
  );


export const claimUrlFor = (deps: Deps, claimToken: string) =>
  `${deps.settings.publicUrl}/claim/${encodeURIComponent(claimToken)}`;

export interface PreparedClaimToken {
  claimToken: string;
  validUntil: Date;
  row: (userId: number) => Tables["claimTokens"]["$inferInsert"];
}

export function prepareClaimToken(deps: Deps): PreparedClaimToken {
  const now = deps.clock();
  const claimToken = newSecret();
  const validUntil = new Date(now.getTime() + deps.settings.claimTokenTtlMs);
  return {
    claimToken,
    validUntil,
    row: (userId) => ({ userId, tokenHash: hashSecret(claimToken), createdAt: now, expiresAt: validUntil }),
  };
}

const slugify = (text: string) =>
  text
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 24);

/** A readable, unique-enough login such as `agent-release-helper-k3x9q2`. */
export function generateLogin(base: string | undefined, prefix = "agent"): string {
  const suffix = randomBytes(6).toString("base64url").toLowerCase().replace(/[^a-z0-9]/g, "x");
  const slug = base ? slugify(base) : "";
  return [prefix, slug, suffix].filter(Boolean).join("-").replace(/--+/g, "-");
}

/**
 * Inside a write transaction: refuses an email or login another user already
 * has. With `unconfirmedEmailIsFree`, an address another account only typed in
 * (never confirmed) does not count: confirming it later takes it from them.
 */
export async function assertIdentityFree(
  db: ReadDb,
  identity: { email?: string; login?: string },
  exceptUserId = -1,
  { unconfirmedEmailIsFree = false } = {},
): Promise<void> {
  const { users } = db.tables;
  const [clash] = await db
    .select({ email: users.email, login: users.login })
    .from(users)
    .where(
      and(
        ne(users.id, exceptUserId),
        or(
          identity.email
            ? and(eq(users.email, identity.email), unconfirmedEmailIsFree ? isNotNull(users.emailVerifiedAt) : sql`true`)
            : sql`false`,
          identity.login ? sql`lower(${users.login}) = lower(${identity.login})` : sql`false`,
        ),
      ),
    )
    .limit(1);
  if (!clash) {
    if (identity.login && (await loginNamesAnotherOrganization(db, identity.login, exceptUserId))) throw loginTaken(identity.login);
    return;
  }
  if (identity.email && clash.email === identity.email) {
    throw new AppError("conflict", `A user with the email "${identity.email}" already exists. Use another email address.`, {
      field: "email",
    });
  }
  throw loginTaken(identity.login!);
}

const loginTaken = (login: string) =>
  new AppError("conflict", `The username "${login}" is already taken. Choose another username.`, { field: "username" });

/**
 * Logins and organization names are one namespace, as Pulumi's githubLogin is:
 * a username may be an organization's name only when the user is its admin,
 * or anyone could pass for the organization.
 */
async function loginNamesAnotherOrganization(db: ReadDb, login: string, userId: number): Promise<boolean> {
  const { memberships, organizations } = db.tables;
  const [named] = await db
    .select({ id: organizations.id, adminRole: memberships.role })
    .from(organizations)
    .leftJoin(memberships, and(eq(memberships.orgId, organizations.id), eq(memberships.userId, userId), eq(memberships.role, "admin")))
    .where(sql`lower(${organizations.name}) = lower(${login})`)
    .limit(1);
  return named !== undefined && named.adminRole === null;
}

/** Whether another account has the address as its primary email, without having confirmed it. */
export async function heldUnconfirmed(db: ReadDb, email: string, exceptUserId: number): Promise<boolean> {
  const { users } = db.tables;
  const found = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.email, email), isNull(users.emailVerifiedAt), ne(users.id, exceptUserId)))
    .limit(1);
  return found.length > 0;
}

/** Creates an agent account: user, personal organization (agent as admin), access token and claim token, all at once. */
export async function agentSignup(deps: Deps, input: AgentSignupInput): Promise<AgentSignupResponse> {
  const now = deps.clock();
  const login = generateLogin(input.agentName);
  const uid = newUid();
  const claim = prepareClaimToken(deps);
  const access = await prepareAccessToken(deps, uid, tokenNames.agentSignup);
  const refresh = prepareRefreshToken(deps);

  const userId = await deps.db.transact(async (tx) => {
    const { accessTokens, claimTokens, memberships, organizations, users } = tx.tables;
    const [org] = await tx.insert(organizations).values({ name: login, createdAt: now }).returning({ id: organizations.id });
    const [user] = await tx
      .insert(users)
      .values({
        uid,
        login,
        name: cleanFreeText(input.agentName ?? "") || "Agent",
        isAgent: true,
        agentModel: input.agentModel === undefined ? undefined : cleanFreeText(input.agentModel) || null,
        defaultOrgId: org!.id,
        createdAt: now,
      })
      .returning({ id: users.id });
    await tx.insert(memberships).values({ userId: user!.id, orgId: org!.id, role: "admin", createdAt: now });
    await tx.insert(claimTokens).values(claim.row(user!.id));
    await tx.insert(accessTokens).values(access.row(user!.id));
    await tx.insert(tx.tables.refreshTokens).values(refresh.row(user!.id));
    return user!.id;
  });
  return {
    accessToken: access.token,
    accessTokenValidUntil: access.validUntil.toISOString(),
    claimToken: claim.claimToken,
    claimTokenValidUntil: claim.validUntil.toISOString(),
    // As GET /api/user answers with the token just issued.
    userInfo: await getCurrentUser(deps, userId),
    claimUrl: claimUrlFor(deps, claim.claimToken),
    refreshToken: refresh.refreshToken,
  };
}

const userById = preparedPerDb((db, name) => {
  const { users } = db.tables;
  return db.select().from(users).where(eq(users.id, sql.placeholder("userId"))).prepare(name);
}, "user_by_id");

export async function findUser(db: ReadDb, userId: number) {
  const [user] = await userById(db).execute({ userId });
  if (!user) throw new AppError("unauthenticated", "Your account no longer exists. Call agent_signup to create a new one.");
  return user;
}

/**
 * Pulumi's GET /api/user for the given account. It has no tokenInfo: Pulumi
 * sets that for machine (organization and team) tokens only, and every token
 * here is personal, the agent's own included, so `pulumi whoami -v` says
 * "Token type: personal".
 */
export async function getCurrentUser(deps: Deps, userId: number, via: { row?: UserRow } = {}): Promise<User> {
  // The caller's row, when authentication just read it, is not read again.
  const user = via.row?.id === userId ? via.row : await findUser(deps.db, userId);
  const [memberships, potential] = await Promise.all([
    listMemberships(deps.db, userId),
    potentialOrganizations(deps, userId, user.email && user.emailVerifiedAt ? user.email : null),
  ]);
  return {
    id: user.uid,
    githubLogin: user.login,
    name: user.name,
    email: user.email ?? "",
    avatarUrl: userAvatarUrl(user),
    organizations: memberships.map(toOrganizationSummary),
    potentialOrganizations: potential,
    identities: identitiesOf(user),
    // The model has no site administrators.
    siteAdmin: false,
    // Every access token here is personal: scoped to no organization or team.
    hasMFA: false,
    isOrgManaged: false,
    isManagedByMultiOrg: false,
    isAgent: user.isAgent,
  };
}
