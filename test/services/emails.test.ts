import { asc, eq } from "drizzle-orm";
import { describe } from "vitest";
import { AppError } from "../../src/errors.js";
import { agentSignup } from "../../src/services/accounts.js";
import { claimAccount } from "../../src/services/claims.js";
import {
  deletePendingEmail,
  getPendingEmail,
  previewVerification,
  requestEmailChange,
  requireVerifiedEmail,
  VERIFICATION_TTL_MS,
  verifyEmail,
} from "../../src/services/emails.js";
import { createInviteLink, redeemInvite } from "../../src/services/invites.js";
import { hashSecret } from "../../src/services/secrets.js";
import { DAY, expect, HOUR, test, type TestEnv } from "../fixture.js";

const PASSWORD = "Analytical#Engine1843";

/** A claimed account (ada@example.com, unverified) and its row id. */
async function claimedUser(env: TestEnv, username = "ada-lovelace", email = "Ada@Example.com") {
  const signup = await agentSignup(env.deps, { agentName: "Mail tester" });
  const userId = await idOf(env, signup.userInfo.id);
  await claimAccount(env.deps, { claimToken: signup.claimToken, username, email, password: PASSWORD, keepAgentAccess: true });
  return { userId, signup };
}

async function idOf(env: TestEnv, uid: string): Promise<number> {
  const { users } = env.deps.db.tables;
  const [row] = await env.deps.db.select({ id: users.id }).from(users).where(eq(users.uid, uid));
  return row!.id;
}

async function userRow(env: TestEnv, userId: number) {
  const { users } = env.deps.db.tables;
  const [row] = await env.deps.db
    .select({ login: users.login, email: users.email, emailVerifiedAt: users.emailVerifiedAt })
    .from(users)
    .where(eq(users.id, userId));
  return row!;
}

const verifications = (env: TestEnv, userId: number) => {
  const { emailVerifications } = env.deps.db.tables;
  return env.deps.db.select().from(emailVerifications).where(eq(emailVerifications.userId, userId)).orderBy(asc(emailVerifications.id));
};

/** The token of the link in a verification mail. */
function tokenIn(text: string): string {
  const match = text.match(/\/verify-email\?token=([A-Za-z0-9_-]+)/);
  expect(match, text).not.toBeNull();
  return match![1]!;
}

/** The last mail to `to`, with the token of its link. */
function lastMailTo(env: TestEnv, to: string) {
  const mail = env.mail.filter((message) => message.to === to).at(-1);
  expect(mail, `no mail to ${to} in ${JSON.stringify(env.mail.map((m) => m.to))}`).toBeDefined();
  return { ...mail!, token: tokenIn(mail!.text) };
}

async function refusal(run: () => Promise<unknown>): Promise<AppError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected an AppError");
}

/** The tables of the database, from the engine's own catalog (not from the schema the code knows). */
async function tableNames(env: TestEnv): Promise<string[]> {
  const catalog =
    env.store.engine === "sqlite"
      ? "SELECT name FROM sqlite_master WHERE type = 'table'"
      : "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'";
  return (await env.store.query(catalog)).map((row) => String(row.name));
}

/** Every text value of every table, to look for a token stored in clear. */
async function everyStoredText(env: TestEnv): Promise<string[]> {
  const tables = await tableNames(env);
  expect(tables).toEqual(expect.arrayContaining(["users", "email_verifications", "claim_tokens", "access_tokens"]));
  const rows = await Promise.all(tables.map((table) => env.store.query(`SELECT * FROM "${table}"`)));
  return rows.flat().flatMap((row) => Object.values(row).filter((value): value is string => typeof value === "string"));
}

