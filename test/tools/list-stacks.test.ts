import type { Client } from "@modelcontextprotocol/client";
import { eq } from "drizzle-orm";
import { createStack } from "../../src/services/stacks.js";
import { call, DAY, expect, fails, ok, signUp, type TestEnv, test, textOf } from "../fixture.js";
import { seedStacksPage } from "../seed-shapes.js";

type Summary = { id: string; orgName: string; projectName: string; stackName: string };

const INVALID_TOKEN = "Invalid continuation token";

const personalOrg = (signup: Record<string, any>): string => signup.userInfo.organizations[0].name;

async function userIdOf(env: TestEnv, uid: string): Promise<number> {
  const { users } = env.deps.db.tables;
  const [user] = await env.deps.db.select({ id: users.id }).from(users).where(eq(users.uid, uid));
  return user!.id;
}

/** One page of list_stacks, checked against the seed's page shape. */
async function listPage(client: Client, args: Record<string, unknown> = {}) {
  const result = await call(client, "list_stacks", args);
  if (result.isError) throw new Error(`list_stacks failed: ${textOf(result)}`);
  return seedStacksPage.parse(result.structuredContent);
}

const idsOf = (page: { stacks: Summary[] }) => page.stacks.map((stack) => stack.id);

/** Follows continuationToken to the end; returns every page. */
async function allPages(client: Client, args: Record<string, unknown>) {
  const pages = [await listPage(client, args)];
  for (let token = pages[0]!.continuationToken; token !== undefined; token = pages.at(-1)!.continuationToken) {
    pages.push(await listPage(client, { ...args, continuationToken: token }));
    if (pages.length > 100) throw new Error("paging does not end");
  }
  return pages;
}

async function createStacks(client: Client, count: number, args: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push((await ok<Summary>(client, "create_stack", { projectName: "web", stackName: `s${i}`, ...args })).id);
  }
  return ids;
}

/**
 * Makes an existing user a member of another organization. Through the tools
 * only a new user can join (redeem_invite creates the account), so a user in
 * two organizations is made with one membership row.
 */
async function addMembership(env: TestEnv, userUid: string, orgName: string) {
  const userId = await userIdOf(env, userUid);
  await env.deps.db.transact(async (tx) => {
    const { memberships, organizations } = tx.tables;
    const [org] = await tx.select({ id: organizations.id }).from(organizations).where(eq(organizations.name, orgName));
    await tx.insert(memberships).values({ userId, orgId: org!.id, role: "member", createdAt: env.clock.now() });
  });
}

async function joinThroughInvite(env: TestEnv, admin: Client, email = "member@example.com") {
  const link = await ok(admin, "create_invite_link", {
    name: "Team",
    expiresAt: new Date(env.clock.now().getTime() + DAY).toISOString(),
  });
  const joined = await ok(await env.connect(), "redeem_invite", { token: link.url, email, name: "Member agent" });
  return env.connect(joined.accessToken);
}

test("lists the stacks of every organization the caller belongs to, oldest first, and no one else's", async ({ env }) => {
  const me = await signUp(env);
  const team = await signUp(env);
  const stranger = await signUp(env);
  await addMembership(env, me.signup.userInfo.id, personalOrg(team.signup));

  const mine = await ok<Summary>(me.client, "create_stack", { projectName: "web", stackName: "dev" });
  const teams = await ok<Summary>(team.client, "create_stack", { projectName: "web", stackName: "dev" });
  await ok(stranger.client, "create_stack", { projectName: "web", stackName: "dev" });
  const mineInTeam = await ok<Summary>(me.client, "create_stack", { organization: personalOrg(team.signup), projectName: "api", stackName: "prod" });

  const page = await listPage(me.client);
  expect(page).toEqual({ stacks: [mine, teams, mineInTeam] });
  expect(idsOf(await listPage(team.client))).toEqual([teams.id, mineInTeam.id]);
  expect(textOf(await call(me.client, "list_stacks"))).toContain(`${personalOrg(team.signup)}/api/prod`);
});

