import { asc, eq } from "drizzle-orm";
import { describe } from "vitest";
import { z } from "zod";
import { claimAccount } from "../../src/services/claims.js";
import { verifyEmail } from "../../src/services/emails.js";
import { hashSecret } from "../../src/services/secrets.js";
import { call, DAY, expect, fails, ok, signUp, test, textOf, type TestEnv } from "../fixture.js";

/** Seed 001, GET /api/user/pending-emails: `{email}` and nothing else. */
const seedPendingEmail = z.strictObject({ email: z.string() });

const PASSWORD = "Analytical#Engine1843";

async function userRow(env: TestEnv, uid: string) {
  const { users } = env.deps.db.tables;
  const [user] = await env.deps.db
    .select({ id: users.id, email: users.email, emailVerifiedAt: users.emailVerifiedAt })
    .from(users)
    .where(eq(users.uid, uid));
  return user!;
}

function verifications(env: TestEnv, userId: number) {
  const { emailVerifications } = env.deps.db.tables;
  return env.deps.db
    .select({
      email: emailVerifications.email,
      tokenHash: emailVerifications.tokenHash,
      expiresAt: emailVerifications.expiresAt,
      verifiedAt: emailVerifications.verifiedAt,
      canceledAt: emailVerifications.canceledAt,
    })
    .from(emailVerifications)
    .where(eq(emailVerifications.userId, userId))
    .orderBy(asc(emailVerifications.id));
}

const tokenIn = (text: string) => text.match(/\/verify-email\?token=([A-Za-z0-9_-]+)/)?.[1] ?? "";

/** A signed-in agent whose human claimed the account as ada@example.com (unverified), keeping the agent's access. */
async function claimed(env: TestEnv, username = "ada-lovelace", email = "ada@example.com") {
  const agent = await signUp(env, { agentName: "Mailer" });
  await claimAccount(env.deps, { claimToken: agent.claimToken, username, email, password: PASSWORD, keepAgentAccess: true });
  return { ...agent, uid: agent.signup.userInfo.id as string };
}

