import { eq } from "drizzle-orm";
import { agentSignup, getCurrentUser } from "../../src/services/accounts.js";
import { updateProfile } from "../../src/services/profile.js";
import { expect, test, type TestEnv } from "../fixture.js";

async function account(env: TestEnv) {
  const signup = await agentSignup(env.deps, { agentName: "Builder" });
  const [row] = await env.deps.db.select({ id: env.deps.db.tables.users.id }).from(env.deps.db.tables.users).where(eq(env.deps.db.tables.users.uid, signup.userInfo.id));
  return row!.id;
}

test("a new name and picture show in GET /api/user's name and avatarUrl; an empty picture brings back the identicon", async ({ env }) => {
  const userId = await account(env);
  const identicon = (await getCurrentUser(env.deps, userId)).avatarUrl;
  await updateProfile(env.deps, userId, { name: "  Grace Hopper ", avatarUrl: "https://example.com/grace.png" });
  expect(await getCurrentUser(env.deps, userId)).toMatchObject({ name: "Grace Hopper", avatarUrl: "https://example.com/grace.png" });
  await updateProfile(env.deps, userId, { name: "Grace Hopper", avatarUrl: "" });
  expect((await getCurrentUser(env.deps, userId)).avatarUrl).toBe(identicon);
});

test.for([
  [{ name: "", avatarUrl: "" }, /may not be empty/],
  [{ name: "x".repeat(256), avatarUrl: "" }, /at most 255/],
  [{ name: "Grace", avatarUrl: "http://example.com/a.png" }, /https:\/\//],
  [{ name: "Grace", avatarUrl: "javascript:alert(1)" }, /https:\/\//],
] as const)("a profile %o is refused with what to change, and nothing changes", async ([input, message], { env }) => {
  const userId = await account(env);
  const before = await getCurrentUser(env.deps, userId);
  await expect(updateProfile(env.deps, userId, input)).rejects.toThrow(message);
  expect(await getCurrentUser(env.deps, userId)).toMatchObject({ name: before.name, avatarUrl: before.avatarUrl });
});
