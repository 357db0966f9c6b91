import { describe } from "vitest";
import { openDb } from "../../db/client.js";
import { AppError } from "../../src/errors.js";
import { agentSignup, getCurrentUser } from "../../src/services/accounts.js";
import type { Deps } from "../../src/services/deps.js";
import { acceptInvite, inviteMember, listPendingInvites, ORG_INVITE_TTL_MS } from "../../src/services/org-invites.js";
import { countRows, DAY, expect, type TestEnv, test } from "../fixture.js";
import { seedPendingInvites, seedPendingOrganizationInvite, seedUser } from "../seed-shapes.js";

/** A fresh agent made by the signup service: its row id, login and personal organization (where it is admin). */
async function newAgent(env: TestEnv, agentName = "Agent") {
  const signup = await agentSignup(env.deps, { agentName });
  const { id } = env.store.sqlite.prepare("SELECT id FROM users WHERE uid = ?").get(signup.userInfo.id) as { id: number };
  return { userId: id, login: signup.userInfo.githubLogin, org: signup.userInfo.organizations[0]!.name };
}

/** Gives a user a primary email, verified unless said otherwise (the verification flow is not needed here). */
function setEmail(env: TestEnv, userId: number, email: string, verified = true) {
  env.store.sqlite
    .prepare("UPDATE users SET email = ?, email_verified_at = ? WHERE id = ?")
    .run(email, verified ? env.clock.now().getTime() : null, userId);
}

/** An admin with an organization, and an agent whose verified email is invitee@example.com. */
async function adminAndInvitee(env: TestEnv) {
  const admin = await newAgent(env, "Admin");
  const invitee = await newAgent(env, "Invitee");
  setEmail(env, invitee.userId, "invitee@example.com");
  return { admin, invitee };
}

/** The invite mail sent so far. */
const inviteMail = (env: TestEnv) => env.mail.filter((message) => message.subject.startsWith("You are invited"));

const inviteRow = (env: TestEnv, uid: string) =>
  env.store.sqlite.prepare("SELECT * FROM org_invites WHERE uid = ?").get(uid) as Record<string, any>;

const membershipRole = (env: TestEnv, userId: number, org: string) =>
  (
    env.store.sqlite
      .prepare("SELECT m.role FROM memberships m JOIN organizations o ON o.id = m.org_id WHERE m.user_id = ? AND o.name = ?")
      .get(userId, org) as { role: string } | undefined
  )?.role;

function rejection(fn: () => unknown): AppError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected a refusal");
}

describe("inviteMember", () => {
  test("stores a pending invite valid for 7 days, mails the address and answers a seed-shaped PendingOrganizationInvite", async ({ env }) => {
    const { admin } = await adminAndInvitee(env);
    const result = inviteMember(env.deps, admin.userId, { email: "Invitee@Example.com" });
    const invite = seedPendingOrganizationInvite.parse(result.invite);
    expect(invite).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      email: "invitee@example.com",
      role: "member",
      sentBy: { name: "Admin", githubLogin: admin.login, avatarUrl: expect.stringMatching(/^https:\/\//) },
      sentAt: Math.floor(env.clock.now().getTime() / 1000),
      acceptInviteUrl: `http://onboard.test/api/user/pending-invites/${invite.id}/accept`,
      status: "pending",
    });
    expect(result).toMatchObject({ organization: admin.org, resent: false, expiresAt: new Date(env.clock.now().getTime() + 7 * DAY).toISOString() });
    expect(inviteRow(env, invite.id)).toMatchObject({ email: "invitee@example.com", role: "member", accepted_at: null, expires_at: env.clock.now().getTime() + ORG_INVITE_TTL_MS });

    const mail = inviteMail(env);
    expect(mail).toHaveLength(1);
    expect(mail[0]).toMatchObject({ to: "invitee@example.com", subject: `You are invited to join ${admin.org} on agent-onboard` });
    expect(mail[0]!.text).toContain("accept_invite");
    expect(mail[0]!.text).toContain(invite.id);
    expect(mail[0]!.text).toContain(invite.acceptInviteUrl);
    expect(mail[0]!.text).toMatch(/sign in/i);
  });

  test("inviting the same address again while pending refreshes sentAt, expiry and role and re-sends, without a second row", async ({ env }) => {
    const { admin } = await adminAndInvitee(env);
    const first = inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    env.clock.advance(3 * DAY);
    const again = inviteMember(env.deps, admin.userId, { email: "invitee@example.com", role: "admin" });
    expect(again.resent).toBe(true);
    expect(again.invite.id).toBe(first.invite.id);
    expect(again.invite.sentAt).toBe(first.invite.sentAt + 3 * 86_400);
    expect(again.invite.role).toBe("admin");
    expect(inviteRow(env, first.invite.id).expires_at).toBe(env.clock.now().getTime() + 7 * DAY);
    expect(countRows(env, "org_invites")).toBe(1);
    expect(inviteMail(env).map((m) => m.to)).toEqual(["invitee@example.com", "invitee@example.com"]);
  });

  test("an expired, unaccepted invite is renewed by inviting again, and its old acceptError is cleared", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const first = inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    env.clock.advance(8 * DAY);
    rejection(() => acceptInvite(env.deps, invitee.userId, first.invite.id));
    expect(inviteRow(env, first.invite.id).accept_error).toMatch(/expired/);
    const again = inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    expect(again.invite).toMatchObject({ id: first.invite.id, status: "pending" });
    expect(again.invite).not.toHaveProperty("acceptError");
    expect(acceptInvite(env.deps, invitee.userId, first.invite.id).organization.name).toBe(admin.org);
  });

  test("an address that already belongs to a member is a conflict; nothing is stored or sent", async ({ env }) => {
    const { admin } = await adminAndInvitee(env);
    setEmail(env, admin.userId, "admin@example.com", false);
    const error = rejection(() => inviteMember(env.deps, admin.userId, { email: "ADMIN@example.com" }));
    expect(error.code).toBe("conflict");
    expect(error.message).toContain(admin.org);
    expect(countRows(env, "org_invites")).toBe(0);
    expect(inviteMail(env)).toHaveLength(0);
  });

  test("only an admin may invite; a stranger's organization reads like one that does not exist", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    env.store.sqlite
      .prepare("INSERT INTO memberships (user_id, org_id, role, created_at) SELECT ?, id, 'member', 0 FROM organizations WHERE name = ?")
      .run(invitee.userId, admin.org);
    const forbidden = rejection(() => inviteMember(env.deps, invitee.userId, { email: "x@example.com", organization: admin.org }));
    expect(forbidden.code).toBe("forbidden");
    expect(forbidden.message).toContain("admin");

    const stranger = await newAgent(env, "Stranger");
    const real = rejection(() => inviteMember(env.deps, stranger.userId, { email: "x@example.com", organization: admin.org }));
    const made = rejection(() => inviteMember(env.deps, stranger.userId, { email: "x@example.com", organization: "no-such-org" }));
    expect(real.code).toBe("not_found");
    expect(real.message.replace(admin.org, "X")).toBe(made.message.replace("no-such-org", "X"));
    expect(countRows(env, "org_invites")).toBe(0);
  });

  test("a malformed address is a validation error", async ({ env }) => {
    const { admin } = await adminAndInvitee(env);
    const error = rejection(() => inviteMember(env.deps, admin.userId, { email: "not-an-email" }));
    expect(error.code).toBe("validation");
    expect(error.message).toContain("valid email");
  });
});