test("a Viewer that joined through an invite sees its organization's stacks but not strangers'", async ({ env }) => {
  const admin = await signUp(env);
  const stranger = await signUp(env);
  const adminStack = await ok<Summary>(admin.client, "create_stack", { projectName: "web", stackName: "dev" });
  await ok(stranger.client, "create_stack", { projectName: "web", stackName: "dev" });
  const member = await joinThroughInvite(env, admin.client);
  const laterStack = await ok<Summary>(admin.client, "create_stack", { projectName: "web", stackName: "prod" });

  expect(idsOf(await listPage(member))).toEqual([adminStack.id, laterStack.id]);
  expect(idsOf(await listPage(admin.client))).toEqual([adminStack.id, laterStack.id]);
});

test("an agent with no stacks gets an empty list and is told about create_stack", async ({ env }) => {
  const { client } = await signUp(env);
  const result = await call(client, "list_stacks");
  expect(result.isError).toBeFalsy();
  expect(seedStacksPage.parse(result.structuredContent)).toEqual({ stacks: [] });
  expect(textOf(result)).toContain("create_stack");
});

test("filters by organization (case-insensitive), project, tag name and exact tag value", async ({ env }) => {
  const me = await signUp(env);
  const team = await signUp(env);
  const own = personalOrg(me.signup);
  const teamOrg = personalOrg(team.signup);
  await addMembership(env, me.signup.userInfo.id, teamOrg);

  const webDev = await ok<Summary>(me.client, "create_stack", { projectName: "web", stackName: "dev", tags: { env: "dev", team: "core" } });
  const webProd = await ok<Summary>(me.client, "create_stack", { projectName: "web", stackName: "prod", tags: { env: "prod" } });
  const apiDev = await ok<Summary>(me.client, "create_stack", { projectName: "api", stackName: "dev", tags: { team: "core" } });
  const teamWeb = await ok<Summary>(team.client, "create_stack", { projectName: "web", stackName: "staging", tags: { env: "dev" } });

  const ids = async (args: Record<string, unknown>) => idsOf(await listPage(me.client, args));

  expect(await ids({})).toEqual([webDev.id, webProd.id, apiDev.id, teamWeb.id]);
  expect(await ids({ organization: own })).toEqual([webDev.id, webProd.id, apiDev.id]);
  expect(await ids({ organization: own.toUpperCase() })).toEqual([webDev.id, webProd.id, apiDev.id]);
  expect(await ids({ organization: teamOrg.toLowerCase() })).toEqual([teamWeb.id]);
  expect(await ids({ project: "web" })).toEqual([webDev.id, webProd.id, teamWeb.id]);
  expect(await ids({ project: "web", organization: own })).toEqual([webDev.id, webProd.id]);
  expect(await ids({ project: "nothing" })).toEqual([]);
  expect(await ids({ tagName: "env" })).toEqual([webDev.id, webProd.id, teamWeb.id]);
  expect(await ids({ tagName: "team" })).toEqual([webDev.id, apiDev.id]);
  expect(await ids({ tagName: "owner" })).toEqual([]);
  expect(await ids({ tagName: "env", tagValue: "dev" })).toEqual([webDev.id, teamWeb.id]);
  expect(await ids({ tagName: "env", tagValue: "dev", organization: own })).toEqual([webDev.id]);
  expect(await ids({ tagName: "env", tagValue: "prod" })).toEqual([webProd.id]);
  // tagValue is an exact match: not a prefix, not another case, not another tag's value.
  expect(await ids({ tagName: "env", tagValue: "de" })).toEqual([]);
  expect(await ids({ tagName: "env", tagValue: "DEV" })).toEqual([]);
  expect(await ids({ tagName: "env", tagValue: "core" })).toEqual([]);
});

test("tagValue without tagName is an error that says to give tagName", async ({ env }) => {
  const { client } = await signUp(env);
  await ok(client, "create_stack", { projectName: "web", stackName: "dev", tags: { env: "dev" } });
  const text = await fails(client, "list_stacks", { tagValue: "dev" });
  expect(text).toContain("tagName");
  expect(text).toContain("tagValue");
});

