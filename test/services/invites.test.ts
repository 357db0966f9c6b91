import { eq } from "drizzle-orm";
import { agentSignup } from "../../src/services/accounts.js";
import { AppError } from "../../src/errors.js";
import { createInviteLink, getInviteLink, inviteSecretFrom, listInviteLinks, redeemInvite, updateInviteLinkById } from "../../src/services/invites.js";
import { openSealed } from "../../src/services/sealed-secrets.js";
import { countRows, createTestEnv, expect, HOUR, test, type TestEnv } from "../fixture.js";
import { seedInviteToken, seedRedeemedAgent, seedUnleashUser } from "../seed-shapes.js";

const GOOD_PASSWORD = "Correct-Horse-9";

/** An agent admin of its own organization, and an invite link to it. */
async function linkToNewOrg(env: TestEnv, expiresInMs = 7 * 24 * HOUR) {
  const signup = await agentSignup(env.deps, { agentName: "Inviter" });
  const { users } = env.deps.db.tables;
  const [user] = await env.deps.db.select({ id: users.id }).from(users).where(eq(users.uid, signup.userInfo.id));
  const userId = user!.id;
  const expiresAt = new Date(env.clock.now().getTime() + expiresInMs).toISOString();
  const link = await createInviteLink(env.deps, userId, { name: "Team", expiresAt });
  return { userId, orgName: signup.userInfo.organizations[0]!.name, link: seedInviteToken.parse(link) };
}

const usersWith = async (env: TestEnv, column: "email" | "login", value: string) =>
  Number((await env.store.query(`SELECT count(*) AS n FROM users WHERE lower(${column}) = lower(?)`, [value]))[0]!.n);

test("ten concurrent redeems with the same email create exactly one user; the others are conflicts", async ({ env }) => {
  const { link } = await linkToNewOrg(env);
  const users = await countRows(env, "users");

  const results = await Promise.allSettled(
    Array.from({ length: 10 }, (_, i) =>
      redeemInvite(env.deps, { token: link.secret, email: "same@example.com", name: `Person ${i}`, username: `person-${i}`, password: GOOD_PASSWORD }),
    ),
  );

  const fulfilled = results.filter((result) => result.status === "fulfilled");
  const rejected = results.filter((result): result is PromiseRejectedResult => result.status === "rejected");
  expect(fulfilled).toHaveLength(1);
  expect(rejected).toHaveLength(9);
  for (const { reason } of rejected) {
    expect(reason).toBeInstanceOf(AppError);
    expect((reason as AppError).code).toBe("conflict");
  }
  expect(await usersWith(env, "email", "same@example.com")).toBe(1);
  expect(await countRows(env, "users")).toBe(users + 1);
  expect(await countRows(env, "invite_link_users")).toBe(1);
  expect(await countRows(env, "memberships")).toBe(2); // the inviter's and the winner's
});

test("ten concurrent redeems with the same username create exactly one user; the others are conflicts", async ({ env }) => {
  const { link } = await linkToNewOrg(env);

  const results = await Promise.allSettled(
    Array.from({ length: 10 }, (_, i) =>
      redeemInvite(env.deps, { token: link.secret, email: `person${i}@example.com`, name: `Person ${i}`, username: "shared-name", password: GOOD_PASSWORD }),
    ),
  );

  expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
  for (const result of results) {
    if (result.status === "rejected") expect((result.reason as AppError).code).toBe("conflict");
  }
  expect(await usersWith(env, "login", "shared-name")).toBe(1);
  expect(await countRows(env, "invite_link_users")).toBe(1);
});

test("ten concurrent agents (no password) with the same email: one account, one access token, one claim token", async ({ env }) => {
  const { link } = await linkToNewOrg(env);
  const tokens = await countRows(env, "access_tokens");
  const claims = await countRows(env, "claim_tokens");

  const results = await Promise.allSettled(
    Array.from({ length: 10 }, (_, i) => redeemInvite(env.deps, { token: link.secret, email: "bot@example.com", name: `Bot ${i}` })),
  );

  expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
  expect(await usersWith(env, "email", "bot@example.com")).toBe(1);
  expect(await countRows(env, "access_tokens")).toBe(tokens + 1);
  expect(await countRows(env, "claim_tokens")).toBe(claims + 1);
});

