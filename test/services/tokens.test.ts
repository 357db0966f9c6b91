import { randomUUID } from "node:crypto";
import { decodeJwt, SignJWT } from "jose";
import { eq } from "drizzle-orm";
import { describe } from "vitest";
import { openStore } from "../../db/client.js";
import { agentSignup } from "../../src/services/accounts.js";
import type { Deps } from "../../src/services/deps.js";
import { authenticate, signingKey } from "../../src/services/tokens.js";
import { createTestEnv, DAY, expect, HOUR, test, type TestEnv } from "../fixture.js";

const signUpAgent = (env: TestEnv) => agentSignup(env.deps, { agentName: "Token tester" });

/** Revokes the token's row as of now; how many rows that changed. */
const revoke = (env: TestEnv, token: string, reason: "claimed" | null) =>
  env.deps.db.transact(async (tx) => {
    const { accessTokens } = tx.tables;
    const changed = await tx
      .update(accessTokens)
      .set({ revokedAt: env.clock.now(), revokedReason: reason })
      .where(eq(accessTokens.jti, decodeJwt(token).jti!))
      .returning({ jti: accessTokens.jti });
    return changed.length;
  });

describe("authenticate", () => {
  test("a fresh access token speaks for the user it was issued to", async ({ env }) => {
    const signup = await signUpAgent(env);
    const caller = await authenticate(env.deps, signup.accessToken);
    expect(caller.user.uid).toBe(signup.userInfo.id);
    expect(caller.jti).toBe(decodeJwt(signup.accessToken).jti);
    expect(caller.revokedByClaim).toBe(false);
  });

  test("an access token works 1 ms before its 72-hour lifetime ends and is expired exactly at it", async ({ env }) => {
    const signup = await signUpAgent(env);
    env.clock.advance(72 * HOUR - 1);
    await expect(authenticate(env.deps, signup.accessToken)).resolves.toMatchObject({ user: { uid: signup.userInfo.id } });
    env.clock.advance(1);
    await expect(authenticate(env.deps, signup.accessToken)).rejects.toMatchObject({
      code: "unauthenticated",
      message: expect.stringMatching(/expired at 2026-03-04T12:00:00\.000Z.*agent_signup/s),
    });
  });

  test("a token issued mid-second expires at its exact accessTokenValidUntil, and the message names that time", async ({ env }) => {
    env.clock.advance(250);
    const signup = await signUpAgent(env);
    const ttl = new Date(signup.accessTokenValidUntil).getTime() - env.clock.now().getTime();
    expect(ttl).toBe(72 * HOUR);
    env.clock.advance(ttl - 1);
    await expect(authenticate(env.deps, signup.accessToken)).resolves.toBeDefined();
    env.clock.advance(1);
    await expect(authenticate(env.deps, signup.accessToken)).rejects.toMatchObject({
      message: expect.stringContaining(`expired at ${signup.accessTokenValidUntil}`),
    });
  });

  test("a configured lifetime is the one enforced", async () => {
    const env = await createTestEnv({ accessTokenTtlMs: 90 * 60_000 });
    try {
      const signup = await signUpAgent(env);
      env.clock.advance(90 * 60_000 - 1);
      await expect(authenticate(env.deps, signup.accessToken)).resolves.toBeDefined();
      env.clock.advance(1);
      await expect(authenticate(env.deps, signup.accessToken)).rejects.toMatchObject({
        code: "unauthenticated",
        message: expect.stringMatching(/expired/),
      });
    } finally {
      await env.close();
    }
  });

  test("a long configured lifetime keeps the token working past the default 72 hours", async () => {
    const env = await createTestEnv({ accessTokenTtlMs: 10 * DAY });
    try {
      const signup = await signUpAgent(env);
      env.clock.advance(10 * DAY - 1);
      await expect(authenticate(env.deps, signup.accessToken)).resolves.toBeDefined();
    } finally {
      await env.close();
    }
  });

  test("a revoked token is refused with a message saying it was revoked", async ({ env }) => {
    const signup = await signUpAgent(env);
    expect(await revoke(env, signup.accessToken, null)).toBe(1);
    await expect(authenticate(env.deps, signup.accessToken)).rejects.toMatchObject({
      code: "unauthenticated",
      message: expect.stringMatching(/revoked/),
    });
  });

  test("revoking one token leaves the user's other tokens working", async ({ env }) => {
    const first = await signUpAgent(env);
    const second = await signUpAgent(env);
    await revoke(env, first.accessToken, null);
    await expect(authenticate(env.deps, second.accessToken)).resolves.toMatchObject({ user: { uid: second.userInfo.id } });
  });

  test("a token ended by a claim still authenticates, marked revokedByClaim", async ({ env }) => {
    const signup = await signUpAgent(env);
    await revoke(env, signup.accessToken, "claimed");
    const caller = await authenticate(env.deps, signup.accessToken);
    expect(caller.revokedByClaim).toBe(true);
    expect(caller.user.uid).toBe(signup.userInfo.id);
  });

  test("a correctly signed token whose jti the db does not know is refused", async ({ env }) => {
    const signup = await signUpAgent(env);
    const claims = decodeJwt(signup.accessToken);
    const unknown = await new SignJWT({ ...claims, jti: randomUUID() })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(await signingKey(env.deps.db));
    await expect(authenticate(env.deps, unknown)).rejects.toMatchObject({
      code: "unauthenticated",
      message: expect.stringMatching(/not valid/),
    });
  });

  test("a correctly signed token whose subject is another user than its jti's is refused", async ({ env }) => {
    const victim = await signUpAgent(env);
    const attacker = await signUpAgent(env);
    const claims = decodeJwt(attacker.accessToken);
    const swapped = await new SignJWT({ ...claims, sub: victim.userInfo.id })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(await signingKey(env.deps.db));
    await expect(authenticate(env.deps, swapped)).rejects.toMatchObject({ code: "unauthenticated" });
  });

  test("a token issued by another server (another db) is refused", async ({ env }) => {
    const other = await createTestEnv();
    try {
      const foreign = await agentSignup(other.deps, {});
      await expect(authenticate(env.deps, foreign.accessToken)).rejects.toMatchObject({
        code: "unauthenticated",
        message: expect.stringMatching(/not valid/),
      });
    } finally {
      await other.close();
    }
  });

  test("another process on the same db accepts the token (the signing key lives in the db)", async ({ env }) => {
    const signup = await signUpAgent(env);
    const second = await openStore(env.database.settings);
    try {
      const deps: Deps = { ...env.deps, db: second.db };
      await expect(authenticate(deps, signup.accessToken)).resolves.toMatchObject({ user: { uid: signup.userInfo.id } });
    } finally {
      await second.close();
    }
  });

  test("a token revoked through another instance is refused here at once, though this one verified it before", async ({ env }) => {
    const signup = await signUpAgent(env);
    await authenticate(env.deps, signup.accessToken); // now in this instance's verified-token cache
    const other = await openStore(env.database.settings);
    try {
      await other.db.transact(async (tx) => {
        await tx.update(tx.tables.accessTokens).set({ revokedAt: env.clock.now() });
      });
    } finally {
      await other.close();
    }
    await expect(authenticate(env.deps, signup.accessToken)).rejects.toThrow(/has been revoked/);
  });
});
