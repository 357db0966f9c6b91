import { and, eq } from "drizzle-orm";
import { describe } from "vitest";
import { openStore } from "../../db/client.js";
import { AppError } from "../../src/errors.js";
import { agentSignup, getCurrentUser } from "../../src/services/accounts.js";
import type { Deps } from "../../src/services/deps.js";
import { acceptInvite, cancelOrganizationInvite, inviteMember, listOrganizationInvites, listPendingInvites, ORG_INVITE_TTL_MS } from "../../src/services/org-invites.js";
import { countRows, DAY, expect, type TestEnv, test } from "../fixture.js";
import { seedPendingInvites, seedPendingOrganizationInvite, seedUser } from "../seed-shapes.js";

/** A fresh agent made by the signup service: its row id, login and personal organization (where it is admin). */
async function newAgent(env: TestEnv, agentName = "Agent") {
  const signup = await agentSignup(env.deps, { agentName });
  const { users } = env.deps.db.tables;
  const [user] = await env.deps.db.select({ id: users.id }).from(users).where(eq(users.uid, signup.userInfo.id));
  return { userId: user!.id, login: signup.userInfo.githubLogin, org: signup.userInfo.organizations[0]!.name };
}

/** Sets a user's primary email and when it was verified, straight in the table. */
async function setUserEmail(env: TestEnv, userId: number, email: string | null, emailVerifiedAt: Date | null) {
  await env.deps.db.transact(async (tx) => {
    await tx.update(tx.tables.users).set({ email, emailVerifiedAt }).where(eq(tx.tables.users.id, userId));
  });
}

/** Gives a user a primary email, verified unless said otherwise (the verification flow is not needed here). */
const setEmail = (env: TestEnv, userId: number, email: string, verified = true) =>
  setUserEmail(env, userId, email, verified ? env.clock.now() : null);

/** An admin with an organization, and an agent whose verified email is invitee@example.com. */
async function adminAndInvitee(env: TestEnv) {
  const admin = await newAgent(env, "Admin");
  const invitee = await newAgent(env, "Invitee");
  await setEmail(env, invitee.userId, "invitee@example.com");
  return { admin, invitee };
}

/** The invite mail sent so far. */
const inviteMail = (env: TestEnv) => env.mail.filter((message) => message.subject.startsWith("You are invited"));

async function inviteRow(env: TestEnv, uid: string) {
  const { orgInvites } = env.deps.db.tables;
  const [row] = await env.deps.db.select().from(orgInvites).where(eq(orgInvites.uid, uid));
  return row!;
}

async function orgIdOf(env: TestEnv, org: string): Promise<number> {
  const { organizations } = env.deps.db.tables;
  const [row] = await env.deps.db.select({ id: organizations.id }).from(organizations).where(eq(organizations.name, org));
  return row!.id;
}

async function membershipRole(env: TestEnv, userId: number, org: string) {
  const { memberships, organizations } = env.deps.db.tables;
  const [row] = await env.deps.db
    .select({ role: memberships.role })
    .from(memberships)
    .innerJoin(organizations, eq(organizations.id, memberships.orgId))
    .where(and(eq(memberships.userId, userId), eq(organizations.name, org)));
  return row?.role;
}

/** Makes a user a member of an organization behind the services' back. */
async function addMember(env: TestEnv, userId: number, org: string) {
  const orgId = await orgIdOf(env, org);
  await env.deps.db.transact(async (tx) => {
    await tx.insert(tx.tables.memberships).values({ userId, orgId, role: "member", createdAt: new Date(0) });
  });
}

async function removeMember(env: TestEnv, userId: number, org: string) {
  const orgId = await orgIdOf(env, org);
  await env.deps.db.transact(async (tx) => {
    const { memberships } = tx.tables;
    await tx.delete(memberships).where(and(eq(memberships.userId, userId), eq(memberships.orgId, orgId)));
  });
}

