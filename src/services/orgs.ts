import { and, asc, count, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db, ReadDb, Tables } from "../../db/client.js";
import { AppError } from "../errors.js";
import { avatarUrl } from "./avatars.js";
import { preparedPerDb } from "./prepared.js";

/** Pulumi's OrganizationSummaryWithRole (seed 001). */
export const organizationSummaryShape = z.object({
  name: z.string(),
  role: z.enum(["none", "member", "admin", "potential-member", "stack-collaborator", "billing-manager"]).optional(),
  githubLogin: z.string(),
  avatarUrl: z.string(),
  email: z.string().optional(),
});
export type OrganizationSummary = z.infer<typeof organizationSummaryShape>;

export type OrgRole = Tables["memberships"]["$inferSelect"]["role"];

export interface Membership {
  orgId: number;
  name: string;
  role: OrgRole;
}

/** Organization names follow Pulumi's rules, and double as the githubLogin of the organization. */
export const organizationNameShape = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, "An organization name is 1–100 letters, digits, '-', '_' or '.'.");

const membershipsOf = preparedPerDb((db, name) => {
  const { memberships, organizations } = db.tables;
  return db
    .select({ orgId: organizations.id, name: organizations.name, role: memberships.role })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .where(eq(memberships.userId, sql.placeholder("userId")))
    .orderBy(asc(organizations.name))
    .prepare(name);
}, "memberships_of");

export function listMemberships(db: ReadDb, userId: number): Promise<Membership[]> {
  return membershipsOf(db).execute({ userId });
}

/** Pulumi's roles have no viewer; a Viewer shows as a member there, and every write still refuses it. */
export const pulumiRole = (role: OrgRole): "admin" | "member" => (role === "admin" ? "admin" : "member");

export const toOrganizationSummary = (membership: Membership): OrganizationSummary => ({
  name: membership.name,
  role: pulumiRole(membership.role),
  githubLogin: membership.name,
  avatarUrl: avatarUrl(`org:${membership.name}`),
});

/**
 * The caller's organization by name, or their default one. An organization the
 * caller is not in answers exactly like one that does not exist, so that
 * strangers learn nothing.
 */
export async function resolveMembership(db: ReadDb, userId: number, name?: string): Promise<Membership> {
  const { memberships, organizations, users } = db.tables;
  if (name === undefined) {
    const [fallback] = await db
      .select({ orgId: organizations.id, name: organizations.name, role: memberships.role })
      .from(users)
      .innerJoin(memberships, eq(memberships.userId, users.id))
      .innerJoin(organizations, eq(organizations.id, memberships.orgId))
      .where(eq(users.id, userId))
      // The default organization first, then the oldest membership.
      .orderBy(sql`case when ${organizations.id} = ${users.defaultOrgId} then 0 else 1 end`, asc(memberships.createdAt))
      .limit(1);
    if (!fallback) {
      throw new AppError(
        "validation",
        "User is not a member of any organizations. Join one with redeem_invite, or call agent_signup to get your own.",
      );
    }
    return fallback;
  }
  const [found] = await db
    .select({ orgId: organizations.id, name: organizations.name, role: memberships.role })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .where(and(eq(memberships.userId, userId), sql`lower(${organizations.name}) = lower(${name})`));
  if (!found) {
    throw new AppError(
      "not_found",
      `You are not a member of an organization named "${name}". Call get_current_user to see your organizations; where organization is optional, leaving it out uses your default one.`,
    );
  }
  return found;
}

/** Viewers read only: creating anything in the organization takes a member or an admin. */
export function requireWriter(membership: Membership, action: string): void {
  if (membership.role === "viewer") {
    throw new AppError(
      "forbidden",
      `You are a Viewer of "${membership.name}", which is read-only, so you cannot ${action}. Ask an admin of the organization to make you a member.`,
    );
  }
}

export function requireAdmin(membership: Membership, action: string): void {
  if (membership.role !== "admin") {
    throw new AppError(
      "forbidden",
      `Only an admin of "${membership.name}" can ${action}; you are a ${membership.role}. Ask an admin of the organization to do it.`,
    );
  }
}

/** What `onboard://organizations/{name}` shows a member: the organization, its people and how many stacks it has. */
export const organizationDetailsShape = z.object({
  name: z.string(),
  githubLogin: z.string(),
  avatarUrl: z.string(),
  /** Our own roles, Viewer included (Pulumi's summary, which has none, shows a Viewer as a member). */
  role: z.enum(["admin", "member", "viewer"]),
  isDefault: z.boolean(),
  members: z.array(z.object({ githubLogin: z.string(), name: z.string(), role: z.string(), isAgent: z.boolean() })),
  stackCount: z.number().int(),
});
export type OrganizationDetails = z.infer<typeof organizationDetailsShape>;

export async function getOrganization(db: ReadDb, userId: number, name: string): Promise<OrganizationDetails> {
  const { memberships, stacks, users } = db.tables;
  const membership = await resolveMembership(db, userId, name);
  const members = await db
    .select({ githubLogin: users.login, name: users.name, role: memberships.role, isAgent: users.isAgent })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(eq(memberships.orgId, membership.orgId))
    .orderBy(asc(users.login));
  const [counted] = await db.select({ n: count() }).from(stacks).where(eq(stacks.orgId, membership.orgId));
  const [user] = await db.select({ defaultOrgId: users.defaultOrgId }).from(users).where(eq(users.id, userId));
  return {
    ...toOrganizationSummary(membership),
    role: membership.role,
    isDefault: user?.defaultOrgId === membership.orgId,
    members,
    stackCount: counted!.n,
  };
}

/** Pulumi's GET /api/user/organizations/default answer (seed 001). */
export const defaultOrganizationShape = z.object({
  GitHubLogin: z.string(),
  Messages: z.array(z.object({ severity: z.enum(["warning", "error", "info"]).optional(), message: z.string() })),
});
export type DefaultOrganization = z.infer<typeof defaultOrganizationShape>;

/** The organization used when a call names none; explains itself when none was chosen. */
export async function getDefaultOrganization(db: ReadDb, userId: number): Promise<DefaultOrganization> {
  const { users } = db.tables;
  const membership = await resolveMembership(db, userId);
  const [user] = await db.select({ defaultOrgId: users.defaultOrgId }).from(users).where(eq(users.id, userId));
  const chosen = user?.defaultOrgId;
  return {
    GitHubLogin: membership.name,
    Messages:
      chosen === membership.orgId
        ? []
        : [
            {
              severity: "info",
              message: `No default organization is set, so ${membership.name}, the first you joined, is used. Choose one with set_default_organization.`,
            },
          ],
  };
}

export function setDefaultOrganization(db: ReadDb, userId: number, name: string): Promise<DefaultOrganization> {
  return db.transact(async (tx: Db) => {
    const { users } = tx.tables;
    const membership = await resolveMembership(tx, userId, name);
    await tx.update(users).set({ defaultOrgId: membership.orgId }).where(eq(users.id, userId));
    return { GitHubLogin: membership.name, Messages: [] };
  });
}