describe("listPendingInvites", () => {
  test("lists invites to the caller's verified email, seed-shaped, oldest first", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const other = await newAgent(env, "Other admin");
    const first = inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    env.clock.advance(1000);
    const second = inviteMember(env.deps, other.userId, { email: "invitee@example.com", role: "admin" });
    inviteMember(env.deps, admin.userId, { email: "someone-else@example.com" });

    const answer = listPendingInvites(env.deps, invitee.userId);
    expect(seedPendingInvites.parse(answer.body).invites.map((i) => [i.id, i.role])).toEqual([
      [first.invite.id, "member"],
      [second.invite.id, "admin"],
    ]);
    expect(answer).toMatchObject({ verifiedEmail: "invitee@example.com", organizations: [admin.org, other.org] });
  });

  test("an unverified or missing email gets an empty list", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    setEmail(env, invitee.userId, "invitee@example.com", false);
    expect(listPendingInvites(env.deps, invitee.userId)).toEqual({ body: { invites: [] }, verifiedEmail: null, organizations: [] });
    env.store.sqlite.prepare("UPDATE users SET email = NULL, email_verified_at = NULL WHERE id = ?").run(invitee.userId);
    expect(listPendingInvites(env.deps, invitee.userId).body).toEqual({ invites: [] });
  });

  test("leaves out expired invites (by the injected clock), accepted ones and organizations the caller is already in", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    env.clock.advance(7 * DAY - 1);
    expect(listPendingInvites(env.deps, invitee.userId).body.invites).toHaveLength(1);
    env.clock.advance(1);
    expect(listPendingInvites(env.deps, invitee.userId).body.invites).toEqual([]);

    const other = await newAgent(env, "Other");
    const fresh = inviteMember(env.deps, other.userId, { email: "invitee@example.com" });
    env.store.sqlite
      .prepare("INSERT INTO memberships (user_id, org_id, role, created_at) SELECT ?, id, 'member', 0 FROM organizations WHERE name = ?")
      .run(invitee.userId, other.org);
    expect(listPendingInvites(env.deps, invitee.userId).body.invites).toEqual([]);
    env.store.sqlite.prepare("DELETE FROM memberships WHERE user_id = ? AND org_id = (SELECT id FROM organizations WHERE name = ?)").run(invitee.userId, other.org);
    acceptInvite(env.deps, invitee.userId, fresh.invite.id);
    expect(listPendingInvites(env.deps, invitee.userId).body.invites).toEqual([]);
  });
});