async function rejection(fn: () => Promise<unknown>): Promise<AppError> {
  try {
    await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error("expected a refusal");
}

describe("inviteMember", () => {
  test("stores a pending invite valid for 7 days, mails the address and answers a seed-shaped PendingOrganizationInvite", async ({ env }) => {
    const { admin } = await adminAndInvitee(env);
    const result = await inviteMember(env.deps, admin.userId, { email: "Invitee@Example.com" });
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
    expect(await inviteRow(env, invite.id)).toMatchObject({ email: "invitee@example.com", role: "member", acceptedAt: null, expiresAt: new Date(env.clock.now().getTime() + ORG_INVITE_TTL_MS) });

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
    const first = await inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    env.clock.advance(3 * DAY);
    const again = await inviteMember(env.deps, admin.userId, { email: "invitee@example.com", role: "admin" });
    expect(again.resent).toBe(true);
    expect(again.invite.id).toBe(first.invite.id);
    expect(again.invite.sentAt).toBe(first.invite.sentAt + 3 * 86_400);
    expect(again.invite.role).toBe("admin");
    expect((await inviteRow(env, first.invite.id)).expiresAt).toEqual(new Date(env.clock.now().getTime() + 7 * DAY));
    expect(await countRows(env, "org_invites")).toBe(1);
    expect(inviteMail(env).map((m) => m.to)).toEqual(["invitee@example.com", "invitee@example.com"]);
  });

  test("an expired, unaccepted invite is renewed by inviting again, and its old acceptError is cleared", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const first = await inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    env.clock.advance(8 * DAY);
    await rejection(() => acceptInvite(env.deps, invitee.userId, first.invite.id));
    expect((await inviteRow(env, first.invite.id)).acceptError).toMatch(/expired/);
    const again = await inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    expect(again.invite).toMatchObject({ id: first.invite.id, status: "pending" });
    expect(again.invite).not.toHaveProperty("acceptError");
    expect((await acceptInvite(env.deps, invitee.userId, first.invite.id)).organization.name).toBe(admin.org);
  });

  test("an address that already belongs to a member is a conflict; nothing is stored or sent", async ({ env }) => {
    const { admin } = await adminAndInvitee(env);
    await setEmail(env, admin.userId, "admin@example.com", false);
    const error = await rejection(() => inviteMember(env.deps, admin.userId, { email: "ADMIN@example.com" }));
    expect(error.code).toBe("conflict");
    expect(error.message).toContain(admin.org);
    expect(await countRows(env, "org_invites")).toBe(0);
    expect(inviteMail(env)).toHaveLength(0);
  });

  test("only an admin may invite; a stranger's organization reads like one that does not exist", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    await addMember(env, invitee.userId, admin.org);
    const forbidden = await rejection(() => inviteMember(env.deps, invitee.userId, { email: "x@example.com", organization: admin.org }));
    expect(forbidden.code).toBe("forbidden");
    expect(forbidden.message).toContain("admin");

    const stranger = await newAgent(env, "Stranger");
    const real = await rejection(() => inviteMember(env.deps, stranger.userId, { email: "x@example.com", organization: admin.org }));
    const made = await rejection(() => inviteMember(env.deps, stranger.userId, { email: "x@example.com", organization: "no-such-org" }));
    expect(real.code).toBe("not_found");
    expect(real.message.replace(admin.org, "X")).toBe(made.message.replace("no-such-org", "X"));
    expect(await countRows(env, "org_invites")).toBe(0);
  });

  test("a malformed address is a validation error", async ({ env }) => {
    const { admin } = await adminAndInvitee(env);
    const error = await rejection(() => inviteMember(env.deps, admin.userId, { email: "not-an-email" }));
    expect(error.code).toBe("validation");
    expect(error.message).toContain("valid email");
  });
});