test("filtering by an organization the caller is not in returns an empty list, like a nonexistent one", async ({ env }) => {
  const me = await signUp(env);
  const other = await signUp(env);
  await ok(me.client, "create_stack", { projectName: "web", stackName: "dev" });
  await ok(other.client, "create_stack", { projectName: "web", stackName: "dev", tags: { env: "dev" } });

  for (const organization of [personalOrg(other.signup), personalOrg(other.signup).toUpperCase(), "no-such-org"]) {
    const result = await call(me.client, "list_stacks", { organization });
    expect(result.isError).toBeFalsy();
    expect(seedStacksPage.parse(result.structuredContent)).toEqual({ stacks: [] });
  }
  expect(await listPage(me.client, { organization: personalOrg(other.signup), tagName: "env" })).toEqual({ stacks: [] });
});

test("paging by maxResults 2 through 5 stacks yields each once, in creation order, and the last page has no token", async ({ env }) => {
  const { client } = await signUp(env);
  const created = await createStacks(client, 5);

  const pages = await allPages(client, { maxResults: 2 });

  expect(pages.map((page) => page.stacks.length)).toEqual([2, 2, 1]);
  expect(pages.flatMap(idsOf)).toEqual(created);
  expect(pages[0]!.continuationToken).toEqual(expect.any(String));
  expect(pages[1]!.continuationToken).toEqual(expect.any(String));
  expect(pages[2]).not.toHaveProperty("continuationToken");
  expect(textOf(await call(client, "list_stacks", { maxResults: 2 }))).toContain("continuationToken");
});

test("a page that ends exactly at the last stack has no continuationToken", async ({ env }) => {
  const { client } = await signUp(env);
  const created = await createStacks(client, 4);
  const pages = await allPages(client, { maxResults: 2 });
  expect(pages.map(idsOf)).toEqual([created.slice(0, 2), created.slice(2)]);
  expect(pages[1]).not.toHaveProperty("continuationToken");
});

test("paging with filters returns only matching stacks, each once", async ({ env }) => {
  const { client } = await signUp(env);
  const matching: string[] = [];
  for (let i = 0; i < 7; i++) {
    const stack = await ok<Summary>(client, "create_stack", { projectName: "web", stackName: `s${i}`, tags: { parity: i % 2 ? "odd" : "even" } });
    if (i % 2 === 0) matching.push(stack.id);
  }
  const pages = await allPages(client, { tagName: "parity", tagValue: "even", maxResults: 3 });
  expect(pages.flatMap(idsOf)).toEqual(matching);
  expect(pages.map((page) => page.stacks.length)).toEqual([3, 1]);
});

test("pages hold 100 stacks by default and at most 500 whatever maxResults asks", async ({ env }) => {
  const { client, signup } = await signUp(env);
  const userId = await userIdOf(env, signup.userInfo.id);
  // One transaction for all 501, which each createStack joins: much faster than 501 commits.
  const created = await env.deps.db.transact(async (tx) => {
    const deps = { ...env.deps, db: tx };
    const ids: string[] = [];
    for (let i = 0; i < 501; i++) ids.push((await createStack(deps, userId, { projectName: "bulk", stackName: `s${i}` })).id);
    return ids;
  });

  const byDefault = await listPage(client);
  expect(idsOf(byDefault)).toEqual(created.slice(0, 100));
  expect(byDefault.continuationToken).toEqual(expect.any(String));

  const capped = await listPage(client, { maxResults: 10_000 });
  expect(idsOf(capped)).toEqual(created.slice(0, 500));
  expect(capped.continuationToken).toEqual(expect.any(String));

  const rest = await listPage(client, { maxResults: 10_000, continuationToken: capped.continuationToken });
  expect(rest).toEqual({ stacks: [expect.objectContaining({ id: created[500] })] });
});

test("maxResults below 1 or not a whole number is an error", async ({ env }) => {
  const { client } = await signUp(env);
  expect(await fails(client, "list_stacks", { maxResults: 0 })).toContain("maxResults");
  expect(await fails(client, "list_stacks", { maxResults: 1.5 })).toContain("maxResults");
});