describe("change_email", () => {
  test("makes the address pending, keeps the primary, and mails the link to that address", async ({ env }) => {
    const { client, uid } = await claimed(env);
    const result = await call(client, "change_email", { email: "Ada.New@Example.com" });
    expect(result.isError).toBeFalsy();
    expect(seedPendingEmail.parse(result.structuredContent)).toEqual({ email: "ada.new@example.com" });

    const text = textOf(result);
    expect(text).toContain("ada.new@example.com");
    expect(text).toContain(new Date(env.clock.now().getTime() + 3 * DAY).toISOString());
    expect(text).toContain("keeps ada@example.com");
    expect(text).toMatch(/you cannot confirm/i);

    const user = await userRow(env, uid);
    expect(user.email).toBe("ada@example.com");
    const rows = await verifications(env, user.id);
    expect(rows.map((row) => [row.email, row.canceledAt === null, row.verifiedAt])).toEqual([
      ["ada@example.com", false, null],
      ["ada.new@example.com", true, null],
    ]);

    const mail = env.mail.at(-1)!;
    expect(mail.to).toBe("ada.new@example.com");
    expect(mail.subject).toBe("Confirm your email address for agent-onboard");
    const token = tokenIn(mail.text);
    expect(mail.text).toContain(`http://onboard.test/verify-email?token=${token}`);
    expect(rows[1]!.tokenHash).toBe(hashSecret(token));
    // The link in the mail is what makes the change; nothing the agent was given can.
    expect(JSON.stringify(result)).not.toContain(token);

    await verifyEmail(env.deps, token);
    expect((await userRow(env, uid)).email).toBe("ada.new@example.com");
    expect((await ok(client, "get_current_user")).email).toBe("ada.new@example.com");
  });

  test("asking again sends a fresh link and cancels the earlier one", async ({ env }) => {
    const { client, uid } = await claimed(env);
    await ok(client, "change_email", { email: "one@example.com" });
    await ok(client, "change_email", { email: "one@example.com" });
    const rows = await verifications(env, (await userRow(env, uid)).id);
    expect(rows.map((row) => [row.email, row.canceledAt === null])).toEqual([
      ["ada@example.com", false],
      ["one@example.com", false],
      ["one@example.com", true],
    ]);
    expect(env.mail.filter((mail) => mail.to === "one@example.com")).toHaveLength(2);
  });

  test("an agent without an email gets one pending, for its human to confirm", async ({ env }) => {
    const { client, signup } = await signUp(env);
    const result = await call(client, "change_email", { email: "human@example.com" });
    expect(result.structuredContent).toEqual({ email: "human@example.com" });
    expect(textOf(result)).not.toContain("keeps");
    expect((await userRow(env, signup.userInfo.id)).email).toBeNull();
    expect(env.mail.map((mail) => mail.to)).toEqual(["human@example.com"]);
  });

  test("without a token it tells the agent to sign up first", async ({ env }) => {
    expect(await fails(await env.connect(), "change_email", { email: "x@example.com" })).toContain("agent_signup");
    expect(env.mail).toEqual([]);
  });

  test("whether another account has the address is never told: the answer and the mail are those for a free address", async ({ env }) => {
    await claimed(env, "bob-builder", "bob@example.com");
    await verifyEmail(env.deps, tokenIn(env.mail.at(-1)!.text));
    const ada = await claimed(env);
    const carol = await claimed(env, "carol-c", "carol@example.com");
    const taken = await call(ada.client, "change_email", { email: "BOB@example.com" });
    const free = await call(carol.client, "change_email", { email: "carol.new@example.com" });
    expect(taken.isError).toBeFalsy();
    expect(taken.structuredContent).toEqual({ email: "bob@example.com" });
    const same = (text: string, asked: string, current: string) => text.replaceAll(asked, "ASKED").replaceAll(current, "CURRENT");
    expect(same(textOf(taken), "bob@example.com", "ada@example.com")).toBe(same(textOf(free), "carol.new@example.com", "carol@example.com"));
    // The link went to the address's owner, and cannot take a confirmed address from its account.
    const toBob = env.mail.filter((mail) => mail.to === "bob@example.com").at(-1)!;
    await expect(verifyEmail(env.deps, tokenIn(toBob.text))).rejects.toThrow(/Another account started using bob@example.com/);
  });

  test("the account's already verified address is refused as nothing to change", async ({ env }) => {
    const { client } = await claimed(env);
    await verifyEmail(env.deps, tokenIn(env.mail.at(-1)!.text));
    const mails = env.mail.length;
    expect(await fails(client, "change_email", { email: "ada@example.com" })).toMatch(/already your verified email address.*different address/);
    expect(env.mail).toHaveLength(mails);
  });

  test("the account's unverified address is sent its confirmation again", async ({ env }) => {
    const { client } = await claimed(env);
    expect(await ok(client, "change_email", { email: "ada@example.com" })).toEqual({ email: "ada@example.com" });
    expect(env.mail.map((mail) => mail.to)).toEqual(["ada@example.com", "ada@example.com"]);
  });

  test("a malformed address is refused with what to give instead", async ({ env }) => {
    const { client } = await claimed(env);
    expect(await fails(client, "change_email", { email: "not an address" })).toContain("name@example.com");
    expect(await fails(client, "change_email", { email: "" })).toContain("name@example.com");
  });

  test("a token whose access ended at the claim cannot change the address", async ({ env }) => {
    const agent = await signUp(env);
    await claimAccount(env.deps, { claimToken: agent.claimToken, username: "ada-lovelace", email: "ada@example.com", password: PASSWORD, keepAgentAccess: false });
    expect(await fails(agent.client, "change_email", { email: "agent@example.com" })).toMatch(/get_claim_status/);
  });
});
