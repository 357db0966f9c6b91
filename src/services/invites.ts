import { and, asc, desc, eq, inArray, isNotNull } from "drizzle-orm";
import { z } from "zod";
import type { ReadDb, Tables } from "../../db/client.js";
import { AppError } from "../errors.js";
import {
  assertIdentityFree,
  claimUrlFor,
  generateLogin,
  prepareClaimToken,
  usernameShape,
} from "./accounts.js";
import { userAvatarUrl } from "./avatars.js";
import { emailShape } from "./email-address.js";
import type { Deps } from "./deps.js";
import { prepareVerification, recordVerification, sendVerification } from "./emails.js";
import { organizationNameShape, requireAdmin, resolveMembership } from "./orgs.js";
import { type Page, pageWindow, toPage } from "./paging.js";
import { hashPassword, passwordProblem } from "./passwords.js";
import { cleanFreeText } from "./free-text.js";
import { openSealed, sealSecret } from "./sealed-secrets.js";
import { hashSecret, newSecret, newUid } from "./secrets.js";
import { prepareAccessToken, tokenNames } from "./tokens.js";

/** Invited users get Unleash's Viewer root role, with Unleash's id for it. */
const viewerRole = {
  id: 3,
  type: "root",
  name: "Viewer",
  description:
    "Users with the root viewer role can only read root resources in Unleash. Viewers can be added to specific projects as project members. Users with the viewer root role may not view API tokens.",
};

/*
 * The seeds mark some fields nullable. These shapes are also MCP output
 * schemas, where "string or null" comes out as type ["string", "null"], which
 * strict clients refuse; so a field that has no value is left out instead.
 * All of them are optional in the seeds except seed 002's createdBy, which the
 * REST route puts back as null (src/web/api.ts); url always has a value.
 */

/** Unleash's userSchema (seed 003). */
export const unleashUserShape = z.object({
  id: z.number().int(),
  isAPI: z.boolean().optional(),
  name: z.string().optional(),
  email: z.string().optional(),
  username: z.string().optional(),
  imageUrl: z.string().optional(),
  inviteLink: z.string().optional(),
  loginAttempts: z.number().int().optional(),
  emailSent: z.boolean().optional(),
  rootRole: z.number().int().optional(),
  seenAt: z.string().optional(),
  createdAt: z.string().optional(),
  accountType: z.string().optional(),
  permissions: z.array(z.string()).optional(),
  scimId: z.string().optional(),
});
export type UnleashUser = z.infer<typeof unleashUserShape>;

/** Unleash's roleSchema, as embedded in an invite token (seed 002). */
export const roleShape = z.object({
  id: z.number().int(),
  type: z.string(),
  name: z.string(),
  description: z.string().optional(),
  project: z.string().optional(),
});

/** Unleash's publicSignupTokenSchema (seed 002). */
export const inviteTokenShape = z.object({
  secret: z.string(),
  url: z.string(),
  name: z.string(),
  enabled: z.boolean(),
  expiresAt: z.string(),
  createdAt: z.string(),
  /** Absent only when the account that created the link no longer exists. */
  createdBy: z.string().optional(),
  users: z.array(unleashUserShape).optional(),
  role: roleShape,
});
export type InviteToken = z.infer<typeof inviteTokenShape>;

export const createInviteLinkInput = z.object({
  name: z
    .string()
    .trim()
    .min(1, "name may not be empty; call the link something like \"Team onboarding\".")
    .max(255, "name is at most 255 characters.")
    .describe("A name for the link, only for display (e.g. \"Platform team\")."),
  expiresAt: z
    .iso.datetime({ offset: true, message: "expiresAt must be an ISO 8601 date-time such as 2030-01-31T12:00:00Z." })
    // An expiry before the Unix epoch means nothing, and year 0 is beyond what PostgreSQL accepts from the driver.
    .refine((value) => Date.parse(value) >= 0, "expiresAt must be a date-time after 1970, such as 2030-01-31T12:00:00Z.")
    .describe("When the link stops working, ISO 8601. At most one month ahead: later dates are moved back to one month from now."),
  organization: organizationNameShape
    .optional()
    .describe("The organization to invite people to, by name. Defaults to your default organization. You must be its admin."),
});
export type CreateInviteLinkInput = z.infer<typeof createInviteLinkInput>;

export const inviteUrlFor = (deps: Deps, secret: string) =>
  `${deps.settings.publicUrl}/new-user?invite=${encodeURIComponent(secret)}`;

