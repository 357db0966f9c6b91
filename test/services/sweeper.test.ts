import { eq } from "drizzle-orm";
import { describe } from "vitest";
import { claimAccount, lockUnclaimedAgents } from "../../src/services/claims.js";
import { countRows, createTestEnv, DAY, expect, fails, ok, signUp, test, type TestEnv } from "../fixture.js";

async function lockedAt(env: TestEnv, login: string) {
  const { users } = env.deps.db.tables;
  const [row] = await env.deps.db.select({ lockedAt: users.lockedAt }).from(users).where(eq(users.login, login));
  return row!.lockedAt;
}

describe("lockUnclaimedAgents", () => {
  test("locks an agent nobody claimed once its claim window closes, and keeps its data", async () => {
    // Tokens outliving the claim window show that the lock, not expiry, refuses them.
    const env = await createTestEnv({ accessTokenTtlMs: 60 * DAY });
    try {
      const { client, signup } = await signUp(env, { agentName: "Forgotten" });
      await ok(client, "create_stack", { projectName: "p", stackName: "s" });
      const login = signup.userInfo.githubLogin;

      env.clock.advance(30 * DAY - 1);
      expect(await lockUnclaimedAgents(env.deps)).toBe(0);
      expect(await lockedAt(env, login)).toBeNull();

      env.clock.advance(1);
      expect(await lockUnclaimedAgents(env.deps)).toBe(1);
      expect(await lockedAt(env, login)).toEqual(env.clock.now());
      expect(await countRows(env, "stacks")).toBe(1);
      expect(await countRows(env, "organizations")).toBe(1);

      const text = await fails(client, "get_current_user");
      expect(text).toMatch(/locked .*nobody claimed it.*data is kept.*agent_signup/s);
      await ok(client, "agent_signup");
    } finally {
      await env.close();
    }
  });

  test("leaves claimed agents, humans and accounts still within their window alone, and locks each once", async ({ env }) => {
    const claimed = await signUp(env);
    await claimAccount(env.deps, {
      claimToken: claimed.claimToken,
      username: "owner",
      email: "owner@example.com",
      password: "Str0ng-Passw0rd!",
      keepAgentAccess: true,
    });
    const invite = await ok(claimed.client, "create_invite_link", { name: "n", expiresAt: "2026-03-20T00:00:00Z" });
    await ok(await env.connect(), "redeem_invite", { token: invite.secret, email: "h@example.com", name: "H", password: "Str0ng-Passw0rd!" });
    env.clock.advance(29 * DAY);
    await signUp(env);

    env.clock.advance(2 * DAY);
    expect(await lockUnclaimedAgents(env.deps)).toBe(0);
    env.clock.advance(28 * DAY);
    expect(await lockUnclaimedAgents(env.deps)).toBe(1);
    expect(await lockUnclaimedAgents(env.deps)).toBe(0);
  });
});