describe("a claim", () => {
  test("sets the primary email unverified, records one verification for it and mails its link after the commit", async ({ env }) => {
    const { userId } = await claimedUser(env);
    expect(await userRow(env, userId)).toEqual({ login: "ada-lovelace", email: "ada@example.com", emailVerifiedAt: null });

    const [row, ...more] = await verifications(env, userId);
    expect(more).toEqual([]);
    expect(row).toMatchObject({
      email: "ada@example.com",
      createdAt: env.clock.now(),
      expiresAt: new Date(env.clock.now().getTime() + 3 * DAY),
      verifiedAt: null,
      canceledAt: null,
    });

    expect(env.mail).toHaveLength(1);
    const mail = lastMailTo(env, "ada@example.com");
    expect(mail.subject).toBe("Confirm your email address for agent-onboard");
    expect(mail.text).toContain(`http://onboard.test/verify-email?token=${mail.token}`);
    expect(mail.text).toContain("ada-lovelace");
    expect(mail.text).toMatch(/confirm that this address is yours/i);
    expect(row!.tokenHash).toBe(hashSecret(mail.token));
    expect((await everyStoredText(env)).some((value) => value.includes(mail.token))).toBe(false);
  });

  test("that fails sends no mail and records no verification", async ({ env }) => {
    const signup = await agentSignup(env.deps, { agentName: "Twice" });
    const input = { claimToken: signup.claimToken, username: "first-human", email: "first@example.com", password: PASSWORD, keepAgentAccess: true };
    await claimAccount(env.deps, input);
    await expect(claimAccount(env.deps, { ...input, username: "second-human", email: "second@example.com" })).rejects.toMatchObject({ code: "conflict" });
    expect(env.mail.map((mail) => mail.to)).toEqual(["first@example.com"]);
    expect((await verifications(env, await idOf(env, signup.userInfo.id))).map((row) => row.email)).toEqual(["first@example.com"]);
  });

  test("of an agent whose address was already confirmed asks to confirm the claimed address again", async ({ env }) => {
    const signup = await agentSignup(env.deps, { agentName: "Early" });
    const userId = await idOf(env, signup.userInfo.id);
    await requestEmailChange(env.deps, userId, { email: "owner@example.com" });
    await verifyEmail(env.deps, lastMailTo(env, "owner@example.com").token);
    expect((await userRow(env, userId)).emailVerifiedAt).not.toBeNull();

    await claimAccount(env.deps, { claimToken: signup.claimToken, username: "owner", email: "owner@example.com", password: PASSWORD, keepAgentAccess: true });
    expect(await userRow(env, userId)).toMatchObject({ email: "owner@example.com", emailVerifiedAt: null });
    expect(await getPendingEmail(env.deps, userId)).toEqual({ email: "owner@example.com" });
  });
});

describe("an invite signup", () => {
  async function inviteLink(env: TestEnv) {
    const inviter = await agentSignup(env.deps, { agentName: "Inviter" });
    const expiresAt = new Date(env.clock.now().getTime() + 7 * DAY).toISOString();
    return (await createInviteLink(env.deps, await idOf(env, inviter.userInfo.id), { name: "Team", expiresAt })).secret;
  }

  test.for([
    ["with a password (a human)", { password: PASSWORD }],
    ["without a password (an agent)", {}],
  ] as const)("%s leaves the email unverified and mails a verification link for it", async ([, extra], { env }) => {
    const token = await inviteLink(env);
    const result = await redeemInvite(env.deps, { token, email: "Joiner@Example.com", name: "Joiner", ...extra });
    expect(await userRow(env, result.user.id)).toMatchObject({ email: "joiner@example.com", emailVerifiedAt: null });
    const [row, ...more] = await verifications(env, result.user.id);
    expect(more).toEqual([]);
    expect(row).toMatchObject({ email: "joiner@example.com", verifiedAt: null, canceledAt: null });

    const mail = lastMailTo(env, "joiner@example.com");
    expect(mail.subject).toBe("Confirm your email address for agent-onboard");
    expect(row!.tokenHash).toBe(hashSecret(mail.token));
    expect(await previewVerification(env.deps, mail.token)).toMatchObject({ email: "joiner@example.com", login: result.user.username });
  });

  test("that fails sends no mail", async ({ env }) => {
    const token = await inviteLink(env);
    await redeemInvite(env.deps, { token, email: "taken@example.com", name: "First", password: PASSWORD });
    await expect(redeemInvite(env.deps, { token, email: "taken@example.com", name: "Second", password: PASSWORD })).rejects.toMatchObject({ code: "conflict" });
    expect(env.mail.map((mail) => mail.to)).toEqual(["taken@example.com"]);
  });
});

