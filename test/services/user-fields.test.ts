/**
 * User.identities, tokenInfo and siteAdmin from the stored account and the
 * caller's token, for an agent, a claimed human and invited humans and agents.
 */
import { describe } from "vitest";
import { accessTokens } from "../../db/schema.js";
import { agentSignup, getCurrentUser } from "../../src/services/accounts.js";
import { claimAccount } from "../../src/services/claims.js";
import { identitiesOf } from "../../src/services/identities.js";
import { createInviteLink, redeemInvite } from "../../src/services/invites.js";
import { authenticate, prepareAccessToken } from "../../src/services/tokens.js";
import { DAY, expect, ok, test, type TestEnv } from "../fixture.js";
import { seedUser } from "../seed-shapes.js";

const PASSWORD = "Corr3ct-Horse!";

const idOf = (env: TestEnv, uid: string) =>
  (env.store.sqlite.prepare("SELECT id FROM users WHERE uid = ?").get(uid) as { id: number }).id;

const tokenNameOf = (env: TestEnv, userId: number) =>
  (env.store.sqlite.prepare("SELECT name FROM access_tokens WHERE user_id = ?").get(userId) as { name: string }).name;

async function agentWithLink(env: TestEnv) {
  const signup = await agentSignup(env.deps, { agentName: "Inviter" });
  const userId = idOf(env, signup.userInfo.id);
  const link = createInviteLink(env.deps, userId, {
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
    const userId = idOf(env, signup.userInfo.id);
    expect(tokenNameOf(env, userId)).toBe("agent signup");
    expect(seedUser.parse(signup.userInfo)).toMatchObject({
      identities: [],
      siteAdmin: false,
      tokenInfo: { name: "agent signup", organization: "", team: "" },
    });
    const caller = await authenticate(env.deps, signup.accessToken);
    expect(caller.tokenName).toBe("agent signup");
    expect(getCurrentUser(env.deps, userId, { tokenName: caller.tokenName })).toEqual(signup.userInfo);
  });

  test("without a token to speak of, the User has no tokenInfo at all", async ({ env }) => {
    const signup = await agentSignup(env.deps, {});
    const user = seedUser.parse(getCurrentUser(env.deps, idOf(env, signup.userInfo.id)));
    expect(user).not.toHaveProperty("tokenInfo");
    expect(user.identities).toEqual([]);
  });

  test("a token issued without a name shows the column's default name", async ({ env }) => {
    const signup = await agentSignup(env.deps, {});
    const userId = idOf(env, signup.userInfo.id);
    const access = await prepareAccessToken(env.deps, signup.userInfo.id);
    env.deps.db.insert(accessTokens).values(access.row(userId)).run();
    const caller = await authenticate(env.deps, access.token);
    expect(getCurrentUser(env.deps, userId, { tokenName: caller.tokenName }).tokenInfo).toEqual({
      name: "access token",
      organization: "",
      team: "",
    });
  });
});

describe("a claimed human", () => {
  test("has the email identity, verified or not, and the kept agent token still shows as tokenInfo", async ({ env }) => {
    const signup = await agentSignup(env.deps, { agentName: "Helper" });
    const userId = idOf(env, signup.userInfo.id);
    await claimAccount(env.deps, { claimToken: signup.claimToken, username: "ada", email: "ada@example.com", password: PASSWORD, keepAgentAccess: true });
    const verified = env.store.sqlite.prepare("SELECT email_verified_at AS at FROM users WHERE id = ?").get(userId) as { at: number | null };
    expect(verified.at).toBeNull();
    const caller = await authenticate(env.deps, signup.accessToken);
    const user = seedUser.parse(getCurrentUser(env.deps, userId, { tokenName: caller.tokenName }));
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
    const userId = (env.store.sqlite.prepare("SELECT id FROM users WHERE login = 'grace'").get() as { id: number }).id;
    const user = seedUser.parse(getCurrentUser(env.deps, userId));
    expect(user).toMatchObject({ isAgent: false, identities: ["email"], siteAdmin: false });
    expect(user).not.toHaveProperty("tokenInfo");
    expect(env.store.sqlite.prepare("SELECT count(*) AS n FROM access_tokens WHERE user_id = ?").get(userId)).toEqual({ n: 0 });
  });

  test("an agent that joined without a password has an email but no identity, and its token is named invite signup", async ({ env }) => {
    const { link } = await agentWithLink(env);
    const result = await redeemInvite(env.deps, { token: link.secret, email: "robot@example.com", name: "Robot" });
    const caller = await authenticate(env.deps, result.accessToken!);
    expect(caller.tokenName).toBe("invite signup");
    expect(tokenNameOf(env, caller.user.id)).toBe("invite signup");
    const user = seedUser.parse(getCurrentUser(env.deps, caller.user.id, { tokenName: caller.tokenName }));
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
    expect(getCurrentUser(env.deps, caller.user.id).identities).toEqual(["email"]);
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
