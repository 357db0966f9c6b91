/**
 * User.identities, tokenInfo and siteAdmin from the stored account and the
 * caller's token, for an agent, a claimed human and invited humans and agents.
 */
import { eq } from "drizzle-orm";
import { describe } from "vitest";
import { agentSignup, getCurrentUser } from "../../src/services/accounts.js";
import { claimAccount } from "../../src/services/claims.js";
import { identitiesOf } from "../../src/services/identities.js";
import { createInviteLink, redeemInvite } from "../../src/services/invites.js";
import { authenticate, prepareAccessToken } from "../../src/services/tokens.js";
import { DAY, expect, ok, test, type TestEnv } from "../fixture.js";
import { seedUser } from "../seed-shapes.js";

const PASSWORD = "Corr3ct-Horse!";

async function idOf(env: TestEnv, uid: string): Promise<number> {
  const { users } = env.deps.db.tables;
  const [row] = await env.deps.db.select({ id: users.id }).from(users).where(eq(users.uid, uid));
  return row!.id;
}

/** The names of the user's access tokens, as stored. */
async function tokenNamesOf(env: TestEnv, userId: number): Promise<string[]> {
  const { accessTokens } = env.deps.db.tables;
  const rows = await env.deps.db.select({ name: accessTokens.name }).from(accessTokens).where(eq(accessTokens.userId, userId));
  return rows.map((row) => row.name);
}

async function agentWithLink(env: TestEnv) {
  const signup = await agentSignup(env.deps, { agentName: "Inviter" });
  const userId = await idOf(env, signup.userInfo.id);
  const link = await createInviteLink(env.deps, userId, {
    name: "Team",
    expiresAt: new Date(env.clock.now().getTime() + DAY).toISOString(),
  });
  return { signup, userId, link };
}

describe("identitiesOf", () => {
  test("is email only with both an email address and a password", () => {
    expect(identitiesOf({ email: null, passwordHash: null })).toEqual([]);
    expect(identitiesOf({ email: "a@example.com", passwordHash: null })).toEqual([]);
    expect(identitiesOf({ email: null, passwordHash: "hash" })).toEqual([]);
    expect(identitiesOf({ email: "a@example.com", passwordHash: "hash" })).toEqual(["email"]);
  });
});

describe("an unclaimed agent", () => {
  test("has no identities, is no site admin, and no tokenInfo: its token is personal (Pulumi sets tokenInfo for machine tokens only)", async ({ env }) => {
    const signup = await agentSignup(env.deps, { agentName: "Helper" });
    const userId = await idOf(env, signup.userInfo.id);
    expect(await tokenNamesOf(env, userId)).toEqual(["agent signup"]);
    const user = seedUser.parse(signup.userInfo);
    expect(user).toMatchObject({ identities: [], siteAdmin: false });
    expect(user).not.toHaveProperty("tokenInfo");
    const caller = await authenticate(env.deps, signup.accessToken);
    expect(await getCurrentUser(env.deps, userId, { row: caller.user })).toEqual(signup.userInfo);
  });

  test("a token issued without a name is stored with the column's default name", async ({ env }) => {
    const signup = await agentSignup(env.deps, {});
    const userId = await idOf(env, signup.userInfo.id);
    const access = await prepareAccessToken(env.deps, signup.userInfo.id);
    await env.deps.db.transact(async (tx) => {
      await tx.insert(tx.tables.accessTokens).values(access.row(userId));
    });
    await authenticate(env.deps, access.token);
    expect(await tokenNamesOf(env, userId)).toContain("access token");
  });
});

