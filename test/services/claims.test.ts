import { asc, eq } from "drizzle-orm";
import { describe } from "vitest";
import { openStore } from "../../db/client.js";
import { agentSignup } from "../../src/services/accounts.js";
import { claimAccount, type ClaimInput, getClaimStatus, previewClaim } from "../../src/services/claims.js";
import type { Deps } from "../../src/services/deps.js";
import { verifyPassword } from "../../src/services/passwords.js";
import { createStack, listStacks } from "../../src/services/stacks.js";
import { authenticate } from "../../src/services/tokens.js";
import { countRows, DAY, expect, HOUR, test, type TestEnv } from "../fixture.js";

const human = { username: "ada-lovelace", email: "Ada.Lovelace@Example.COM", password: "Analytical#Engine1843" };

/** The row id of the user with this uid. */
async function idOf(env: TestEnv, uid: string): Promise<number> {
  const { users } = env.deps.db.tables;
  const [row] = await env.deps.db.select({ id: users.id }).from(users).where(eq(users.uid, uid));
  return row!.id;
}

/** An agent account as agent_signup makes it, with its row id. */
async function agent(env: TestEnv, agentName = "Claim tester") {
  const signup = await agentSignup(env.deps, { agentName });
  return { ...signup, userId: await idOf(env, signup.userInfo.id) };
}

const claimInput = (claimToken: string, overrides: Partial<ClaimInput> = {}): ClaimInput => ({
  claimToken,
  ...human,
  keepAgentAccess: true,
  ...overrides,
});

/** Everything a claim may change, straight from the tables. */
async function snapshot(env: TestEnv) {
  const { db } = env.deps;
  const { accessTokens, claimTokens, memberships, users } = db.tables;
  return {
    users: await db.select().from(users).orderBy(asc(users.id)),
    claimTokens: await db.select().from(claimTokens).orderBy(asc(claimTokens.id)),
    accessTokens: await db.select().from(accessTokens).orderBy(asc(accessTokens.jti)),
    memberships: await db.select().from(memberships).orderBy(asc(memberships.userId), asc(memberships.orgId)),
  };
}

async function userRow(env: TestEnv, userId: number) {
  const { users } = env.deps.db.tables;
  const [row] = await env.deps.db.select().from(users).where(eq(users.id, userId));
  return row!;
}

/** The consumedAt of every claim token. */
async function consumedAts(env: TestEnv) {
  const { claimTokens } = env.deps.db.tables;
  return env.deps.db.select({ consumedAt: claimTokens.consumedAt }).from(claimTokens);
}