function toUnleashUser(user: Tables["users"]["$inferSelect"]): UnleashUser {
  return {
    id: user.id,
    isAPI: false,
    name: user.name,
    email: user.email ?? undefined,
    username: user.login,
    imageUrl: userAvatarUrl(user),
    loginAttempts: user.loginAttempts,
    emailSent: false,
    rootRole: viewerRole.id,
    // seenAt only once the user has signed in; scimId (no SCIM) never, so it is left out.
    ...(user.seenAt ? { seenAt: user.seenAt.toISOString() } : {}),
    createdAt: user.createdAt.toISOString(),
    accountType: "User",
    permissions: [],
  };
}

/** The same day next month, or that month's last day when it is shorter (Jan 31 → Feb 28), as Unleash's date-fns `add` does. */
function addMonth(date: Date): Date {
  const result = new Date(date);
  const day = result.getUTCDate();
  result.setUTCDate(1);
  result.setUTCMonth(result.getUTCMonth() + 1);
  const lastDay = new Date(Date.UTC(result.getUTCFullYear(), result.getUTCMonth() + 1, 0)).getUTCDate();
  result.setUTCDate(Math.min(day, lastDay));
  return result;
}

/** Unleash clamps an expiry more than a month ahead to one month from now. */
function capToOneMonth(requested: Date, now: Date): Date {
  const latest = addMonth(now);
  return requested > latest ? latest : requested;
}

async function toInviteToken(deps: Deps, link: Tables["inviteLinks"]["$inferSelect"], secret: string): Promise<InviteToken> {
  const { inviteLinkUsers, users } = deps.db.tables;
  const [creator] = link.createdByUserId
    ? await deps.db.select({ email: users.email, login: users.login }).from(users).where(eq(users.id, link.createdByUserId))
    : [];
  const joined = await deps.db
    .select({ user: users })
    .from(inviteLinkUsers)
    .innerJoin(users, eq(users.id, inviteLinkUsers.userId))
    .where(eq(inviteLinkUsers.inviteLinkId, link.id))
    .orderBy(asc(inviteLinkUsers.joinedAt), asc(users.id));
  return {
    secret,
    url: inviteUrlFor(deps, secret),
    name: link.name,
    enabled: link.enabled && link.expiresAt > deps.clock(),
    expiresAt: link.expiresAt.toISOString(),
    createdAt: link.createdAt.toISOString(),
    ...(creator ? { createdBy: creator.email ?? creator.login } : {}),
    users: joined.map(({ user }) => toUnleashUser(user)),
    role: viewerRole,
  };
}

/** An admin creates a multi-use link that makes whoever follows it a Viewer member of the organization. */
export async function createInviteLink(deps: Deps, userId: number, input: CreateInviteLinkInput): Promise<InviteToken> {
  const membership = await resolveMembership(deps.db, userId, input.organization);
  requireAdmin(membership, "create invite links");
  const now = deps.clock();
  const secret = newSecret();
  const secretSealed = await sealSecret(deps.db, secret);
  const [link] = await deps.db.transact(async (tx) =>
    tx
    .insert(tx.tables.inviteLinks)
    .values({
      orgId: membership.orgId,
      secretHash: hashSecret(secret),
      secretSealed,
      name: cleanFreeText(input.name) || "Invite link",
      enabled: true,
      expiresAt: capToOneMonth(new Date(input.expiresAt), now),
      createdAt: now,
      createdByUserId: userId,
    })
    .returning(),
  );
  return toInviteToken(deps, link!, secret);
}

/** Accepts the bare secret or the whole invite URL, as people paste either. */
export function inviteSecretFrom(token: string): string {
  const trimmed = token.trim();
  if (/^https?:\/\//i.test(trimmed)) {
    try {
      const url = new URL(trimmed);
      const invite = url.searchParams.get("invite");
      if (invite) return invite;
      const path = url.pathname.match(/\/invite(?:-link)?\/([^/]+)/);
      if (path) return decodeURIComponent(path[1]!);
    } catch {
      // Not a URL after all: treat it as a secret, which will not match.
    }
  }
  return trimmed;
}

const invalidInvite = () =>
  new AppError(
    "bad_request",
    "This invite link is not valid: it may be mistyped, expired or disabled. Ask the person who invited you for a new link.",
  );

