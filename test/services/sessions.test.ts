import { claimAccount } from "../../src/services/claims.js";
import { sessionFor, signIn, signOut } from "../../src/services/sessions.js";
import { hashSecret } from "../../src/services/secrets.js";
import { countRows, DAY, expect, HOUR, ok, signUp, test, type TestEnv } from "../fixture.js";

const PASSWORD = "Correct-Horse-9";
const ADDRESS = "203.0.113.7";

/** An agent account claimed by a human "grace" <grace@example.com>. */
async function claimed(env: TestEnv) {
  const { client, claimToken } = await signUp(env, { agentName: "Builder" });
  await claimAccount(env.deps, { claimToken, username: "grace", email: "grace@example.com", password: PASSWORD, keepAgentAccess: true });
  return client;
}

const attempt = (env: TestEnv, identifier: string, password: string, addressBucket = ADDRESS) =>
  signIn(env.deps, { identifier, password, addressBucket });

const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (error: Error) => error);

test("a human signs in with the username or the email, in any case, and gets a session of their own", async ({ env }) => {
  await claimed(env);
  const byName = await attempt(env, "Grace", PASSWORD);
  const byEmail = await attempt(env, "GRACE@example.com", PASSWORD);
  expect(byName.user.login).toBe("grace");
  expect(byEmail.user.id).toBe(byName.user.id);
  expect(byEmail.sessionId).not.toBe(byName.sessionId);
  expect((await sessionFor(env.deps, byName.sessionId))?.user.login).toBe("grace");
});

test("only the session id's hash is stored", async ({ env }) => {
  await claimed(env);
  const { sessionId } = await attempt(env, "grace", PASSWORD);
  const [row] = await env.store.query("SELECT id_hash FROM sessions");
  expect(row!.id_hash).toBe(hashSecret(sessionId));
  const dump = JSON.stringify(await env.store.query("SELECT * FROM sessions"));
  expect(dump).not.toContain(sessionId);
});

test("a wrong password, an unknown name and an agent account without a password all get the same answer", async ({ env }) => {
  await claimed(env);
  await signUp(env, { agentName: "Unclaimed" });
  const answers = await Promise.all([
    refusal(attempt(env, "grace", "Wrong-Horse-9")),
    refusal(attempt(env, "nobody-here", PASSWORD)),
    refusal(attempt(env, "agent-unclaimed", PASSWORD)),
  ]);
  for (const answer of answers) expect(answer?.message).toBe(answers[0]!.message);
  expect(answers[0]?.message).toMatch(/username, email or password is not right/);
  expect(await countRows(env, "sessions")).toBe(0);
});

test("wrong passwords are counted on the account (loginAttempts), and a sign-in resets them and records seenAt", async ({ env }) => {
  await claimed(env);
  await refusal(attempt(env, "grace", "Wrong-Horse-1"));
  await refusal(attempt(env, "grace", "Wrong-Horse-2"));
  const [before] = await env.store.query("SELECT login_attempts, seen_at FROM users WHERE login = 'grace'");
  expect(Number(before!.login_attempts)).toBe(2);
  expect(before!.seen_at).toBeNull();

  const { user } = await attempt(env, "grace", PASSWORD);
  expect(user.loginAttempts).toBe(0);
  expect(user.seenAt?.toISOString()).toBe(env.clock.now().toISOString());
});

test("after five wrong passwords the account waits, even with the right one, and says for how long", async ({ env }) => {
  await claimed(env);
  for (let i = 0; i < 5; i++) await refusal(attempt(env, "grace", `Wrong-Horse-${i}`, `198.51.100.${i}`));
  const locked = await refusal(attempt(env, "grace", PASSWORD, "192.0.2.1"));
  expect(locked?.message).toMatch(/Too many wrong passwords for this account\. Try again in 15 minutes\./);

  env.clock.advance(15 * 60_000);
  expect((await attempt(env, "grace", PASSWORD, "192.0.2.1")).user.login).toBe("grace");
});

test("a locked name answers the same whether or not an account has it", async ({ env }) => {
  await claimed(env);
  for (let i = 0; i < 5; i++) {
    await refusal(attempt(env, "grace", "Wrong-Horse-9", `198.51.100.${i}`));
    await refusal(attempt(env, "ghost", "Wrong-Horse-9", `198.51.100.${i}`));
  }
  const known = await refusal(attempt(env, "grace", "Wrong-Horse-9", "192.0.2.9"));
  const unknown = await refusal(attempt(env, "ghost", "Wrong-Horse-9", "192.0.2.9"));
  expect(known?.message).toMatch(/Too many wrong passwords/);
  expect(unknown?.message).toBe(known?.message);
});

test("one address trying many names is stopped after twenty wrong passwords, before any more hashing", async ({ env }) => {
  await claimed(env);
  for (let i = 0; i < 20; i++) await refusal(attempt(env, `name-${i}`, "Wrong-Horse-9"));
  const stopped = await refusal(attempt(env, "grace", PASSWORD));
  expect(stopped?.message).toMatch(/Too many wrong passwords from your address/);
  // Another address signs in at once.
  expect((await attempt(env, "grace", PASSWORD, "192.0.2.44")).user.login).toBe("grace");
});

test("a session ends after its idle time unused, and at its absolute end however much it is used", async ({ env }) => {
  await claimed(env);
  const idle = await attempt(env, "grace", PASSWORD);
  env.clock.advance(12 * HOUR);
  expect(await sessionFor(env.deps, idle.sessionId)).toBeUndefined();

  const busy = await attempt(env, "grace", PASSWORD);
  for (let hours = 0; hours < 7 * 24 - 6; hours += 6) {
    env.clock.advance(6 * HOUR);
    expect(await sessionFor(env.deps, busy.sessionId), `after ${hours + 6} h`).toBeDefined();
  }
  env.clock.advance(7 * DAY);
  expect(await sessionFor(env.deps, busy.sessionId)).toBeUndefined();
});

test("signing out ends the session on every instance: it is a row, gone", async ({ env }) => {
  await claimed(env);
  const { sessionId } = await attempt(env, "grace", PASSWORD);
  await signOut(env.deps, sessionId);
  expect(await sessionFor(env.deps, sessionId)).toBeUndefined();
  expect(await countRows(env, "sessions")).toBe(0);
});

test("a made-up or empty session id is no session", async ({ env }) => {
  expect(await sessionFor(env.deps, "made-up")).toBeUndefined();
  expect(await sessionFor(env.deps, undefined)).toBeUndefined();
});

test("the agent keeps its own token working beside the human's session", async ({ env }) => {
  const client = await claimed(env);
  await attempt(env, "grace", PASSWORD);
  expect(await ok(client, "get_current_user")).toMatchObject({ githubLogin: "grace" });
});