test("a forged or edited continuation token is rejected with 'Invalid continuation token'", async ({ env }) => {
  const { client } = await signUp(env);
  const created = await createStacks(client, 6);
  const first = await listPage(client, { maxResults: 2 });
  const real = first.continuationToken!;
  const [payload, signature] = real.split(".") as [string, string];
  const otherChar = (c: string) => (c === "A" ? "B" : "A");
  const b64 = (text: string) => Buffer.from(text).toString("base64url");

  const forged = [
    "abc",
    ".",
    `${b64("2")}.`,
    `${payload}.${otherChar(signature[0]!)}${signature.slice(1)}`, // one signature character changed
    `${payload}.${signature.slice(0, -2)}`, // signature cut short
    `${b64("1")}.${signature}`, // payload moved back, signature kept
    `${b64("4")}.${signature}`, // payload moved forward, signature kept
    `${b64("2 ")}.${signature}`, // same number, different text
    `${real}.extra`,
    `${real}=`,
    ` ${real}`,
  ];
  for (const continuationToken of forged) {
    const text = await fails(client, "list_stacks", { maxResults: 2, continuationToken });
    expect(text, continuationToken).toContain(INVALID_TOKEN);
  }
  // The real token still works after all that.
  expect(idsOf(await listPage(client, { maxResults: 2, continuationToken: real }))).toEqual(created.slice(2, 4));
});

test("a token is only valid with the filters it was issued for", async ({ env }) => {
  const { client, signup } = await signUp(env);
  const org = personalOrg(signup);
  await createStacks(client, 4, { tags: { env: "dev" } });
  const plain = (await listPage(client, { maxResults: 1 })).continuationToken!;
  const filtered = (await listPage(client, { maxResults: 1, project: "web", tagName: "env" })).continuationToken!;

  for (const args of [
    { project: "web" },
    { organization: org },
    { tagName: "env" },
    { tagName: "env", tagValue: "dev" },
  ]) {
    expect(await fails(client, "list_stacks", { ...args, maxResults: 1, continuationToken: plain })).toContain(INVALID_TOKEN);
  }
  for (const args of [{}, { project: "web" }, { project: "web", tagName: "env", tagValue: "dev" }, { project: "api", tagName: "env" }]) {
    expect(await fails(client, "list_stacks", { ...args, maxResults: 1, continuationToken: filtered })).toContain(INVALID_TOKEN);
  }
  // The same filters, and another page size, keep it valid.
  expect((await listPage(client, { project: "web", tagName: "env", maxResults: 3, continuationToken: filtered })).stacks).toHaveLength(3);
});

test("a token is only valid for the user it was issued to", async ({ env }) => {
  const admin = await signUp(env);
  await createStacks(admin.client, 3);
  const member = await joinThroughInvite(env, admin.client);
  expect(idsOf(await listPage(member))).toHaveLength(3); // both see the same stacks
  const token = (await listPage(admin.client, { maxResults: 1 })).continuationToken!;

  expect(await fails(member, "list_stacks", { maxResults: 1, continuationToken: token })).toContain(INVALID_TOKEN);
});

test("a stack created between page requests neither duplicates nor skips older stacks", async ({ env }) => {
  const { client } = await signUp(env);
  const older = await createStacks(client, 4);

  const first = await listPage(client, { maxResults: 2 });
  const newer = await ok<Summary>(client, "create_stack", { projectName: "web", stackName: "late" });
  const second = await listPage(client, { maxResults: 2, continuationToken: first.continuationToken });
  const third = await listPage(client, { maxResults: 2, continuationToken: second.continuationToken });

  expect(idsOf(first)).toEqual(older.slice(0, 2));
  expect(idsOf(second)).toEqual(older.slice(2, 4));
  expect(idsOf(third)).toEqual([newer.id]);
  expect(third).not.toHaveProperty("continuationToken");
});

test("without signing in it fails and tells the agent to call agent_signup", async ({ env }) => {
  const client = await env.connect();
  expect(await fails(client, "list_stacks")).toContain("agent_signup");
});
