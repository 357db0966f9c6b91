import { asc, eq } from "drizzle-orm";
import { claimAccount } from "../../src/services/claims.js";
import { describe } from "vitest";
import { call, countRows, expect, fails, HOUR, ok, signUp, test, type TestEnv, textOf } from "../fixture.js";
import { seedInviteToken, seedRedeemedAgent, seedUnleashUser } from "../seed-shapes.js";
import { tablesContaining } from "./stored.js";

const PUBLIC_URL = "http://onboard.test";
const NOW = "2026-03-01T12:00:00.000Z";
const inAWeek = "2026-03-08T12:00:00.000Z";
const GOOD_PASSWORD = "Correct-Horse-9";
const INVALID_LINK = /invite link is not valid/i;

/** An admin agent with an invite link to its personal organization. */
async function inviter(env: TestEnv) {
  const admin = await signUp(env, { agentName: "Inviter" });
  const orgName = admin.signup.userInfo.organizations[0].name as string;
  const link = seedInviteToken.parse(await ok(admin.client, "create_invite_link", { name: "Team", expiresAt: inAWeek }));
  return { ...admin, orgName, link };
}

const snapshot = async (env: TestEnv) => ({
  users: await countRows(env, "users"),
  memberships: await countRows(env, "memberships"),
  inviteLinkUsers: await countRows(env, "invite_link_users"),
  accessTokens: await countRows(env, "access_tokens"),
  claimTokens: await countRows(env, "claim_tokens"),
});

async function userRow(env: TestEnv, id: number) {
  const { users } = env.deps.db.tables;
  const [user] = await env.deps.db.select().from(users).where(eq(users.id, id));
  return user!;
}

function membershipsOf(env: TestEnv, userId: number) {
  const { memberships, organizations } = env.deps.db.tables;
  return env.deps.db
    .select({ org: organizations.name, role: memberships.role })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .where(eq(memberships.userId, userId));
}

const human = (token: string, extra: Record<string, unknown> = {}) => ({
  token,
  email: "Ada.Lovelace@Example.COM",
  name: "Ada Lovelace",
  username: "ada_l",
  password: GOOD_PASSWORD,
  ...extra,
});

describe("redeem_invite with a password (a human signs up)", () => {
  test("redeem_invite with a password answers with plain userSchema: integer id, Viewer root role, lowercased email", async ({ env }) => {
    const { link } = await inviter(env);

    const raw = await ok(await env.connect(), "redeem_invite", human(link.secret));
    const user = seedUnleashUser.parse(raw);

    expect(raw).not.toHaveProperty("accessToken");
    expect(raw).not.toHaveProperty("claimUrl");
    expect(Number.isInteger(user.id)).toBe(true);
    expect(user.rootRole).toBe(3);
    expect(user.email).toBe("ada.lovelace@example.com");
    expect(user.name).toBe("Ada Lovelace");
    expect(user.username).toBe("ada_l");
    expect(user.createdAt).toBe(NOW);
  });

  test("a human who redeems becomes a member (not admin) of the inviting organization, and is not an agent", async ({ env }) => {
    const { link, orgName } = await inviter(env);

    const user = seedUnleashUser.parse(await ok(await env.connect(), "redeem_invite", human(link.secret)));

    expect(await membershipsOf(env, user.id)).toEqual([{ org: orgName, role: "viewer" }]);
    const row = await userRow(env, user.id);
    expect(row.isAgent).toBe(false);
    expect(row.email).toBe("ada.lovelace@example.com");
    expect(row.login).toBe("ada_l");
  });

  test("the password is stored only as a hash", async ({ env }) => {
    const { link } = await inviter(env);

    const user = seedUnleashUser.parse(await ok(await env.connect(), "redeem_invite", human(link.secret)));

    const hash = (await userRow(env, user.id)).passwordHash;
    expect(typeof hash).toBe("string");
    expect(hash).not.toContain(GOOD_PASSWORD);
    expect(await tablesContaining(env.store, GOOD_PASSWORD)).toEqual([]);
    expect(env.logs.join("\n")).not.toContain(GOOD_PASSWORD);
  });

  test("signing up a human does not bind the session: get_current_user still says to sign up", async ({ env }) => {
    const { link } = await inviter(env);
    const session = await env.connect();

    await ok(session, "redeem_invite", human(link.secret));

    expect(await fails(session, "get_current_user")).toMatch(/agent_signup/);
    expect(await countRows(env, "access_tokens")).toBe(1); // only the inviter's
  });

  test("an agent that signs up a human with a password keeps acting as itself", async ({ env }) => {
    const { link, client, signup } = await inviter(env);

    await ok(client, "redeem_invite", human(link.secret));

    const me = await ok(client, "get_current_user");
    expect(me.id).toBe(signup.userInfo.id);
    expect(me.isAgent).toBe(true);
  });

  test("the token may be the bare secret or the whole invite URL", async ({ env }) => {
    const { link, orgName } = await inviter(env);
    expect(link.url).toBe(`${PUBLIC_URL}/new-user?invite=${link.secret}`);

    const bySecret = seedUnleashUser.parse(await ok(await env.connect(), "redeem_invite", human(link.secret)));
    const byUrl = seedUnleashUser.parse(
      await ok(await env.connect(), "redeem_invite", human(link.url!, { email: "b@example.com", username: "bee" })),
    );
    const byPaddedUrl = seedUnleashUser.parse(
      await ok(await env.connect(), "redeem_invite", human(`  ${link.url}\n`, { email: "c@example.com", username: "sea" })),
    );

    for (const user of [bySecret, byUrl, byPaddedUrl]) {
      expect(await membershipsOf(env, user.id)).toEqual([{ org: orgName, role: "viewer" }]);
    }
  });

  test("without a username, one is made up from the email", async ({ env }) => {
    const { link } = await inviter(env);

    const user = seedUnleashUser.parse(
      await ok(await env.connect(), "redeem_invite", { token: link.secret, email: "Ada@Example.com", name: "Ada", password: GOOD_PASSWORD }),
    );

    expect(user.username).toMatch(/ada/);
    expect((await userRow(env, user.id)).login).toBe(user.username);
  });
});

