import { describe } from "vitest";
import { createTestEnv, DAY, expect, fails, ok, signUp, type TestEnv, test } from "../fixture.js";
import { seedOrganizationSummary } from "../seed-shapes.js";

/** Sets an account's primary email as verified, as the verification link would. */
function verifyEmail(env: TestEnv, uid: string, email: string) {
  env.store.sqlite.prepare("UPDATE users SET email = ?, email_verified_at = ? WHERE uid = ?").run(email, env.clock.now().getTime(), uid);
}

/** A host agent that invited invitee@example.com, and the invitee agent with that address verified. */
async function invited(env: TestEnv, role: "member" | "admin" = "member") {
  const host = await signUp(env, { agentName: "Host" });
  const invitee = await signUp(env, { agentName: "Invitee" });
  verifyEmail(env, invitee.signup.userInfo.id, "invitee@example.com");
  const invite = await ok(host.client, "invite_member", { email: "invitee@example.com", role });
  return { host, org: host.signup.userInfo.githubLogin as string, invitee, invite };
}

const inviteRow = (env: TestEnv, uid: string) => env.store.sqlite.prepare("SELECT * FROM org_invites WHERE uid = ?").get(uid) as Record<string, any>;

describe("accept_invite", () => {
  test("joins the organization with the invite's role and answers {organization}", async ({ env }) => {
    const { org, invitee, invite } = await invited(env, "admin");
    const { organization } = await ok(invitee.client, "accept_invite", { id: invite.id });
    expect(seedOrganizationSummary.parse(organization)).toMatchObject({ name: org, githubLogin: org, role: "admin" });
    const me = await ok(invitee.client, "get_current_user");
    expect(me.organizations).toContainEqual(expect.objectContaining({ name: org, role: "admin" }));
    expect(me.potentialOrganizations).toEqual([]);
    expect(inviteRow(env, invite.id)).toMatchObject({ accepted_at: env.clock.now().getTime() });
    // The new organization is usable at once.
    expect((await ok(invitee.client, "create_stack", { organization: org, projectName: "p", stackName: "s" })).orgName).toBe(org);
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
      expect(inviteRow(env, invite.id)).toMatchObject({ accepted_at: null, accept_error: message });
    } finally {
      await env.close();
    }
  });

  test("an unknown id and an invite addressed to someone else read alike", async ({ env }) => {
    const { org, invite } = await invited(env);
    const stranger = await signUp(env);
    verifyEmail(env, stranger.signup.userInfo.id, "stranger@example.com");
    const foreign = await fails(stranger.client, "accept_invite", { id: invite.id });
    const unknown = await fails(stranger.client, "accept_invite", { id: "no-such-invite" });
    expect(foreign).toContain("list_pending_invites");
    expect(foreign).not.toContain(org);
    expect(foreign.replace(invite.id, "ID")).toBe(unknown.replace("no-such-invite", "ID"));
    expect(inviteRow(env, invite.id)).toMatchObject({ accepted_at: null, accept_error: null });
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
