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
  test("has no identities, is no site admin, and its signup token is named agent signup", async ({ env }) => {
    const signup = await agentSignup(env.deps, { agentName: "Helper" });
    const userId = await idOf(env, signup.userInfo.id);
    expect(await tokenNamesOf(env, userId)).toEqual(["agent signup"]);
    expect(seedUser.parse(signup.userInfo)).toMatchObject({
      identities: [],
      siteAdmin: false,
      tokenInfo: { name: "agent signup", organization: "", team: "" },
    });
    const caller = await authenticate(env.deps, signup.accessToken);
    expect(caller.tokenName).toBe("agent signup");
    expect(await getCurrentUser(env.deps, userId, { tokenName: caller.tokenName })).toEqual(signup.userInfo);
  });

  test("without a token to speak of, the User has no tokenInfo at all", async ({ env }) => {
    const signup = await agentSignup(env.deps, {});
    const user = seedUser.parse(await getCurrentUser(env.deps, await idOf(env, signup.userInfo.id)));
    expect(user).not.toHaveProperty("tokenInfo");
    expect(user.identities).toEqual([]);
  });

  test("a token issued without a name shows the column's default name", async ({ env }) => {
    const signup = await agentSignup(env.deps, {});
    const userId = await idOf(env, signup.userInfo.id);
    const access = await prepareAccessToken(env.deps, signup.userInfo.id);
    await env.deps.db.transact(async (tx) => {
      await tx.insert(tx.tables.accessTokens).values(access.row(userId));
    });
    const caller = await authenticate(env.deps, access.token);
    expect((await getCurrentUser(env.deps, userId, { tokenName: caller.tokenName })).tokenInfo).toEqual({
      name: "access token",
      organization: "",
      team: "",
    });
  });
});

describe("a claimed human", () => {
  test("has the email identity, verified or not, and the kept agent token still shows as tokenInfo", async ({ env }) => {
    const signup = await agentSignup(env.deps, { agentName: "Helper" });
    const userId = await idOf(env, signup.userInfo.id);
    await claimAccount(env.deps, { claimToken: signup.claimToken, username: "ada", email: "ada@example.com", password: PASSWORD, keepAgentAccess: true });
    const { users } = env.deps.db.tables;
    const [verified] = await env.deps.db.select({ at: users.emailVerifiedAt }).from(users).where(eq(users.id, userId));
    expect(verified).toEqual({ at: null });
    const caller = await authenticate(env.deps, signup.accessToken);
    const user = seedUser.parse(await getCurrentUser(env.deps, userId, { tokenName: caller.tokenName }));
    expect(user).toMatchObject({
      isAgent: false,
      email: "ada@example.com",
      identities: ["email"],
      siteAdmin: false,
      tokenInfo: { name: "agent signup", organization: "", team: "" },
    });
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
    expect(caller.tokenName).toBe("invite signup");
    expect(await tokenNamesOf(env, caller.user.id)).toEqual(["invite signup"]);
    const user = seedUser.parse(await getCurrentUser(env.deps, caller.user.id, { tokenName: caller.tokenName }));
    expect(user).toMatchObject({
      isAgent: true,
      email: "robot@example.com",
      identities: [],
      siteAdmin: false,
      tokenInfo: { name: "invite signup", organization: "", team: "" },
    });
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
  test("get_current_user and onboard://user carry the session token's tokenInfo, as GET /api/user does", async ({ env }) => {
    const signup = await agentSignup(env.deps, { agentName: "Helper" });
    const client = await env.connect(signup.accessToken);
    const me = seedUser.parse(await ok(client, "get_current_user"));
    expect(me).toEqual(signup.userInfo);
    expect(me.tokenInfo).toEqual({ name: "agent signup", organization: "", team: "" });
    const read = await client.readResource({ uri: "onboard://user" });
    const content = read.contents[0] as { text: string };
    expect(JSON.parse(content.text)).toEqual(me);
  });

  test("the token agent_signup returns sees its own tokenInfo", async ({ env }) => {
    const signup = await ok(await env.connect(), "agent_signup", { agentName: "Bound" });
    const me = seedUser.parse(await ok(await env.connect(signup.accessToken), "get_current_user"));
    expect(me).toEqual(signup.userInfo);
    expect(me.tokenInfo?.name).toBe("agent signup");
  });
});