describe("redeem_invite answers no nulls", () => {
  // Nullable seed fields without a value are left out: null has no portable place in an output schema.
  test("seenAt and scimId, which have no value here, are left out rather than null, with or without a password", async ({ env }) => {
    const { link } = await inviter(env);
    const human = await ok(await env.connect(), "redeem_invite", { token: link.secret, email: "ada@example.com", name: "Ada", password: GOOD_PASSWORD });
    const agent = await ok(await env.connect(), "redeem_invite", { token: link.secret, email: "bot@example.com", name: "Bot" });
    for (const user of [seedUnleashUser.parse(human), seedRedeemedAgent.parse(agent)]) {
      expect(user).not.toHaveProperty("seenAt");
      expect(user).not.toHaveProperty("scimId");
      expect(Object.entries(user).filter(([, value]) => value === null)).toEqual([]);
      expect(user).toMatchObject({ name: expect.any(String), username: expect.any(String) });
    }
  });
});

describe("redeem_invite without a password (an agent joins)", () => {
  test("an agent that redeems without a password gets userSchema plus an access token and a claim URL", async ({ env }) => {
    const { link } = await inviter(env);

    const agent = seedRedeemedAgent.parse(
      await ok(await env.connect(), "redeem_invite", { token: link.secret, email: "Bot@Example.com", name: "Helper bot" }),
    );

    expect(Number.isInteger(agent.id)).toBe(true);
    expect(agent.rootRole).toBe(3);
    expect(agent.email).toBe("bot@example.com");
    expect(agent.accessTokenValidUntil).toBe(new Date(Date.parse(NOW) + 72 * HOUR).toISOString());
    expect(agent.claimTokenValidUntil).toBe(new Date(Date.parse(NOW) + 30 * 24 * HOUR).toISOString());
    expect(agent.claimUrl.startsWith(`${PUBLIC_URL}/claim/`)).toBe(true);
    expect(await countRows(env, "claim_tokens")).toBe(2); // the inviter's and this one
  });

  test("redeeming without a password tells the agent to send the new token, which acts as a member of the organization", async ({ env }) => {
    const { link, orgName } = await inviter(env);
    const anonymous = await env.connect();

    const answer = await call(anonymous, "redeem_invite", { token: link.secret, email: "bot@example.com", name: "Helper bot", username: "helper-bot" });
    const agent = seedRedeemedAgent.parse(answer.structuredContent);
    expect(textOf(answer)).toContain('"Authorization: Bearer <accessToken>"');
    expect(await fails(anonymous, "get_current_user")).toContain("not signed in"); // no session remembers it

    const me = await ok(await env.connect(agent.accessToken), "get_current_user");
    expect(me.githubLogin).toBe("helper-bot");
    expect(me.email).toBe("bot@example.com");
    expect(me.isAgent).toBe(true);
    expect(me.organizations).toEqual([expect.objectContaining({ name: orgName, role: "member" })]);
    expect((await userRow(env, agent.id)).isAgent).toBe(true);
  });

  test("the access token from a redeem works on a new session too", async ({ env }) => {
    const { link } = await inviter(env);
    const agent = seedRedeemedAgent.parse(
      await ok(await env.connect(), "redeem_invite", { token: link.secret, email: "bot@example.com", name: "Bot", username: "bot-one" }),
    );

    const me = await ok(await env.connect(agent.accessToken), "get_current_user");

    expect(me.githubLogin).toBe("bot-one");
  });

  test("the claim URL of a redeemed agent lets its human claim the account, which keeps its id and membership", async ({ env }) => {
    const { link, orgName } = await inviter(env);
    const agent = seedRedeemedAgent.parse(await ok(await env.connect(), "redeem_invite", { token: link.secret, email: "bot@example.com", name: "Bot" }));
    const session = await env.connect(agent.accessToken);
    const claimToken = decodeURIComponent(agent.claimUrl.slice(`${PUBLIC_URL}/claim/`.length));

    const claimed = await claimAccount(env.deps, {
      claimToken,
      username: "grace",
      email: "grace@example.com",
      password: GOOD_PASSWORD,
      keepAgentAccess: true,
    });

    expect(claimed.userId).toBe(agent.id);
    const row = await userRow(env, agent.id);
    expect(row.isAgent).toBe(false);
    expect(row.login).toBe("grace");
    expect(await membershipsOf(env, agent.id)).toEqual([{ org: orgName, role: "viewer" }]);
    const me = await ok(session, "get_current_user");
    expect(me.isAgent).toBe(false);
    expect(me.email).toBe("grace@example.com");
  });
});

