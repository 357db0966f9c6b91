import { desc, eq } from "drizzle-orm";
import { describe } from "vitest";
import { expect, fails, ok, signUp, test, type TestEnv } from "../fixture.js";
import { seedDefaultOrganization } from "../seed-shapes.js";

/** An agent (the host) and a guest who joined its organization through an invite link, as a member. */
async function hostAndGuest(env: TestEnv) {
  const host = await signUp(env, { agentName: "Host" });
  const invite = await ok(host.client, "create_invite_link", { name: "n", expiresAt: "2026-03-10T00:00:00Z" });
  const joined = await ok(await env.connect(), "redeem_invite", { token: invite.secret, email: "guest@example.com", name: "Guest" });
  const guest = await env.connect(joined.accessToken);
  return { host, hostOrg: host.signup.userInfo.githubLogin as string, guest, joined };
}

describe("get_default_organization", () => {
  test("is the agent's personal organization after signup, as Pulumi's {GitHubLogin, Messages}", async ({ env }) => {
    const { client, signup } = await signUp(env);
    const found = seedDefaultOrganization.parse(await ok(client, "get_default_organization"));
    expect(found).toEqual({ GitHubLogin: signup.userInfo.githubLogin, Messages: [] });
  });

  test("says, in Pulumi's words, when the user belongs to no organization", async ({ env }) => {
    const { client, signup } = await signUp(env);
    await env.deps.db.transact(async (tx) => {
      const { memberships, users } = tx.tables;
      const [user] = await tx.select({ id: users.id }).from(users).where(eq(users.uid, signup.userInfo.id));
      await tx.delete(memberships).where(eq(memberships.userId, user!.id));
    });
    expect(await fails(client, "get_default_organization")).toMatch(/^User is not a member of any organizations\. .*redeem_invite/);
  });

  test("falls back to the first organization joined, with a message, when the chosen one was left", async ({ env }) => {
    const { guest, hostOrg, joined } = await hostAndGuest(env);
    await env.deps.db.transact(async (tx) => {
      const { users } = tx.tables;
      await tx.update(users).set({ defaultOrgId: null }).where(eq(users.id, joined.id));
    });
    const found = seedDefaultOrganization.parse(await ok(guest, "get_default_organization"));
    expect(found.GitHubLogin).toBe(hostOrg);
    expect(found.Messages).toEqual([{ severity: "info", message: expect.stringContaining("set_default_organization") }]);
  });

  test("needs a signed-in caller", async ({ env }) => {
    expect(await fails(await env.connect(), "get_default_organization")).toContain("agent_signup");
  });
});

describe("set_default_organization", () => {
  test("changes the organization create_stack and create_invite_link use when none is named", async ({ env }) => {
    const { host, hostOrg } = await hostAndGuest(env);
    const second = await signUp(env, { agentName: "Second" });
    // Make the host an admin of a second organization too, then choose it.
    const secondOrg = second.signup.userInfo.githubLogin as string;
    await env.deps.db.transact(async (tx) => {
      const { memberships, organizations, users } = tx.tables;
      const [host] = await tx.select({ id: users.id }).from(users).where(eq(users.login, hostOrg));
      const [org] = await tx.select({ id: organizations.id }).from(organizations).where(eq(organizations.name, secondOrg));
      await tx.insert(memberships).values({ userId: host!.id, orgId: org!.id, role: "admin", createdAt: new Date(0) });
    });

    expect(await ok(host.client, "set_default_organization", { organization: secondOrg.toUpperCase() })).toEqual({ GitHubLogin: secondOrg, Messages: [] });
    expect((await ok(host.client, "get_default_organization")).GitHubLogin).toBe(secondOrg);
    expect((await ok(host.client, "create_stack", { projectName: "p", stackName: "s" })).orgName).toBe(secondOrg);
    expect((await ok(host.client, "create_invite_link", { name: "n", expiresAt: "2026-03-10T00:00:00Z" })).url).toMatch(/new-user\?invite=/);
    const { inviteLinks, organizations } = env.deps.db.tables;
    const [link] = await env.deps.db
      .select({ org: organizations.name })
      .from(inviteLinks)
      .innerJoin(organizations, eq(organizations.id, inviteLinks.orgId))
      .orderBy(desc(inviteLinks.id))
      .limit(1);
    expect(link?.org).toBe(secondOrg);
  });

  test("setting the same organization twice changes nothing", async ({ env }) => {
    const { client, signup } = await signUp(env);
    const org = signup.userInfo.githubLogin;
    expect(await ok(client, "set_default_organization", { organization: org })).toEqual(await ok(client, "set_default_organization", { organization: org }));
  });

  test("an organization the caller is not in reads like one that does not exist, and nothing changes", async ({ env }) => {
    const owner = await signUp(env);
    const stranger = await signUp(env);
    const org = owner.signup.userInfo.githubLogin as string;
    const real = await fails(stranger.client, "set_default_organization", { organization: org });
    const made = await fails(stranger.client, "set_default_organization", { organization: "no-such-org" });
    expect(real.replace(org, "X")).toBe(made.replace("no-such-org", "X"));
    expect((await ok(stranger.client, "get_default_organization")).GitHubLogin).toBe(stranger.signup.userInfo.githubLogin);
  });

  test("an invalid name is refused before anything runs", async ({ env }) => {
    const { client } = await signUp(env);
    expect(await fails(client, "set_default_organization", { organization: "has spaces" })).toContain("organization name");
    expect(await fails(client, "set_default_organization", {})).toContain("organization");
  });
});