describe("requestEmailChange", () => {
  test("keeps the primary email, records a pending address and mails the link to that address", async ({ env }) => {
    const { userId } = await claimedUser(env);
    const change = await requestEmailChange(env.deps, userId, { email: "  Ada.New@Example.com " });
    expect(change).toEqual({
      pending: { email: "ada.new@example.com" },
      validUntil: new Date(env.clock.now().getTime() + VERIFICATION_TTL_MS),
      currentEmail: "ada@example.com",
    });
    expect((await userRow(env, userId)).email).toBe("ada@example.com");
    expect(await getPendingEmail(env.deps, userId)).toEqual({ email: "ada.new@example.com" });

    const mail = lastMailTo(env, "ada.new@example.com");
    expect(mail.text).toMatch(/new email address of the agent-onboard account ada-lovelace/);
    expect(mail.text).toMatch(/keeps its current address until you confirm/);
  });

  test("cancels the user's older pending links, whose link then answers as unknown", async ({ env }) => {
    const { userId } = await claimedUser(env);
    const claimLink = lastMailTo(env, "ada@example.com").token;
    await requestEmailChange(env.deps, userId, { email: "one@example.com" });
    const first = lastMailTo(env, "one@example.com").token;
    env.clock.advance(HOUR);
    await requestEmailChange(env.deps, userId, { email: "two@example.com" });

    const rows = await verifications(env, userId);
    expect(rows.map((row) => [row.email, row.canceledAt !== null])).toEqual([
      ["ada@example.com", true],
      ["one@example.com", true],
      ["two@example.com", false],
    ]);
    expect(rows[1]!.canceledAt).toEqual(env.clock.now());
    for (const token of [claimLink, first]) {
      expect((await refusal(() => verifyEmail(env.deps, token))).code).toBe("not_found");
    }
    expect(await getPendingEmail(env.deps, userId)).toEqual({ email: "two@example.com" });
  });

  test("leaves another user's pending links alone", async ({ env }) => {
    const ada = await claimedUser(env);
    const bob = await claimedUser(env, "bob-builder", "bob@example.com");
    await requestEmailChange(env.deps, ada.userId, { email: "shared@example.com" });
    expect(await getPendingEmail(env.deps, bob.userId)).toEqual({ email: "bob@example.com" });
  });

  test("for the account's own unverified address sends its confirmation again", async ({ env }) => {
    const { userId } = await claimedUser(env);
    const change = await requestEmailChange(env.deps, userId, { email: "ada@example.com" });
    expect(change.pending).toEqual({ email: "ada@example.com" });
    expect(env.mail.filter((mail) => mail.to === "ada@example.com")).toHaveLength(2);
    expect(lastMailTo(env, "ada@example.com").text).toMatch(/confirm that this address is yours/i);
    expect((await verifications(env, userId)).map((row) => row.canceledAt === null)).toEqual([false, true]);
  });

  test("gives an agent without an email a pending one", async ({ env }) => {
    const signup = await agentSignup(env.deps, { agentName: "No mail" });
    const userId = await idOf(env, signup.userInfo.id);
    expect((await requestEmailChange(env.deps, userId, { email: "human@example.com" })).currentEmail).toBeNull();
    expect((await userRow(env, userId)).email).toBeNull();
    expect(await getPendingEmail(env.deps, userId)).toEqual({ email: "human@example.com" });
  });

  test("refuses an invalid address and the verified primary (validation), changing nothing", async ({ env }) => {
    const { userId } = await claimedUser(env);
    await verifyEmail(env.deps, lastMailTo(env, "ada@example.com").token);
    const before = { rows: await verifications(env, userId), mails: env.mail.length };

    const invalid = await refusal(() => requestEmailChange(env.deps, userId, { email: "not an address" }));
    expect(invalid.code).toBe("validation");
    const same = await refusal(() => requestEmailChange(env.deps, userId, { email: "Ada@example.com" }));
    expect(same.code).toBe("validation");
    expect(same.message).toMatch(/already your verified email address/);

    expect(await verifications(env, userId)).toEqual(before.rows);
    expect(env.mail).toHaveLength(before.mails);
  });
});

