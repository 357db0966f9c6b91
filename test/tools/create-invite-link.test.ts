import { asc, eq } from "drizzle-orm";
import { claimAccount } from "../../src/services/claims.js";
import { call, countRows, DAY, expect, fails, HOUR, ok, signUp, test, type TestEnv, textOf } from "../fixture.js";
import { seedInviteToken, seedRedeemedAgent, seedUnleashUser } from "../seed-shapes.js";
import { tablesContaining } from "./stored.js";

const PUBLIC_URL = "http://onboard.test";
const NOW = "2026-03-01T12:00:00.000Z";
const inAWeek = "2026-03-08T12:00:00.000Z";
const GOOD_PASSWORD = "Correct-Horse-9";

/** A human arriving late with the link's `secret` is told the link is not valid. */
async function expectLateRedeemRefused(env: TestEnv, secret: string) {
  const text = await fails(await env.connect(), "redeem_invite", {
    token: secret,
    email: "late@example.com",
    name: "Late",
    password: GOOD_PASSWORD,
  });
  expect(text).toMatch(/invite link is not valid/i);
}

test("create_invite_link answers with seed 002's invite token: url from the public URL and the secret, Viewer role, no users yet", async ({ env }) => {
  const { client, signup } = await signUp(env, { agentName: "Inviter" });

  const raw = await ok(client, "create_invite_link", { name: "Platform team", expiresAt: inAWeek });
  const token = seedInviteToken.parse(raw);

  expect(token.url).toBe(`${PUBLIC_URL}/new-user?invite=${token.secret}`);
  expect(token.name).toBe("Platform team");
  expect(token.enabled).toBe(true);
  expect(token.expiresAt).toBe(inAWeek);
  expect(token.createdAt).toBe(NOW);
  expect(token.role).toMatchObject({ id: 3, name: "Viewer", type: "root" });
  expect(token.users).toEqual([]);
  // An agent has no email until claimed, so its login names it.
  expect(token.createdBy).toBe(signup.userInfo.githubLogin);
  expect(await countRows(env, "invite_links")).toBe(1);
});

test("each invite link gets its own long random secret", async ({ env }) => {
  const { client } = await signUp(env);
  const first = seedInviteToken.parse(await ok(client, "create_invite_link", { name: "One", expiresAt: inAWeek }));
  const second = seedInviteToken.parse(await ok(client, "create_invite_link", { name: "Two", expiresAt: inAWeek }));

  expect(first.secret).not.toBe(second.secret);
  // At least 128 bits: 22 base64url characters.
  expect(first.secret.length).toBeGreaterThanOrEqual(22);
});

test("createdBy is the creator's email once the account has one", async ({ env }) => {
  const { client, claimToken } = await signUp(env);
  await claimAccount(env.deps, {
    claimToken,
    username: "grace",
    email: "Grace@Example.com",
    password: GOOD_PASSWORD,
    keepAgentAccess: true,
  });

  const token = seedInviteToken.parse(await ok(client, "create_invite_link", { name: "Team", expiresAt: inAWeek }));

  expect(token.createdBy).toBe("grace@example.com");
});

test("the people who join through a link are recorded against it, as Viewer (rootRole 3) users with integer ids", async ({ env }) => {
  const { client } = await signUp(env);
  const token = seedInviteToken.parse(await ok(client, "create_invite_link", { name: "Team", expiresAt: inAWeek }));
  expect(token.users).toEqual([]);

  const guest = await env.connect();
  const human = seedUnleashUser.parse(
    await ok(guest, "redeem_invite", { token: token.secret, email: "ada@example.com", name: "Ada", password: GOOD_PASSWORD }),
  );
  const agent = seedRedeemedAgent.parse(await ok(await env.connect(), "redeem_invite", { token: token.url, email: "bot@example.com", name: "Bot" }));

  for (const joined of [human, agent]) {
    expect(Number.isInteger(joined.id)).toBe(true);
    expect(joined.rootRole).toBe(3);
  }
  const { inviteLinkUsers } = env.deps.db.tables;
  const rows = await env.deps.db
    .select({ userId: inviteLinkUsers.userId })
    .from(inviteLinkUsers)
    .orderBy(asc(inviteLinkUsers.joinedAt), asc(inviteLinkUsers.userId));
  expect(rows.map((row) => row.userId)).toEqual([human.id, agent.id]);
});