describe("listPendingInvites", () => {
  test("lists invites to the caller's verified email, seed-shaped, oldest first", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const other = await newAgent(env, "Other admin");
    const first = await inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    env.clock.advance(1000);
    const second = await inviteMember(env.deps, other.userId, { email: "invitee@example.com", role: "admin" });
    await inviteMember(env.deps, admin.userId, { email: "someone-else@example.com" });

    const answer = await listPendingInvites(env.deps, invitee.userId);
    expect(seedPendingInvites.parse(answer.body).invites.map((i) => [i.id, i.role])).toEqual([
      [first.invite.id, "member"],
      [second.invite.id, "admin"],
    ]);
    expect(answer).toMatchObject({ verifiedEmail: "invitee@example.com", organizations: [admin.org, other.org] });
  });

  test("an unverified or missing email gets an empty list", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    await inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    await setEmail(env, invitee.userId, "invitee@example.com", false);
    expect(await listPendingInvites(env.deps, invitee.userId)).toEqual({ body: { invites: [] }, verifiedEmail: null, organizations: [] });
    await setUserEmail(env, invitee.userId, null, null);
    expect((await listPendingInvites(env.deps, invitee.userId)).body).toEqual({ invites: [] });
  });

  test("leaves out expired invites (by the injected clock), accepted ones and organizations the caller is already in", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    await inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    env.clock.advance(7 * DAY - 1);
    expect((await listPendingInvites(env.deps, invitee.userId)).body.invites).toHaveLength(1);
    env.clock.advance(1);
    expect((await listPendingInvites(env.deps, invitee.userId)).body.invites).toEqual([]);

    const other = await newAgent(env, "Other");
    const fresh = await inviteMember(env.deps, other.userId, { email: "invitee@example.com" });
    await addMember(env, invitee.userId, other.org);
    expect((await listPendingInvites(env.deps, invitee.userId)).body.invites).toEqual([]);
    await removeMember(env, invitee.userId, other.org);
    await acceptInvite(env.deps, invitee.userId, fresh.invite.id);
    expect((await listPendingInvites(env.deps, invitee.userId)).body.invites).toEqual([]);
  });
});

describe("User.potentialOrganizations", () => {
  test("names the organizations of pending invites as potential-member, and is empty once accepted", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    expect((await getCurrentUser(env.deps, invitee.userId)).potentialOrganizations).toEqual([]);
    const { invite } = await inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    const before = seedUser.parse(await getCurrentUser(env.deps, invitee.userId));
    expect(before.potentialOrganizations).toEqual([
      { name: admin.org, role: "potential-member", githubLogin: admin.org, avatarUrl: expect.stringMatching(/^https:\/\//) },
    ]);
    await acceptInvite(env.deps, invitee.userId, invite.id);
    const after = await getCurrentUser(env.deps, invitee.userId);
    expect(after.potentialOrganizations).toEqual([]);
    expect(after.organizations.map((org) => org.name)).toContain(admin.org);
  });
});

describe("acceptInvite", () => {
  test("joins with the invite's role and records who accepted and when, in one go", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const { invite } = await inviteMember(env.deps, admin.userId, { email: "invitee@example.com", role: "admin" });
    env.clock.advance(DAY);
    expect(await acceptInvite(env.deps, invitee.userId, invite.id)).toEqual({
      organization: { name: admin.org, role: "admin", githubLogin: admin.org, avatarUrl: expect.any(String) },
    });
    expect(await membershipRole(env, invitee.userId, admin.org)).toBe("admin");
    expect(await inviteRow(env, invite.id)).toMatchObject({ acceptedAt: env.clock.now(), acceptedByUserId: invitee.userId, acceptError: null });
  });

  test("accepts the whole acceptInviteUrl as the id", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const { invite } = await inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    expect((await acceptInvite(env.deps, invitee.userId, invite.acceptInviteUrl)).organization.role).toBe("member");
  });

  test("accepting twice is a conflict and changes nothing", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const { invite } = await inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    await acceptInvite(env.deps, invitee.userId, invite.id);
    const row = await inviteRow(env, invite.id);
    expect((await rejection(() => acceptInvite(env.deps, invitee.userId, invite.id))).code).toBe("conflict");
    expect(await inviteRow(env, invite.id)).toEqual(row);
    expect(await countRows(env, "memberships")).toBe(3);
  });

  test("an expired invite is refused and the error is kept on the invite", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const { invite } = await inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    env.clock.advance(7 * DAY);
    const error = await rejection(() => acceptInvite(env.deps, invitee.userId, invite.id));
    expect(error.code).toBe("bad_request");
    expect(error.message).toMatch(/expired.*invite_member/);
    expect(await inviteRow(env, invite.id)).toMatchObject({ acceptError: error.message, acceptedAt: null });
    expect(await membershipRole(env, invitee.userId, admin.org)).toBeUndefined();
  });

  test("an unknown id, another address's invite and an unverified address all get the same not-found answer", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const { invite } = await inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    const stranger = await newAgent(env, "Stranger");
    await setEmail(env, stranger.userId, "stranger@example.com");
    const unknown = await rejection(() => acceptInvite(env.deps, stranger.userId, "00000000-0000-0000-0000-000000000000"));
    const foreign = await rejection(() => acceptInvite(env.deps, stranger.userId, invite.id));
    expect(unknown.code).toBe("not_found");
    expect(foreign.code).toBe("not_found");
    expect(foreign.message.replace(invite.id, "ID")).toBe(unknown.message.replace("00000000-0000-0000-0000-000000000000", "ID"));
    expect(foreign.message).not.toContain(admin.org);

    await setEmail(env, invitee.userId, "invitee@example.com", false);
    expect((await rejection(() => acceptInvite(env.deps, invitee.userId, invite.id))).message).toBe(foreign.message);
    expect(await inviteRow(env, invite.id)).toMatchObject({ acceptedAt: null, acceptError: null });
  });

  test("already being a member is a conflict, kept as acceptError", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const { invite } = await inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    await addMember(env, invitee.userId, admin.org);
    const error = await rejection(() => acceptInvite(env.deps, invitee.userId, invite.id));
    expect(error.code).toBe("conflict");
    expect(await inviteRow(env, invite.id)).toMatchObject({ acceptError: error.message, acceptedAt: null });
  });

  test("concurrent accepts of one invite from two connections make exactly one membership", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const { invite } = await inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    const other = await openStore(env.database.settings);
    try {
      const otherDeps: Deps = { ...env.deps, db: other.db };
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, async (_, i) => acceptInvite(i % 2 ? otherDeps : env.deps, invitee.userId, invite.id)),
      );
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      expect(results.flatMap((r) => (r.status === "rejected" ? [(r.reason as AppError).code] : []))).toEqual(Array(9).fill("conflict"));
    } finally {
      await other.close();
    }
    const [{ n }] = (await env.store.query(
      "SELECT count(*) AS n FROM memberships m JOIN organizations o ON o.id = m.org_id WHERE m.user_id = ? AND o.name = ?",
      [invitee.userId, admin.org],
    )) as [{ n: number }];
    expect(n).toBe(1);
  });
});

