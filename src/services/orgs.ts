import { and, asc, count, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "../../db/client.js";
import { memberships, organizations, stacks, users } from "../../db/schema.js";
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

export type OrgRole = (typeof memberships.$inferSelect)["role"];

export interface Membership {
  orgId: number;
  name: string;
  role: OrgRole;
}

/** Organization names follow Pulumi's rules, and double as the githubLogin of the organization. */
export const organizationNameShape = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, "An organization name is 1–100 letters, digits, '-', '_' or '.'.");

const membershipsOf = preparedPerDb((db) =>
  db
    .select({ orgId: organizations.id, name: organizations.name, role: memberships.role })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .where(eq(memberships.userId, sql.placeholder("userId")))
    .orderBy(asc(organizations.name))
    .prepare(),
);

export function listMemberships(db: Db, userId: number): Membership[] {
  return membershipsOf(db).all({ userId });
}

export const toOrganizationSummary = (membership: Membership): OrganizationSummary => ({
  name: membership.name,
  role: membership.role,
  githubLogin: membership.name,
  avatarUrl: avatarUrl(`org:${membership.name}`),
});

/**
 * The caller's organization by name, or their default one. An organization the
 * caller is not in answers exactly like one that does not exist, so that
 * strangers learn nothing.
 */
export function resolveMembership(db: Db, userId: number, name?: string): Membership {
  if (name === undefined) {
    const fallback = db
      .select({ orgId: organizations.id, name: organizations.name, role: memberships.role })
      .from(users)
      .innerJoin(memberships, eq(memberships.userId, users.id))
      .innerJoin(organizations, eq(organizations.id, memberships.orgId))
      .where(eq(users.id, userId))
      // The default organization first, then the oldest membership.
      .orderBy(sql`${organizations.id} = ${users.defaultOrgId} DESC`, asc(memberships.createdAt))
      .get();
    if (!fallback) {
      throw new AppError(
        "validation",
        "User is not a member of any organizations. Join one with redeem_invite, or call agent_signup to get your own.",
      );
    }
    return fallback;
  }
  const found = db
    .select({ orgId: organizations.id, name: organizations.name, role: memberships.role })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .where(and(eq(memberships.userId, userId), sql`lower(${organizations.name}) = lower(${name})`))
    .get();
  if (!found) {
    throw new AppError(
      "not_found",
      `You are not a member of an organization named "${name}". Call get_current_user to see your organizations; where organization is optional, leaving it out uses your default one.`,
    );
  }
  return found;
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
  role: organizationSummaryShape.shape.role,
  isDefault: z.boolean(),
  members: z.array(z.object({ githubLogin: z.string(), name: z.string(), role: z.string(), isAgent: z.boolean() })),
  stackCount: z.number().int(),
});
export type OrganizationDetails = z.infer<typeof organizationDetailsShape>;

export function getOrganization(db: Db, userId: number, name: string): OrganizationDetails {
  const membership = resolveMembership(db, userId, name);
  const members = db
    .select({ githubLogin: users.login, name: users.name, role: memberships.role, isAgent: users.isAgent })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(eq(memberships.orgId, membership.orgId))
    .orderBy(asc(users.login))
    .all();
  const stackCount = db.select({ n: count() }).from(stacks).where(eq(stacks.orgId, membership.orgId)).get()!.n;
  const defaultOrgId = db.select({ id: users.defaultOrgId }).from(users).where(eq(users.id, userId)).get()?.id;
  return {
    ...toOrganizationSummary(membership),
    role: membership.role,
    isDefault: defaultOrgId === membership.orgId,
    members,
    stackCount,
  };
}

/** Pulumi's GET /api/user/organizations/default answer (seed 001). */
export const defaultOrganizationShape = z.object({
  GitHubLogin: z.string(),
  Messages: z.array(z.object({ severity: z.enum(["warning", "error", "info"]).optional(), message: z.string() })),
});
export type DefaultOrganization = z.infer<typeof defaultOrganizationShape>;

/** The organization used when a call names none; explains itself when none was chosen. */
export function getDefaultOrganization(db: Db, userId: number): DefaultOrganization {
  const membership = resolveMembership(db, userId);
  const chosen = db.select({ id: users.defaultOrgId }).from(users).where(eq(users.id, userId)).get()?.id;
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

export function setDefaultOrganization(db: Db, userId: number, name: string): DefaultOrganization {
  const membership = resolveMembership(db, userId, name);
  db.update(users).set({ defaultOrgId: membership.orgId }).where(eq(users.id, userId)).run();
  return { GitHubLogin: membership.name, Messages: [] };
}