describe("claimAccount", () => {
  test("turns the agent account into the human's: same id, organizations and stacks", async ({ env }) => {
    const signup = await agent(env);
    const stack = await createStack(env.deps, signup.userId, { projectName: "web", stackName: "prod", tags: { env: "prod" } });
    env.clock.advance(3 * HOUR);

    const result = await claimAccount(env.deps, claimInput(signup.claimToken));
    expect(result).toEqual({ userId: signup.userId, login: human.username, claimedAt: env.clock.now() });

    const row = await userRow(env, signup.userId);
    expect(row).toMatchObject({
      uid: signup.userInfo.id,
      login: "ada-lovelace",
      email: "ada.lovelace@example.com",
      isAgent: false,
      claimedAt: env.clock.now(),
    });
    expect(await verifyPassword(human.password, row.passwordHash!)).toBe(true);
    expect(await verifyPassword("Wrong#Password99", row.passwordHash!)).toBe(false);

    const { memberships, organizations } = env.deps.db.tables;
    const orgs = await env.deps.db
      .select({ name: organizations.name, role: memberships.role })
      .from(memberships)
      .innerJoin(organizations, eq(organizations.id, memberships.orgId))
      .where(eq(memberships.userId, signup.userId));
    expect(orgs).toEqual([{ name: signup.userInfo.organizations[0]!.name, role: "admin" }]);
    expect((await listStacks(env.deps, signup.userId, {})).stacks).toEqual([stack]);
    expect(await countRows(env, "users")).toBe(1);
  });

  test("the password is stored only as a hash", async ({ env }) => {
    const signup = await agent(env);
    await claimAccount(env.deps, claimInput(signup.claimToken));
    const row = await userRow(env, signup.userId);
    expect(row.passwordHash).toEqual(expect.any(String));
    expect(row.passwordHash).not.toContain(human.password);
  });

  test("keeping the agent's access leaves its token working until its own expiry", async ({ env }) => {
    const signup = await agent(env);
    await claimAccount(env.deps, claimInput(signup.claimToken, { keepAgentAccess: true }));
    const caller = await authenticate(env.deps, signup.accessToken);
    expect(caller.revokedByClaim).toBe(false);
    expect(caller.user.isAgent).toBe(false);
    expect(await getClaimStatus(env.deps, signup.userId)).toMatchObject({ claimed: true, claimedBy: human.username, agentAccessKept: true });
  });

  test("ending the agent's access revokes its token at the claim", async ({ env }) => {
    const signup = await agent(env);
    await claimAccount(env.deps, claimInput(signup.claimToken, { keepAgentAccess: false }));
    expect((await authenticate(env.deps, signup.accessToken)).revokedByClaim).toBe(true);
    const { accessTokens } = env.deps.db.tables;
    const tokens = await env.deps.db
      .select({ revokedAt: accessTokens.revokedAt, revokedReason: accessTokens.revokedReason })
      .from(accessTokens)
      .where(eq(accessTokens.userId, signup.userId));
    expect(tokens).toEqual([{ revokedAt: env.clock.now(), revokedReason: "claimed" }]);
    expect(await getClaimStatus(env.deps, signup.userId)).toMatchObject({ claimed: true, agentAccessKept: false });
  });

  test("a claim token works once: the second claim is a conflict and changes nothing", async ({ env }) => {
    const signup = await agent(env);
    await claimAccount(env.deps, claimInput(signup.claimToken));
    const before = await snapshot(env);
    env.clock.advance(HOUR);
    await expect(
      claimAccount(env.deps, claimInput(signup.claimToken, { username: "intruder", email: "intruder@example.com", keepAgentAccess: false })),
    ).rejects.toMatchObject({ code: "conflict", message: expect.stringMatching(/already been claimed/) });
    expect(await snapshot(env)).toEqual(before);
  });

  test("a claim token still works 1 ms before 30 days", async ({ env }) => {
    const signup = await agent(env);
    env.clock.advance(30 * DAY - 1);
    await expect(claimAccount(env.deps, claimInput(signup.claimToken))).resolves.toMatchObject({ userId: signup.userId });
  });

  test("a claim 30 days after signup is gone and changes nothing", async ({ env }) => {
    const signup = await agent(env);
    env.clock.advance(30 * DAY);
    const before = await snapshot(env);
    await expect(claimAccount(env.deps, claimInput(signup.claimToken))).rejects.toMatchObject({
      code: "gone",
      message: expect.stringMatching(/expired/),
    });
    expect(await snapshot(env)).toEqual(before);
  });

  test("an unknown claim token is not_found", async ({ env }) => {
    const signup = await agent(env);
    const before = await snapshot(env);
    await expect(claimAccount(env.deps, claimInput(`${signup.claimToken}x`))).rejects.toMatchObject({ code: "not_found" });
    await expect(claimAccount(env.deps, claimInput(""))).rejects.toMatchObject({ code: "not_found" });
    expect(await snapshot(env)).toEqual(before);
  });

  test.for<[string, Partial<ClaimInput>, string, RegExp]>([
    ["a too short username", { username: "ab" }, "username", /3–39 characters/],
    ["a username with a space", { username: "ada lovelace" }, "username", /letters, digits/],
    ["a username starting with '-'", { username: "-ada" }, "username", /starting with a letter or digit/],
    ["an email without @", { email: "ada.example.com" }, "email", /valid email/],
    ["a password under 10 characters", { password: "Sh0rt#pw" }, "password", /at least 10 characters/],
    ["a password over 128 characters", { password: `Aa1#${"xy".repeat(63)}` }, "password", /at most 128 characters/],
    ["a password with a triple repeat", { password: "Paaassword#123" }, "password", /three repeating characters/],
    ["a password without uppercase", { password: "analytical#engine1" }, "password", /uppercase/],
    ["a password without lowercase", { password: "ANALYTICAL#ENGINE1" }, "password", /lowercase/],
    ["a password without a number", { password: "Analytical#Engine" }, "password", /number/],
    ["a password without a symbol", { password: "AnalyticalEngine1843" }, "password", /symbol/],
  ])("%s is a validation error naming the rule, and the token stays usable", async ([, bad, field, rule], { env }) => {
    const signup = await agent(env);
    const before = await snapshot(env);
    await expect(claimAccount(env.deps, claimInput(signup.claimToken, bad))).rejects.toMatchObject({
      code: "validation",
      message: expect.stringMatching(rule),
      details: { field },
    });
    expect(await snapshot(env)).toEqual(before);
    await expect(claimAccount(env.deps, claimInput(signup.claimToken))).resolves.toMatchObject({ login: human.username });
  });

  test("a username another user has (in any case) is a conflict, and the token stays usable", async ({ env }) => {
    const first = await agent(env);
    const second = await agent(env);
    await claimAccount(env.deps, claimInput(first.claimToken));
    const before = await snapshot(env);
    await expect(
      claimAccount(env.deps, claimInput(second.claimToken, { username: "ADA-Lovelace", email: "other@example.com" })),
    ).rejects.toMatchObject({ code: "conflict", message: expect.stringMatching(/username/) });
    expect(await snapshot(env)).toEqual(before);
    await expect(
      claimAccount(env.deps, claimInput(second.claimToken, { username: "charles", email: "other@example.com" })),
    ).resolves.toMatchObject({ login: "charles" });
  });

  test("another account's organization name cannot be taken as a username, even once that account's login changed", async ({ env }) => {
    const first = await agent(env);
    const second = await agent(env);
    const firstOrg = first.userInfo.organizations[0]!.name;
    await claimAccount(env.deps, claimInput(first.claimToken)); // its login is now ada-lovelace; its organization keeps its name
    const before = await snapshot(env);
    await expect(
      claimAccount(env.deps, claimInput(second.claimToken, { username: firstOrg.toUpperCase(), email: "other@example.com" })),
    ).rejects.toMatchObject({ code: "conflict", message: expect.stringMatching(/username .* is already taken/) });
    expect(await snapshot(env)).toEqual(before);
  });

  test("an admin may take the name of its own organization as its username", async ({ env }) => {
    const first = await agent(env);
    const ownOrg = first.userInfo.organizations[0]!.name;
    await expect(claimAccount(env.deps, claimInput(first.claimToken, { username: ownOrg }))).resolves.toMatchObject({ login: ownOrg });
  });

  test("the name the human gives replaces the agent's display name; left empty, the agent's stays", async ({ env }) => {
    const named = await agent(env, "Release helper");
    await claimAccount(env.deps, claimInput(named.claimToken, { name: "  Ada Lovelace " }));
    expect((await userRow(env, named.userId)).name).toBe("Ada Lovelace");
    const unnamed = await agent(env, "Release helper");
    await claimAccount(env.deps, claimInput(unnamed.claimToken, { username: "charles", email: "charles@example.com", name: "" }));
    expect((await userRow(env, unnamed.userId)).name).toBe("Release helper");
  });

  test("another agent's generated login cannot be taken as a username", async ({ env }) => {
    const first = await agent(env);
    const second = await agent(env);
    await expect(
      claimAccount(env.deps, claimInput(second.claimToken, { username: first.userInfo.githubLogin })),
    ).rejects.toMatchObject({ code: "conflict" });
  });

  test("an email another user has confirmed (in any case) is a conflict, and the token stays usable", async ({ env }) => {
    const first = await agent(env);
    const second = await agent(env);
    await claimAccount(env.deps, claimInput(first.claimToken));
    await env.deps.db.transact((tx) => tx.update(tx.tables.users).set({ emailVerifiedAt: env.clock.now() }).where(eq(tx.tables.users.id, first.userId)));
    const before = await snapshot(env);
    await expect(
      claimAccount(env.deps, claimInput(second.claimToken, { username: "charles", email: "ADA.LOVELACE@example.com" })),
    ).rejects.toMatchObject({ code: "conflict", message: expect.stringMatching(/email/) });
    expect(await snapshot(env)).toEqual(before);
    await expect(
      claimAccount(env.deps, claimInput(second.claimToken, { username: "charles", email: "charles@example.com" })),
    ).resolves.toMatchObject({ login: "charles" });
  });

  test("20 concurrent claims of one token: exactly one wins and the account is the winner's", async ({ env }) => {
    const signup = await agent(env);
    const attempts = Array.from({ length: 20 }, (_, i) =>
      claimInput(signup.claimToken, { username: `human-${i}`, email: `human-${i}@example.com`, password: `Claimer#${i}Pass-word` }),
    );
    const results = await Promise.allSettled(attempts.map((input) => claimAccount(env.deps, input)));

    const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
    expect(won).toHaveLength(1);
    for (const r of results) {
      if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "conflict" });
    }
    const winner = attempts[won[0]!]!;
    const row = await userRow(env, signup.userId);
    expect(row).toMatchObject({ login: winner.username, email: winner.email, isAgent: false });
    expect(await verifyPassword(winner.password, row.passwordHash!)).toBe(true);
    expect(await getClaimStatus(env.deps, signup.userId)).toMatchObject({ claimed: true, claimedBy: winner.username });
    expect(await countRows(env, "users")).toBe(1);
  });

  test("a second claim while the first one hashes is refused before it hashes, and says to wait; the first then wins", async ({ env }) => {
    const signup = await agent(env);
    const first = claimAccount(env.deps, claimInput(signup.claimToken, { username: "first-human", email: "first@example.com" }));
    const { claimTokens } = env.deps.db.tables;
    await expect.poll(async () => (await env.deps.db.select().from(claimTokens).where(eq(claimTokens.userId, signup.userId)))[0]!.claimingUntil).not.toBeNull();
    await expect(claimAccount(env.deps, claimInput(signup.claimToken, { username: "second-human", email: "second@example.com" }))).rejects.toMatchObject({
      code: "conflict",
      message: expect.stringMatching(/being claimed in another window right now\. Wait a few seconds/),
    });
    expect(await first).toMatchObject({ login: "first-human" });
    expect((await userRow(env, signup.userId)).login).toBe("first-human");
  });

  test("a refused claim (its username is taken) holds the link for nobody: the next try goes through at once", async ({ env }) => {
    const signup = await agent(env);
    const other = await agent(env, "Other");
    await claimAccount(env.deps, claimInput(other.claimToken, { username: "taken-name", email: "taken@example.com" }));
    await expect(claimAccount(env.deps, claimInput(signup.claimToken, { username: "taken-name", email: "mine@example.com" }))).rejects.toMatchObject({ code: "conflict" });
    expect(await claimAccount(env.deps, claimInput(signup.claimToken, { username: "free-name", email: "mine@example.com" }))).toMatchObject({ login: "free-name" });
  });

  test("concurrent claims from two processes on the same db still have a single winner", async ({ env }) => {
    const signup = await agent(env);
    const other = await openStore(env.database.settings);
    try {
      const otherDeps: Deps = { ...env.deps, db: other.db };
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          claimAccount(i % 2 ? otherDeps : env.deps, claimInput(signup.claimToken, { username: `human-${i}`, email: `h${i}@example.com` })),
        ),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      expect(results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(
        Array(9).fill("conflict"),
      );
    } finally {
      await other.close();
    }
  });
});