async function findUsableLink(db: ReadDb, secret: string, now: Date) {
  const { inviteLinks, organizations } = db.tables;
  const [found] = await db
    .select({ link: inviteLinks, orgName: organizations.name })
    .from(inviteLinks)
    .innerJoin(organizations, eq(organizations.id, inviteLinks.orgId))
    .where(eq(inviteLinks.secretHash, hashSecret(secret)));
  if (!found || !found.link.enabled || found.link.expiresAt <= now) throw invalidInvite();
  return found;
}

/** Only structure is checked up front; the person's details are judged after the token, in Unleash's order. */
export const redeemInviteInput = z.object({
  token: z
    .string()
    .min(1, "token is required: pass the invite secret or the whole invite URL.")
    .max(2048, "token is at most 2048 characters.")
    .describe("The invite secret, or the whole invite URL (…/new-user?invite=…) exactly as it was shared."),
  email: z.string().max(1024, "email is at most 1024 characters.").describe("Email address of the new user; stored lowercased, must be unused."),
  name: z.string().max(255, "name is at most 255 characters.").describe("Display name of the new user."),
  username: z
    .string()
    .max(255, "username is at most 255 characters.")
    .optional()
    .describe("Optional unique username (3–39 letters, digits, '-', '_' or '.'). Made from the email when left out."),
  password: z
    .string()
    .max(1024, "password is at most 1024 characters.")
    .optional()
    .describe(
      "Only when signing up a human: 10–128 characters with upper, lower, digit and symbol. " +
        "Leave it out when you, the agent, join: you then get an access token and a claim URL for your human.",
    ),
});
export type RedeemInviteInput = z.infer<typeof redeemInviteInput>;

/** userSchema plus, for an agent that joined without a password, AgentSignupResponse's token fields. */
export const redeemedUserShape = unleashUserShape.extend({
  accessToken: z.string().optional(),
  accessTokenValidUntil: z.string().optional(),
  claimUrl: z.string().optional(),
  claimTokenValidUntil: z.string().optional(),
});
export type RedeemedUser = z.infer<typeof redeemedUserShape>;

export interface RedeemResult {
  user: RedeemedUser;
  organization: string;
  /** Set when no password was given: the new account is the caller's to use. */
  accessToken?: string;
}

function loginFromEmail(email: string): string {
  const local = email.split("@")[0]!.replace(/[^a-z0-9_.-]+/g, "-").replace(/^[^a-z0-9]+/, "");
  return generateLogin(local.slice(0, 20), "user");
}

/** Unleash's POST /invite/{token}/signup: validation, then the token, then the user. */
export async function redeemInvite(deps: Deps, raw: RedeemInviteInput): Promise<RedeemResult> {
  const input = redeemInviteInput.safeParse(raw);
  if (!input.success) throw new AppError("validation", input.error.issues[0]!.message);
  const secret = inviteSecretFrom(input.data.token);
  await findUsableLink(deps.db, secret, deps.clock());

  const email = emailShape.safeParse(input.data.email.trim());
  if (!email.success) throw new AppError("validation", email.error.issues[0]!.message, { field: "email" });
  const name = cleanFreeText(input.data.name);
  if (!name) throw new AppError("validation", "name may not be empty: give the new user's display name.", { field: "name" });
  let login: string;
  if (input.data.username !== undefined) {
    const username = usernameShape.safeParse(input.data.username.trim());
    if (!username.success) throw new AppError("validation", username.error.issues[0]!.message, { field: "username" });
    login = username.data;
  } else {
    login = loginFromEmail(email.data);
  }
  const password = input.data.password;
  if (password !== undefined) {
    const problem = passwordProblem(password);
    if (problem) throw new AppError("validation", problem, { field: "password" });
  }
  const identity = { email: email.data, login };
  await assertIdentityFree(deps.db, identity);

  const uid = newUid();
  const passwordHash = password === undefined ? null : await hashPassword(password);
  const access = password === undefined ? await prepareAccessToken(deps, uid, tokenNames.inviteSignup) : undefined;
  const claim = password === undefined ? prepareClaimToken(deps) : undefined;
  const verification = prepareVerification(deps, email.data, true);

  const { user, orgName } = await deps.db.transact(async (tx) => {
    const { accessTokens, claimTokens, inviteLinkUsers, memberships, users } = tx.tables;
    const now = deps.clock();
    // Checked again inside the transaction: the link may have expired or been disabled meanwhile.
    const { link, orgName } = await findUsableLink(tx, secret, now);
    await assertIdentityFree(tx, identity);
    const [user] = await tx
      .insert(users)
      .values({ uid, login, name, email: email.data, passwordHash, isAgent: password === undefined, defaultOrgId: link.orgId, createdAt: now })
      .returning();
    await tx.insert(memberships).values({ userId: user!.id, orgId: link.orgId, role: "viewer", createdAt: now });
    await tx.insert(inviteLinkUsers).values({ inviteLinkId: link.id, userId: user!.id, joinedAt: now });
    await recordVerification(deps, tx, verification, user!.id, now, "skip");
    if (access && claim) {
      await tx.insert(accessTokens).values(access.row(user!.id));
      await tx.insert(claimTokens).values(claim.row(user!.id));
    }
    return { user: user!, orgName };
  });
  sendVerification(deps, verification, user.login);

  const unleashUser = toUnleashUser(user);
  if (!access || !claim) return { user: unleashUser, organization: orgName };
  return {
    user: {
      ...unleashUser,
      accessToken: access.token,
      accessTokenValidUntil: access.validUntil.toISOString(),
      claimUrl: claimUrlFor(deps, claim.claimToken),
      claimTokenValidUntil: claim.validUntil.toISOString(),
    },
    organization: orgName,
    accessToken: access.token,
  };
}