test("an invite works before its expiresAt and not after", async ({ env }) => {
  const { link } = await linkToNewOrg(env, HOUR);

  env.clock.advance(HOUR - 1);
  const before = await redeemInvite(env.deps, { token: link.secret, email: "early@example.com", name: "Early", password: GOOD_PASSWORD });
  expect(seedUnleashUser.parse(before.user).email).toBe("early@example.com");

  env.clock.advance(1);
  const late = redeemInvite(env.deps, { token: link.secret, email: "late@example.com", name: "Late", password: GOOD_PASSWORD });
  await expect(late).rejects.toMatchObject({ code: "bad_request", message: expect.stringMatching(/not valid/) });
  expect(await usersWith(env, "email", "late@example.com")).toBe(0);
});

test("an invite that expires while the password is being hashed does not let the user in", async ({ env }) => {
  const { link } = await linkToNewOrg(env, HOUR);
  env.clock.advance(HOUR - 1);
  const users = await countRows(env, "users");

  const pending = redeemInvite(env.deps, { token: link.secret, email: "slow@example.com", name: "Slow", password: GOOD_PASSWORD });
  env.clock.advance(1); // the link's expiry passes before the transaction that writes the user

  await expect(pending).rejects.toMatchObject({ code: "bad_request" });
  expect(await countRows(env, "users")).toBe(users);
  expect(await countRows(env, "invite_link_users")).toBe(0);
});

test("redeemInvite reports the organization joined and, without a password, the token for the session", async ({ env }) => {
  const { link, orgName } = await linkToNewOrg(env);

  const human = await redeemInvite(env.deps, { token: link.secret, email: "h@example.com", name: "H", password: GOOD_PASSWORD });
  const agent = await redeemInvite(env.deps, { token: link.url!, email: "a@example.com", name: "A" });

  expect(human.organization).toBe(orgName);
  expect(human.accessToken).toBeUndefined();
  expect(agent.organization).toBe(orgName);
  expect(agent.accessToken).toBe(seedRedeemedAgent.parse(agent.user).accessToken);
});

test("a link's users list everyone who joined through it, in join order, as Viewer users with integer ids", async ({ env }) => {
  const { userId, link } = await linkToNewOrg(env);
  expect((await getInviteLink(env.deps, userId, link.secret)).users).toEqual([]);

  const joined = [];
  for (const who of ["one", "two", "three"]) {
    const password = who === "two" ? undefined : GOOD_PASSWORD;
    joined.push((await redeemInvite(env.deps, { token: link.secret, email: `${who}@example.com`, name: who, username: `user-${who}`, password })).user);
    env.clock.advance(1000);
  }

  const read = seedInviteToken.parse(await getInviteLink(env.deps, userId, link.secret));
  expect(read.users?.map((user) => user.id)).toEqual(joined.map((user) => user.id));
  for (const user of read.users ?? []) {
    expect(Number.isInteger(user.id)).toBe(true);
    expect(user.rootRole).toBe(3);
  }
  expect(read.users?.map((user) => user.username)).toEqual(["user-one", "user-two", "user-three"]);
  expect(read.users?.map((user) => user.email)).toEqual(["one@example.com", "two@example.com", "three@example.com"]);
});

test("a link reads as enabled until the clock reaches its expiresAt, and disabled from then on", async ({ env }) => {
  const { userId, link } = await linkToNewOrg(env, HOUR);
  expect(link.enabled).toBe(true);

  env.clock.advance(HOUR - 1);
  expect((await getInviteLink(env.deps, userId, link.secret)).enabled).toBe(true);

  env.clock.advance(1);
  const expired = seedInviteToken.parse(await getInviteLink(env.deps, userId, link.secret));
  expect(expired.enabled).toBe(false);
  expect(expired.expiresAt).toBe(link.expiresAt);
});

test("a link disabled in the db reads as disabled and cannot be redeemed", async ({ env }) => {
  const { userId, link } = await linkToNewOrg(env);
  await env.deps.db.transact(async (tx) => {
    await tx.update(tx.tables.inviteLinks).set({ enabled: false });
  });

  expect((await getInviteLink(env.deps, userId, link.secret)).enabled).toBe(false);
  await expect(
    redeemInvite(env.deps, { token: link.secret, email: "x@example.com", name: "X", password: GOOD_PASSWORD }),
  ).rejects.toMatchObject({ code: "bad_request" });
});

