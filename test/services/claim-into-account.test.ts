import { getCurrentUser } from "../../src/services/accounts.js";
import { claimIntoAccount, previewClaimInto } from "../../src/services/claim-into-account.js";
import { claimAccount, getClaimStatus } from "../../src/services/claims.js";
import { authenticate } from "../../src/services/tokens.js";
import { DAY, expect, fails, ok, signUp, test, type TestEnv } from "../fixture.js";

const PASSWORD = "Correct-Horse-9";

/** A human "grace" with an account of her own (an earlier agent's, claimed), and her agent's client. */
async function human(env: TestEnv) {
  const first = await signUp(env, { agentName: "First" });
  await claimAccount(env.deps, { claimToken: first.claimToken, username: "grace", email: "grace@example.com", password: PASSWORD, keepAgentAccess: true });
  return { id: (await authenticate(env.deps, first.token)).user.id, client: first.client };
}

/** A new agent with two stacks and an invite link in its own organization. */
async function busyAgent(env: TestEnv) {
  const agent = await signUp(env, { agentName: "Builder" });
  const org = (await ok(agent.client, "get_current_user")).organizations[0].githubLogin as string;
  await ok(agent.client, "create_stack", { projectName: "web", stackName: "dev" });
  await ok(agent.client, "create_stack", { projectName: "web", stackName: "prod" });
  await ok(agent.client, "create_invite_link", { name: "team", expiresAt: new Date(env.clock.now().getTime() + DAY).toISOString() });
  const agentId = (await authenticate(env.deps, agent.token)).user.id;
  return { ...agent, org, agentId };
}

test("the preview says exactly what moves, and changes nothing", async ({ env }) => {
  const grace = await human(env);
  const agent = await busyAgent(env);
  const preview = await previewClaimInto(env.deps, agent.claimToken, grace.id);
  expect(preview).toMatchObject({ into: "grace", moving: [{ name: agent.org, change: "join", stackCount: 2, inviteLinkCount: 1 }], staying: [] });
  expect(await getClaimStatus(env.deps, agent.agentId)).toMatchObject({ claimed: false });
  expect((await getCurrentUser(env.deps, grace.id)).organizations.map((o) => o.name)).not.toContain(agent.org);
});

test("claiming into an account makes the human admin of the agent's organization, with its stacks, and marks the agent claimed by them", async ({ env }) => {
  const grace = await human(env);
  const agent = await busyAgent(env);
  const { expected } = await previewClaimInto(env.deps, agent.claimToken, grace.id);
  expect(await claimIntoAccount(env.deps, { claimToken: agent.claimToken, humanId: grace.id, keepAgentAccess: true, expected })).toEqual({ into: "grace", organizations: [agent.org] });

  expect((await getCurrentUser(env.deps, grace.id)).organizations).toContainEqual(expect.objectContaining({ name: agent.org, role: "admin" }));
  const stacks = await ok(grace.client, "list_stacks", { organization: agent.org });
  expect(stacks.stacks.map((s: { stackName: string }) => s.stackName).sort()).toEqual(["dev", "prod"]);
  expect(await ok(agent.client, "get_claim_status")).toMatchObject({ claimed: true, claimedBy: "grace", agentAccessKept: true });
  // The agent stays an agent of its own, still at work.
  expect(await ok(agent.client, "get_current_user")).toMatchObject({ isAgent: true, name: "Builder" });
});

test("with the agent's access ended at the claim, its token stops working", async ({ env }) => {
  const grace = await human(env);
  const agent = await busyAgent(env);
  const { expected } = await previewClaimInto(env.deps, agent.claimToken, grace.id);
  await claimIntoAccount(env.deps, { claimToken: agent.claimToken, humanId: grace.id, keepAgentAccess: false, expected });
  expect(await fails(agent.client, "get_current_user")).toMatch(/revoked|claimed/);
  expect(await getClaimStatus(env.deps, agent.agentId)).toMatchObject({ claimed: true, claimedBy: "grace", agentAccessKept: false });
});