/** Unleash's GET /invite/{token}/validate, and the invite page's header: where a usable link leads. */
export async function validateInvite(deps: Deps, token: string): Promise<{ organization: string; name: string; expiresAt: string }> {
  const { orgName, link } = await findUsableLink(deps.db, inviteSecretFrom(token), deps.clock());
  return { organization: orgName, name: link.name, expiresAt: link.expiresAt.toISOString() };
}

/** A link by its secret, for an admin of its organization; to anyone else it does not exist. */
async function findAdministeredLink(db: ReadDb, userId: number, secret: string) {
  const { inviteLinks, memberships } = db.tables;
  const [found] = await db
    .select({ link: inviteLinks, role: memberships.role })
    .from(inviteLinks)
    .innerJoin(memberships, and(eq(memberships.orgId, inviteLinks.orgId), eq(memberships.userId, userId)))
    .where(eq(inviteLinks.secretHash, hashSecret(secret)));
  if (!found || found.role !== "admin") {
    throw new AppError("not_found", "No invite link with that secret exists in an organization you administer.");
  }
  return found.link;
}

export async function getInviteLink(deps: Deps, userId: number, secret: string): Promise<InviteToken> {
  return toInviteToken(deps, await findAdministeredLink(deps.db, userId, secret), secret);
}

/** Unleash lets only the expiry and the enabled flag change. */
export const updateInviteLinkInput = z.strictObject({
  expiresAt: createInviteLinkInput.shape.expiresAt.optional(),
  enabled: z.boolean({ message: "enabled must be true or false." }).optional(),
});
export type UpdateInviteLinkInput = z.infer<typeof updateInviteLinkInput>;

export async function updateInviteLink(deps: Deps, userId: number, secret: string, input: UpdateInviteLinkInput): Promise<InviteToken> {
  const link = await findAdministeredLink(deps.db, userId, secret);
  return toInviteToken(deps, await applyInviteLinkUpdate(deps, link, input), secret);
}

/** Unleash's rules for a change of expiry or enabled flag, whichever path names the link. */
async function applyInviteLinkUpdate(deps: Deps, link: Tables["inviteLinks"]["$inferSelect"], input: UpdateInviteLinkInput) {
  const parsed = updateInviteLinkInput.safeParse(input);
  if (!parsed.success) throw new AppError("validation", parsed.error.issues[0]!.message, { field: String(parsed.error.issues[0]!.path[0] ?? "expiresAt") });
  const changes = {
    ...(parsed.data.expiresAt === undefined ? {} : { expiresAt: capToOneMonth(new Date(parsed.data.expiresAt), deps.clock()) }),
    ...(parsed.data.enabled === undefined ? {} : { enabled: parsed.data.enabled }),
  };
  if (Object.keys(changes).length === 0) return link;
  const [updated] = await deps.db.transact(async (tx) =>
    tx.update(tx.tables.inviteLinks).set(changes).where(eq(tx.tables.inviteLinks.id, link.id)).returning(),
  );
  return updated!;
}

/** An invite link as an organization's console lists it: its secret is kept only as a hash, so there is no URL to show again. */
export interface InviteLinkSummary {
  id: number;
  name: string;
  /** The link to share again; null for a link made before secrets were kept sealed. */
  url: string | null;
  enabled: boolean;
  /** Enabled and not expired: whether following it works now. */
  usable: boolean;
  expiresAt: Date;
  createdAt: Date;
  createdBy: string | null;
  joined: { login: string; name: string; joinedAt: Date }[];
}