test("no field of the answer is null: url and createdBy are strings, and the role's project, which has none, is left out", async ({ env }) => {
  const { client } = await signUp(env);
  const raw = await ok(client, "create_invite_link", { name: "Team", expiresAt: inAWeek });
  const nulls: string[] = [];
  JSON.stringify(raw, (key, value) => {
    if (value === null) nulls.push(key);
    return value;
  });
  expect(nulls).toEqual([]);
  expect(raw).toMatchObject({ url: expect.any(String), createdBy: expect.any(String) });
  expect(raw.role).not.toHaveProperty("project");
});

test("an expiresAt more than one month ahead is moved back to exactly one month from now", async ({ env }) => {
  const { client } = await signUp(env);

  const token = seedInviteToken.parse(
    await ok(client, "create_invite_link", { name: "Far", expiresAt: "2027-06-01T00:00:00Z" }),
  );

  expect(token.expiresAt).toBe("2026-04-01T12:00:00.000Z");
  expect(token.enabled).toBe(true);
  const { inviteLinks } = env.deps.db.tables;
  const stored = await env.deps.db.select({ expiresAt: inviteLinks.expiresAt }).from(inviteLinks);
  expect(stored.map((link) => link.expiresAt.toISOString())).toEqual(["2026-04-01T12:00:00.000Z"]);
});

test("an expiresAt within the month is kept, whatever offset it was written with", async ({ env }) => {
  const { client } = await signUp(env);

  const exact = seedInviteToken.parse(await ok(client, "create_invite_link", { name: "Exact", expiresAt: "2026-04-01T12:00:00Z" }));
  const offset = seedInviteToken.parse(
    await ok(client, "create_invite_link", { name: "Offset", expiresAt: "2026-03-02T12:00:00+02:00" }),
  );

  expect(exact.expiresAt).toBe("2026-04-01T12:00:00.000Z");
  expect(offset.expiresAt).toBe("2026-03-02T10:00:00.000Z");
});

test("on January 31 the one-month cap is the end of February, not early March", async ({ env }) => {
  env.clock.advance(336 * DAY); // 2027-01-31T12:00:00Z
  const { client } = await signUp(env);

  const token = seedInviteToken.parse(
    await ok(client, "create_invite_link", { name: "Month end", expiresAt: "2027-06-01T00:00:00Z" }),
  );

  expect(token.expiresAt).toBe("2027-02-28T12:00:00.000Z");
});

test("a past expiresAt is accepted, but the link is disabled and cannot be redeemed", async ({ env }) => {
  const { client } = await signUp(env);

  const token = seedInviteToken.parse(
    await ok(client, "create_invite_link", { name: "Too late", expiresAt: "2026-02-01T00:00:00Z" }),
  );
  expect(token.enabled).toBe(false);
  expect(token.expiresAt).toBe("2026-02-01T00:00:00.000Z");

  const users = await countRows(env, "users");
  await expectLateRedeemRefused(env, token.secret);
  expect(await countRows(env, "users")).toBe(users);
  expect(await countRows(env, "invite_link_users")).toBe(0);
});

test("a link that expires at this very moment is reported disabled", async ({ env }) => {
  const { client } = await signUp(env);

  const token = seedInviteToken.parse(await ok(client, "create_invite_link", { name: "Now", expiresAt: NOW }));

  expect(token.enabled).toBe(false);
});

test("a link stops working once the clock passes its expiresAt", async ({ env }) => {
  const { client } = await signUp(env);
  const expiresAt = new Date(Date.parse(NOW) + HOUR).toISOString();
  const token = seedInviteToken.parse(await ok(client, "create_invite_link", { name: "Short", expiresAt }));
  expect(token.enabled).toBe(true);

  env.clock.advance(HOUR - 1000);
  await ok(await env.connect(), "redeem_invite", { token: token.secret, email: "early@example.com", name: "Early", password: GOOD_PASSWORD });

  env.clock.advance(2000);
  await expectLateRedeemRefused(env, token.secret);
  expect(await countRows(env, "invite_link_users")).toBe(1);
});

