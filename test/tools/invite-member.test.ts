import { eq } from "drizzle-orm";
import { describe } from "vitest";
import { countRows, DAY, expect, fails, ok, signUp, type TestEnv, test } from "../fixture.js";
import { seedPendingOrganizationInvite } from "../seed-shapes.js";

/** The invite mail sent so far (signup flows may send verification mail too). */
const inviteMail = (env: TestEnv) => env.mail.filter((message) => message.subject.startsWith("You are invited"));

/** An agent admin of its own organization, and a guest who joined it through an invite link as a member (guest@example.com). */
async function hostAndGuest(env: TestEnv) {
  const host = await signUp(env, { agentName: "Host" });
  const link = await ok(host.client, "create_invite_link", { name: "n", expiresAt: "2026-03-10T00:00:00Z" });
  const joined = await ok(await env.connect(), "redeem_invite", { token: link.secret, email: "guest@example.com", name: "Guest" });
  const guest = await env.connect(joined.accessToken);
  return { host, org: host.signup.userInfo.githubLogin as string, guest };
}

describe("invite_member", () => {
  test("invites an address as member by default, mails it and answers Pulumi's PendingOrganizationInvite", async ({ env }) => {
    const { client, signup } = await signUp(env, { agentName: "Host" });
    const org = signup.userInfo.githubLogin as string;
    const result = await client.callTool({ name: "invite_member", arguments: { email: "New.Person@Example.com" } });
    expect(result.isError).toBeFalsy();
    const invite = seedPendingOrganizationInvite.parse(result.structuredContent);
    expect(invite).toMatchObject({
      email: "new.person@example.com",
      role: "member",
      status: "pending",
      sentBy: { name: "Host", githubLogin: org },
      sentAt: Math.floor(env.clock.now().getTime() / 1000),
      acceptInviteUrl: `http://onboard.test/api/user/pending-invites/${invite.id}/accept`,
    });
    expect(invite.sentBy).not.toHaveProperty("email");
    const text = (result.content as Array<{ text: string }>)[0]!.text;
    expect(text).toContain(org);
    expect(text).toContain(new Date(env.clock.now().getTime() + 7 * DAY).toISOString());
    expect(text).toContain("accept_invite");

    expect(inviteMail(env)).toEqual([
      { to: "new.person@example.com", subject: `You are invited to join ${org} on agent-onboard`, text: expect.stringContaining(invite.acceptInviteUrl) },
    ]);
    expect(inviteMail(env)[0]!.text).toContain("accept_invite");
    expect(await countRows(env, "org_invites")).toBe(1);
  });

  test("invites as admin into a named organization", async ({ env }) => {
    const { client, signup } = await signUp(env);
    const org = signup.userInfo.githubLogin as string;
    const invite = await ok(client, "invite_member", { email: "boss@example.com", role: "admin", organization: org.toUpperCase() });
    expect(invite.role).toBe("admin");
    expect(inviteMail(env)[0]!.subject).toBe(`You are invited to join ${org} on agent-onboard`);
  });

  test("inviting the same address again re-sends the same invite, refreshed", async ({ env }) => {
    const { client } = await signUp(env);
    const first = await ok(client, "invite_member", { email: "again@example.com" });
    env.clock.advance(DAY);
    const result = await client.callTool({ name: "invite_member", arguments: { email: "again@example.com" } });
    const second = seedPendingOrganizationInvite.parse(result.structuredContent);
    expect(second.id).toBe(first.id);
    expect(second.sentAt).toBe(first.sentAt + 86_400);
    expect((result.content as Array<{ text: string }>)[0]!.text).toMatch(/re-sent/);
    expect(await countRows(env, "org_invites")).toBe(1);
    expect(inviteMail(env)).toHaveLength(2);
  });

  test("a member who is not an admin is forbidden", async ({ env }) => {
    const { guest, org } = await hostAndGuest(env);
    const message = await fails(guest, "invite_member", { email: "friend@example.com" });
    expect(message).toContain(`Only an admin of "${org}"`);
    expect(await countRows(env, "org_invites")).toBe(0);
    expect(inviteMail(env)).toEqual([]);
  });

  test("an unknown organization and a stranger's one get the same answer", async ({ env }) => {
    const owner = await signUp(env);
    const stranger = await signUp(env);
    const org = owner.signup.userInfo.githubLogin as string;
    const real = await fails(stranger.client, "invite_member", { email: "x@example.com", organization: org });
    const made = await fails(stranger.client, "invite_member", { email: "x@example.com", organization: "no-such-org" });
    expect(real).toContain("not a member");
    expect(real.replace(org, "X")).toBe(made.replace("no-such-org", "X"));
    expect(await countRows(env, "org_invites")).toBe(0);
  });

  test("a malformed address or role is refused before anything runs", async ({ env }) => {
    const { client } = await signUp(env);
    expect(await fails(client, "invite_member", { email: "nope" })).toContain("valid email");
    expect(await fails(client, "invite_member", {})).toContain("email");
    expect(await fails(client, "invite_member", { email: "a@example.com", role: "owner" })).toContain("role");
    expect(await countRows(env, "org_invites")).toBe(0);
  });

  test("an address that already belongs to a member is a conflict", async ({ env }) => {
    const { host } = await hostAndGuest(env);
    // The guest joined through the link as a Viewer; an admin made them a member since.
    await env.deps.db.transact((tx) => tx.update(tx.tables.memberships).set({ role: "member" }).where(eq(tx.tables.memberships.role, "viewer")));
    const message = await fails(host.client, "invite_member", { email: "GUEST@example.com" });
    expect(message).toMatch(/already belongs to .*a member/);
    expect(await countRows(env, "org_invites")).toBe(0);
    expect(inviteMail(env)).toEqual([]);
  });

  test("a Viewer's address may be invited: accepting would raise them to the invite's role", async ({ env }) => {
    const { host } = await hostAndGuest(env);
    const invite = await ok(host.client, "invite_member", { email: "guest@example.com", role: "member" });
    expect(invite).toMatchObject({ email: "guest@example.com", role: "member", status: "pending" });
  });

  test("needs a signed-in caller", async ({ env }) => {
    expect(await fails(await env.connect(), "invite_member", { email: "a@example.com" })).toContain("agent_signup");
  });
});
