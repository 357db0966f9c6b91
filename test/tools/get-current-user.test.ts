import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { decodeJwt, SignJWT } from "jose";
import { describe } from "vitest";
import { expect, fails, HOUR, ok, signUp, test } from "../fixture.js";
import { seedUser } from "../seed-shapes.js";

describe("get_current_user", () => {
  test("without a token it tells the agent to sign up with agent_signup", async ({ env }) => {
    const client = await env.connect();
    const message = await fails(client, "get_current_user");
    expect(message).toMatch(/not signed in/i);
    expect(message).toContain("agent_signup");
  });

  test("answers with Pulumi's User for the signed-in agent", async ({ env }) => {
    const { client, signup } = await signUp(env, { agentName: "Release helper" });
    const me = seedUser.parse(await ok(client, "get_current_user"));
    expect(me).toEqual(signup.userInfo);
    expect(me).toMatchObject({ name: "Release helper", isAgent: true, email: "" });
  });

  test("a session opened with an access token acts as that token's user", async ({ env }) => {
    const first = await signUp(env, { agentName: "First" });
    const second = await signUp(env, { agentName: "Second" });
    const client = await env.connect(first.token);
    const me = seedUser.parse(await ok(client, "get_current_user"));
    expect(me.id).toBe(first.signup.userInfo.id);
    expect(me.id).not.toBe(second.signup.userInfo.id);
    expect(me.name).toBe("First");
  });

  test("an access token still works just before 72 hours after signup", async ({ env }) => {
    const { token, signup } = await signUp(env);
    env.clock.advance(72 * HOUR - 1);
    const me = await ok(await env.connect(token), "get_current_user");
    expect(me.id).toBe(signup.userInfo.id);
  });

  test("an access token stops working 72 hours after signup, with a message saying it expired and what to do", async ({ env }) => {
    const { token, client } = await signUp(env);
    env.clock.advance(72 * HOUR);
    for (const session of [client, await env.connect(token)]) {
      const message = await fails(session, "get_current_user");
      expect(message).toMatch(/expired/i);
      expect(message).toContain("agent_signup");
    }
  });

  test("an access token works until the very millisecond accessTokenValidUntil names, even when issued mid-second", async ({ env }) => {
    env.clock.advance(500);
    const { token, signup } = await signUp(env);
    const validUntil = new Date(signup.accessTokenValidUntil).getTime();
    env.clock.advance(validUntil - env.clock.now().getTime() - 1);
    expect((await ok(await env.connect(token), "get_current_user")).id).toBe(signup.userInfo.id);
    env.clock.advance(1);
    expect(await fails(await env.connect(token), "get_current_user")).toMatch(/expired/i);
  });

  test("a token with the right claims but signed with another key is refused", async ({ env }) => {
    const { token } = await signUp(env);
    const claims = decodeJwt(token);
    const forged = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(randomBytes(32));
    const message = await fails(await env.connect(forged), "get_current_user");
    expect(message).toMatch(/not valid/i);
    expect(message).toContain("agent_signup");
  });

  test("an unsigned token (alg none) with the right claims is refused", async ({ env }) => {
    const { token } = await signUp(env);
    const [, payload] = token.split(".");
    const header = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
    const message = await fails(await env.connect(`${header}.${payload}.`), "get_current_user");
    expect(message).toMatch(/not valid/i);
  });

  test("a garbage token is refused", async ({ env }) => {
    await signUp(env);
    const message = await fails(await env.connect("not-a-token"), "get_current_user");
    expect(message).toMatch(/not valid/i);
    expect(message).toContain("agent_signup");
  });

  test("a token whose jti was revoked in the db is refused, also on the session that signed up", async ({ env }) => {
    const { token, client } = await signUp(env);
    const { jti } = decodeJwt(token);
    const changed = await env.deps.db.transact(async (tx) => {
      const { accessTokens } = tx.tables;
      return tx
        .update(accessTokens)
        .set({ revokedAt: env.clock.now(), revokedReason: null })
        .where(eq(accessTokens.jti, jti!))
        .returning({ jti: accessTokens.jti });
    });
    expect(changed).toEqual([{ jti }]);
    for (const session of [client, await env.connect(token)]) {
      expect(await fails(session, "get_current_user")).toMatch(/revoked/i);
    }
  });

  test("a token whose account was deleted is refused", async ({ env }) => {
    const { token, signup } = await signUp(env);
    await env.deps.db.transact(async (tx) => {
      const { users } = tx.tables;
      await tx.delete(users).where(eq(users.uid, signup.userInfo.id));
    });
    expect(await fails(await env.connect(token), "get_current_user")).toContain("agent_signup");
  });
});
