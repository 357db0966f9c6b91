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
  const userId = idOf(env, signup.userInfo.id);
  await claimAccount(env.deps, { claimToken: signup.claimToken, username, email, password: PASSWORD, keepAgentAccess: true });
  return { userId, signup };
}

const idOf = (env: TestEnv, uid: string) => (env.store.sqlite.prepare("SELECT id FROM users WHERE uid = ?").get(uid) as { id: number }).id;

const userRow = (env: TestEnv, userId: number) =>
  env.store.sqlite.prepare("SELECT login, email, email_verified_at FROM users WHERE id = ?").get(userId) as {
    login: string;
    email: string | null;
    email_verified_at: number | null;
  };

interface VerificationRow {
  id: number;
  email: string;
  token_hash: string;
  created_at: number;
  expires_at: number;
  verified_at: number | null;
  canceled_at: number | null;
}

const verifications = (env: TestEnv, userId: number) =>
  env.store.sqlite.prepare("SELECT * FROM email_verifications WHERE user_id = ? ORDER BY id").all(userId) as VerificationRow[];

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

function refusal(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected an AppError");
}

/** Every text value of every table, to look for a token stored in clear. */
function everyStoredText(env: TestEnv): string[] {
  const tables = env.store.sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
  return tables.flatMap((table) =>
    (env.store.sqlite.prepare(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[]).flatMap((row) =>
      Object.values(row).filter((value): value is string => typeof value === "string"),
    ),
  );
}

describe("a claim", () => {
  test("sets the primary email unverified, records one verification for it and mails its link after the commit", async ({ env }) => {
    const { userId } = await claimedUser(env);
    expect(userRow(env, userId)).toEqual({ login: "ada-lovelace", email: "ada@example.com", email_verified_at: null });

    const [row, ...more] = verifications(env, userId);
    expect(more).toEqual([]);
    expect(row).toMatchObject({
      email: "ada@example.com",
      created_at: env.clock.now().getTime(),
      expires_at: env.clock.now().getTime() + 3 * DAY,
      verified_at: null,
      canceled_at: null,
    });

    expect(env.mail).toHaveLength(1);
    const mail = lastMailTo(env, "ada@example.com");
    expect(mail.subject).toBe("Confirm your email address for agent-onboard");
    expect(mail.text).toContain(`http://onboard.test/verify-email?token=${mail.token}`);
    expect(mail.text).toContain("ada-lovelace");
    expect(mail.text).toMatch(/confirm that this address is yours/i);
    expect(row!.token_hash).toBe(hashSecret(mail.token));
    expect(everyStoredText(env).some((value) => value.includes(mail.token))).toBe(false);
  });

  test("that fails sends no mail and records no verification", async ({ env }) => {
    const signup = await agentSignup(env.deps, { agentName: "Twice" });
    const input = { claimToken: signup.claimToken, username: "first-human", email: "first@example.com", password: PASSWORD, keepAgentAccess: true };
    await claimAccount(env.deps, input);
    await expect(claimAccount(env.deps, { ...input, username: "second-human", email: "second@example.com" })).rejects.toMatchObject({ code: "conflict" });
    expect(env.mail.map((mail) => mail.to)).toEqual(["first@example.com"]);
    expect(verifications(env, idOf(env, signup.userInfo.id)).map((row) => row.email)).toEqual(["first@example.com"]);
  });

  test("of an agent whose address was already confirmed asks to confirm the claimed address again", async ({ env }) => {
    const signup = await agentSignup(env.deps, { agentName: "Early" });
    const userId = idOf(env, signup.userInfo.id);
    requestEmailChange(env.deps, userId, { email: "owner@example.com" });
    verifyEmail(env.deps, lastMailTo(env, "owner@example.com").token);
    expect(userRow(env, userId).email_verified_at).not.toBeNull();

    await claimAccount(env.deps, { claimToken: signup.claimToken, username: "owner", email: "owner@example.com", password: PASSWORD, keepAgentAccess: true });
    expect(userRow(env, userId)).toMatchObject({ email: "owner@example.com", email_verified_at: null });
    expect(getPendingEmail(env.deps, userId)).toEqual({ email: "owner@example.com" });
  });
});

describe("an invite signup", () => {
  async function inviteLink(env: TestEnv) {
    const inviter = await agentSignup(env.deps, { agentName: "Inviter" });
    const expiresAt = new Date(env.clock.now().getTime() + 7 * DAY).toISOString();
    return createInviteLink(env.deps, idOf(env, inviter.userInfo.id), { name: "Team", expiresAt }).secret;
  }

  test.for([
    ["with a password (a human)", { password: PASSWORD }],
    ["without a password (an agent)", {}],
  ] as const)("%s leaves the email unverified and mails a verification link for it", async ([, extra], { env }) => {
    const token = await inviteLink(env);
    const result = await redeemInvite(env.deps, { token, email: "Joiner@Example.com", name: "Joiner", ...extra });
    expect(userRow(env, result.user.id)).toMatchObject({ email: "joiner@example.com", email_verified_at: null });
    const [row, ...more] = verifications(env, result.user.id);
    expect(more).toEqual([]);
    expect(row).toMatchObject({ email: "joiner@example.com", verified_at: null, canceled_at: null });

    const mail = lastMailTo(env, "joiner@example.com");
    expect(mail.subject).toBe("Confirm your email address for agent-onboard");
    expect(row!.token_hash).toBe(hashSecret(mail.token));
    expect(previewVerification(env.deps, mail.token)).toMatchObject({ email: "joiner@example.com", login: result.user.username });
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
    const change = requestEmailChange(env.deps, userId, { email: "  Ada.New@Example.com " });
    expect(change).toEqual({
      pending: { email: "ada.new@example.com" },
      validUntil: new Date(env.clock.now().getTime() + VERIFICATION_TTL_MS),
      currentEmail: "ada@example.com",
    });
    expect(userRow(env, userId).email).toBe("ada@example.com");
    expect(getPendingEmail(env.deps, userId)).toEqual({ email: "ada.new@example.com" });

    const mail = lastMailTo(env, "ada.new@example.com");
    expect(mail.text).toMatch(/new email address of the agent-onboard account ada-lovelace/);
    expect(mail.text).toMatch(/keeps its current address until you confirm/);
  });

  test("cancels the user's older pending links, whose link then answers as unknown", async ({ env }) => {
    const { userId } = await claimedUser(env);
    const claimLink = lastMailTo(env, "ada@example.com").token;
    requestEmailChange(env.deps, userId, { email: "one@example.com" });
    const first = lastMailTo(env, "one@example.com").token;
    env.clock.advance(HOUR);
    requestEmailChange(env.deps, userId, { email: "two@example.com" });

    const rows = verifications(env, userId);
    expect(rows.map((row) => [row.email, row.canceled_at !== null])).toEqual([
      ["ada@example.com", true],
      ["one@example.com", true],
      ["two@example.com", false],
    ]);
    expect(rows[1]!.canceled_at).toBe(env.clock.now().getTime());
    for (const token of [claimLink, first]) {
      expect(refusal(() => verifyEmail(env.deps, token)).code).toBe("not_found");
    }
    expect(getPendingEmail(env.deps, userId)).toEqual({ email: "two@example.com" });
  });

  test("leaves another user's pending links alone", async ({ env }) => {
    const ada = await claimedUser(env);
    const bob = await claimedUser(env, "bob-builder", "bob@example.com");
    requestEmailChange(env.deps, ada.userId, { email: "shared@example.com" });
    expect(getPendingEmail(env.deps, bob.userId)).toEqual({ email: "bob@example.com" });
  });

  test("for the account's own unverified address sends its confirmation again", async ({ env }) => {
    const { userId } = await claimedUser(env);
    const change = requestEmailChange(env.deps, userId, { email: "ada@example.com" });
    expect(change.pending).toEqual({ email: "ada@example.com" });
    expect(env.mail.filter((mail) => mail.to === "ada@example.com")).toHaveLength(2);
    expect(lastMailTo(env, "ada@example.com").text).toMatch(/confirm that this address is yours/i);
    expect(verifications(env, userId).map((row) => row.canceled_at === null)).toEqual([false, true]);
  });

  test("gives an agent without an email a pending one", async ({ env }) => {
    const signup = await agentSignup(env.deps, { agentName: "No mail" });
    const userId = idOf(env, signup.userInfo.id);
    expect(requestEmailChange(env.deps, userId, { email: "human@example.com" }).currentEmail).toBeNull();
    expect(userRow(env, userId).email).toBeNull();
    expect(getPendingEmail(env.deps, userId)).toEqual({ email: "human@example.com" });
  });

  test("refuses an address another user has (conflict), an invalid one and the verified primary (validation), changing nothing", async ({ env }) => {
    const { userId } = await claimedUser(env);
    await claimedUser(env, "bob-builder", "bob@example.com");
    verifyEmail(env.deps, lastMailTo(env, "ada@example.com").token);
    const before = { rows: verifications(env, userId), mails: env.mail.length };

    const taken = refusal(() => requestEmailChange(env.deps, userId, { email: "BOB@example.com" }));
    expect(taken.code).toBe("conflict");
    expect(taken.message).toContain("bob@example.com");
    const invalid = refusal(() => requestEmailChange(env.deps, userId, { email: "not an address" }));
    expect(invalid.code).toBe("validation");
    const same = refusal(() => requestEmailChange(env.deps, userId, { email: "Ada@example.com" }));
    expect(same.code).toBe("validation");
    expect(same.message).toMatch(/already your verified email address/);

    expect(verifications(env, userId)).toEqual(before.rows);
    expect(env.mail).toHaveLength(before.mails);
  });
});

describe("verifyEmail", () => {
  test("makes the address the verified primary email, once; a preview never consumes the link", async ({ env }) => {
    const { userId } = await claimedUser(env);
    requestEmailChange(env.deps, userId, { email: "new@example.com" });
    const { token } = lastMailTo(env, "new@example.com");

    const preview = previewVerification(env.deps, token);
    expect(preview).toEqual({ email: "new@example.com", login: "ada-lovelace", expiresAt: new Date(env.clock.now().getTime() + 3 * DAY) });
    previewVerification(env.deps, token);
    expect(verifications(env, userId).at(-1)!.verified_at).toBeNull();

    env.clock.advance(HOUR);
    expect(verifyEmail(env.deps, token)).toEqual({ email: "new@example.com", login: "ada-lovelace", verifiedAt: env.clock.now() });
    expect(userRow(env, userId)).toEqual({ login: "ada-lovelace", email: "new@example.com", email_verified_at: env.clock.now().getTime() });
    expect(verifications(env, userId).at(-1)!.verified_at).toBe(env.clock.now().getTime());
    expect(() => requireVerifiedEmail(env.deps, userId)).not.toThrow();
    expect(getPendingEmail(env.deps, userId)).toBeUndefined();

    const again = refusal(() => verifyEmail(env.deps, token));
    expect(again.code).toBe("conflict");
    expect(again.message).toMatch(/only once/);
    expect(refusal(() => previewVerification(env.deps, token)).code).toBe("conflict");
  });

  test("refuses an expired link (gone) from the moment it expires, changing nothing", async ({ env }) => {
    const { userId } = await claimedUser(env);
    const { token } = lastMailTo(env, "ada@example.com");
    env.clock.advance(3 * DAY - 1);
    expect(previewVerification(env.deps, token).email).toBe("ada@example.com");
    env.clock.advance(1);
    const expired = refusal(() => verifyEmail(env.deps, token));
    expect(expired.code).toBe("gone");
    expect(expired.message).toContain("change_email");
    expect(refusal(() => previewVerification(env.deps, token)).code).toBe("gone");
    expect(userRow(env, userId).email_verified_at).toBeNull();
    expect(verifications(env, userId)[0]!.verified_at).toBeNull();
  });

  test("refuses an unknown link (not found)", async ({ env }) => {
    await claimedUser(env);
    expect(refusal(() => verifyEmail(env.deps, "no-such-token")).code).toBe("not_found");
    expect(refusal(() => previewVerification(env.deps, "")).code).toBe("not_found");
  });

  test("refuses an address another user took meanwhile (conflict), and the link stays unused", async ({ env }) => {
    const ada = await claimedUser(env);
    const bob = await claimedUser(env, "bob-builder", "bob@example.com");
    requestEmailChange(env.deps, ada.userId, { email: "wanted@example.com" });
    const adaLink = lastMailTo(env, "wanted@example.com").token;
    requestEmailChange(env.deps, bob.userId, { email: "wanted@example.com" });
    verifyEmail(env.deps, lastMailTo(env, "wanted@example.com").token);

    const taken = refusal(() => verifyEmail(env.deps, adaLink));
    expect(taken.code).toBe("conflict");
    expect(taken.details).toEqual({ field: "email" });
    expect(userRow(env, ada.userId).email).toBe("ada@example.com");
    expect(verifications(env, ada.userId).at(-1)!.verified_at).toBeNull();
  });

  test("of two concurrent calls for one link, exactly one succeeds", async ({ env }) => {
    const { userId } = await claimedUser(env);
    const { token } = lastMailTo(env, "ada@example.com");
    const results = await Promise.allSettled([0, 1].map(async () => verifyEmail(env.deps, token)));
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    const [rejected] = results.filter((result): result is PromiseRejectedResult => result.status === "rejected");
    expect((rejected!.reason as AppError).code).toBe("conflict");
    expect(userRow(env, userId).email_verified_at).not.toBeNull();
  });
});

describe("verified and pending emails", () => {
  test("an agent has no email: not verified, nothing pending, nothing to delete", async ({ env }) => {
    const signup = await agentSignup(env.deps, { agentName: "Plain" });
    const userId = idOf(env, signup.userInfo.id);
    const unverified = refusal(() => requireVerifiedEmail(env.deps, userId));
    expect(unverified.code).toBe("not_found");
    expect(unverified.message).toContain("change_email");
    expect(getPendingEmail(env.deps, userId)).toBeUndefined();
    expect(() => deletePendingEmail(env.deps, userId)).not.toThrow();
  });

  test("the verification of the primary email is pending but cannot be deleted", async ({ env }) => {
    const { userId } = await claimedUser(env);
    expect(refusal(() => requireVerifiedEmail(env.deps, userId)).message).toContain("ada@example.com");
    expect(getPendingEmail(env.deps, userId)).toEqual({ email: "ada@example.com" });
    const refused = refusal(() => deletePendingEmail(env.deps, userId));
    expect(refused.code).toBe("bad_request");
    expect(refused.message).toMatch(/^Cannot delete the pending verification for primary email\./);
    expect(verifications(env, userId)[0]!.canceled_at).toBeNull();
  });

  test("deleting a pending change cancels it and keeps the primary email", async ({ env }) => {
    const { userId } = await claimedUser(env);
    requestEmailChange(env.deps, userId, { email: "new@example.com" });
    const { token } = lastMailTo(env, "new@example.com");
    deletePendingEmail(env.deps, userId);
    expect(getPendingEmail(env.deps, userId)).toBeUndefined();
    expect(verifications(env, userId).at(-1)).toMatchObject({ email: "new@example.com", canceled_at: env.clock.now().getTime() });
    expect(userRow(env, userId).email).toBe("ada@example.com");
    expect(refusal(() => verifyEmail(env.deps, token)).code).toBe("not_found");
    deletePendingEmail(env.deps, userId);
  });

  test("an expired link is no longer pending", async ({ env }) => {
    const { userId } = await claimedUser(env);
    requestEmailChange(env.deps, userId, { email: "new@example.com" });
    env.clock.advance(3 * DAY);
    expect(getPendingEmail(env.deps, userId)).toBeUndefined();
  });
});