describe("an address typed in but never confirmed (squatting)", () => {
  test("does not stop its owner's claim: it waits as the owner's pending email, and confirming it takes it from the squatter", async ({ env }) => {
    const squatter = await claimedUser(env, "squatter", "Grace@Example.com");
    const owner = await agentSignup(env.deps, { agentName: "Grace's agent" });
    const ownerId = await idOf(env, owner.userInfo.id);
    await claimAccount(env.deps, { claimToken: owner.claimToken, username: "grace", email: "grace@example.com", password: PASSWORD, keepAgentAccess: true });
    expect(await getPendingEmail(env.deps, ownerId)).toEqual({ email: "grace@example.com" });

    const toOwner = env.mail.filter((mail) => mail.to === "grace@example.com").at(-1)!;
    await verifyEmail(env.deps, tokenIn(toOwner.text));
    const { users } = env.deps.db.tables;
    const rows = await env.deps.db.select({ id: users.id, email: users.email, verified: users.emailVerifiedAt }).from(users).orderBy(asc(users.id));
    expect(rows.find((row) => row.id === ownerId)).toMatchObject({ email: "grace@example.com", verified: env.clock.now() });
    expect(rows.find((row) => row.id === squatter.userId)).toMatchObject({ email: null, verified: null });
  });

  test("does not stop change_email either; a confirmed address still cannot be taken", async ({ env }) => {
    const squatter = await claimedUser(env, "squatter", "grace@example.com");
    const { userId } = await claimedUser(env, "grace", "grace.other@example.com");
    await requestEmailChange(env.deps, userId, { email: "grace@example.com" });
    const squattersLink = env.mail.filter((mail) => mail.to === "grace@example.com")[0]!;
    await verifyEmail(env.deps, lastMailTo(env, "grace@example.com").token);
    expect((await userRow(env, squatter.userId)).email).toBeNull();
    await expect(verifyEmail(env.deps, tokenIn(squattersLink.text))).rejects.toThrow(/Another account started using grace@example.com/);

    // Now grace's: the squatter asking for it back gets a link that cannot be confirmed.
    await requestEmailChange(env.deps, squatter.userId, { email: "grace@example.com" });
    await expect(verifyEmail(env.deps, lastMailTo(env, "grace@example.com").token)).rejects.toThrow(/Another account started using/);
  });
});

describe("verifyEmail", () => {
  test("makes the address the verified primary email, once; a preview never consumes the link", async ({ env }) => {
    const { userId } = await claimedUser(env);
    await requestEmailChange(env.deps, userId, { email: "new@example.com" });
    const { token } = lastMailTo(env, "new@example.com");

    const preview = await previewVerification(env.deps, token);
    expect(preview).toEqual({ email: "new@example.com", login: "ada-lovelace", expiresAt: new Date(env.clock.now().getTime() + 3 * DAY) });
    await previewVerification(env.deps, token);
    expect((await verifications(env, userId)).at(-1)!.verifiedAt).toBeNull();

    env.clock.advance(HOUR);
    expect(await verifyEmail(env.deps, token)).toEqual({ email: "new@example.com", login: "ada-lovelace", verifiedAt: env.clock.now() });
    expect(await userRow(env, userId)).toEqual({ login: "ada-lovelace", email: "new@example.com", emailVerifiedAt: env.clock.now() });
    expect((await verifications(env, userId)).at(-1)!.verifiedAt).toEqual(env.clock.now());
    await expect(requireVerifiedEmail(env.deps, userId)).resolves.toBeUndefined();
    expect(await getPendingEmail(env.deps, userId)).toBeUndefined();

    const again = await refusal(() => verifyEmail(env.deps, token));
    expect(again.code).toBe("conflict");
    expect(again.message).toMatch(/only once/);
    expect((await refusal(() => previewVerification(env.deps, token))).code).toBe("conflict");
  });

  test("refuses an expired link (gone) from the moment it expires, changing nothing", async ({ env }) => {
    const { userId } = await claimedUser(env);
    const { token } = lastMailTo(env, "ada@example.com");
    env.clock.advance(3 * DAY - 1);
    expect((await previewVerification(env.deps, token)).email).toBe("ada@example.com");
    env.clock.advance(1);
    const expired = await refusal(() => verifyEmail(env.deps, token));
    expect(expired.code).toBe("gone");
    expect(expired.message).toContain("change_email");
    expect((await refusal(() => previewVerification(env.deps, token))).code).toBe("gone");
    expect((await userRow(env, userId)).emailVerifiedAt).toBeNull();
    expect((await verifications(env, userId))[0]!.verifiedAt).toBeNull();
  });

  test("refuses an unknown link (not found)", async ({ env }) => {
    await claimedUser(env);
    expect((await refusal(() => verifyEmail(env.deps, "no-such-token"))).code).toBe("not_found");
    expect((await refusal(() => previewVerification(env.deps, ""))).code).toBe("not_found");
  });

  test("refuses an address another user took meanwhile (conflict), and the link stays unused", async ({ env }) => {
    const ada = await claimedUser(env);
    const bob = await claimedUser(env, "bob-builder", "bob@example.com");
    await requestEmailChange(env.deps, ada.userId, { email: "wanted@example.com" });
    const adaLink = lastMailTo(env, "wanted@example.com").token;
    await requestEmailChange(env.deps, bob.userId, { email: "wanted@example.com" });
    await verifyEmail(env.deps, lastMailTo(env, "wanted@example.com").token);

    const taken = await refusal(() => verifyEmail(env.deps, adaLink));
    expect(taken.code).toBe("conflict");
    expect(taken.details).toEqual({ field: "email" });
    expect((await userRow(env, ada.userId)).email).toBe("ada@example.com");
    expect((await verifications(env, ada.userId)).at(-1)!.verifiedAt).toBeNull();
  });

  test("of two concurrent calls for one link, exactly one succeeds", async ({ env }) => {
    const { userId } = await claimedUser(env);
    const { token } = lastMailTo(env, "ada@example.com");
    const results = await Promise.allSettled([0, 1].map(async () => verifyEmail(env.deps, token)));
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    const [rejected] = results.filter((result): result is PromiseRejectedResult => result.status === "rejected");
    expect((rejected!.reason as AppError).code).toBe("conflict");
    expect((await userRow(env, userId)).emailVerifiedAt).not.toBeNull();
  });
});