describe("previewClaim (what the claim page shows)", () => {
  test("shows a claimable token without consuming it, however often it is called", async ({ env }) => {
    const signup = await agent(env);
    for (let i = 0; i < 3; i++) {
      expect(await previewClaim(env.deps, signup.claimToken)).toMatchObject({
        state: "claimable",
        expiresAt: new Date(signup.claimTokenValidUntil),
        claimedAt: null,
      });
    }
    expect(await consumedAts(env)).toEqual([{ consumedAt: null }]);
    expect((await getClaimStatus(env.deps, signup.userId)).claimed).toBe(false);
    await expect(claimAccount(env.deps, claimInput(signup.claimToken))).resolves.toMatchObject({ userId: signup.userId });
  });

  test("shows the agent's name, model, organization and stacks the human is about to own", async ({ env }) => {
    const signup = await agentSignup(env.deps, { agentName: "Release helper", agentModel: "claude-sonnet-4" });
    const id = await idOf(env, signup.userInfo.id);
    const org = signup.userInfo.organizations[0]!.name;
    await createStack(env.deps, id, { projectName: "web", stackName: "dev" });
    expect(await previewClaim(env.deps, signup.claimToken)).toMatchObject({
      agentName: "Release helper",
      agentModel: "claude-sonnet-4",
      organizations: [org],
      stacks: [`${org}/web/dev`],
      stackCount: 1,
    });
  });

  test("says claimed after a claim, with when", async ({ env }) => {
    const signup = await agent(env);
    await claimAccount(env.deps, claimInput(signup.claimToken));
    expect(await previewClaim(env.deps, signup.claimToken)).toMatchObject({ state: "claimed", claimedAt: env.clock.now() });
  });

  test("says expired once the 30 days are over, and still consumes nothing", async ({ env }) => {
    const signup = await agent(env);
    env.clock.advance(30 * DAY);
    expect(await previewClaim(env.deps, signup.claimToken)).toMatchObject({ state: "expired", claimedAt: null });
    expect(await consumedAts(env)).toEqual([{ consumedAt: null }]);
  });

  test("an unknown token is not_found", async ({ env }) => {
    await agent(env);
    await expect(previewClaim(env.deps, "no-such-token")).rejects.toMatchObject({ code: "not_found" });
  });
});