const LINKS_PER_PAGE = 20;

/** The organization's invite links, newest first, for its admins. */
export async function listInviteLinks(deps: Deps, userId: number, organization: string, page: number): Promise<Page<InviteLinkSummary>> {
  const membership = await resolveMembership(deps.db, userId, organization);
  requireAdmin(membership, "see its invite links");
  const { inviteLinkUsers, inviteLinks, users } = deps.db.tables;
  const window = pageWindow(page, LINKS_PER_PAGE);
  const links = await deps.db
    .select({ link: inviteLinks, creator: users.login })
    .from(inviteLinks)
    .leftJoin(users, eq(users.id, inviteLinks.createdByUserId))
    .where(eq(inviteLinks.orgId, membership.orgId))
    .orderBy(desc(inviteLinks.createdAt), desc(inviteLinks.id))
    .limit(window.limit)
    .offset(window.offset);
  const ids = links.map((row) => row.link.id);
  const joined = ids.length
    ? await deps.db
        .select({ linkId: inviteLinkUsers.inviteLinkId, login: users.login, name: users.name, joinedAt: inviteLinkUsers.joinedAt })
        .from(inviteLinkUsers)
        .innerJoin(users, eq(users.id, inviteLinkUsers.userId))
        .where(inArray(inviteLinkUsers.inviteLinkId, ids))
        .orderBy(asc(inviteLinkUsers.joinedAt), asc(users.id))
    : [];
  const now = deps.clock();
  const secrets = await Promise.all(links.map(({ link }) => (link.secretSealed ? openSealed(deps.db, link.secretSealed) : undefined)));
  return toPage(
    links.map(({ link, creator }, i) => ({
      id: link.id,
      name: link.name,
      url: secrets[i] ? inviteUrlFor(deps, secrets[i]) : null,
      enabled: link.enabled,
      usable: link.enabled && link.expiresAt > now,
      expiresAt: link.expiresAt,
      createdAt: link.createdAt,
      createdBy: creator,
      joined: joined.filter((row) => row.linkId === link.id).map(({ linkId: _linkId, ...user }) => user),
    })),
    page,
    LINKS_PER_PAGE,
  );
}

/** The console's disable, re-enable and extend: Unleash's PUT, naming the link by its id within the organization. */
export async function updateInviteLinkById(deps: Deps, userId: number, organization: string, linkId: number, input: UpdateInviteLinkInput): Promise<InviteLinkSummary> {
  const membership = await resolveMembership(deps.db, userId, organization);
  requireAdmin(membership, "change its invite links");
  const { inviteLinks } = deps.db.tables;
  const [link] = Number.isSafeInteger(linkId)
    ? await deps.db.select().from(inviteLinks).where(and(eq(inviteLinks.id, linkId), eq(inviteLinks.orgId, membership.orgId)))
    : [];
  if (!link) throw new AppError("not_found", `No invite link with that id in ${membership.name}; reload the list.`);
  const updated = await applyInviteLinkUpdate(deps, link, input);
  const now = deps.clock();
  return { id: updated.id, name: updated.name, url: null, enabled: updated.enabled, usable: updated.enabled && updated.expiresAt > now, expiresAt: updated.expiresAt, createdAt: updated.createdAt, createdBy: null, joined: [] };
}

/**
 * Unleash's GET /api/admin/invite-link/tokens: every link of the organization
 * with its secret and URL, newest first. A link made before secrets were kept
 * sealed has no secret to show and is left out.
 */
export async function listInviteTokens(deps: Deps, userId: number, organization?: string): Promise<InviteToken[]> {
  const membership = await resolveMembership(deps.db, userId, organization);
  requireAdmin(membership, "list invite links");
  const { inviteLinks } = deps.db.tables;
  const links = await deps.db
    .select()
    .from(inviteLinks)
    .where(and(eq(inviteLinks.orgId, membership.orgId), isNotNull(inviteLinks.secretSealed)))
    .orderBy(desc(inviteLinks.createdAt), desc(inviteLinks.id));
  const tokens: InviteToken[] = [];
  for (const link of links) {
    const secret = await openSealed(deps.db, link.secretSealed!);
    if (secret) tokens.push(await toInviteToken(deps, link, secret));
  }
  return tokens;
}
