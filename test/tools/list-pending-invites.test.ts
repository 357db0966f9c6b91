import { eq } from "drizzle-orm";
import { describe } from "vitest";
import { createTestEnv, DAY, expect, fails, ok, signUp, type TestEnv, test, textOf, type ToolResult } from "../fixture.js";
import { seedPendingInvites, seedUser } from "../seed-shapes.js";

/** Sets an account's primary email as verified, as the verification link would. */
async function verifyEmail(env: TestEnv, uid: string, email: string) {
  await env.deps.db.transact(async (tx) => {
    const { users } = tx.tables;
    await tx.update(users).set({ email, emailVerifiedAt: env.clock.now() }).where(eq(users.uid, uid));
  });
}

describe("list_pending_invites", () => {
  test("lists the invites to the caller's verified email as Pulumi's {invites}, naming each organization in its text", async ({ env }) => {
    const host = await signUp(env, { agentName: "Host" });
    const org = host.signup.userInfo.githubLogin as string;
    const invitee = await signUp(env, { agentName: "Invitee" });
    await verifyEmail(env, invitee.signup.userInfo.id, "invitee@example.com");
    const sent = await ok(host.client, "invite_member", { email: "invitee@example.com", role: "admin" });

    const result = await invitee.client.callTool({ name: "list_pending_invites", arguments: {} });
    const { invites } = seedPendingInvites.parse(result.structuredContent);
    expect(invites).toEqual([sent]);
    expect(invites[0]).toMatchObject({ status: "pending", role: "admin", sentBy: { githubLogin: org } });
    expect(textOf(result as ToolResult)).toContain(`${org} as admin`);
    expect(textOf(result as ToolResult)).toContain("accept_invite");

    // get_current_user shows the same organization as a potential one.
    const me = seedUser.parse(await ok(invitee.client, "get_current_user"));
    expect(me.potentialOrganizations).toEqual([expect.objectContaining({ name: org, role: "potential-member" })]);
  });

  test("without a verified email the list is empty and the text says to verify one first", async ({ env }) => {
    const host = await signUp(env);
    const invitee = await signUp(env);
    await ok(host.client, "invite_member", { email: "invitee@example.com" });
    await env.deps.db.transact(async (tx) => {
      const { users } = tx.tables;
      await tx.update(users).set({ email: "invitee@example.com" }).where(eq(users.uid, invitee.signup.userInfo.id));
    });
    const result = await invitee.client.callTool({ name: "list_pending_invites", arguments: {} });
    expect(result.structuredContent).toEqual({ invites: [] });
    expect(textOf(result as ToolResult)).toMatch(/no verified email.*Verify an email address first/);
  });

  test("is empty, and says so, once the only invite expired", async () => {
    // Access tokens live 72 h by default, less than an invite: this test needs both alive after 7 days.
    const env = await createTestEnv({ accessTokenTtlMs: 30 * DAY });
    try {
      const host = await signUp(env);
      const invitee = await signUp(env);
      await verifyEmail(env, invitee.signup.userInfo.id, "invitee@example.com");
      await ok(host.client, "invite_member", { email: "invitee@example.com" });
      env.clock.advance(7 * DAY);
      const result = await invitee.client.callTool({ name: "list_pending_invites", arguments: {} });
      expect(seedPendingInvites.parse(result.structuredContent)).toEqual({ invites: [] });
      expect(textOf(result as ToolResult)).toBe("No pending invites for invitee@example.com.");
    } finally {
      await env.close();
    }
  });

  test("needs a signed-in caller", async ({ env }) => {
    expect(await fails(await env.connect(), "list_pending_invites")).toContain("agent_signup");
  });
});
