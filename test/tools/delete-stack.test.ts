import { eq } from "drizzle-orm";
import { countRows, DAY, expect, fails, ok, signUp, test, type TestEnv } from "../fixture.js";

/** An admin agent with a stack, and a second agent made a member of its organization (through an invite, then promoted). */
async function adminAndMember(env: TestEnv) {
  const admin = await signUp(env, { agentName: "Admin" });
  const org = admin.signup.userInfo.organizations[0].name as string;
  await ok(admin.client, "create_stack", { projectName: "web", stackName: "prod", tags: { env: "prod" } });
  const link = await ok(admin.client, "create_invite_link", { name: "crew", expiresAt: new Date(env.clock.now().getTime() + DAY).toISOString() });
  const joined = await ok(await env.connect(), "redeem_invite", { token: link.url, email: "member@example.com", name: "Member" });
  // A viewer cannot write; make the joiner a member.
  await env.deps.db.transact(async (tx) => {
    const { memberships, users } = tx.tables;
    const [member] = await tx.select({ id: users.id }).from(users).where(eq(users.email, "member@example.com"));
    await tx.update(memberships).set({ role: "member" }).where(eq(memberships.userId, member!.id));
  });
  return { admin: admin.client, member: await env.connect(joined.accessToken), org };
}

test("an admin deletes a stack of the organization: it and its tags are gone, and list_stacks no longer shows it", async ({ env }) => {
  const { admin, org } = await adminAndMember(env);
  expect(await ok(admin, "delete_stack", { projectName: "web", stackName: "prod" })).toEqual({ orgName: org, projectName: "web", stackName: "prod" });
  expect((await ok(admin, "list_stacks")).stacks).toEqual([]);
  expect(await countRows(env, "stack_tags")).toBe(0);
  expect(await fails(admin, "delete_stack", { projectName: "web", stackName: "prod" })).toMatch(/not found/);
});

test("a member deletes a stack they created, but not one someone else created", async ({ env }) => {
  const { member, org } = await adminAndMember(env);
  await ok(member, "create_stack", { organization: org, projectName: "web", stackName: "mine" });
  expect(await fails(member, "delete_stack", { organization: org, projectName: "web", stackName: "prod" })).toMatch(/Only an admin of .* or whoever created it/);
  await ok(member, "delete_stack", { organization: org, projectName: "web", stackName: "mine" });
  expect((await ok(member, "list_stacks", { organization: org })).stacks.map((s: { stackName: string }) => s.stackName)).toEqual(["prod"]);
});

test("a stack of an organization the caller is not in answers as one that does not exist, and stays", async ({ env }) => {
  const { org } = await adminAndMember(env);
  const stranger = await signUp(env, { agentName: "Stranger" });
  expect(await fails(stranger.client, "delete_stack", { organization: org, projectName: "web", stackName: "prod" })).toMatch(/not a member of an organization named/);
  expect(await countRows(env, "stacks")).toBe(1);
});
