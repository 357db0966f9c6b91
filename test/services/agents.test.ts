import { endAgentAccess, listOwnedAgents, listTeamAgents, restoreAgentAccess, revokeAgentToken } from "../../src/services/agents.js";
import { createPersonalToken, listAccessTokens } from "../../src/services/access-tokens.js";
import { claimIntoAccount, previewClaimInto } from "../../src/services/claim-into-account.js";
import { authenticate } from "../../src/services/tokens.js";
import { claimedAccount, expect, fails, ok, signUp, test, type TestEnv } from "../fixture.js";

/** A second agent, claimed into grace's account. */
async function claimedInto(env: TestEnv, humanId: number) {
  const agent = await signUp(env, { agentName: "Helper" });
  const preview = await previewClaimInto(env.deps, agent.claimToken, humanId);
  await claimIntoAccount(env.deps, { claimToken: agent.claimToken, humanId, keepAgentAccess: true, expected: preview.expected });
  return { ...agent, uid: (await authenticate(env.deps, agent.token)).user.uid };
}

test("ending the agent's access revokes its working tokens at once; its calls then fail", async ({ env }) => {
  const { client, user } = await claimedAccount(env);
  expect(await endAgentAccess(env.deps, user.id, user.uid)).toBe(1);
  expect(await fails(client, "get_current_user")).toMatch(/revoked/);
  const [agentToken] = await listAccessTokens(env.deps, user.id, "agent");
  expect(agentToken).toMatchObject({ kind: "agent", state: "revoked" });
  // Again: nothing left to end.
  expect(await endAgentAccess(env.deps, user.id, user.uid)).toBe(0);
});

test("giving access back issues a new agent token that works, while the revoked one stays revoked", async ({ env }) => {
  const { token, user } = await claimedAccount(env, false);
  const restored = await restoreAgentAccess(env.deps, user.id, user.uid);
  const client = await env.connect(restored.token);
  expect(await ok(client, "get_current_user")).toMatchObject({ githubLogin: "grace", isAgent: false });
  await expect((await env.connect(token)).callTool({ name: "get_current_user", arguments: {} })).resolves.toMatchObject({ isError: true });
  expect(restored.expiresAt.getTime() - env.clock.now().getTime()).toBe(env.deps.settings.accessTokenTtlMs);
});

test("ending access leaves the human's personal tokens working", async ({ env }) => {
  const { user } = await claimedAccount(env);
  const personal = await createPersonalToken(env.deps, user, { description: "laptop", expiresInDays: 7 });
  await endAgentAccess(env.deps, user.id, user.uid);
  expect(await ok(await env.connect(personal.token), "get_current_user")).toMatchObject({ githubLogin: "grace" });
});

test("the human's agents are the one that made the account and those claimed into it, each with its working tokens", async ({ env }) => {
  const { user } = await claimedAccount(env);
  const helper = await claimedInto(env, user.id);
  const agents = await listOwnedAgents(env.deps, user.id, 1);
  expect(agents.items.map((a) => [a.name, a.isThisAccount, a.activeTokens])).toEqual([
    ["Builder", true, 1],
    ["Helper", false, 1],
  ]);
  expect(await endAgentAccess(env.deps, user.id, helper.uid)).toBe(1);
  expect(await fails(helper.client, "get_current_user")).toMatch(/revoked/);
  const restored = await restoreAgentAccess(env.deps, user.id, helper.uid);
  expect(await ok(await env.connect(restored.token), "get_current_user")).toMatchObject({ isAgent: true, name: "Helper" });
});

test("another human's agent cannot be ended, given access, or have a token revoked, and answers as one that does not exist", async ({ env }) => {
  const { user } = await claimedAccount(env);
  const stranger = await signUp(env, { agentName: "Stranger" });
  const strangerUser = (await authenticate(env.deps, stranger.token)).user;
  const [token] = await listAccessTokens(env.deps, strangerUser.id);
  await expect(endAgentAccess(env.deps, user.id, strangerUser.uid)).rejects.toThrow(/No agent of yours/);
  await expect(restoreAgentAccess(env.deps, user.id, strangerUser.uid)).rejects.toThrow(/No agent of yours/);
  await expect(revokeAgentToken(env.deps, user.id, strangerUser.uid, token!.id)).rejects.toThrow(/No agent of yours/);
  expect(await ok(stranger.client, "get_current_user")).toMatchObject({ isAgent: true });
});

test("agents that joined the human's organizations are listed with their roles, apart from the human's own", async ({ env }) => {
  const { client, user } = await claimedAccount(env);
  const link = await ok(client, "create_invite_link", { name: "team", expiresAt: new Date(env.clock.now().getTime() + 86_400_000).toISOString() });
  await ok(await env.connect(), "redeem_invite", { token: link.url, email: "visitor@example.com", name: "Visitor" });
  const team = await listTeamAgents(env.deps, user.id, 1);
  expect(team.items).toEqual([expect.objectContaining({ name: "Visitor", organizations: [{ name: expect.any(String), role: "viewer" }] })]);
  expect(team.hasNext).toBe(false);
});
