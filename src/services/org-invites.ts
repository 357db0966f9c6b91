import { and, asc, desc, eq, gt, isNull, notExists, sql } from "drizzle-orm";
// The same alias on either dialect's tables: both cores build it from drizzle's one proxy.
import { alias } from "drizzle-orm/pg-core";
import { z } from "zod";
import type { ReadDb, Tables } from "../../db/client.js";
import { AppError } from "../errors.js";
import { avatarUrl, userAvatarUrl } from "./avatars.js";
import { emailShape } from "./email-address.js";
import type { Deps } from "./deps.js";
import {
  type OrganizationSummary,
  organizationNameShape,
  organizationSummaryShape,
  requireAdmin,
  resolveMembership,
} from "./orgs.js";
import { admitMail } from "./mail-limits.js";
import { type Page, pageWindow, toPage } from "./paging.js";
import { preparedPerDb } from "./prepared.js";
import { newUid } from "./secrets.js";

/** How long an emailed invite can be accepted. */
export const ORG_INVITE_TTL_MS = 7 * 24 * 3_600_000;

/** Pulumi's UserInfo (seed 001); email is left out, as on nearly all of Pulumi's APIs. */
export const userInfoShape = z.object({
  name: z.string(),
  githubLogin: z.string(),
  avatarUrl: z.string(),
  email: z.string().optional(),
});
export type UserInfo = z.infer<typeof userInfoShape>;

/** Pulumi's PendingOrganizationInvite (seed 001). */
export const pendingOrganizationInviteShape = z.object({
  id: z.string(),
  email: z.string(),
  role: organizationSummaryShape.shape.role.unwrap(),
  sentBy: userInfoShape,
  sentAt: z.number().int(),
  acceptInviteUrl: z.string(),
  acceptError: z.string().optional(),
  status: z.enum(["pending", "accepted", "expired", "canceled"]),
  roleId: z.string().optional(),
});
export type PendingOrganizationInvite = z.infer<typeof pendingOrganizationInviteShape>;

/** Pulumi's GET /api/user/pending-invites answer (seed 001). */
export const pendingInvitesShape = z.object({
  invites: z.array(pendingOrganizationInviteShape),
});
export type PendingInvites = z.infer<typeof pendingInvitesShape>;

/** What accepting an invite answers: the organization joined, with the role it gave. */
export const acceptedInviteShape = z.object({
  organization: organizationSummaryShape,
});
export type AcceptedInvite = z.infer<typeof acceptedInviteShape>;

export const inviteMemberInput = z.object({
  email: emailShape.describe("The email address of the person (or agent) to invite; the invite is mailed there and only an account with this address verified can accept it."),
  role: z
    .enum(["member", "admin"], 'role is "member" or "admin".')
    .default("member")
    .describe('The role the invitee gets on accepting: "member" (default) or "admin".'),
  organization: organizationNameShape
    .optional()
    .describe("The organization to invite to, by name. Defaults to your default organization. You must be its admin."),
});
/** What callers pass: role may be left out (member). */
export type InviteMemberInput = z.input<typeof inviteMemberInput>;

export const acceptInviteInput = z.object({
  id: z
    .string()
    .trim()
    .min(1, "id is required: pass the id of an invite from list_pending_invites.")
    .max(2048, "id is at most 2048 characters.")
    .describe("The invite's id from list_pending_invites (its whole acceptInviteUrl works too)."),
});
export type AcceptInviteInput = z.infer<typeof acceptInviteInput>;

export const acceptInviteUrlFor = (deps: Deps, id: string) =>
  `${deps.settings.publicUrl}/api/user/pending-invites/${encodeURIComponent(id)}/accept`;