describe("User.potentialOrganizations", () => {
  test("names the organizations of pending invites as potential-member, and is empty once accepted", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    expect(getCurrentUser(env.deps, invitee.userId).potentialOrganizations).toEqual([]);
    const { invite } = inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    const before = seedUser.parse(getCurrentUser(env.deps, invitee.userId));
    expect(before.potentialOrganizations).toEqual([
      { name: admin.org, role: "potential-member", githubLogin: admin.org, avatarUrl: expect.stringMatching(/^https:\/\//) },
    ]);
    acceptInvite(env.deps, invitee.userId, invite.id);
    const after = getCurrentUser(env.deps, invitee.userId);
    expect(after.potentialOrganizations).toEqual([]);
    expect(after.organizations.map((org) => org.name)).toContain(admin.org);
  });
});

describe("acceptInvite", () => {
  test("joins with the invite's role and records who accepted and when, in one go", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const { invite } = inviteMember(env.deps, admin.userId, { email: "invitee@example.com", role: "admin" });
    env.clock.advance(DAY);
    expect(acceptInvite(env.deps, invitee.userId, invite.id)).toEqual({
      organization: { name: admin.org, role: "admin", githubLogin: admin.org, avatarUrl: expect.any(String) },
    });
    expect(membershipRole(env, invitee.userId, admin.org)).toBe("admin");
    expect(inviteRow(env, invite.id)).toMatchObject({ accepted_at: env.clock.now().getTime(), accepted_by_user_id: invitee.userId, accept_error: null });
  });

  test("accepts the whole acceptInviteUrl as the id", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const { invite } = inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    expect(acceptInvite(env.deps, invitee.userId, invite.acceptInviteUrl).organization.role).toBe("member");
  });

  test("accepting twice is a conflict and changes nothing", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const { invite } = inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    acceptInvite(env.deps, invitee.userId, invite.id);
    const row = inviteRow(env, invite.id);
    expect(rejection(() => acceptInvite(env.deps, invitee.userId, invite.id)).code).toBe("conflict");
    expect(inviteRow(env, invite.id)).toEqual(row);
    expect(countRows(env, "memberships")).toBe(3);
  });

  test("an expired invite is refused and the error is kept on the invite", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const { invite } = inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    env.clock.advance(7 * DAY);
    const error = rejection(() => acceptInvite(env.deps, invitee.userId, invite.id));
    expect(error.code).toBe("bad_request");
    expect(error.message).toMatch(/expired.*invite_member/);
    expect(inviteRow(env, invite.id)).toMatchObject({ accept_error: error.message, accepted_at: null });
    expect(membershipRole(env, invitee.userId, admin.org)).toBeUndefined();
  });

  test("an unknown id, another address's invite and an unverified address all get the same not-found answer", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const { invite } = inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    const stranger = await newAgent(env, "Stranger");
    setEmail(env, stranger.userId, "stranger@example.com");
    const unknown = rejection(() => acceptInvite(env.deps, stranger.userId, "00000000-0000-0000-0000-000000000000"));
    const foreign = rejection(() => acceptInvite(env.deps, stranger.userId, invite.id));
    expect(unknown.code).toBe("not_found");
    expect(foreign.code).toBe("not_found");
    expect(foreign.message.replace(invite.id, "ID")).toBe(unknown.message.replace("00000000-0000-0000-0000-000000000000", "ID"));
    expect(foreign.message).not.toContain(admin.org);

    setEmail(env, invitee.userId, "invitee@example.com", false);
    expect(rejection(() => acceptInvite(env.deps, invitee.userId, invite.id)).message).toBe(foreign.message);
    expect(inviteRow(env, invite.id)).toMatchObject({ accepted_at: null, accept_error: null });
  });

  test("already being a member is a conflict, kept as acceptError", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const { invite } = inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    env.store.sqlite
      .prepare("INSERT INTO memberships (user_id, org_id, role, created_at) SELECT ?, id, 'member', 0 FROM organizations WHERE name = ?")
      .run(invitee.userId, admin.org);
    const error = rejection(() => acceptInvite(env.deps, invitee.userId, invite.id));
    expect(error.code).toBe("conflict");
    expect(inviteRow(env, invite.id)).toMatchObject({ accept_error: error.message, accepted_at: null });
  });

  test("concurrent accepts of one invite from two connections make exactly one membership", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const { invite } = inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    const other = openDb(env.dbFile);
    try {
      const otherDeps: Deps = { ...env.deps, db: other.db };
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, async (_, i) => acceptInvite(i % 2 ? otherDeps : env.deps, invitee.userId, invite.id)),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      expect(results.flatMap((r) => (r.status === "rejected" ? [(r.reason as AppError).code] : []))).toEqual(Array(9).fill("conflict"));
    } finally {
      other.close();
    }
    const n = env.store.sqlite
      .prepare("SELECT count(*) AS n FROM memberships m JOIN organizations o ON o.id = m.org_id WHERE m.user_id = ? AND o.name = ?")
      .get(invitee.userId, admin.org) as { n: number };
    expect(n.n).toBe(1);
  });
});