describe("an organization's pending invites, for its admins", () => {
  test("are listed newest first, and a canceled one leaves the list and can no longer be accepted", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const sent = await inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    await inviteMember(env.deps, admin.userId, { email: "second@example.com" });
    const listed = await listOrganizationInvites(env.deps, admin.userId, admin.org, 1);
    expect(listed.items.map((i) => i.email)).toEqual(["second@example.com", "invitee@example.com"]);

    expect(await cancelOrganizationInvite(env.deps, admin.userId, admin.org, sent.invite.id)).toEqual({ email: "invitee@example.com" });
    expect((await listOrganizationInvites(env.deps, admin.userId, admin.org, 1)).items.map((i) => i.email)).toEqual(["second@example.com"]);
    await expect(acceptInvite(env.deps, invitee.userId, sent.invite.id)).rejects.toThrow(AppError);
    expect(await membershipRole(env, invitee.userId, admin.org)).toBeUndefined();
    // Twice: already canceled.
    await expect(cancelOrganizationInvite(env.deps, admin.userId, admin.org, sent.invite.id)).rejects.toThrow(/accepted or canceled already/);
  });

  test("are neither listed nor canceled by someone who is not an admin there", async ({ env }) => {
    const { admin, invitee } = await adminAndInvitee(env);
    const sent = await inviteMember(env.deps, admin.userId, { email: "invitee@example.com" });
    await expect(listOrganizationInvites(env.deps, invitee.userId, admin.org, 1)).rejects.toThrow(/not a member/);
    await expect(cancelOrganizationInvite(env.deps, invitee.userId, admin.org, sent.invite.id)).rejects.toThrow(/not a member/);
    expect((await inviteRow(env, sent.invite.id)).canceledAt).toBeNull();
  });
});