describe("redeem_invite checks in Unleash order and writes nothing on failure", () => {
  test("an unknown token is reported before an invalid email", async ({ env }) => {
    await inviter(env);
    const before = await snapshot(env);

    const text = await fails(await env.connect(), "redeem_invite", { token: "not-a-real-secret", email: "not an email", name: "" });

    expect(text).toMatch(INVALID_LINK);
    expect(text).not.toMatch(/email/i);
    expect(await snapshot(env)).toEqual(before);
  });

  test("unknown, expired and disabled tokens all get the same non-revealing message", async ({ env }) => {
    const { client } = await inviter(env);
    const expiring = seedInviteToken.parse(
      await ok(client, "create_invite_link", { name: "Short", expiresAt: new Date(Date.parse(NOW) + HOUR).toISOString() }),
    );
    const disabled = seedInviteToken.parse(await ok(client, "create_invite_link", { name: "Off", expiresAt: inAWeek }));
    await env.deps.db.transact(async (tx) => {
      const { inviteLinks } = tx.tables;
      await tx.update(inviteLinks).set({ enabled: false }).where(eq(inviteLinks.name, "Off"));
    });
    env.clock.advance(2 * HOUR);
    const before = await snapshot(env);

    const guest = await env.connect();
    const unknown = await fails(guest, "redeem_invite", human("no-such-secret"));
    const expired = await fails(guest, "redeem_invite", human(expiring.secret));
    const off = await fails(guest, "redeem_invite", human(disabled.url!));

    expect(unknown).toMatch(INVALID_LINK);
    expect(expired).toBe(unknown);
    expect(off).toBe(unknown);
    expect(await snapshot(env)).toEqual(before);
  });

  test("with a valid token, an invalid email is reported", async ({ env }) => {
    const { link } = await inviter(env);
    const before = await snapshot(env);

    const text = await fails(await env.connect(), "redeem_invite", human(link.secret, { email: "not an email" }));

    expect(text).toMatch(/email/i);
    expect(text).not.toMatch(INVALID_LINK);
    expect(await snapshot(env)).toEqual(before);
  });

  test.for([
    ["an empty name", ""],
    ["a blank name", "   "],
  ])("%s is refused", async ([, name], { env }) => {
    const { link } = await inviter(env);
    const before = await snapshot(env);

    const text = await fails(await env.connect(), "redeem_invite", human(link.secret, { name }));

    expect(text).toMatch(/name/i);
    expect(await snapshot(env)).toEqual(before);
  });

  test.for([
    ["too short", "Ab1!cdefg", /at least 10/],
    ["longer than 128", "Ab1!".repeat(33), /at most 128/],
    ["a character three times in a row", "Paaassword1!", /three/],
    ["no uppercase letter", "lowercase-only-1", /uppercase/],
    ["no lowercase letter", "UPPERCASE-ONLY-1", /lowercase/],
    ["no digit", "No-Digits-Here", /number/],
    ["no symbol", "NoSymbolsHere1", /symbol/],
  ] as const)("a password with %s is refused with a message naming that rule", async ([, password, rule], { env }) => {
    const { link } = await inviter(env);
    const before = await snapshot(env);

    const text = await fails(await env.connect(), "redeem_invite", human(link.secret, { password }));

    expect(text).toMatch(rule);
    expect(await snapshot(env)).toEqual(before);
  });

  test("an email already in use, in any case, is refused as already existing", async ({ env }) => {
    const { link } = await inviter(env);
    await ok(await env.connect(), "redeem_invite", human(link.secret));
    const before = await snapshot(env);

    const text = await fails(await env.connect(), "redeem_invite", human(link.secret, { email: "ADA.lovelace@example.com", username: "other" }));

    expect(text).toMatch(/already exists/);
    expect(text).toContain("ada.lovelace@example.com");
    expect(await snapshot(env)).toEqual(before);
  });

  test("a username already in use, in any case, is refused as already taken", async ({ env }) => {
    const { link } = await inviter(env);
    await ok(await env.connect(), "redeem_invite", human(link.secret));
    const before = await snapshot(env);

    const text = await fails(await env.connect(), "redeem_invite", human(link.secret, { email: "other@example.com", username: "ADA_L" }));

    expect(text).toMatch(/already (exists|taken)/);
    expect(await snapshot(env)).toEqual(before);
  });

  test("an agent's login cannot be taken as a username", async ({ env }) => {
    const { link, signup } = await inviter(env);
    const before = await snapshot(env);

    const text = await fails(await env.connect(), "redeem_invite", human(link.secret, { username: signup.userInfo.githubLogin }));

    expect(text).toMatch(/already (exists|taken)/);
    expect(await snapshot(env)).toEqual(before);
  });

  test("a refused redeem without a password binds nothing: the session stays signed out", async ({ env }) => {
    const { link } = await inviter(env);
    const session = await env.connect();

    await fails(session, "redeem_invite", { token: link.secret, email: "nope", name: "Bot" });

    expect(await fails(session, "get_current_user")).toMatch(/agent_signup/);
  });
});

describe("invite links are multi-use", () => {
  test("one link lets three different people join, and each is recorded against it", async ({ env }) => {
    const { link, orgName } = await inviter(env);

    const joined = [];
    for (const [email, username] of [
      ["one@example.com", "one-person"],
      ["two@example.com", "two-person"],
      ["three@example.com", "three-person"],
    ]) {
      joined.push(seedUnleashUser.parse(await ok(await env.connect(), "redeem_invite", human(link.secret, { email, username }))));
    }

    const { inviteLinkUsers } = env.deps.db.tables;
    const rows = await env.deps.db
      .select({ userId: inviteLinkUsers.userId })
      .from(inviteLinkUsers)
      .orderBy(asc(inviteLinkUsers.joinedAt), asc(inviteLinkUsers.userId));
    expect(rows.map((row) => row.userId)).toEqual(joined.map((user) => user.id));
    expect(new Set(joined.map((user) => user.id)).size).toBe(3);
    for (const user of joined) expect(await membershipsOf(env, user.id)).toEqual([{ org: orgName, role: "viewer" }]);
  });
});