describe("a claimed human", () => {
  test("has the email identity, verified or not, and still no tokenInfo through the kept agent token", async ({ env }) => {
    const signup = await agentSignup(env.deps, { agentName: "Helper" });
    const userId = await idOf(env, signup.userInfo.id);
    await claimAccount(env.deps, { claimToken: signup.claimToken, username: "ada", email: "ada@example.com", password: PASSWORD, keepAgentAccess: true });
    const { users } = env.deps.db.tables;
    const [verified] = await env.deps.db.select({ at: users.emailVerifiedAt }).from(users).where(eq(users.id, userId));
    expect(verified).toEqual({ at: null });
    const caller = await authenticate(env.deps, signup.accessToken);
    const user = seedUser.parse(await getCurrentUser(env.deps, userId, { row: caller.user }));
    expect(user).toMatchObject({ isAgent: false, email: "ada@example.com", identities: ["email"], siteAdmin: false });
    expect(user).not.toHaveProperty("tokenInfo");
  });
});

describe("invited users", () => {
  test("a human who joined with a password has the email identity and, holding no token, no tokenInfo", async ({ env }) => {
    const { link } = await agentWithLink(env);
    const result = await redeemInvite(env.deps, { token: link.secret, email: "grace@example.com", name: "Grace", username: "grace", password: PASSWORD });
    expect(result.accessToken).toBeUndefined();
    const { users } = env.deps.db.tables;
    const [grace] = await env.deps.db.select({ id: users.id }).from(users).where(eq(users.login, "grace"));
    const userId = grace!.id;
    const user = seedUser.parse(await getCurrentUser(env.deps, userId));
    expect(user).toMatchObject({ isAgent: false, identities: ["email"], siteAdmin: false });
    expect(user).not.toHaveProperty("tokenInfo");
    expect(await tokenNamesOf(env, userId)).toEqual([]);
  });

  test("an agent that joined without a password has an email but no identity, and its token is named invite signup", async ({ env }) => {
    const { link } = await agentWithLink(env);
    const result = await redeemInvite(env.deps, { token: link.secret, email: "robot@example.com", name: "Robot" });
    const caller = await authenticate(env.deps, result.accessToken!);
    expect(await tokenNamesOf(env, caller.user.id)).toEqual(["invite signup"]);
    const user = seedUser.parse(await getCurrentUser(env.deps, caller.user.id, { row: caller.user }));
    expect(user).toMatchObject({ isAgent: true, email: "robot@example.com", identities: [], siteAdmin: false });
    expect(user).not.toHaveProperty("tokenInfo");
  });

  test("once the invited agent is claimed, it has the email identity", async ({ env }) => {
    const { link } = await agentWithLink(env);
    const result = await redeemInvite(env.deps, { token: link.secret, email: "robot@example.com", name: "Robot" });
    const claimToken = decodeURIComponent(new URL(result.user.claimUrl!).pathname.split("/").pop()!);
    await claimAccount(env.deps, { claimToken, username: "robbie", email: "robbie@example.com", password: PASSWORD, keepAgentAccess: true });
    const caller = await authenticate(env.deps, result.accessToken!);
    expect((await getCurrentUser(env.deps, caller.user.id)).identities).toEqual(["email"]);
  });
});

describe("over MCP", () => {
  test("get_current_user and onboard://user answer what GET /api/user does, without tokenInfo", async ({ env }) => {
    const signup = await agentSignup(env.deps, { agentName: "Helper" });
    const client = await env.connect(signup.accessToken);
    const me = seedUser.parse(await ok(client, "get_current_user"));
    expect(me).toEqual(signup.userInfo);
    expect(me).not.toHaveProperty("tokenInfo");
    const read = await client.readResource({ uri: "onboard://user" });
    const content = read.contents[0] as { text: string };
    expect(JSON.parse(content.text)).toEqual(me);
  });

  test("the token agent_signup returns sees the same User as the signup answer", async ({ env }) => {
    const signup = await ok(await env.connect(), "agent_signup", { agentName: "Bound" });
    const me = seedUser.parse(await ok(await env.connect(signup.accessToken), "get_current_user"));
    expect(me).toEqual(signup.userInfo);
  });
});