test("an organization the agent only views stays with it, and a viewer human is promoted to admin of the agent's own", async ({ env }) => {
  const grace = await human(env);
  const graceOrg = (await ok(grace.client, "get_current_user")).organizations[0].githubLogin as string;
  const agent = await busyAgent(env);
  // The agent is a viewer of grace's organization, and grace a viewer of the agent's.
  await env.deps.db.transact(async (tx) => {
    const orgs = await tx.select().from(tx.tables.organizations);
    const idOf = (name: string) => orgs.find((o) => o.name === name)!.id;
    await tx.insert(tx.tables.memberships).values([
      { userId: agent.agentId, orgId: idOf(graceOrg), role: "viewer", createdAt: env.clock.now() },
      { userId: grace.id, orgId: idOf(agent.org), role: "viewer", createdAt: env.clock.now() },
    ]);
  });
  const preview = await previewClaimInto(env.deps, agent.claimToken, grace.id);
  expect(preview.moving).toEqual([expect.objectContaining({ name: agent.org, change: "promote" })]);
  expect(preview.staying).toEqual([{ name: graceOrg, role: "viewer" }]);
  await claimIntoAccount(env.deps, { claimToken: agent.claimToken, humanId: grace.id, keepAgentAccess: true, expected: preview.expected });
  const roles = Object.fromEntries((await getCurrentUser(env.deps, grace.id)).organizations.map((o) => [o.name, o.role]));
  expect(roles).toEqual({ [graceOrg]: "admin", [agent.org]: "admin" });
});

test("when what would move changed after the preview, nothing is claimed and the link still works", async ({ env }) => {
  const grace = await human(env);
  const agent = await busyAgent(env);
  const stale = await previewClaimInto(env.deps, agent.claimToken, grace.id);
  // Grace joins the agent's organization meanwhile: the preview's "you become admin" is no longer what would happen.
  await env.deps.db.transact(async (tx) => {
    const agentOrgId = (await tx.select().from(tx.tables.organizations)).find((o) => o.name === agent.org)!.id;
    await tx.insert(tx.tables.memberships).values({ userId: grace.id, orgId: agentOrgId, role: "member", createdAt: env.clock.now() });
  });
  await expect(claimIntoAccount(env.deps, { claimToken: agent.claimToken, humanId: grace.id, keepAgentAccess: false, expected: stale.expected })).rejects.toThrow(
    /changed after you looked/,
  );
  expect(await getClaimStatus(env.deps, agent.agentId)).toMatchObject({ claimed: false });
  expect(await ok(agent.client, "get_current_user")).toMatchObject({ isAgent: true });
  expect((await getCurrentUser(env.deps, grace.id)).organizations).toContainEqual(expect.objectContaining({ name: agent.org, role: "member" }));
});

test("a claim link already used, as a new account or into another, cannot be claimed into an account", async ({ env }) => {
  const grace = await human(env);
  const agent = await busyAgent(env);
  const { expected } = await previewClaimInto(env.deps, agent.claimToken, grace.id);
  await claimAccount(env.deps, { claimToken: agent.claimToken, username: "ada", email: "ada@example.com", password: PASSWORD, keepAgentAccess: true });
  await expect(claimIntoAccount(env.deps, { claimToken: agent.claimToken, humanId: grace.id, keepAgentAccess: true, expected })).rejects.toThrow(/already been claimed/);
  await expect(previewClaimInto(env.deps, agent.claimToken, grace.id)).rejects.toThrow(/already been claimed/);
  expect((await getCurrentUser(env.deps, grace.id)).organizations.map((o) => o.name)).not.toContain(agent.org);
});

test("two humans claiming the same agent at once: exactly one gets it", async ({ env }) => {
  const grace = await human(env);
  const other = await signUp(env, { agentName: "Other" });
  await claimAccount(env.deps, { claimToken: other.claimToken, username: "ada", email: "ada@example.com", password: PASSWORD, keepAgentAccess: true });
  const adaId = (await authenticate(env.deps, other.token)).user.id;
  const agent = await busyAgent(env);
  const previews = await Promise.all([grace.id, adaId].map((id) => previewClaimInto(env.deps, agent.claimToken, id)));
  const outcomes = await Promise.allSettled(
    [grace.id, adaId].map((humanId, i) => claimIntoAccount(env.deps, { claimToken: agent.claimToken, humanId, keepAgentAccess: true, expected: previews[i]!.expected })),
  );
  expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
  const admins = await Promise.all([grace.id, adaId].map(async (id) => (await getCurrentUser(env.deps, id)).organizations.some((o) => o.name === agent.org)));
  expect(admins.filter(Boolean)).toHaveLength(1);
});
