import type { Client } from "@modelcontextprotocol/client";
import { and, asc, eq } from "drizzle-orm";
import { call, countRows, DAY, expect, fails, ok, signUp, type TestEnv, test, textOf } from "../fixture.js";
import { seedAppStackSummary, seedStacksPage } from "../seed-shapes.js";

type Summary = { id: string; orgName: string; projectName: string; stackName: string };

/** The personal organization agent_signup made for the agent. */
const personalOrg = (signup: Record<string, any>): string => signup.userInfo.organizations[0].name;

async function userIdOf(env: TestEnv, uid: string): Promise<number> {
  const { users } = env.deps.db.tables;
  const [user] = await env.deps.db.select({ id: users.id }).from(users).where(eq(users.uid, uid));
  return user!.id;
}

async function orgIdOf(env: TestEnv, name: string): Promise<number> {
  const { organizations } = env.deps.db.tables;
  const [org] = await env.deps.db.select({ id: organizations.id }).from(organizations).where(eq(organizations.name, name));
  return org!.id;
}

async function stackRow(env: TestEnv, uid: string) {
  const { stacks } = env.deps.db.tables;
  const [stack] = await env.deps.db
    .select({ orgId: stacks.orgId, projectName: stacks.projectName, stackName: stacks.stackName, createdByUserId: stacks.createdByUserId })
    .from(stacks)
    .where(eq(stacks.uid, uid));
  return stack;
}

/** Every tag row, as name and value, in name order. */
function tagRows(env: TestEnv) {
  const { stackTags } = env.deps.db.tables;
  return env.deps.db.select({ name: stackTags.name, value: stackTags.value }).from(stackTags).orderBy(asc(stackTags.name));
}

/** A second agent that joins the admin's organization as a plain member, through an invite link. */
async function joinThroughInvite(env: TestEnv, admin: Client, email = "member@example.com") {
  const link = await ok(admin, "create_invite_link", {
    name: "Team",
    expiresAt: new Date(env.clock.now().getTime() + DAY).toISOString(),
  });
  const member = await ok(await env.connect(), "redeem_invite", { token: link.url, email, name: "Member agent" });
  return { client: await env.connect(member.accessToken), member };
}

test("creates the stack in the agent's personal organization when organization is left out", async ({ env }) => {
  const { client, signup } = await signUp(env);
  const org = personalOrg(signup);

  const result = await call(client, "create_stack", { projectName: "web", stackName: "dev" });

  expect(result.isError).toBeFalsy();
  const stack = seedAppStackSummary.parse(result.structuredContent);
  expect(stack).toMatchObject({ orgName: org, projectName: "web", stackName: "dev" });
  expect(stack.id).not.toBe("");
  expect(textOf(result)).toContain(`${org}/web/dev`);
  expect(await stackRow(env, stack.id)).toEqual({
    orgId: await orgIdOf(env, org),
    projectName: "web",
    stackName: "dev",
    createdByUserId: await userIdOf(env, signup.userInfo.id),
  });
  expect(await countRows(env, "stacks")).toBe(1);
});

test("gives each stack its own id", async ({ env }) => {
  const { client } = await signUp(env);
  const first = await ok<Summary>(client, "create_stack", { projectName: "web", stackName: "dev" });
  const second = await ok<Summary>(client, "create_stack", { projectName: "web", stackName: "prod" });
  expect(first.id).not.toBe(second.id);
});

test("creates the stack in an organization named explicitly, matching the name case-insensitively", async ({ env }) => {
  const { client, signup } = await signUp(env);
  const org = personalOrg(signup);

  const stack = await ok<Summary>(client, "create_stack", { organization: org.toUpperCase(), projectName: "api", stackName: "prod" });

  expect(seedAppStackSummary.parse(stack).orgName).toBe(org); // the organization's own spelling
  expect((await stackRow(env, stack.id))?.orgId).toBe(await orgIdOf(env, org));
});

