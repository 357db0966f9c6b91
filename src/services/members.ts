import { and, asc, count, eq, sql } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { AppError } from "../errors.js";
import type { Deps } from "./deps.js";
import { type Membership, type OrgRole, requireAdmin, resolveMembership } from "./orgs.js";
import { type Page, pageWindow, toPage } from "./paging.js";

export interface Member {
  login: string;
  name: string;
  role: OrgRole;
  isAgent: boolean;
  joinedAt: Date;
}

const MEMBERS_PER_PAGE = 25;
export const memberRoles = ["admin", "member", "viewer"] as const satisfies readonly OrgRole[];

export async function listMembers(deps: Deps, userId: number, organization: string, page: number): Promise<{ membership: Membership; members: Page<Member> }> {
  const membership = await resolveMembership(deps.db, userId, organization);
  const { memberships, users } = deps.db.tables;
  const window = pageWindow(page, MEMBERS_PER_PAGE);
  const rows = await deps.db
    .select({ login: users.login, name: users.name, role: memberships.role, isAgent: users.isAgent, joinedAt: memberships.createdAt })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(eq(memberships.orgId, membership.orgId))
    .orderBy(asc(sql`lower(${users.login})`), asc(users.id))
    .limit(window.limit)
    .offset(window.offset);
  return { membership, members: toPage(rows, page, MEMBERS_PER_PAGE) };
}

/** The member by login, inside the transaction that changes them. */
async function memberIn(tx: Db, membership: Membership, login: string) {
  const { memberships, users } = tx.tables;
  const [found] = await tx
    .select({ userId: users.id, login: users.login, role: memberships.role, defaultOrgId: users.defaultOrgId })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(and(eq(memberships.orgId, membership.orgId), sql`lower(${users.login}) = lower(${login})`));
  if (!found) throw new AppError("not_found", `${login} is not a member of ${membership.name}; reload the member list.`);
  return found;
}

/** Refuses a change that would leave the organization with nobody to administer it. */
async function keepAnAdmin(tx: Db, membership: Membership, member: { role: OrgRole }, what: string) {
  if (member.role !== "admin") return;
  const { memberships } = tx.tables;
  const [admins] = await tx.select({ n: count() }).from(memberships).where(and(eq(memberships.orgId, membership.orgId), eq(memberships.role, "admin")));
  if (admins!.n <= 1) {
    throw new AppError("conflict", `${what} would leave ${membership.name} without an admin. Make another member an admin first.`);
  }
}

/** An admin changes a member's role; the last admin stays one. */
export async function changeMemberRole(deps: Deps, adminId: number, organization: string, login: string, role: string): Promise<Member["role"]> {
  if (!(memberRoles as readonly string[]).includes(role)) throw new AppError("validation", 'The role is "admin", "member" or "viewer".', { field: "role" });
  const membership = await resolveMembership(deps.db, adminId, organization);
  requireAdmin(membership, "change members' roles");
  return deps.db.transact(async (tx) => {
    const member = await memberIn(tx, membership, login);
    if (member.role === role) return member.role;
    await keepAnAdmin(tx, membership, member, `Making ${member.login} a ${role}`);
    const { memberships } = tx.tables;
    await tx.update(memberships).set({ role: role as OrgRole }).where(and(eq(memberships.orgId, membership.orgId), eq(memberships.userId, member.userId)));
    return role as OrgRole;
  });
}

/** An admin removes a member (themselves included, while another admin remains); their stacks stay with the organization. */
export async function removeMember(deps: Deps, adminId: number, organization: string, login: string): Promise<{ login: string }> {
  const membership = await resolveMembership(deps.db, adminId, organization);
  requireAdmin(membership, "remove members");
  return deps.db.transact(async (tx) => {
    const member = await memberIn(tx, membership, login);
    await keepAnAdmin(tx, membership, member, `Removing ${member.login}`);
    const { memberships, users } = tx.tables;
    await tx.delete(memberships).where(and(eq(memberships.orgId, membership.orgId), eq(memberships.userId, member.userId)));
    if (member.defaultOrgId === membership.orgId) await tx.update(users).set({ defaultOrgId: null }).where(eq(users.id, member.userId));
    return { login: member.login };
  });
}
