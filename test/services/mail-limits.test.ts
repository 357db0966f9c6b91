import { eq } from "drizzle-orm";
import { agentSignup } from "../../src/services/accounts.js";
import { claimAccount } from "../../src/services/claims.js";
import { requestEmailChange } from "../../src/services/emails.js";
import { inviteMember } from "../../src/services/org-invites.js";
import { test as base } from "vitest";
import { countRows, createTestEnv, expect, HOUR, HUMAN_PASSWORD, type TestEnv } from "../fixture.js";

const MAILS_PER_SENDER = 20;
const MAILS_PER_RECIPIENT = 5;

/** A server with the default limits (ONBOARD_MAILS_PER_SENDER, ONBOARD_MAILS_PER_RECIPIENT); other tests run without. */
const test = base.extend<{ env: TestEnv }>({
  // biome-ignore lint: vitest fixtures need the destructuring pattern.
  env: async ({}, use) => {
    const env = await createTestEnv({ mailLimits: { perSender: MAILS_PER_SENDER, perRecipient: MAILS_PER_RECIPIENT } });
    await use(env);
    await env.close();
  },
});

async function admin(env: TestEnv, agentName = "Admin") {
  const signup = await agentSignup(env.deps, { agentName });
  const { users } = env.deps.db.tables;
  const [row] = await env.deps.db.select({ id: users.id }).from(users).where(eq(users.uid, signup.userInfo.id));
  return row!.id;
}

const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (error: Error) => error);

test(`one account invites at most ${MAILS_PER_SENDER} addresses an hour; the next invite is refused, stores nothing and sends nothing`, async ({ env }) => {
  const userId = await admin(env);
  for (let i = 0; i < MAILS_PER_SENDER; i++) await inviteMember(env.deps, userId, { email: `person-${i}@example.com` });
  const refused = await refusal(inviteMember(env.deps, userId, { email: "one-too-many@example.com" }));
  expect(refused).toMatchObject({ code: "rate_limited", message: expect.stringMatching(/Your account has sent 20 mails in the last hour.*Nothing was changed or sent; try again in 60 minutes/) });
  expect(await countRows(env, "org_invites")).toBe(MAILS_PER_SENDER);
  expect(env.mail).toHaveLength(MAILS_PER_SENDER);
  env.clock.advance(HOUR + 1);
  await inviteMember(env.deps, userId, { email: "next-hour@example.com" });
  expect(env.mail).toHaveLength(MAILS_PER_SENDER + 1);
});

test(`one address receives at most ${MAILS_PER_RECIPIENT} mails an hour, from however many senders`, async ({ env }) => {
  const senders = [];
  for (let i = 0; i <= MAILS_PER_RECIPIENT; i++) senders.push(await admin(env, `Admin ${i}`));
  for (const sender of senders.slice(0, MAILS_PER_RECIPIENT)) await inviteMember(env.deps, sender, { email: "popular@example.com" });
  const refused = await refusal(inviteMember(env.deps, senders.at(-1)!, { email: "Popular@Example.com" }));
  expect(refused).toMatchObject({ code: "rate_limited", message: expect.stringMatching(/popular@example.com has been sent 5 mails/) });
  expect(env.mail.filter((mail) => mail.to === "popular@example.com")).toHaveLength(MAILS_PER_RECIPIENT);
});

test("change_email confirmation links count too: a flood of address changes stops at the limit, with the pending address unchanged", async ({ env }) => {
  const userId = await admin(env);
  for (let i = 0; i < MAILS_PER_SENDER; i++) await requestEmailChange(env.deps, userId, { email: `me-${i}@example.com` });
  const refused = await refusal(requestEmailChange(env.deps, userId, { email: "me-again@example.com" }));
  expect(refused).toMatchObject({ code: "rate_limited" });
  const { emailVerifications } = env.deps.db.tables;
  const pending = await env.deps.db.select({ email: emailVerifications.email }).from(emailVerifications).where(eq(emailVerifications.userId, userId));
  expect(pending.map((row) => row.email)).not.toContain("me-again@example.com");
});

test("a claim goes through even when its address has had its hour of mail: only the confirmation link stays unsent", async ({ env }) => {
  const flooder = await admin(env, "Flooder");
  for (let i = 0; i < MAILS_PER_RECIPIENT; i++) await inviteMember(env.deps, flooder, { email: "victim@example.com" });
  const signup = await agentSignup(env.deps, { agentName: "Victim's agent" });
  const mails = env.mail.length;
  const claimed = await claimAccount(env.deps, { claimToken: signup.claimToken, username: "victim", email: "victim@example.com", password: HUMAN_PASSWORD, keepAgentAccess: true });
  expect(claimed.login).toBe("victim");
  expect(env.mail).toHaveLength(mails);
  // The human asks for the link again in the next hour.
  env.clock.advance(HOUR + 1);
  await requestEmailChange(env.deps, claimed.userId, { email: "victim@example.com" });
  expect(env.mail.at(-1)).toMatchObject({ to: "victim@example.com" });
});