test("stores tags as stack_tags rows that list_stacks can filter on", async ({ env }) => {
  const { client } = await signUp(env);
  const tagged = await ok<Summary>(client, "create_stack", {
    projectName: "web",
    stackName: "dev",
    tags: { env: "dev", "team:owner": "platform" },
  });
  const untagged = await ok<Summary>(client, "create_stack", { projectName: "web", stackName: "prod" });

  const { db } = env.deps;
  const { stacks, stackTags } = db.tables;
  const rows = await db
    .select({ name: stackTags.name, value: stackTags.value })
    .from(stackTags)
    .innerJoin(stacks, eq(stacks.id, stackTags.stackId))
    .where(eq(stacks.uid, tagged.id))
    .orderBy(asc(stackTags.name));
  expect(rows).toEqual([
    { name: "env", value: "dev" },
    { name: "team:owner", value: "platform" },
  ]);
  expect(await countRows(env, "stack_tags")).toBe(2);

  const byName = seedStacksPage.parse(await ok(client, "list_stacks", { tagName: "env" }));
  expect(byName.stacks.map((s) => s.id)).toEqual([tagged.id]);
  const byValue = seedStacksPage.parse(await ok(client, "list_stacks", { tagName: "team:owner", tagValue: "platform" }));
  expect(byValue.stacks.map((s) => s.id)).toEqual([tagged.id]);
  const all = seedStacksPage.parse(await ok(client, "list_stacks"));
  expect(all.stacks.map((s) => s.id)).toEqual([tagged.id, untagged.id]);
});

test("accepts an empty tag value", async ({ env }) => {
  const { client } = await signUp(env);
  await ok(client, "create_stack", { projectName: "web", stackName: "dev", tags: { flag: "" } });
  expect(await tagRows(env)).toEqual([{ name: "flag", value: "" }]);
});

/** The role the user has in the organization, straight from the table. */
async function roleIn(env: TestEnv, userId: number, org: string) {
  const { memberships } = env.deps.db.tables;
  return env.deps.db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.userId, userId), eq(memberships.orgId, await orgIdOf(env, org))));
}

test("a Viewer, who joined through an invite link, cannot create stacks there: told why, and nothing is written", async ({ env }) => {
  const admin = await signUp(env);
  const org = personalOrg(admin.signup);
  const { client, member } = await joinThroughInvite(env, admin.client);
  expect(await roleIn(env, member.id, org)).toEqual([{ role: "viewer" }]);

  const text = await fails(client, "create_stack", { organization: org, projectName: "svc", stackName: "dev" });
  expect(text).toMatch(new RegExp(`Viewer of "${org}", which is read-only`));
  expect(await countRows(env, "stacks")).toBe(0);
  // Reading is what a Viewer is for.
  expect((await ok(client, "list_stacks")).stacks).toEqual([]);
});

test("a member (not admin) creates stacks in the organization it joined", async ({ env }) => {
  const admin = await signUp(env);
  const org = personalOrg(admin.signup);
  const { client, member } = await joinThroughInvite(env, admin.client);
  // Made a member by an admin (as accepting an email invite does).
  await env.deps.db.transact((tx) =>
    tx.update(tx.tables.memberships).set({ role: "member" }).where(eq(tx.tables.memberships.userId, member.id)),
  );
  expect(await roleIn(env, member.id, org)).toEqual([{ role: "member" }]);

  const named = await ok<Summary>(client, "create_stack", { organization: org, projectName: "svc", stackName: "dev" });
  const byDefault = await ok<Summary>(client, "create_stack", { projectName: "svc", stackName: "prod" });

  expect(seedAppStackSummary.parse(named).orgName).toBe(org);
  expect(byDefault.orgName).toBe(org); // the joined organization is the member's default
  expect(await stackRow(env, named.id)).toMatchObject({ orgId: await orgIdOf(env, org), createdByUserId: member.id });
  const seenByAdmin = await ok(admin.client, "list_stacks");
  expect(seenByAdmin.stacks.map((s: Summary) => s.id)).toEqual([named.id, byDefault.id]);
});

test("creating the same organization/project/stack twice fails, says it exists and points to list_stacks", async ({ env }) => {
  const { client, signup } = await signUp(env);
  const first = await ok<Summary>(client, "create_stack", { projectName: "web", stackName: "dev", tags: { env: "dev" } });

  const text = await fails(client, "create_stack", { projectName: "web", stackName: "dev", tags: { env: "other" } });

  expect(text).toMatch(/already exists/i);
  expect(text).toContain("list_stacks");
  expect(text).toContain(`${personalOrg(signup)}/web/dev`);
  expect(await countRows(env, "stacks")).toBe(1);
  // The first stack's tags are untouched by the failed attempt.
  expect(await tagRows(env)).toEqual([{ name: "env", value: "dev" }]);
  expect(await stackRow(env, first.id)).toBeDefined();
});

