import { eq } from "drizzle-orm";
import { describe } from "vitest";
import { call, countRows, createTestEnv, DAY, expect, fails, HOUR, ok, signUp, test, textOf, type TestEnv } from "../fixture.js";
import { seedAgentSignupResponse, seedUser } from "../seed-shapes.js";
import { columnsContaining } from "./stored.js";

/** Every table the signup writes to, for "nothing was created" checks. */
const signupTables = ["users", "organizations", "memberships", "access_tokens", "claim_tokens"];
const rowCounts = async (env: TestEnv) =>
  Object.fromEntries(await Promise.all(signupTables.map(async (table) => [table, await countRows(env, table)] as const)));

describe("agent_signup", () => {
  test("answers with Pulumi's AgentSignupResponse plus a claimUrl", async ({ env }) => {
    const client = await env.connect();
    const result = await ok(client, "agent_signup", { agentName: "Release helper" });
    const signup = seedAgentSignupResponse.parse(result);
    expect(signup.accessToken).not.toBe("");
    expect(signup.claimToken).not.toBe("");
  });

  test("creates an agent user (isAgent true) that is admin of its own personal organization", async ({ env }) => {
    const { signup } = await signUp(env, { agentName: "Release helper" });
    const user = seedUser.parse(signup.userInfo);
    expect(user.isAgent).toBe(true);
    expect(user.organizations).toHaveLength(1);
    expect(user.organizations[0]).toMatchObject({ role: "admin" });

    const org = user.organizations[0]!;
    const { db } = env.deps;
    const { memberships, organizations, users } = db.tables;
    const members = await db
      .select({ uid: users.uid, role: memberships.role })
      .from(memberships)
      .innerJoin(users, eq(users.id, memberships.userId))
      .innerJoin(organizations, eq(organizations.id, memberships.orgId))
      .where(eq(organizations.name, org.name));
    expect(members).toEqual([{ uid: user.id, role: "admin" }]);
  });

  test("the claimUrl is the public URL's /claim/ page for the claim token", async ({ env }) => {
    const { signup } = await signUp(env);
    expect(signup.claimUrl).toBe(`${env.deps.settings.publicUrl}/claim/${signup.claimToken}`);
    expect(signup.claimUrl.startsWith("http://onboard.test/claim/")).toBe(true);
  });

  test("the text block carries the claimUrl and tells the agent to give it to its human", async ({ env }) => {
    const client = await env.connect();
    const result = await call(client, "agent_signup", {});
    expect(result.isError).toBeFalsy();
    const { claimUrl } = seedAgentSignupResponse.parse(result.structuredContent);
    const text = textOf(result);
    expect(text).toContain(claimUrl);
    expect(text).toMatch(/give your human/i);
  });

  test("the text block never shows the access token", async ({ env }) => {
    const client = await env.connect();
    const result = await call(client, "agent_signup", {});
    const { accessToken } = seedAgentSignupResponse.parse(result.structuredContent);
    expect(textOf(result)).not.toContain(accessToken);
  });

  test("agentName becomes the user's name and agentModel is stored with the user", async ({ env }) => {
    const { signup } = await signUp(env, { agentName: "Release helper", agentModel: "claude-sonnet-4" });
    expect(signup.userInfo.name).toBe("Release helper");
    const { users } = env.deps.db.tables;
    const rows = await env.deps.db
      .select({ name: users.name, agentModel: users.agentModel, isAgent: users.isAgent })
      .from(users)
      .where(eq(users.uid, signup.userInfo.id));
    expect(rows).toEqual([{ name: "Release helper", agentModel: "claude-sonnet-4", isAgent: true }]);
  });

  test("agentName and agentModel are optional: the user is then called Agent and has no model", async ({ env }) => {
    const { signup } = await signUp(env);
    expect(signup.userInfo.name).toBe("Agent");
    const { users } = env.deps.db.tables;
    const rows = await env.deps.db.select({ agentModel: users.agentModel }).from(users).where(eq(users.uid, signup.userInfo.id));
    expect(rows).toEqual([{ agentModel: null }]);
  });

  test("surrounding spaces are trimmed from agentName", async ({ env }) => {
    const { signup } = await signUp(env, { agentName: "  Release helper  " });
    expect(signup.userInfo.name).toBe("Release helper");
  });

  test("the session acts as the new user right after signup, without passing the token", async ({ env }) => {
    const { client, signup } = await signUp(env, { agentName: "Bound" });
    const me = seedUser.parse(await ok(client, "get_current_user"));
    expect(me.id).toBe(signup.userInfo.id);
    expect(me.githubLogin).toBe(signup.userInfo.githubLogin);
  });

  test("a signed-in session cannot sign up again, and nothing is created", async ({ env }) => {
    const { client, signup } = await signUp(env);
    const before = await rowCounts(env);
    const message = await fails(client, "agent_signup", { agentName: "Second" });
    expect(message).toContain(signup.userInfo.githubLogin);
    expect(message).toMatch(/already signed in/i);
    expect(await rowCounts(env)).toEqual(before);
    // ...and the session still acts as the first account.
    expect((await ok(client, "get_current_user")).id).toBe(signup.userInfo.id);
  });

  test("a session opened with an agent's token cannot sign up again either", async ({ env }) => {
    const { token } = await signUp(env);
    const before = await rowCounts(env);
    const client = await env.connect(token);
    await fails(client, "agent_signup", {});
    expect(await rowCounts(env)).toEqual(before);
  });

  test.for<[string, Record<string, unknown>, RegExp]>([
    ["an empty agentName", { agentName: "" }, /agentName/],
    ["a blank agentName", { agentName: "   " }, /agentName/],
    ["an agentName of 101 characters", { agentName: "a".repeat(101) }, /agentName/],
    ["a number as agentName", { agentName: 42 }, /agentName/],
    ["a number as agentModel", { agentModel: 7 }, /agentModel/],
    ["an agentModel of 101 characters", { agentModel: "m".repeat(101) }, /agentModel/],
  ])("%s is an error result and creates nothing", async ([, args, mentions], { env }) => {
    const client = await env.connect();
    const message = await fails(client, "agent_signup", args);
    expect(message).toMatch(mentions);
    expect(await rowCounts(env)).toEqual({ users: 0, organizations: 0, memberships: 0, access_tokens: 0, claim_tokens: 0 });
    // The session is still unauthenticated.
    expect(await fails(client, "get_current_user")).toMatch(/agent_signup/);
  });

  test("an agentName of exactly 100 characters is accepted", async ({ env }) => {
    const { signup } = await signUp(env, { agentName: "a".repeat(100) });
    expect(signup.userInfo.name).toBe("a".repeat(100));
  });

  test("neither the claim token nor the access token is stored in clear anywhere in the db", async ({ env }) => {
    const { signup, token, claimToken } = await signUp(env, { agentName: "Secretive" });
    expect(await countRows(env, "claim_tokens")).toBe(1);
    expect(await countRows(env, "access_tokens")).toBe(1);
    // The scan itself must be able to find things: the user's uid is stored.
    expect(await columnsContaining(env.store, signup.userInfo.id)).toContain("users.uid");
    expect(await columnsContaining(env.store, claimToken)).toEqual([]);
    expect(await columnsContaining(env.store, token)).toEqual([]);
  });

  test("neither token appears in the server's logs", async ({ env }) => {
    const { token, claimToken } = await signUp(env);
    await ok((await env.connect(token)), "get_current_user");
    expect(env.logs.length).toBeGreaterThan(0);
    const logs = env.logs.join("\n");
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(claimToken);
  });

  test("each signup gets its own user, login, organization and tokens", async ({ env }) => {
    const signups = [];
    for (let i = 0; i < 5; i++) signups.push((await signUp(env, { agentName: "Same name" })).signup);
    const distinct = (values: unknown[]) => new Set(values).size;
    expect(distinct(signups.map((s) => s.userInfo.id))).toBe(5);
    expect(distinct(signups.map((s) => s.userInfo.githubLogin))).toBe(5);
    expect(distinct(signups.map((s) => s.userInfo.organizations[0].name))).toBe(5);
    expect(distinct(signups.map((s) => s.accessToken))).toBe(5);
    expect(distinct(signups.map((s) => s.claimToken))).toBe(5);
    expect(await countRows(env, "users")).toBe(5);
    expect(await countRows(env, "organizations")).toBe(5);
  });

  test("by default the access token is valid 72 hours and the claim token 30 days", async ({ env }) => {
    const now = env.clock.now().getTime();
    const { signup } = await signUp(env);
    expect(signup.accessTokenValidUntil).toBe(new Date(now + 72 * HOUR).toISOString());
    expect(signup.claimTokenValidUntil).toBe(new Date(now + 30 * DAY).toISOString());
  });

  test("configured lifetimes show in accessTokenValidUntil and claimTokenValidUntil", async () => {
    const env = await createTestEnv({ accessTokenTtlMs: 2 * HOUR, claimTokenTtlMs: 7 * DAY });
    try {
      const now = env.clock.now().getTime();
      const { signup } = await signUp(env);
      expect(signup.accessTokenValidUntil).toBe(new Date(now + 2 * HOUR).toISOString());
      expect(signup.claimTokenValidUntil).toBe(new Date(now + 7 * DAY).toISOString());
    } finally {
      await env.close();
    }
  });

  test("the public URL setting is the base of the claimUrl", async () => {
    const env = await createTestEnv({ publicUrl: "https://onboard.example.com/base" });
    try {
      const { signup } = await signUp(env);
      expect(signup.claimUrl).toBe(`https://onboard.example.com/base/claim/${signup.claimToken}`);
    } finally {
      await env.close();
    }
  });
});
