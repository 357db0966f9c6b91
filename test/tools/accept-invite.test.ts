import { eq } from "drizzle-orm";
import { describe } from "vitest";
import { createTestEnv, DAY, expect, fails, ok, signUp, type TestEnv, test } from "../fixture.js";
import { seedOrganizationSummary } from "../seed-shapes.js";

/** Sets an account's primary email as verified, as the verification link would. */
async function verifyEmail(env: TestEnv, uid: string, email: string) {
  await env.deps.db.transact(async (tx) => {
    const { users } = tx.tables;
    await tx.update(users).set({ email, emailVerifiedAt: env.clock.now() }).where(eq(users.uid, uid));
  });
}

/** A host agent that invited invitee@example.com, and the invitee agent with that address verified. */
async function invited(env: TestEnv, role: "member" | "admin" = "member") {
  const host = await signUp(env, { agentName: "Host" });
  const invitee = await signUp(env, { agentName: "Invitee" });
  await verifyEmail(env, invitee.signup.userInfo.id, "invitee@example.com");
  const invite = await ok(host.client, "invite_member", { email: "invitee@example.com", role });
  return { host, org: host.signup.userInfo.githubLogin as string, invitee, invite };
}

async function inviteRow(env: TestEnv, uid: string) {
  const { orgInvites } = env.deps.db.tables;
  const [row] = await env.deps.db.select().from(orgInvites).where(eq(orgInvites.uid, uid));
  return row;
}

describe("accept_invite", () => {
  test("joins the organization with the invite's role and answers {organization}", async ({ env }) => {
    const { org, invitee, invite } = await invited(env, "admin");
    const { organization } = await ok(invitee.client, "accept_invite", { id: invite.id });
    expect(seedOrganizationSummary.parse(organization)).toMatchObject({ name: org, githubLogin: org, role: "admin" });
    const me = await ok(invitee.client, "get_current_user");
    expect(me.organizations).toContainEqual(expect.objectContaining({ name: org, role: "admin" }));
    expect(me.potentialOrganizations).toEqual([]);
    expect(await inviteRow(env, invite.id)).toMatchObject({ acceptedAt: env.clock.now() });
    // The new organization is usable at once.
    expect((await ok(invitee.client, "create_stack", { organization: org, projectName: "p", stackName: "s" })).orgName).toBe(org);
  });

  test("a Viewer who joined through an invite link is raised to the email invite's role, and can then create stacks", async ({ env }) => {
    const host = await signUp(env, { agentName: "Host" });
    const org = host.signup.userInfo.githubLogin as string;
    const link = await ok(host.client, "create_invite_link", { name: "Team", expiresAt: new Date(env.clock.now().getTime() + DAY).toISOString() });
    const viewer = await ok(await env.connect(), "redeem_invite", { token: link.url, email: "viewer@example.com", name: "Viewer agent" });
    const client = await env.connect(viewer.accessToken);
    expect(await fails(client, "create_stack", { organization: org, projectName: "p", stackName: "s" })).toMatch(/read-only/);

    await env.deps.db.transact((tx) => tx.update(tx.tables.users).set({ emailVerifiedAt: env.clock.now() }).where(eq(tx.tables.users.id, viewer.id)));
    const invite = await ok(host.client, "invite_member", { email: "viewer@example.com", role: "member" });
    expect((await ok(client, "accept_invite", { id: invite.id })).organization).toMatchObject({ name: org, role: "member" });
    expect((await ok(client, "create_stack", { organization: org, projectName: "p", stackName: "s" })).orgName).toBe(org);
  });

  test("takes the whole acceptInviteUrl too", async ({ env }) => {
    const { org, invitee, invite } = await invited(env);
    expect((await ok(invitee.client, "accept_invite", { id: invite.acceptInviteUrl })).organization).toMatchObject({ name: org, role: "member" });
  });

  test("accepting twice is a conflict", async ({ env }) => {
    const { invitee, invite } = await invited(env);
    await ok(invitee.client, "accept_invite", { id: invite.id });
    expect(await fails(invitee.client, "accept_invite", { id: invite.id })).toMatch(/already accepted/);
  });

  test("an expired invite is an error that says to ask for a new one, and it is recorded on the invite", async () => {
    // Access tokens live 72 h by default, less than an invite: this test needs both alive after 7 days.
    const env = await createTestEnv({ accessTokenTtlMs: 30 * DAY });
    try {
      const { invitee, invite } = await invited(env);
      env.clock.advance(7 * DAY);
      const message = await fails(invitee.client, "accept_invite", { id: invite.id });
      expect(message).toMatch(/expired.*invite_member/);
      expect(await inviteRow(env, invite.id)).toMatchObject({ acceptedAt: null, acceptError: message });
    } finally {
      await env.close();
    }
  });

  test("an unknown id and an invite addressed to someone else read alike", async ({ env }) => {
    const { org, invite } = await invited(env);
    const stranger = await signUp(env);
    await verifyEmail(env, stranger.signup.userInfo.id, "stranger@example.com");
    const foreign = await fails(stranger.client, "accept_invite", { id: invite.id });
    const unknown = await fails(stranger.client, "accept_invite", { id: "no-such-invite" });
    expect(foreign).toContain("list_pending_invites");
    expect(foreign).not.toContain(org);
    expect(foreign.replace(invite.id, "ID")).toBe(unknown.replace("no-such-invite", "ID"));
    expect(await inviteRow(env, invite.id)).toMatchObject({ acceptedAt: null, acceptError: null });
  });

  test("an empty id is refused before anything runs", async ({ env }) => {
    const { invitee } = await invited(env);
    expect(await fails(invitee.client, "accept_invite", { id: "  " })).toContain("id is required");
  });

  test("needs a signed-in caller", async ({ env }) => {
    const { invite } = await invited(env);
    expect(await fails(await env.connect(), "accept_invite", { id: invite.id })).toContain("agent_signup");
  });
});