test("inviteSecretFrom takes the secret out of an invite URL, and leaves a bare secret alone", () => {
  expect(inviteSecretFrom("abc_DEF-123")).toBe("abc_DEF-123");
  expect(inviteSecretFrom("  abc_DEF-123 \n")).toBe("abc_DEF-123");
  expect(inviteSecretFrom("http://onboard.test/new-user?invite=abc_DEF-123")).toBe("abc_DEF-123");
  expect(inviteSecretFrom("https://onboard.example/new-user?invite=abc_DEF-123&utm=x")).toBe("abc_DEF-123");
  expect(inviteSecretFrom("http://localhost:4242/invite-link/abc_DEF-123")).toBe("abc_DEF-123");
});

test("an organization's links are listed for its admins with their URL, state and who joined", async ({ env }) => {
  const { userId, orgName, link } = await linkToNewOrg(env);
  await redeemInvite(env.deps, { token: link.secret, email: "joiner@example.com", name: "Joiner", username: "joiner", password: GOOD_PASSWORD });
  const listed = await listInviteLinks(env.deps, userId, orgName, 1);
  expect(listed.items).toEqual([
    expect.objectContaining({ name: "Team", url: link.url, enabled: true, usable: true, joined: [expect.objectContaining({ login: "joiner" })] }),
  ]);
});

test("a link's secret is kept sealed, never in plain text, and only this database's key opens it", async ({ env }) => {
  const { link } = await linkToNewOrg(env);
  const dump = JSON.stringify(await env.store.query("SELECT * FROM invite_links"));
  expect(dump).not.toContain(link.secret);
  const [{ secret_sealed: sealed }] = (await env.store.query("SELECT secret_sealed FROM invite_links")) as [{ secret_sealed: string }];
  expect(await openSealed(env.deps.db, sealed)).toBe(link.secret);
  const other = await createTestEnv();
  try {
    expect(await openSealed(other.deps.db, sealed)).toBeUndefined();
  } finally {
    await other.close();
  }
});

test("disabling, enabling and extending a link by its id follow Unleash's rules, as the PUT by secret does", async ({ env }) => {
  const { userId, orgName, link } = await linkToNewOrg(env, HOUR);
  const { id } = (await listInviteLinks(env.deps, userId, orgName, 1)).items[0]!;
  expect(await updateInviteLinkById(env.deps, userId, orgName, id, { enabled: false })).toMatchObject({ enabled: false, usable: false });
  await expect(redeemInvite(env.deps, { token: link.secret, email: "late@example.com", name: "Late", password: GOOD_PASSWORD })).rejects.toThrow(/not valid/);
  await updateInviteLinkById(env.deps, userId, orgName, id, { enabled: true });
  // A year ahead is moved back to one month, as Unleash clamps it.
  const extended = await updateInviteLinkById(env.deps, userId, orgName, id, { expiresAt: new Date(env.clock.now().getTime() + 365 * 24 * HOUR).toISOString() });
  expect(extended.expiresAt.getTime() - env.clock.now().getTime()).toBeLessThanOrEqual(31 * 24 * HOUR);
  expect(extended.expiresAt.getTime() - env.clock.now().getTime()).toBeGreaterThan(27 * 24 * HOUR);
  expect(await getInviteLink(env.deps, userId, link.secret)).toMatchObject({ enabled: true, expiresAt: extended.expiresAt.toISOString() });
});

test("a link of another organization, or an unknown id, is not found; a non-admin sees no links", async ({ env }) => {
  const first = await linkToNewOrg(env);
  const second = await linkToNewOrg(env);
  const { id } = (await listInviteLinks(env.deps, second.userId, second.orgName, 1)).items[0]!;
  await expect(updateInviteLinkById(env.deps, first.userId, first.orgName, id, { enabled: false })).rejects.toThrow(/No invite link with that id/);
  await expect(updateInviteLinkById(env.deps, first.userId, first.orgName, Number.NaN, { enabled: false })).rejects.toThrow(/No invite link with that id/);
  await redeemInvite(env.deps, { token: first.link.secret, email: "viewer@example.com", name: "Viewer", password: GOOD_PASSWORD });
  const { users } = env.deps.db.tables;
  const [viewer] = await env.deps.db.select({ id: users.id }).from(users).where(eq(users.email, "viewer@example.com"));
  await expect(listInviteLinks(env.deps, viewer!.id, first.orgName, 1)).rejects.toThrow(/Only an admin/);
  expect(await getInviteLink(env.deps, second.userId, second.link.secret)).toMatchObject({ enabled: true });
});