test("only an admin can create an invite link: a member who joined through one is told so, and nothing is written", async ({ env }) => {
  const { client, signup } = await signUp(env);
  const orgName = signup.userInfo.organizations[0].name as string;
  const token = seedInviteToken.parse(await ok(client, "create_invite_link", { name: "Team", expiresAt: inAWeek }));
  const joined = await ok(await env.connect(), "redeem_invite", { token: token.secret, email: "member@example.com", name: "Member" });
  const member = await env.connect(joined.accessToken);
  const links = await countRows(env, "invite_links");

  const text = await fails(member, "create_invite_link", { name: "Mine", expiresAt: inAWeek });
  const named = await fails(member, "create_invite_link", { name: "Mine", expiresAt: inAWeek, organization: orgName });

  for (const message of [text, named]) {
    expect(message).toMatch(/admin/i);
    expect(message).toContain(orgName);
  }
  expect(await countRows(env, "invite_links")).toBe(links);
});

test("an organization the caller is not in gets the same answer as one that does not exist", async ({ env }) => {
  const stranger = await signUp(env);
  const strangersOrg = stranger.signup.userInfo.organizations[0].name as string;
  const { client } = await signUp(env);

  const notMine = await fails(client, "create_invite_link", { name: "Sneaky", expiresAt: inAWeek, organization: strangersOrg });
  const missing = await fails(client, "create_invite_link", { name: "Sneaky", expiresAt: inAWeek, organization: "no-such-org" });

  expect(notMine.replaceAll(strangersOrg, "<org>")).toBe(missing.replaceAll("no-such-org", "<org>"));
  expect(await countRows(env, "invite_links")).toBe(0);
});

test("an invite link for a named organization of the caller's goes to that organization", async ({ env }) => {
  const { client, signup } = await signUp(env);
  const orgName = signup.userInfo.organizations[0].name as string;

  await ok(client, "create_invite_link", { name: "Named", expiresAt: inAWeek, organization: orgName.toUpperCase() });

  const { inviteLinks, organizations } = env.deps.db.tables;
  const rows = await env.deps.db
    .select({ org: organizations.name })
    .from(inviteLinks)
    .innerJoin(organizations, eq(organizations.id, inviteLinks.orgId));
  expect(rows).toEqual([{ org: orgName }]);
});

test.for([
  ["an expiresAt that is not a date-time", { name: "Team", expiresAt: "tomorrow" }, /expiresAt/],
  ["a missing expiresAt", { name: "Team" }, /expiresAt/],
  ["a date without a time", { name: "Team", expiresAt: "2026-03-05" }, /expiresAt/],
  ["an expiresAt in year 0000", { name: "Team", expiresAt: "0000-01-01T00:00:00Z" }, /expiresAt.*after 1970/],
  ["an expiresAt before 1970 once its offset is applied", { name: "Team", expiresAt: "1970-01-01T00:30:00+01:00" }, /expiresAt.*after 1970/],
  ["an empty name", { name: "", expiresAt: inAWeek }, /name/],
  ["a blank name", { name: "   ", expiresAt: inAWeek }, /name/],
  ["a missing name", { expiresAt: inAWeek }, /name/],
] as const)("%s is refused and nothing is written", async ([, args, mentions], { env }) => {
  const { client } = await signUp(env);

  const result = await call(client, "create_invite_link", args);

  expect(result.isError).toBe(true);
  expect(textOf(result)).toMatch(mentions);
  expect(await countRows(env, "invite_links")).toBe(0);
});

test("the secret is stored only as a hash: no table holds it in clear, and no log line either", async ({ env }) => {
  const { client } = await signUp(env);

  const token = seedInviteToken.parse(await ok(client, "create_invite_link", { name: "Team", expiresAt: inAWeek }));

  expect(await countRows(env, "invite_links")).toBe(1);
  expect(await tablesContaining(env.store, token.secret)).toEqual([]);
  expect(env.logs.join("\n")).not.toContain(token.secret);
});

test("without signing in, create_invite_link tells the agent to call agent_signup and writes nothing", async ({ env }) => {
  const client = await env.connect();

  const text = await fails(client, "create_invite_link", { name: "Team", expiresAt: inAWeek });

  expect(text).toMatch(/agent_signup/);
  expect(await countRows(env, "invite_links")).toBe(0);
});