test("names that differ only in case are the same stack", async ({ env }) => {
  const { client, signup } = await signUp(env);
  await ok(client, "create_stack", { projectName: "Web", stackName: "Dev" });

  for (const [projectName, stackName] of [
    ["web", "dev"],
    ["WEB", "Dev"],
    ["Web", "DEV"],
  ]) {
    const text = await fails(client, "create_stack", { organization: personalOrg(signup).toLowerCase(), projectName, stackName });
    expect(text).toMatch(/already exists/i);
  }
  expect(await countRows(env, "stacks")).toBe(1);
});

test("the same project and stack names may exist in two organizations", async ({ env }) => {
  const a = await signUp(env);
  const b = await signUp(env);
  await ok(a.client, "create_stack", { projectName: "web", stackName: "dev" });
  await ok(b.client, "create_stack", { projectName: "web", stackName: "dev" });
  expect(await countRows(env, "stacks")).toBe(2);
});

test("an organization the caller is not in reads exactly like one that does not exist, and nothing is written", async ({ env }) => {
  const me = await signUp(env);
  const other = await signUp(env);
  const theirs = personalOrg(other.signup);
  const missing = "no-such-org";

  const strangerText = await fails(me.client, "create_stack", { organization: theirs, projectName: "web", stackName: "dev" });
  const missingText = await fails(me.client, "create_stack", { organization: missing, projectName: "web", stackName: "dev" });

  expect(strangerText.split(theirs).join("<org>")).toBe(missingText.split(missing).join("<org>"));
  expect(strangerText).toContain(theirs);
  expect(await countRows(env, "stacks")).toBe(0);
  expect(await countRows(env, "stack_tags")).toBe(0);
});

const tooLong = "a".repeat(101);
const invalidInputs: [string, Record<string, unknown>, RegExp][] = [
  ["a projectName with a space", { projectName: "my web", stackName: "dev" }, /projectName must be 1–100/],
  ["an empty projectName", { projectName: "", stackName: "dev" }, /projectName must be 1–100/],
  ["a projectName of 101 characters", { projectName: tooLong, stackName: "dev" }, /projectName must be 1–100/],
  ["a stackName with a space", { projectName: "web", stackName: "my dev" }, /stackName must be 1–100/],
  ["an empty stackName", { projectName: "web", stackName: "" }, /stackName must be 1–100/],
  ["a stackName of 101 characters", { projectName: "web", stackName: tooLong }, /stackName must be 1–100/],
  ["a stackName with a slash", { projectName: "web", stackName: "a/b" }, /stackName must be 1–100/],
  ["a missing stackName", { projectName: "web" }, /stackName/],
  ["a tag name with a space", { projectName: "web", stackName: "dev", tags: { "bad name": "x" } }, /A tag name is 1–40/],
  ["an empty tag name", { projectName: "web", stackName: "dev", tags: { "": "x" } }, /A tag name is 1–40/],
  ["a tag value over 256 characters", { projectName: "web", stackName: "dev", tags: { env: "v".repeat(257) } }, /tag value/i],
  [
    "51 tags",
    { projectName: "web", stackName: "dev", tags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`t${i}`, "x"])) },
    /at most 50 tags/,
  ],
];

test.for(invalidInputs)("rejects %s and writes nothing", async ([, args, says], { env }) => {
  const { client } = await signUp(env);
  const text = await fails(client, "create_stack", args);
  expect(text).toMatch(says);
  expect(await countRows(env, "stacks")).toBe(0);
  expect(await countRows(env, "stack_tags")).toBe(0);
});

test("accepts names of exactly 100 characters and exactly 50 tags", async ({ env }) => {
  const { client } = await signUp(env);
  const long = "b".repeat(100);
  const tags = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`t${i}`, "x"]));
  const stack = await ok<Summary>(client, "create_stack", { projectName: long, stackName: `${long.slice(1)}.`, tags });
  expect(stack.projectName).toBe(long);
  expect(await countRows(env, "stack_tags")).toBe(50);
});

test("without signing in it fails and tells the agent to call agent_signup", async ({ env }) => {
  const client = await env.connect();
  const text = await fails(client, "create_stack", { projectName: "web", stackName: "dev" });
  expect(text).toContain("agent_signup");
  expect(await countRows(env, "stacks")).toBe(0);
});