/** Accepts the bare id or the whole acceptInviteUrl, as people paste either. */
export function inviteIdFrom(text: string): string {
  const trimmed = text.trim();
  const fromUrl = trimmed.match(/\/pending-invites\/([^/?#]+)\/accept\/?(?:[?#].*)?$/);
  if (!fromUrl) return trimmed;
  try {
    return decodeURIComponent(fromUrl[1]!);
  } catch {
    return fromUrl[1]!;
  }
}

const unixSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** Invites with their organization and sender, for shaping as PendingOrganizationInvite. */
function inviteRows(db: ReadDb) {
  const { orgInvites, organizations, users } = db.tables;
  const sender = alias(users, "sender");
  return db
    .select({
      invite: orgInvites,
      orgName: organizations.name,
      sender: { name: sender.name, login: sender.login, email: sender.email, uid: sender.uid, avatarUrl: sender.avatarUrl },
    })
    .from(orgInvites)
    .innerJoin(organizations, eq(organizations.id, orgInvites.orgId))
    .leftJoin(sender, eq(sender.id, orgInvites.sentByUserId))
    .$dynamic();
}

type InviteRow = Awaited<ReturnType<typeof inviteRows>>[number];

function statusOf(invite: Tables["orgInvites"]["$inferSelect"], now: Date): PendingOrganizationInvite["status"] {
  if (invite.acceptedAt) return "accepted";
  if (invite.canceledAt) return "canceled";
  return invite.expiresAt <= now ? "expired" : "pending";
}

function toPendingInvite(deps: Deps, row: InviteRow): PendingOrganizationInvite {
  const { invite } = row;
  // The sender's account may since have been deleted (sent_by_user_id is set null).
  const sentBy: UserInfo = row.sender
    ? { name: row.sender.name, githubLogin: row.sender.login, avatarUrl: userAvatarUrl(row.sender) }
    : { name: "Former member", githubLogin: "", avatarUrl: avatarUrl(`org:${row.orgName}`) };
  return {
    id: invite.uid,
    email: invite.email,
    role: invite.role,
    sentBy,
    sentAt: unixSeconds(invite.sentAt),
    acceptInviteUrl: acceptInviteUrlFor(deps, invite.uid),
    ...(invite.acceptError ? { acceptError: invite.acceptError } : {}),
    status: statusOf(invite, deps.clock()),
  };
}

export interface InviteMemberResult {
  invite: PendingOrganizationInvite;
  organization: string;
  /** When the invite stops being acceptable, ISO 8601. */
  expiresAt: string;
  /** True when an earlier, unaccepted invite to the same address was refreshed and sent again. */
  resent: boolean;
}

/**
 * An admin invites one email address into an organization. Inviting the same
 * address again before it is accepted refreshes that invite (new sentAt and
 * expiry) rather than adding a second one. The mail goes out after the commit.
 */
export async function inviteMember(deps: Deps, userId: number, raw: InviteMemberInput): Promise<InviteMemberResult> {
  const parsed = inviteMemberInput.safeParse(raw);
  if (!parsed.success) throw new AppError("validation", parsed.error.issues[0]!.message);
  const input = parsed.data;
  const role = input.role;

  const { membership, inviteId, resent, expiresAt } = await deps.db.transact(async (tx) => {
      const { memberships, orgInvites, users } = tx.tables;
      const membership = await resolveMembership(tx, userId, input.organization);
      requireAdmin(membership, "invite members");
      const now = deps.clock();
      const expiresAt = new Date(now.getTime() + ORG_INVITE_TTL_MS);
      const [member] = await tx
        .select({ login: users.login, role: memberships.role })
        .from(memberships)
        .innerJoin(users, eq(users.id, memberships.userId))
        .where(and(eq(memberships.orgId, membership.orgId), eq(users.email, input.email)));
      // A Viewer may be invited: accepting raises them to the invite's role.
      if (member && member.role !== "viewer") {
        throw new AppError(
          "conflict",
          `${input.email} already belongs to ${member.login}, a member of ${membership.name}; there is nobody to invite. Read onboard://organizations/${membership.name} to see its members.`,
          { field: "email" },
        );
      }
      const [earlier] = await tx
        .select({ id: orgInvites.id })
        .from(orgInvites)
        .where(
          and(
            eq(orgInvites.orgId, membership.orgId),
            eq(orgInvites.email, input.email),
            isNull(orgInvites.acceptedAt),
            isNull(orgInvites.canceledAt),
          ),
        )
        .orderBy(asc(orgInvites.id))
        .limit(1);
      await admitMail(tx, deps.settings.mailLimits, { senderId: userId, recipient: input.email }, now);
      const fields = { role, sentByUserId: userId, sentAt: now, expiresAt, acceptError: null };
      if (earlier) {
        await tx.update(orgInvites).set(fields).where(eq(orgInvites.id, earlier.id));
        return { membership, inviteId: earlier.id, resent: true, expiresAt };
      }
      const [created] = await tx
        .insert(orgInvites)
        .values({ uid: newUid(), orgId: membership.orgId, email: input.email, ...fields })
        .returning({ id: orgInvites.id });
      return { membership, inviteId: created!.id, resent: false, expiresAt };
  });

  const [row] = await inviteRows(deps.db).where(eq(deps.db.tables.orgInvites.id, inviteId));
  const invite = toPendingInvite(deps, row!);
  deps.mailer.send({
    to: invite.email,
    subject: `You are invited to join ${membership.name} on agent-onboard`,
    text: [
      // Fixed words first: the sender's display name is what someone typed, so it comes later, quoted, on one line.
      `You are invited to join the organization ${membership.name} on agent-onboard as ${role === "admin" ? "an admin" : "a member"}.`,
      `The invite comes from the account ${invite.sentBy.githubLogin || "of a former member"}${invite.sentBy.githubLogin ? `, whose display name reads ${JSON.stringify(invite.sentBy.name)}` : ""}.`,
      "",
      `To accept, sign in to agent-onboard with an account whose verified email address is ${invite.email}, then either:`,
      `- ask your agent to call the accept_invite tool with id ${invite.id}, or`,
      `- send POST ${invite.acceptInviteUrl} with your access token (Authorization: Bearer <accessToken>).`,
      "",
      `The invite can be accepted until ${expiresAt.toISOString()}. If you did not expect it, ignore this message.`,
    ].join("\n"),
  });
  return { invite, organization: membership.name, expiresAt: expiresAt.toISOString(), resent };
}

/** The caller's primary email once verified; invites reach nobody by an unverified address. */
// Prepared once: get_current_user runs this on every call (potentialOrganizations).
const emailOf = preparedPerDb((db, name) => {
  const { users } = db.tables;
  return db
    .select({ email: users.email, verifiedAt: users.emailVerifiedAt })
    .from(users)
    .where(eq(users.id, sql.placeholder("userId")))
    .prepare(name);
}, "email_of");

async function verifiedEmailOf(db: ReadDb, userId: number): Promise<string | null> {
  const [found] = await emailOf(db).execute({ userId });
  return found?.email && found.verifiedAt ? found.email : null;
}

/** Pending invites to this address, from organizations the user is not in yet, oldest first. */
function pendingInviteRows(deps: Deps, userId: number, email: string): Promise<InviteRow[]> {
  const { memberships, orgInvites } = deps.db.tables;
  return inviteRows(deps.db)
    .where(
      and(
        eq(orgInvites.email, email),
        isNull(orgInvites.acceptedAt),
        isNull(orgInvites.canceledAt),
        gt(orgInvites.expiresAt, deps.clock()),
        notExists(
          deps.db
            .select({ one: sql`1` })
            .from(memberships)
            .where(and(eq(memberships.orgId, orgInvites.orgId), eq(memberships.userId, userId))),
        ),
      ),
    )
    .orderBy(asc(orgInvites.sentAt), asc(orgInvites.id));
}

export interface PendingInvitesAnswer {
  /** The seed body of GET /api/user/pending-invites. */
  body: PendingInvites;
  /** The caller's verified address, or null: then no invite can reach them. */
  verifiedEmail: string | null;
  /** The organization of each invite in body.invites, in the same order. */
  organizations: string[];
}

/** Pulumi's ListUserOrgInvites: the invites still waiting for the caller's verified email. */
export async function listPendingInvites(deps: Deps, userId: number): Promise<PendingInvitesAnswer> {
  const verifiedEmail = await verifiedEmailOf(deps.db, userId);
  const rows = verifiedEmail ? await pendingInviteRows(deps, userId, verifiedEmail) : [];
  return {
    body: { invites: rows.map((row) => toPendingInvite(deps, row)) },
    verifiedEmail,
    organizations: rows.map((row) => row.orgName),
  };
}

/** User.potentialOrganizations: the organizations whose pending invites the caller could accept. */
export async function potentialOrganizations(deps: Deps, userId: number, knownEmail?: string | null): Promise<OrganizationSummary[]> {
  const verifiedEmail = knownEmail === undefined ? await verifiedEmailOf(deps.db, userId) : knownEmail;
  if (!verifiedEmail) return [];
  const names = [...new Set((await pendingInviteRows(deps, userId, verifiedEmail)).map((row) => row.orgName))].sort();
  return names.map((name) => ({ name, role: "potential-member", githubLogin: name, avatarUrl: avatarUrl(`org:${name}`) }));
}

type AcceptOutcome =
  | { joined: AcceptedInvite }
  | { refused: AppError };

/**
 * Joins the organization of an invite addressed to the caller's verified
 * email, with the invite's role. An invite addressed to anyone else answers
 * exactly like one that does not exist. A refusal the invitee should know
 * about later (expired, canceled, already a member) is kept as acceptError.
 */
export async function acceptInvite(deps: Deps, userId: number, rawId: string): Promise<AcceptedInvite> {
  const id = inviteIdFrom(rawId);
  const outcome = await deps.db.transact(async (tx): Promise<AcceptOutcome> => {
      const { memberships, orgInvites, organizations } = tx.tables;
      const now = deps.clock();
      const verifiedEmail = await verifiedEmailOf(tx, userId);
      const [found] = await tx
        .select({ invite: orgInvites, orgName: organizations.name })
        .from(orgInvites)
        .innerJoin(organizations, eq(organizations.id, orgInvites.orgId))
        .where(eq(orgInvites.uid, id));
      if (!found || !verifiedEmail || found.invite.email !== verifiedEmail) {
        throw new AppError(
          "not_found",
          `No invite with id "${id}" is addressed to you. Invites reach only your verified email address: call list_pending_invites to see yours (verify an email address first if you have none), or ask the admin who invited you which address they used.`,
        );
      }
      const { invite, orgName } = found;
      if (invite.acceptedAt) {
        throw new AppError(
          "conflict",
          `This invite to ${orgName} was already accepted at ${invite.acceptedAt.toISOString()}; there is nothing left to do. Call get_current_user to see your organizations.`,
        );
      }
      let refusal: AppError | undefined;
      if (invite.canceledAt) {
        refusal = new AppError("bad_request", `This invite to ${orgName} was canceled by an admin. Ask an admin of ${orgName} to invite ${invite.email} again.`);
      } else if (invite.expiresAt <= now) {
        refusal = new AppError(
          "bad_request",
          `This invite to ${orgName} expired at ${invite.expiresAt.toISOString()}. Ask an admin of ${orgName} to invite ${invite.email} again (invite_member sends a fresh one).`,
        );
      } else {
        const [member] = await tx
          .select({ role: memberships.role })
          .from(memberships)
          .where(and(eq(memberships.orgId, invite.orgId), eq(memberships.userId, userId)));
        // A Viewer (who joined through an invite link) is raised to the invite's role; anyone else is already in.
        if (member && member.role !== "viewer") {
          refusal = new AppError(
            "conflict",
            `You are already a member of ${orgName} (as ${member.role}), so this invite cannot be accepted. Nothing changed; call get_current_user to see your organizations.`,
          );
        }
      }
      if (refusal) {
        // Kept, not rolled back: the invite records the most recent error its invitee hit.
        await tx.update(orgInvites).set({ acceptError: refusal.message }).where(eq(orgInvites.id, invite.id));
        return { refused: refusal };
      }
      const taken = await tx
        .update(orgInvites)
        .set({ acceptedAt: now, acceptedByUserId: userId, acceptError: null })
        .where(and(eq(orgInvites.id, invite.id), isNull(orgInvites.acceptedAt)))
        .returning({ id: orgInvites.id });
      if (taken.length !== 1) throw new AppError("conflict", `This invite to ${orgName} was already accepted. Call get_current_user to see your organizations.`);
      await tx
        .insert(memberships)
        .values({ userId, orgId: invite.orgId, role: invite.role, createdAt: now })
        .onConflictDoUpdate({ target: [memberships.userId, memberships.orgId], set: { role: invite.role } });
      return {
        joined: {
          organization: { name: orgName, role: invite.role, githubLogin: orgName, avatarUrl: avatarUrl(`org:${orgName}`) },
        },
      };
  });
  if ("refused" in outcome) throw outcome.refused;
  return outcome.joined;
}

const INVITES_PER_PAGE = 20;

/** The organization's email invites still waiting to be accepted, newest first, for its admins. */
export async function listOrganizationInvites(deps: Deps, userId: number, organization: string, page: number): Promise<Page<PendingOrganizationInvite>> {
  const membership = await resolveMembership(deps.db, userId, organization);
  requireAdmin(membership, "see its pending invites");
  const { orgInvites } = deps.db.tables;
  const window = pageWindow(page, INVITES_PER_PAGE);
  const rows = await inviteRows(deps.db)
    .where(and(eq(orgInvites.orgId, membership.orgId), isNull(orgInvites.acceptedAt), isNull(orgInvites.canceledAt), gt(orgInvites.expiresAt, deps.clock())))
    .orderBy(desc(orgInvites.sentAt), desc(orgInvites.id))
    .limit(window.limit)
    .offset(window.offset);
  return toPage(
    rows.map((row) => toPendingInvite(deps, row)),
    page,
    INVITES_PER_PAGE,
  );
}

/** An admin withdraws an email invite: its link stops working at once. */
export async function cancelOrganizationInvite(deps: Deps, userId: number, organization: string, inviteUid: string): Promise<{ email: string }> {
  const membership = await resolveMembership(deps.db, userId, organization);
  requireAdmin(membership, "cancel its invites");
  return deps.db.transact(async (tx) => {
    const { orgInvites } = tx.tables;
    const [canceled] = await tx
      .update(orgInvites)
      .set({ canceledAt: deps.clock() })
      .where(and(eq(orgInvites.uid, inviteUid), eq(orgInvites.orgId, membership.orgId), isNull(orgInvites.acceptedAt), isNull(orgInvites.canceledAt)))
      .returning({ email: orgInvites.email });
    if (!canceled) throw new AppError("not_found", `No pending invite with that id in ${membership.name}: it may have been accepted or canceled already. Reload the list.`);
    return canceled;
  });
}