describe("verified and pending emails", () => {
  test("an agent has no email: not verified, nothing pending, nothing to delete", async ({ env }) => {
    const signup = await agentSignup(env.deps, { agentName: "Plain" });
    const userId = await idOf(env, signup.userInfo.id);
    const unverified = await refusal(() => requireVerifiedEmail(env.deps, userId));
    expect(unverified.code).toBe("not_found");
    expect(unverified.message).toContain("change_email");
    expect(await getPendingEmail(env.deps, userId)).toBeUndefined();
    await expect(deletePendingEmail(env.deps, userId)).resolves.toBeUndefined();
  });

  test("the verification of the primary email is pending but cannot be deleted", async ({ env }) => {
    const { userId } = await claimedUser(env);
    expect((await refusal(() => requireVerifiedEmail(env.deps, userId))).message).toContain("ada@example.com");
    expect(await getPendingEmail(env.deps, userId)).toEqual({ email: "ada@example.com" });
    const refused = await refusal(() => deletePendingEmail(env.deps, userId));
    expect(refused.code).toBe("bad_request");
    expect(refused.message).toMatch(/^Cannot delete the pending verification for primary email\./);
    expect((await verifications(env, userId))[0]!.canceledAt).toBeNull();
  });

  test("deleting a pending change cancels it and keeps the primary email", async ({ env }) => {
    const { userId } = await claimedUser(env);
    await requestEmailChange(env.deps, userId, { email: "new@example.com" });
    const { token } = lastMailTo(env, "new@example.com");
    await deletePendingEmail(env.deps, userId);
    expect(await getPendingEmail(env.deps, userId)).toBeUndefined();
    expect((await verifications(env, userId)).at(-1)).toMatchObject({ email: "new@example.com", canceledAt: env.clock.now() });
    expect((await userRow(env, userId)).email).toBe("ada@example.com");
    expect((await refusal(() => verifyEmail(env.deps, token))).code).toBe("not_found");
    await deletePendingEmail(env.deps, userId);
  });

  test("an expired link is no longer pending", async ({ env }) => {
    const { userId } = await claimedUser(env);
    await requestEmailChange(env.deps, userId, { email: "new@example.com" });
    env.clock.advance(3 * DAY);
    expect(await getPendingEmail(env.deps, userId)).toBeUndefined();
  });
});
