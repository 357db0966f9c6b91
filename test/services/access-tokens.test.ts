import { createPersonalToken, listAccessTokens, revokeAccessToken } from "../../src/services/access-tokens.js";
import { authenticate } from "../../src/services/tokens.js";
import { claimedAccount, DAY, expect, ok, signUp, test } from "../fixture.js";

test("a personal access token acts as the human, lasts the days chosen, and is listed without its value", async ({ env }) => {
  const { user } = await claimedAccount(env);
  const created = await createPersonalToken(env.deps, user, { description: "laptop CLI", expiresInDays: 30 });
  expect(created.expiresAt.getTime() - env.clock.now().getTime()).toBe(30 * DAY);
  expect(await ok(await env.connect(created.token), "get_current_user")).toMatchObject({ githubLogin: "grace" });

  const [listed] = await listAccessTokens(env.deps, user.id, "personal");
  expect(listed).toMatchObject({ id: created.id, description: "laptop CLI", state: "active" });
  expect(JSON.stringify(listed)).not.toContain(created.token);
  expect(listed!.lastUsedAt?.toISOString()).toBe(env.clock.now().toISOString());
});

test("a revoked personal access token stops working at once", async ({ env }) => {
  const { user } = await claimedAccount(env);
  const created = await createPersonalToken(env.deps, user, { description: "script", expiresInDays: 7 });
  await revokeAccessToken(env.deps, user.id, created.id);
  await expect(authenticate(env.deps, created.token)).rejects.toThrow(/revoked/);
});

test("another account's token cannot be revoked, and answers as one that does not exist", async ({ env }) => {
  const { user } = await claimedAccount(env);
  const other = await signUp(env, { agentName: "Other" });
  const otherUser = (await authenticate(env.deps, other.token)).user;
  const [otherToken] = await listAccessTokens(env.deps, otherUser.id);
  await expect(revokeAccessToken(env.deps, user.id, otherToken!.id)).rejects.toThrow(/No such token on your account/);
  await expect(revokeAccessToken(env.deps, user.id, "no-such-id")).rejects.toThrow(/No such token on your account/);
  expect(await ok(other.client, "get_current_user")).toMatchObject({ isAgent: true });
});

test.for([
  [{ description: "", expiresInDays: 30 }, /Say what the token is for/],
  [{ description: "x", expiresInDays: 0 }, /at least one day/],
  [{ description: "x", expiresInDays: 400 }, /at most 365 days/],
  [{ description: "x", expiresInDays: "soon" }, /how many days/],
] as const)("a personal token %o is refused with what to change, and nothing is stored", async ([input, message], { env }) => {
  const { user } = await claimedAccount(env);
  await expect(createPersonalToken(env.deps, user, input as never)).rejects.toThrow(message);
  expect(await listAccessTokens(env.deps, user.id, "personal")).toEqual([]);
});
