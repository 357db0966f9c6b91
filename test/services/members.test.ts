import { eq } from "drizzle-orm";
import { agentSignup, getCurrentUser } from "../../src/services/accounts.js";
import { changeMemberRole, listMembers, removeMember } from "../../src/services/members.js";
import { expect, test, type TestEnv } from "../fixture.js";

/** An agent admin of its own organization, plus `others` more agents added to it as members. */
async function orgWithMembers(env: TestEnv, others = 1) {
  const ids: { id: number; login: string }[] = [];
  for (const name of ["Admin", ...Array.from({ length: others }, (_, i) => `Member ${i}`)]) {
    const signup = await agentSignup(env.deps, { agentName: name });
    const [row] = await env.deps.db.select({ id: env.deps.db.tables.users.id }).from(env.deps.db.tables.users).where(eq(env.deps.db.tables.users.uid, signup.userInfo.id));
    ids.push({ id: row!.id, login: signup.userInfo.githubLogin });
  }
  const admin = ids[0]!;
  const org = (await getCurrentUser(env.deps, admin.id)).organizations[0]!.name;
  const orgId = (await env.deps.db.select().from(env.deps.db.tables.organizations)).find((o) => o.name === org)!.id;
  await env.deps.db.transact(async (tx) => {
    for (const member of ids.slice(1)) await tx.insert(tx.tables.memberships).values({ userId: member.id, orgId, role: "member", createdAt: env.clock.now() });
  });
  return { admin, members: ids.slice(1), org };
}

const roleIn = async (env: TestEnv, userId: number, org: string) => (await getCurrentUser(env.deps, userId)).organizations.find((o) => o.name === org)?.role;

test("an admin makes a member an admin, then a viewer, and the member's own view follows", async ({ env }) => {
  const { admin, members, org } = await orgWithMembers(env);
  expect(await changeMemberRole(env.deps, admin.id, org, members[0]!.login, "admin")).toBe("admin");
  expect(await roleIn(env, members[0]!.id, org)).toBe("admin");
  await changeMemberRole(env.deps, admin.id, org, members[0]!.login, "viewer");
  const listed = await listMembers(env.deps, admin.id, org, 1);
  expect(listed.members.items.find((m) => m.login === members[0]!.login)?.role).toBe("viewer");
});

test("the last admin can be neither demoted nor removed, and nothing changes", async ({ env }) => {
  const { admin, org } = await orgWithMembers(env);
  await expect(changeMemberRole(env.deps, admin.id, org, admin.login, "member")).rejects.toThrow(/without an admin/);
  await expect(removeMember(env.deps, admin.id, org, admin.login)).rejects.toThrow(/without an admin/);
  expect(await roleIn(env, admin.id, org)).toBe("admin");
});

test("with a second admin, an admin may step down or leave", async ({ env }) => {
  const { admin, members, org } = await orgWithMembers(env);
  await changeMemberRole(env.deps, admin.id, org, members[0]!.login, "admin");
  await removeMember(env.deps, admin.id, org, admin.login);
  expect(await roleIn(env, admin.id, org)).toBeUndefined();
  expect(await roleIn(env, members[0]!.id, org)).toBe("admin");
});

test("two admins demoting each other at once leave one admin", async ({ env }) => {
  const { admin, members, org } = await orgWithMembers(env);
  const other = members[0]!;
  await changeMemberRole(env.deps, admin.id, org, other.login, "admin");
  const outcomes = await Promise.allSettled([
    changeMemberRole(env.deps, admin.id, org, other.login, "member"),
    changeMemberRole(env.deps, other.id, org, admin.login, "member"),
  ]);
  expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
  const roles = await Promise.all([roleIn(env, admin.id, org), roleIn(env, other.id, org)]);
  expect(roles.filter((role) => role === "admin")).toHaveLength(1);
});

test("a member can neither change roles nor remove anyone", async ({ env }) => {
  const { admin, members, org } = await orgWithMembers(env, 2);
  await expect(changeMemberRole(env.deps, members[0]!.id, org, members[1]!.login, "admin")).rejects.toThrow(/Only an admin/);
  await expect(removeMember(env.deps, members[0]!.id, org, admin.login)).rejects.toThrow(/Only an admin/);
  expect(await roleIn(env, admin.id, org)).toBe("admin");
});

test("an unknown role or member is refused with what to do", async ({ env }) => {
  const { admin, members, org } = await orgWithMembers(env);
  await expect(changeMemberRole(env.deps, admin.id, org, members[0]!.login, "owner")).rejects.toThrow(/"admin", "member" or "viewer"/);
  await expect(removeMember(env.deps, admin.id, org, "nobody-here")).rejects.toThrow(/not a member.*reload/);
});

test("a removed member's default organization is cleared, so their next call does not point at it", async ({ env }) => {
  const { admin, members, org } = await orgWithMembers(env);
  const orgId = (await env.deps.db.select().from(env.deps.db.tables.organizations)).find((o) => o.name === org)!.id;
  await env.deps.db.transact((tx) => tx.update(tx.tables.users).set({ defaultOrgId: orgId }).where(eq(tx.tables.users.id, members[0]!.id)));
  await removeMember(env.deps, admin.id, org, members[0]!.login);
  const [row] = await env.deps.db.select({ defaultOrgId: env.deps.db.tables.users.defaultOrgId }).from(env.deps.db.tables.users).where(eq(env.deps.db.tables.users.id, members[0]!.id));
  expect(row!.defaultOrgId).toBeNull();
});

test("members are listed a page at a time", async ({ env }) => {
  const { admin, org } = await orgWithMembers(env, 26);
  const first = await listMembers(env.deps, admin.id, org, 1);
  const second = await listMembers(env.deps, admin.id, org, 2);
  expect(first.members.items).toHaveLength(25);
  expect(first.members.hasNext).toBe(true);
  expect(second.members.items).toHaveLength(2);
  expect(second.members.hasNext).toBe(false);
  expect(new Set([...first.members.items, ...second.members.items].map((m) => m.login)).size).toBe(27);
});
