/**
 * Pulumi's claim API for a signed-in human (pulumi-pulumiservice
 * provider/pkg/cloud/spec.json, operations Claim and ClaimStatus): the human's
 * personal access token, the claim token from the agent's claim URL, and the
 * agent's stacks moved into one of the human's organizations.
 */
import { test as base, describe, expect } from "vitest";
import { claimAccount } from "../../src/services/claims.js";
import { createInviteLink, redeemInvite } from "../../src/services/invites.js";
import { createStack } from "../../src/services/stacks.js";
import { authenticate } from "../../src/services/tokens.js";
import { DAY, HUMAN_PASSWORD, jsonOrUndefined } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";

const test = base.extend<{ http: TestHttp }>({
  // biome-ignore lint: vitest fixtures need the destructuring pattern.
  http: async ({}, use) => {
    const http = await startTestHttp();
    await use(http);
    await http.close();
  },
});

async function call(http: TestHttp, method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = { accept: "application/vnd.pulumi+9", "content-type": "application/json" };
  if (token) headers.authorization = `token ${token}`;
  const res = await fetch(`${http.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  expect(text).not.toMatch(/\n\s+at /);
  return { status: res.status, body: jsonOrUndefined(text), text };
}

async function agentSignup(http: TestHttp, agentName = "Builder") {
  const answer = await call(http, "POST", "/api/agents/signup", undefined, { agentName });
  expect(answer.status, answer.text).toBe(200);
  const token = answer.body.accessToken as string;
  const claimToken = new URL(answer.body.claimUrl).pathname.split("/").pop()!;
  const id = (await authenticate(http.handle.deps, token)).user.id;
  return { token, claimToken, id, login: answer.body.userInfo.githubLogin as string, org: answer.body.userInfo.organizations[0].name as string };
}

/** Grace: a human with her own organization and a personal access token, as `pulumi login` would hold. */
async function grace(http: TestHttp) {
  const first = await agentSignup(http, "Grace's first agent");
  await claimAccount(http.handle.deps, { claimToken: first.claimToken, username: "grace", email: "grace@example.com", password: HUMAN_PASSWORD, keepAgentAccess: true });
  const pat = await call(http, "POST", "/api/user/tokens", first.token, { description: "laptop", expires: Math.floor(http.clock.now().getTime() / 1000) + 90 * 86_400 });
  expect(pat.status, pat.text).toBe(200);
  return { token: pat.body.tokenValue as string, org: first.org, id: first.id };
}

const stackNames = async (http: TestHttp, token: string, org: string) =>
  ((await call(http, "GET", `/api/user/stacks?organization=${org}`, token)).body.stacks as { projectName: string; stackName: string }[])
    .map((stack) => `${stack.projectName}/${stack.stackName}`)
    .sort();

describe("POST /api/agents/{orgName}/claim", () => {
  test("dryRun previews the agent and its stacks as AgentClaimResponse, with the names that collide, and changes nothing", async ({ http }) => {
    const human = await grace(http);
    const agent = await agentSignup(http);
    await createStack(http.handle.deps, agent.id, { projectName: "web", stackName: "dev" });
    await createStack(http.handle.deps, agent.id, { projectName: "web", stackName: "prod" });
    await createStack(http.handle.deps, human.id, { projectName: "web", stackName: "DEV" });

    const preview = await call(http, "POST", `/api/agents/${human.org}/claim?dryRun=true`, human.token, { claimToken: agent.claimToken });
    expect(preview.status, preview.text).toBe(200);
    expect(preview.body).toEqual({
      agent: { login: agent.login, orgName: agent.org, createdAt: expect.any(String) },
      entities: [
        { kind: "TransferEntityStack", projectName: "web", stackName: "dev" },
        { kind: "TransferEntityStack", projectName: "web", stackName: "prod" },
      ],
      conflicts: [{ kind: "TransferEntityStack", projectName: "web", stackName: "dev" }],
      failures: [],
      claimExpiresAt: expect.any(String),
    });
    expect(await stackNames(http, agent.token, agent.org)).toEqual(["web/dev", "web/prod"]);
    expect((await call(http, "GET", `/api/agents/signup/validate/${agent.claimToken}`)).status).toBe(200);
  });

  test("a commit with conflicts answers them with 200 and moves nothing", async ({ http }) => {
    const human = await grace(http);
    const agent = await agentSignup(http);
    await createStack(http.handle.deps, agent.id, { projectName: "web", stackName: "dev" });
    await createStack(http.handle.deps, human.id, { projectName: "web", stackName: "dev" });
    const blocked = await call(http, "POST", `/api/agents/${human.org}/claim`, human.token, { claimToken: agent.claimToken });
    expect(blocked.status, blocked.text).toBe(200);
    expect(blocked.body.conflicts).toEqual([{ kind: "TransferEntityStack", projectName: "web", stackName: "dev" }]);
    expect(blocked.body).not.toHaveProperty("transferToken");
    expect(await stackNames(http, agent.token, agent.org)).toEqual(["web/dev"]);
    expect((await call(http, "GET", "/api/user", agent.token)).status).toBe(200);
  });

  test("a commit with renames moves the stacks and their tags, ends the agent's token, removes its organization and spends the claim", async ({ http }) => {
    const human = await grace(http);
    const agent = await agentSignup(http);
    await createStack(http.handle.deps, agent.id, { projectName: "web", stackName: "dev", tags: { owner: "agent" } });
    await createStack(http.handle.deps, agent.id, { projectName: "api", stackName: "dev" });
    await createStack(http.handle.deps, human.id, { projectName: "web", stackName: "dev" });
    const rename = { kind: "TransferEntityStackRename", projectName: "web", stackName: "dev", renameAs: { kind: "TransferEntityStack", projectName: "web", stackName: "agent-dev" } };

    const done = await call(http, "POST", `/api/agents/${human.org}/claim?dryRun=false`, human.token, { claimToken: agent.claimToken, conflictsResolution: [rename] });
    expect(done.status, done.text).toBe(200);
    expect(done.body).toMatchObject({ entities: [rename, { kind: "TransferEntityStack", projectName: "api", stackName: "dev" }], conflicts: [], failures: [], transferToken: expect.any(String) });

    expect(await stackNames(http, human.token, human.org)).toEqual(["api/dev", "web/agent-dev", "web/dev"]);
    expect((await call(http, "GET", `/api/stacks/${human.org}/web/agent-dev`, human.token)).body.tags).toEqual({ owner: "agent" });
    expect((await call(http, "GET", "/api/user", agent.token)).status).toBe(401);
    expect((await call(http, "GET", `/api/agents/signup/validate/${agent.claimToken}`)).status).toBe(404);
    const me = await call(http, "GET", "/api/user", human.token);
    expect(me.body.organizations.map((org: { githubLogin: string }) => org.githubLogin)).toEqual([human.org]);
    expect((await call(http, "POST", `/api/agents/${human.org}/claim`, human.token, { claimToken: agent.claimToken })).status).toBe(404);
  });

  test("a teammate who joined the agent's organization keeps it, with the claiming human as its admin", async ({ http }) => {
    const human = await grace(http);
    const agent = await agentSignup(http);
    const link = await createInviteLink(http.handle.deps, agent.id, { name: "team", expiresAt: new Date(http.clock.now().getTime() + DAY).toISOString() });
    const teammate = await redeemInvite(http.handle.deps, { token: link.secret, email: "tm@example.com", name: "Teammate" });
    const done = await call(http, "POST", `/api/agents/${human.org}/claim`, human.token, { claimToken: agent.claimToken });
    expect(done.status, done.text).toBe(200);
    const teammateOrgs = (await call(http, "GET", "/api/user", teammate.accessToken)).body.organizations;
    expect(teammateOrgs.map((org: { githubLogin: string }) => org.githubLogin)).toEqual([agent.org]);
    const humanOrgs = (await call(http, "GET", "/api/user", human.token)).body.organizations;
    expect(humanOrgs).toContainEqual(expect.objectContaining({ githubLogin: agent.org, role: "admin" }));
  });

  test("refuses an agent caller and an organization the human has no role in with 403, changing nothing", async ({ http }) => {
    const human = await grace(http);
    const agent = await agentSignup(http);
    const other = await agentSignup(http, "Other");
    expect(await call(http, "POST", `/api/agents/${other.org}/claim`, other.token, { claimToken: agent.claimToken })).toMatchObject({ status: 403, body: { code: 403 } });
    expect(await call(http, "POST", `/api/agents/${agent.org}/claim`, agent.token, { claimToken: agent.claimToken })).toMatchObject({ status: 403 });
    const stranger = await call(http, "POST", `/api/agents/${other.org}/claim`, human.token, { claimToken: agent.claimToken });
    expect(stranger).toMatchObject({ status: 403, body: { message: expect.stringContaining("no role") } });
    expect((await call(http, "GET", `/api/agents/signup/validate/${agent.claimToken}`)).status).toBe(200);
  });

  test("answers 400 for a missing claimToken or an unsupported resolution, 404 for an unknown or expired claim, 401 without a token", async ({ http }) => {
    const human = await grace(http);
    const agent = await agentSignup(http);
    expect(await call(http, "POST", `/api/agents/${human.org}/claim`, human.token, {})).toMatchObject({ status: 400, body: { message: expect.stringContaining("claimToken") } });
    const environment = { kind: "TransferEntityEnvironmentRename", projectName: "p", environmentName: "e", renameAs: { projectName: "p", environmentName: "f" } };
    const unsupported = await call(http, "POST", `/api/agents/${human.org}/claim`, human.token, { claimToken: agent.claimToken, conflictsResolution: [environment] });
    expect(unsupported).toMatchObject({ status: 400, body: { message: expect.stringContaining("TransferEntityStackRename") } });
    expect(await call(http, "POST", `/api/agents/${human.org}/claim?dryRun=maybe`, human.token, { claimToken: agent.claimToken })).toMatchObject({ status: 400 });
    expect(await call(http, "POST", `/api/agents/${human.org}/claim`, human.token, { claimToken: "not-a-claim-token" })).toMatchObject({ status: 404, body: { code: 404 } });
    expect((await call(http, "POST", `/api/agents/${human.org}/claim`, undefined, { claimToken: agent.claimToken })).status).toBe(401);
    http.clock.advance(31 * DAY);
    expect((await call(http, "POST", `/api/agents/${human.org}/claim`, human.token, { claimToken: agent.claimToken })).status).toBe(404);
  });

  test("two renames onto one name are a conflict, not a lost stack", async ({ http }) => {
    const human = await grace(http);
    const agent = await agentSignup(http);
    await createStack(http.handle.deps, agent.id, { projectName: "web", stackName: "a" });
    await createStack(http.handle.deps, agent.id, { projectName: "web", stackName: "b" });
    const onto = (stackName: string) => ({ kind: "TransferEntityStackRename", projectName: "web", stackName, renameAs: { projectName: "web", stackName: "same" } });
    const answer = await call(http, "POST", `/api/agents/${human.org}/claim`, human.token, { claimToken: agent.claimToken, conflictsResolution: [onto("a"), onto("b")] });
    expect(answer.body.conflicts).toEqual([{ kind: "TransferEntityStack", projectName: "web", stackName: "b" }]);
    expect(await stackNames(http, agent.token, agent.org)).toEqual(["web/a", "web/b"]);
  });
});

describe("GET /api/agents/{orgName}/claim/status", () => {
  test("lists the organization's recent claims keyed by transferToken, to any member; a stranger gets 403", async ({ http }) => {
    const human = await grace(http);
    const agent = await agentSignup(http);
    await createStack(http.handle.deps, agent.id, { projectName: "web", stackName: "dev" });
    const done = await call(http, "POST", `/api/agents/${human.org}/claim`, human.token, { claimToken: agent.claimToken });

    const status = await call(http, "GET", `/api/agents/${human.org}/claim/status`, human.token);
    expect(status.status, status.text).toBe(200);
    expect(status.body).toEqual({ claims: { [done.body.transferToken]: done.body } });

    const stranger = await agentSignup(http, "Stranger");
    expect((await call(http, "GET", `/api/agents/${human.org}/claim/status`, stranger.token)).status).toBe(403);
    http.clock.advance(31 * DAY);
    expect((await call(http, "GET", `/api/agents/${human.org}/claim/status`, human.token)).body).toEqual({ claims: {} });
  });
});
