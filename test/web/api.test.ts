/**
 * The seeds' REST paths over a real HTTP server: Pulumi's agent signup and
 * Users API, Unleash's invite-link tokens and invite signup. Every body is
 * checked against the shapes transcribed from the seeds.
 */
import { eq } from "drizzle-orm";
import { test as base, describe, expect } from "vitest";
import { claimAccount } from "../../src/services/claims.js";
import { createStack } from "../../src/services/stacks.js";
import { countRows, DAY, jsonOrUndefined } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";
import {
  seedAgentSignupResponse,
  seedDefaultOrganization,
  seedInviteToken,
  seedRedeemedAgent,
  seedStacksPage,
  seedUnleashUser,
  seedUser,
} from "../seed-shapes.js";

const test = base.extend<{ http: TestHttp }>({
  // biome-ignore lint: vitest fixtures need the destructuring pattern.
  http: async ({}, use) => {
    const http = await startTestHttp();
    await use(http);
    await http.close();
  },
});

type Json = Record<string, any>;

interface Answer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

const STRONG_PASSWORD = "Corr3ct-Horse!";
const STACK_TRACE = /\n\s+at /;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function request(
  http: TestHttp,
  method: string,
  path: string,
  options: { token?: string; auth?: string; body?: unknown; rawBody?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.auth !== undefined) headers.authorization = options.auth;
  else if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${http.url}${path}`, { method, headers, body });
  const text = await res.text();
  const parsed: unknown = jsonOrUndefined(text);
  // No answer of this API, success or failure, ever carries a stack trace.
  expect(text).not.toMatch(STACK_TRACE);
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Pulumi's error body: numeric code equal to the status, the kind's name, a message. */
function expectPulumiError(answer: Answer, status: number, name?: string) {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.body).toMatchObject({ code: status, message: expect.any(String) });
  expect(answer.body.message.length).toBeGreaterThan(0);
  if (name) expect(answer.body.name).toBe(name);
  expect(answer.body).not.toHaveProperty("id");
  expect(answer.body).not.toHaveProperty("stack");
}

/** Unleash's error body: a fresh instance id, the kind's name, a message, and `details` as a list of `{message, path?}`. */
function expectUnleashError(answer: Answer, status: number, name: string) {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.body).toMatchObject({ id: expect.stringMatching(UUID), name, message: expect.any(String) });
  expect(answer.body.details).toEqual([expect.objectContaining({ message: expect.any(String) })]);
  expect(answer.body.message.length).toBeGreaterThan(0);
  expect(answer.body).not.toHaveProperty("code");
  expect(answer.body).not.toHaveProperty("stack");
}

async function userIdOf(http: TestHttp, uid: string): Promise<number> {
  const { users } = http.store.db.tables;
  const [user] = await http.store.db.select({ id: users.id }).from(users).where(eq(users.uid, uid));
  return user!.id;
}

async function signUp(http: TestHttp, body: Json = { agentName: "Release helper" }) {
  const answer = await request(http, "POST", "/api/agents/signup", { body });
  expect(answer.status, answer.text).toBe(200);
  const signup = seedAgentSignupResponse.parse(answer.body);
  return { ...signup, userId: await userIdOf(http, signup.userInfo.id), org: signup.userInfo.organizations[0]!.name };
}

/** The human "ada" claims the agent that `claimToken` belongs to, keeping or ending the agent's access. */
const claimAsAda = (http: TestHttp, claimToken: string, keepAgentAccess: boolean) =>
  claimAccount(http.handle.deps, { claimToken, username: "ada", email: "ada@example.com", password: STRONG_PASSWORD, keepAgentAccess });

const inFuture = (http: TestHttp, ms: number) => new Date(http.clock.now().getTime() + ms).toISOString();

async function createLink(http: TestHttp, token: string, body: Json = {}) {
  const answer = await request(http, "POST", "/api/admin/invite-link/tokens", {
    token,
    body: { name: "Platform team", expiresAt: inFuture(http, 7 * DAY), ...body },
  });
  expect(answer.status, answer.text).toBe(201);
  return seedInviteToken.parse(answer.body);
}

async function joinWithoutPassword(http: TestHttp, secret: string, email = "robot@example.com") {
  const answer = await request(http, "POST", `/invite/${secret}/signup`, { body: { email, name: "Invited robot" } });
  expect(answer.status, answer.text).toBe(200);
  return seedRedeemedAgent.parse(answer.body);
}

/** The same calendar day next month, or that month's last day (Unleash's date-fns `add({months: 1})`). */
function oneMonthAfter(date: Date): Date {
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth() + 1;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return new Date(
    Date.UTC(
      year,
      month,
      Math.min(date.getUTCDate(), lastDay),
      date.getUTCHours(),
      date.getUTCMinutes(),
      date.getUTCSeconds(),
      date.getUTCMilliseconds(),
    ),
  );
}

describe("POST /api/agents/signup", () => {
  test("creates an agent and answers AgentSignupResponse with a claim URL", async ({ http }) => {
    const answer = await request(http, "POST", "/api/agents/signup", {
      body: { agentName: "Release helper", agentModel: "claude-sonnet-4" },
    });
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toMatch(/application\/json/);
    const signup = seedAgentSignupResponse.parse(answer.body);
    expect(signup.userInfo.name).toBe("Release helper");
    expect(signup.userInfo.isAgent).toBe(true);
    expect(signup.userInfo.organizations).toHaveLength(1);
    expect(signup.userInfo.organizations[0]!.role).toBe("admin");
    expect(signup.claimUrl).toBe(`${http.handle.publicUrl}/claim/${encodeURIComponent(signup.claimToken)}`);
    const now = http.clock.now().getTime();
    expect(Date.parse(signup.accessTokenValidUntil)).toBe(now + 72 * 3_600_000);
    expect(Date.parse(signup.claimTokenValidUntil)).toBe(now + 30 * DAY);
    expect(await countRows(http, "users")).toBe(1);
  });

  test("accepts an empty body, as both inputs are optional", async ({ http }) => {
    const answer = await request(http, "POST", "/api/agents/signup");
    expect(answer.status, answer.text).toBe(200);
    expect(seedAgentSignupResponse.parse(answer.body).userInfo.name).toBe("Agent");
  });

  test("answers 400 ValidationError when agentName is not a string, and creates nothing", async ({ http }) => {
    const answer = await request(http, "POST", "/api/agents/signup", { body: { agentName: 42 } });
    expectPulumiError(answer, 400, "ValidationError");
    expect(answer.body.message).toContain("agentName");
    expect(await countRows(http, "users")).toBe(0);
    expect(await countRows(http, "organizations")).toBe(0);
  });

  test("answers 400 ValidationError for malformed JSON, and creates nothing", async ({ http }) => {
    const answer = await request(http, "POST", "/api/agents/signup", { rawBody: '{"agentName": ' });
    expectPulumiError(answer, 400, "ValidationError");
    expect(answer.body.message).toMatch(/JSON/);
    expect(await countRows(http, "users")).toBe(0);
  });
});

describe("GET /api/agents/signup/validate/{claimToken}", () => {
  test("answers 200 with OpenAPI's AgentClaimResponse: the agent, the stacks a claim takes over, no conflicts or failures, and the expiry", async ({ http }) => {
    const signup = await signUp(http);
    await createStack(http.handle.deps, signup.userId, { projectName: "website", stackName: "dev" });
    const answer = await request(http, "GET", `/api/agents/signup/validate/${signup.claimToken}`);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body).toEqual({
      agent: { login: signup.userInfo.githubLogin, orgName: signup.org, createdAt: expect.any(String) },
      entities: [{ kind: "TransferEntityStack", projectName: "website", stackName: "dev" }],
      conflicts: [],
      failures: [],
      claimExpiresAt: signup.claimTokenValidUntil,
    });
  });

  test("answers 404 for an unknown claim token", async ({ http }) => {
    await signUp(http);
    expectPulumiError(await request(http, "GET", "/api/agents/signup/validate/not-a-real-token"), 404, "NotFoundError");
  });

  test("answers 404 once the account has been claimed", async ({ http }) => {
    const signup = await signUp(http);
    await claimAsAda(http, signup.claimToken, true);
    expectPulumiError(await request(http, "GET", `/api/agents/signup/validate/${signup.claimToken}`), 404, "NotFoundError");
  });

  test("answers 404 once the claim token has expired", async ({ http }) => {
    const signup = await signUp(http);
    http.clock.advance(31 * DAY);
    expectPulumiError(await request(http, "GET", `/api/agents/signup/validate/${signup.claimToken}`), 404, "NotFoundError");
  });
});

describe("GET /api/user", () => {
  test("answers the User for the Pulumi CLI's `token` scheme", async ({ http }) => {
    const signup = await signUp(http);
    const answer = await request(http, "GET", "/api/user", { auth: `token ${signup.accessToken}` });
    expect(answer.status, answer.text).toBe(200);
    expect(seedUser.parse(answer.body)).toEqual(signup.userInfo);
  });

  test("answers the User for the Bearer scheme", async ({ http }) => {
    const signup = await signUp(http);
    const answer = await request(http, "GET", "/api/user", { auth: `Bearer ${signup.accessToken}` });
    expect(answer.status, answer.text).toBe(200);
    expect(seedUser.parse(answer.body)).toEqual(signup.userInfo);
  });

  test("answers 401 without an Authorization header", async ({ http }) => {
    const answer = await request(http, "GET", "/api/user");
    expectPulumiError(answer, 401);
    expect(answer.body.message).toMatch(/\/api\/agents\/signup/);
  });

  test("answers 401 for a bad token instead of treating it as anonymous", async ({ http }) => {
    const signup = await signUp(http);
    expectPulumiError(await request(http, "GET", "/api/user", { token: "not-a-jwt" }), 401);
    const tampered = `${signup.accessToken.slice(0, -2)}xx`;
    expectPulumiError(await request(http, "GET", "/api/user", { token: tampered }), 401);
    expectPulumiError(await request(http, "GET", "/api/user", { auth: "Basic dXNlcjpwdw==" }), 401);
  });

  test("after a claim that kept agent access, the token still answers with the claimed account", async ({ http }) => {
    const signup = await signUp(http);
    await claimAsAda(http, signup.claimToken, true);
    const answer = await request(http, "GET", "/api/user", { token: signup.accessToken });
    expect(answer.status, answer.text).toBe(200);
    expect(seedUser.parse(answer.body)).toMatchObject({
      id: signup.userInfo.id,
      githubLogin: "ada",
      email: "ada@example.com",
      isAgent: false,
      organizations: signup.userInfo.organizations,
    });
  });

  test("answers 401 saying the human ended access after a claim that revoked the token", async ({ http }) => {
    const signup = await signUp(http);
    await claimAsAda(http, signup.claimToken, false);
    for (const path of ["/api/user", "/api/user/stacks"]) {
      const answer = await request(http, "GET", path, { token: signup.accessToken });
      expectPulumiError(answer, 401, "AuthenticationRequired");
      expect(answer.body.message).toMatch(/claimed this account/);
    }
  });

  test("answers 401 once the access token has expired", async ({ http }) => {
    const signup = await signUp(http);
    http.clock.advance(73 * 3_600_000);
    const answer = await request(http, "GET", "/api/user", { token: signup.accessToken });
    expectPulumiError(answer, 401);
    expect(answer.body.message).toMatch(/expired/);
  });
});

describe("GET /api/user/organizations/default", () => {
  test("answers the agent's personal organization as {GitHubLogin, Messages}", async ({ http }) => {
    const agent = await signUp(http);
    const answer = await request(http, "GET", "/api/user/organizations/default", { token: agent.accessToken });
    expect(answer.status).toBe(200);
    expect(seedDefaultOrganization.parse(answer.body)).toEqual({ GitHubLogin: agent.userInfo.githubLogin, Messages: [] });
  });

  test("is 400 with Pulumi's message for a user in no organization, and 401 without a token", async ({ http }) => {
    const agent = await signUp(http);
    await http.store.db.transact(async (tx) => {
      await tx.delete(tx.tables.memberships);
    });
    const answer = await request(http, "GET", "/api/user/organizations/default", { token: agent.accessToken });
    expectPulumiError(answer, 400, "ValidationError");
    expect(answer.body.message).toMatch(/^User is not a member of any organizations\./);
    expectPulumiError(await request(http, "GET", "/api/user/organizations/default"), 401);
  });
});

describe("POST /api/user/organizations/{orgName}/default", () => {
  test("is 204 with no body for one of the caller's organizations, and the default follows", async ({ http }) => {
    const agent = await signUp(http);
    const org = agent.userInfo.githubLogin;
    const answer = await request(http, "POST", `/api/user/organizations/${org}/default`, { token: agent.accessToken });
    expect(answer.status).toBe(204);
    expect(answer.text).toBe("");
    const after = await request(http, "GET", "/api/user/organizations/default", { token: agent.accessToken });
    expect(after.body.GitHubLogin).toBe(org);
  });

  test("is 404, the same for another's organization as for none, and changes nothing", async ({ http }) => {
    const owner = await signUp(http);
    const stranger = await signUp(http);
    const real = await request(http, "POST", `/api/user/organizations/${owner.userInfo.githubLogin}/default`, { token: stranger.accessToken });
    const made = await request(http, "POST", "/api/user/organizations/no-such-org/default", { token: stranger.accessToken });
    expectPulumiError(real, 404, "NotFoundError");
    expect(real.body.message.replace(owner.userInfo.githubLogin, "X")).toBe(made.body.message.replace("no-such-org", "X"));
    const after = await request(http, "GET", "/api/user/organizations/default", { token: stranger.accessToken });
    expect(after.body.GitHubLogin).toBe(stranger.userInfo.githubLogin);
    expectPulumiError(await request(http, "POST", `/api/user/organizations/${owner.userInfo.githubLogin}/default`), 401);
  });
});

describe("GET /api/user/stacks", () => {
  const list = (http: TestHttp, token: string, query: Record<string, string> = {}) =>
    request(http, "GET", `/api/user/stacks?${new URLSearchParams(query)}`, { token });

  async function page(http: TestHttp, token: string, query: Record<string, string> = {}) {
    const answer = await list(http, token, query);
    expect(answer.status, answer.text).toBe(200);
    return seedStacksPage.parse(answer.body);
  }

  test("answers the caller's stacks as {stacks} without a continuation token when all fit", async ({ http }) => {
    const agent = await signUp(http);
    expect(await page(http, agent.accessToken)).toEqual({ stacks: [] });
    const created = await createStack(http.handle.deps, agent.userId, { projectName: "web", stackName: "dev" });
    const result = await page(http, agent.accessToken);
    expect(result).toEqual({ stacks: [created] });
    expect(result.stacks[0]).toMatchObject({ orgName: agent.org, projectName: "web", stackName: "dev" });
  });

  test("shows no stacks of organizations the caller is not in", async ({ http }) => {
    const agent = await signUp(http);
    const stranger = await signUp(http, { agentName: "Stranger" });
    await createStack(http.handle.deps, stranger.userId, { projectName: "web", stackName: "dev" });
    expect((await page(http, agent.accessToken)).stacks).toEqual([]);
  });

  test("filters by organization, project, tagName and tagValue from the query string", async ({ http }) => {
    const agent = await signUp(http);
    const deps = http.handle.deps;
    const webDev = await createStack(deps, agent.userId, { projectName: "web", stackName: "dev", tags: { env: "dev" } });
    const webProd = await createStack(deps, agent.userId, { projectName: "web", stackName: "prod", tags: { env: "prod" } });
    const api = await createStack(deps, agent.userId, { projectName: "api", stackName: "dev", tags: { team: "core" } });

    expect((await page(http, agent.accessToken, { organization: agent.org })).stacks).toEqual([webDev, webProd, api]);
    expect((await page(http, agent.accessToken, { organization: "someone-else" })).stacks).toEqual([]);
    expect((await page(http, agent.accessToken, { project: "web" })).stacks).toEqual([webDev, webProd]);
    expect((await page(http, agent.accessToken, { tagName: "env" })).stacks).toEqual([webDev, webProd]);
    expect((await page(http, agent.accessToken, { tagName: "env", tagValue: "prod" })).stacks).toEqual([webProd]);
    expect((await page(http, agent.accessToken, { tagName: "team", project: "web" })).stacks).toEqual([]);
  });

  test("pages through every stack with maxResults and continuationToken", async ({ http }) => {
    const agent = await signUp(http);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await createStack(http.handle.deps, agent.userId, { projectName: "web", stackName: `s${i}` })).id);
    const seen: string[] = [];
    let query: Record<string, string> = { maxResults: "2" };
    const sizes: number[] = [];
    for (let round = 0; round < 10; round++) {
      const result = await page(http, agent.accessToken, query);
      sizes.push(result.stacks.length);
      seen.push(...result.stacks.map((stack) => stack.id));
      if (result.continuationToken === undefined) break;
      query = { maxResults: "2", continuationToken: result.continuationToken };
    }
    expect(sizes).toEqual([2, 2, 1]);
    expect(seen).toEqual(ids);
  });

  test("answers 400 \"Invalid continuation token\" for a forged or foreign token", async ({ http }) => {
    const agent = await signUp(http);
    for (let i = 0; i < 3; i++) await createStack(http.handle.deps, agent.userId, { projectName: "web", stackName: `s${i}` });
    const first = await page(http, agent.accessToken, { maxResults: "1" });
    const real = first.continuationToken!;
    expect(real).toBeDefined();

    for (const forged of ["abc", `${Buffer.from("1").toString("base64url")}.AAAAAAAAAAAAAAAAAAAAAA`, `${real}x`]) {
      const answer = await list(http, agent.accessToken, { maxResults: "1", continuationToken: forged });
      expectPulumiError(answer, 400);
      expect(answer.body.message).toContain("Invalid continuation token");
    }
    // A token is bound to its query: reused with another filter it is refused too.
    const other = await list(http, agent.accessToken, { maxResults: "1", project: "web", continuationToken: real });
    expectPulumiError(other, 400);
    expect(other.body.message).toContain("Invalid continuation token");
  });

  test("answers 400 ValidationError for maxResults that is not a whole number of at least 1", async ({ http }) => {
    const agent = await signUp(http);
    for (const maxResults of ["abc", "0", "-1", "1.5"]) {
      const answer = await list(http, agent.accessToken, { maxResults });
      expectPulumiError(answer, 400, "ValidationError");
      expect(answer.body.message).toContain("maxResults");
    }
  });

  test("answers 400 ValidationError for tagValue without tagName and for a repeated parameter", async ({ http }) => {
    const agent = await signUp(http);
    expectPulumiError(await list(http, agent.accessToken, { tagValue: "dev" }), 400, "ValidationError");
    const repeated = await request(http, "GET", "/api/user/stacks?project=a&project=b", { token: agent.accessToken });
    expectPulumiError(repeated, 400, "ValidationError");
    expect(repeated.body.message).toContain("project");
  });

  test("answers 401 without a token", async ({ http }) => {
    expectPulumiError(await request(http, "GET", "/api/user/stacks"), 401);
  });
});

describe("POST /api/admin/invite-link/tokens", () => {
  test("answers 201 with a Location header and the Unleash token body", async ({ http }) => {
    const admin = await signUp(http);
    const expiresAt = inFuture(http, 7 * DAY);
    const answer = await request(http, "POST", "/api/admin/invite-link/tokens", {
      token: admin.accessToken,
      body: { name: "Platform team", expiresAt },
    });
    expect(answer.status, answer.text).toBe(201);
    const token = seedInviteToken.parse(answer.body);
    expect(answer.headers.get("location")).toBe(`/api/admin/invite-link/tokens/${encodeURIComponent(token.secret)}`);
    expect(token).toMatchObject({
      name: "Platform team",
      enabled: true,
      expiresAt,
      createdAt: http.clock.now().toISOString(),
      createdBy: admin.userInfo.githubLogin,
      users: [],
      url: `${http.handle.publicUrl}/new-user?invite=${encodeURIComponent(token.secret)}`,
      role: { id: 3, type: "root", name: "Viewer" },
    });
    // At least 128 bits of randomness.
    expect(Buffer.from(token.secret, "base64url").length).toBeGreaterThanOrEqual(16);
    expect(await countRows(http, "invite_links")).toBe(1);
  });

  test("clamps an expiry more than a month ahead to one month", async ({ http }) => {
    const admin = await signUp(http);
    const token = await createLink(http, admin.accessToken, { expiresAt: inFuture(http, 365 * DAY) });
    expect(token.expiresAt).toBe(oneMonthAfter(http.clock.now()).toISOString());
  });

  test("accepts a past expiry but the link is disabled at once", async ({ http }) => {
    const admin = await signUp(http);
    const token = await createLink(http, admin.accessToken, { expiresAt: inFuture(http, -DAY) });
    expect(token.enabled).toBe(false);
    expectUnleashError(await request(http, "GET", `/invite/${token.secret}/validate`), 400, "BadDataError");
  });

  test("answers 403 to a member who is not an admin", async ({ http }) => {
    const admin = await signUp(http);
    const link = await createLink(http, admin.accessToken);
    const member = await joinWithoutPassword(http, link.secret);
    const answer = await request(http, "POST", "/api/admin/invite-link/tokens", {
      token: member.accessToken,
      body: { name: "Sneaky", expiresAt: inFuture(http, DAY) },
    });
    expectUnleashError(answer, 403, "NoAccessError");
    expect(await countRows(http, "invite_links")).toBe(1);
  });

  test("answers 400 ValidationError for an expiresAt that is not a date-time", async ({ http }) => {
    const admin = await signUp(http);
    for (const expiresAt of ["next tuesday", 1_700_000_000_000, ""]) {
      const answer = await request(http, "POST", "/api/admin/invite-link/tokens", {
        token: admin.accessToken,
        body: { name: "Team", expiresAt },
      });
      expectUnleashError(answer, 400, "ValidationError");
      expect(answer.body.message).toContain("expiresAt");
    }
    const missingName = await request(http, "POST", "/api/admin/invite-link/tokens", {
      token: admin.accessToken,
      body: { expiresAt: inFuture(http, DAY) },
    });
    expectUnleashError(missingName, 400, "ValidationError");
    expect(await countRows(http, "invite_links")).toBe(0);
  });

  test("answers 401 without a token, with the Unleash error body", async ({ http }) => {
    const answer = await request(http, "POST", "/api/admin/invite-link/tokens", {
      body: { name: "Team", expiresAt: inFuture(http, DAY) },
    });
    expectUnleashError(answer, 401, "AuthenticationRequired");
  });
});

describe("GET /api/admin/invite-link/tokens/{secret}", () => {
  test("answers the token to an admin of its organization, with the users who joined", async ({ http }) => {
    const admin = await signUp(http);
    const created = await createLink(http, admin.accessToken);
    const joined = await joinWithoutPassword(http, created.secret);
    const answer = await request(http, "GET", `/api/admin/invite-link/tokens/${created.secret}`, { token: admin.accessToken });
    expect(answer.status, answer.text).toBe(200);
    const token = seedInviteToken.parse(answer.body);
    expect(token).toMatchObject({ ...created, users: [expect.objectContaining({ id: joined.id, email: "robot@example.com" })] });
    expect(token.users).toHaveLength(1);
  });

  test("keeps createdBy, as null, once the account that created the link is gone, as seed 002 requires it", async ({ http }) => {
    const admin = await signUp(http);
    const created = await createLink(http, admin.accessToken);
    await http.store.db.transact(async (tx) => {
      await tx.update(tx.tables.inviteLinks).set({ createdByUserId: null });
    });
    const answer = await request(http, "GET", `/api/admin/invite-link/tokens/${created.secret}`, { token: admin.accessToken });
    expect(answer.status, answer.text).toBe(200);
    expect(seedInviteToken.parse(answer.body)).toEqual({ ...created, createdBy: null });
    expect(answer.body).toHaveProperty("createdBy", null);
    const updated = await request(http, "PUT", `/api/admin/invite-link/tokens/${created.secret}`, {
      token: admin.accessToken,
      body: { enabled: false },
    });
    expect(updated.body).toHaveProperty("createdBy", null);
  });

  test("the users who joined leave out seenAt and scimId, which have no value here, and the role leaves out project", async ({ http }) => {
    const admin = await signUp(http);
    const created = await createLink(http, admin.accessToken);
    await joinWithoutPassword(http, created.secret);
    const answer = await request(http, "GET", `/api/admin/invite-link/tokens/${created.secret}`, { token: admin.accessToken });
    const [user] = seedInviteToken.parse(answer.body).users!;
    expect(user).not.toHaveProperty("seenAt");
    expect(user).not.toHaveProperty("scimId");
    expect(answer.body.role).not.toHaveProperty("project");
  });

  test("answers 404 to a stranger, the same as for an unknown secret", async ({ http }) => {
    const admin = await signUp(http);
    const stranger = await signUp(http, { agentName: "Stranger" });
    const created = await createLink(http, admin.accessToken);
    const hidden = await request(http, "GET", `/api/admin/invite-link/tokens/${created.secret}`, { token: stranger.accessToken });
    const unknown = await request(http, "GET", "/api/admin/invite-link/tokens/no-such-secret", { token: admin.accessToken });
    expectUnleashError(hidden, 404, "NotFoundError");
    expectUnleashError(unknown, 404, "NotFoundError");
    expect(hidden.body.message).toBe(unknown.body.message);
  });

  test("answers 404 to a member of the organization who is not its admin", async ({ http }) => {
    const admin = await signUp(http);
    const created = await createLink(http, admin.accessToken);
    const member = await joinWithoutPassword(http, created.secret);
    const answer = await request(http, "GET", `/api/admin/invite-link/tokens/${created.secret}`, { token: member.accessToken });
    expectUnleashError(answer, 404, "NotFoundError");
  });

  test("answers 401 without a token", async ({ http }) => {
    const admin = await signUp(http);
    const created = await createLink(http, admin.accessToken);
    expectUnleashError(await request(http, "GET", `/api/admin/invite-link/tokens/${created.secret}`), 401, "AuthenticationRequired");
  });
});

describe("PUT /api/admin/invite-link/tokens/{secret}", () => {
  const put = (http: TestHttp, token: string, secret: string, body: unknown) =>
    request(http, "PUT", `/api/admin/invite-link/tokens/${secret}`, { token, body });

  test("disabling a link stops it validating; enabling it again restores it", async ({ http }) => {
    const admin = await signUp(http);
    const link = await createLink(http, admin.accessToken);
    expect((await request(http, "GET", `/invite/${link.secret}/validate`)).status).toBe(200);

    const disabled = await put(http, admin.accessToken, link.secret, { enabled: false });
    expect(disabled.status, disabled.text).toBe(200);
    expect(seedInviteToken.parse(disabled.body)).toEqual({ ...link, enabled: false });
    expectUnleashError(await request(http, "GET", `/invite/${link.secret}/validate`), 400, "BadDataError");

    const enabled = await put(http, admin.accessToken, link.secret, { enabled: true });
    expect(seedInviteToken.parse(enabled.body).enabled).toBe(true);
    expect((await request(http, "GET", `/invite/${link.secret}/validate`)).status).toBe(200);
  });

  test("changes expiresAt, clamped to one month ahead", async ({ http }) => {
    const admin = await signUp(http);
    const link = await createLink(http, admin.accessToken);
    const sooner = inFuture(http, 2 * DAY);
    const changed = await put(http, admin.accessToken, link.secret, { expiresAt: sooner });
    expect(changed.status, changed.text).toBe(200);
    expect(seedInviteToken.parse(changed.body)).toEqual({ ...link, expiresAt: sooner });

    const far = await put(http, admin.accessToken, link.secret, { expiresAt: inFuture(http, 400 * DAY) });
    expect(seedInviteToken.parse(far.body).expiresAt).toBe(oneMonthAfter(http.clock.now()).toISOString());
    const stored = await request(http, "GET", `/api/admin/invite-link/tokens/${link.secret}`, { token: admin.accessToken });
    expect(stored.body.expiresAt).toBe(oneMonthAfter(http.clock.now()).toISOString());
  });

  test("answers 400 ValidationError for any field but enabled and expiresAt, and changes nothing", async ({ http }) => {
    const admin = await signUp(http);
    const link = await createLink(http, admin.accessToken);
    for (const body of [{ name: "Renamed" }, { secret: "chosen-secret" }, { users: [] }, { enabled: false, name: "x" }]) {
      const answer = await put(http, admin.accessToken, link.secret, body);
      expectUnleashError(answer, 400, "ValidationError");
    }
    expectUnleashError(await put(http, admin.accessToken, link.secret, { enabled: "no" }), 400, "ValidationError");
    expectUnleashError(await put(http, admin.accessToken, link.secret, { expiresAt: "soon" }), 400, "ValidationError");
    const stored = await request(http, "GET", `/api/admin/invite-link/tokens/${link.secret}`, { token: admin.accessToken });
    expect(stored.body).toEqual(link);
  });

  test("answers 404 to a stranger and leaves the link as it was", async ({ http }) => {
    const admin = await signUp(http);
    const stranger = await signUp(http, { agentName: "Stranger" });
    const link = await createLink(http, admin.accessToken);
    expectUnleashError(await put(http, stranger.accessToken, link.secret, { enabled: false }), 404, "NotFoundError");
    expectUnleashError(await put(http, admin.accessToken, "no-such-secret", { enabled: false }), 404, "NotFoundError");
    expect((await request(http, "GET", `/invite/${link.secret}/validate`)).status).toBe(200);
  });

  test("answers 401 without a token", async ({ http }) => {
    const admin = await signUp(http);
    const link = await createLink(http, admin.accessToken);
    expectUnleashError(
      await request(http, "PUT", `/api/admin/invite-link/tokens/${link.secret}`, { body: { enabled: false } }),
      401,
      "AuthenticationRequired",
    );
  });
});

describe("GET /invite/{token}/validate", () => {
  test("answers 200 for a usable link", async ({ http }) => {
    const admin = await signUp(http);
    const link = await createLink(http, admin.accessToken);
    const answer = await request(http, "GET", `/invite/${link.secret}/validate`);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body).toEqual({ organization: admin.org, name: "Platform team", expiresAt: link.expiresAt });
  });

  test("answers 400 with one message for unknown, expired and disabled links", async ({ http }) => {
    const admin = await signUp(http);
    const expiring = await createLink(http, admin.accessToken, { expiresAt: inFuture(http, DAY) });
    const disabled = await createLink(http, admin.accessToken, { name: "Off" });
    await request(http, "PUT", `/api/admin/invite-link/tokens/${disabled.secret}`, {
      token: admin.accessToken,
      body: { enabled: false },
    });
    http.clock.advance(2 * DAY);

    const answers = [
      await request(http, "GET", "/invite/no-such-secret/validate"),
      await request(http, "GET", `/invite/${expiring.secret}/validate`),
      await request(http, "GET", `/invite/${disabled.secret}/validate`),
    ];
    for (const answer of answers) expectUnleashError(answer, 400, "BadDataError");
    expect(new Set(answers.map((answer) => answer.body.message)).size).toBe(1);
  });
});

describe("POST /invite/{token}/signup", () => {
  const signupBody = { email: "Grace@Example.com", name: "Grace Hopper", username: "grace", password: STRONG_PASSWORD };

  test("with a password answers Unleash's userSchema for a new Viewer member", async ({ http }) => {
    const admin = await signUp(http);
    const link = await createLink(http, admin.accessToken);
    const answer = await request(http, "POST", `/invite/${link.secret}/signup`, { body: signupBody });
    expect(answer.status, answer.text).toBe(200);
    const user = seedUnleashUser.parse(answer.body);
    expect(user).toMatchObject({ email: "grace@example.com", name: "Grace Hopper", username: "grace", rootRole: 3 });
    expect(answer.body).not.toHaveProperty("accessToken");
    expect(answer.body).not.toHaveProperty("claimUrl");
    const { users, memberships } = http.store.db.tables;
    const [row] = await http.store.db.select({ passwordHash: users.passwordHash, isAgent: users.isAgent }).from(users).where(eq(users.id, user.id));
    expect(row!.passwordHash).toMatch(/^scrypt\$/);
    expect(row!.isAgent).toBe(false);
    const membership = await http.store.db.select({ role: memberships.role }).from(memberships).where(eq(memberships.userId, user.id));
    expect(membership).toEqual([{ role: "viewer" }]);
  });

  test("without a password answers userSchema plus an access token and a claim URL that work", async ({ http }) => {
    const admin = await signUp(http);
    const link = await createLink(http, admin.accessToken);
    const joined = await joinWithoutPassword(http, link.secret);
    expect(joined.claimUrl.startsWith(`${http.handle.publicUrl}/claim/`)).toBe(true);
    const me = await request(http, "GET", "/api/user", { token: joined.accessToken });
    expect(me.status, me.text).toBe(200);
    const user = seedUser.parse(me.body);
    expect(user.isAgent).toBe(true);
    expect(user.organizations).toEqual([expect.objectContaining({ name: admin.org, role: "member" })]);
    const claimToken = decodeURIComponent(joined.claimUrl.split("/claim/")[1]!);
    expect((await request(http, "GET", `/api/agents/signup/validate/${encodeURIComponent(claimToken)}`)).status).toBe(200);
  });

  test("answers 400 ValidationError for a missing email or name, before looking at the token", async ({ http }) => {
    for (const body of [{ name: "No email" }, { email: "noname@example.com" }, { email: 7, name: "x" }]) {
      const answer = await request(http, "POST", "/invite/no-such-secret/signup", { body });
      expectUnleashError(answer, 400, "ValidationError");
      expect(answer.body.message).toMatch(/email|name/);
    }
    const malformed = await request(http, "POST", "/invite/no-such-secret/signup", { rawBody: "{nope" });
    expectUnleashError(malformed, 400, "ValidationError");
    expect(await countRows(http, "users")).toBe(0);
  });

  test("answers 400 for an unknown, expired or disabled token", async ({ http }) => {
    const admin = await signUp(http);
    const expiring = await createLink(http, admin.accessToken, { expiresAt: inFuture(http, DAY) });
    const disabled = await createLink(http, admin.accessToken);
    await request(http, "PUT", `/api/admin/invite-link/tokens/${disabled.secret}`, {
      token: admin.accessToken,
      body: { enabled: false },
    });
    http.clock.advance(2 * DAY);
    const before = await countRows(http, "users");
    for (const secret of ["no-such-secret", expiring.secret, disabled.secret]) {
      const answer = await request(http, "POST", `/invite/${secret}/signup`, { body: signupBody });
      expectUnleashError(answer, 400, "BadDataError");
      expect(answer.body.message).toMatch(/invite link is not valid/);
    }
    expect(await countRows(http, "users")).toBe(before);
  });

  test("answers 400 ValidationError naming the password rule that failed", async ({ http }) => {
    const admin = await signUp(http);
    const link = await createLink(http, admin.accessToken);
    const cases: Array<[string, RegExp]> = [
      ["Sh0rt!", /at least 10 characters/],
      ["aaaBcdef12!x", /three repeating/],
      ["lowercase-only-12", /uppercase/],
      ["UPPERCASE-ONLY-12", /lowercase/],
      ["NoDigits-Here!", /number/],
      ["NoSymbols1234abc", /symbol/],
    ];
    for (const [password, rule] of cases) {
      const answer = await request(http, "POST", `/invite/${link.secret}/signup`, { body: { ...signupBody, password } });
      expectUnleashError(answer, 400, "ValidationError");
      expect(answer.body.message).toMatch(rule);
    }
    expect(await countRows(http, "users")).toBe(1);
    expect(await countRows(http, "invite_link_users")).toBe(0);
  });

  test("answers 409 NameExistsError for an email that is taken, in any case", async ({ http }) => {
    const admin = await signUp(http);
    const link = await createLink(http, admin.accessToken);
    expect((await request(http, "POST", `/invite/${link.secret}/signup`, { body: signupBody })).status).toBe(200);
    const before = await countRows(http, "users");
    const answer = await request(http, "POST", `/invite/${link.secret}/signup`, {
      body: { ...signupBody, email: "GRACE@example.com", username: "grace2" },
    });
    expectUnleashError(answer, 409, "NameExistsError");
    expect(answer.body.message).toContain("grace@example.com");
    const sameUsername = await request(http, "POST", `/invite/${link.secret}/signup`, {
      body: { ...signupBody, email: "other@example.com", username: "GRACE" },
    });
    expectUnleashError(sameUsername, 409, "NameExistsError");
    expect(await countRows(http, "users")).toBe(before);
    expect(await countRows(http, "memberships")).toBe(2);
    expect(await countRows(http, "invite_link_users")).toBe(1);
  });

  test("answers 400 ValidationError for an invalid email or an empty name, and writes nothing", async ({ http }) => {
    const admin = await signUp(http);
    const link = await createLink(http, admin.accessToken);
    const badEmail = await request(http, "POST", `/invite/${link.secret}/signup`, { body: { ...signupBody, email: "not-an-email" } });
    expectUnleashError(badEmail, 400, "ValidationError");
    const emptyName = await request(http, "POST", `/invite/${link.secret}/signup`, { body: { ...signupBody, name: "   " } });
    expectUnleashError(emptyName, 400, "ValidationError");
    expect(await countRows(http, "users")).toBe(1);
  });
});

describe("errors and unknown paths", () => {
  test("unknown paths answer 404 JSON", async ({ http }) => {
    for (const [method, path] of [
      ["GET", "/api/nothing-here"],
      ["POST", "/api/user"],
      ["DELETE", "/api/user/stacks"],
      ["DELETE", "/api/admin/invite-link/tokens"],
      ["GET", "/invite/some-secret"],
    ] as const) {
      const answer = await request(http, method, path);
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(answer.headers.get("content-type")).toMatch(/application\/json/);
      expect(answer.body).toMatchObject({ name: "NotFoundError", message: expect.stringContaining(path) });
    }
  });

  test("an unexpected failure answers 500 with a reference and no stack trace", async ({ http }) => {
    const signup = await signUp(http);
    // Break the db under the route so that the service throws a non-AppError.
    await http.store.query("DROP TABLE stack_tags");
    await http.store.query("ALTER TABLE stacks RENAME TO stacks_gone");
    const answer = await request(http, "GET", "/api/user/stacks", { token: signup.accessToken });
    expect(answer.status).toBe(500);
    expect(answer.body).toEqual({ code: 500, message: expect.stringMatching(/^Internal error \(reference [0-9a-f]{8}\)/) });
    expect(answer.text).not.toMatch(/SQLITE|no such table|relation|does not exist/i);
    expect(http.logs.join("")).toMatch(/request failed/);
  });
});

describe("REST and MCP agree", () => {
  test("get_current_user over /mcp answers exactly what GET /api/user does", async ({ http }) => {
    const signup = await signUp(http, { agentName: "Twin", agentModel: "claude-sonnet-4" });
    await createStack(http.handle.deps, signup.userId, { projectName: "web", stackName: "dev" });
    const rest = await request(http, "GET", "/api/user", { token: signup.accessToken });
    expect(rest.status).toBe(200);
    const { client } = await http.connect({ Authorization: `Bearer ${signup.accessToken}` });
    const result = await client.callTool({ name: "get_current_user", arguments: {} });
    expect(result.isError).toBeFalsy();
    expect(seedUser.parse(result.structuredContent)).toEqual(seedUser.parse(rest.body));
    expect(result.structuredContent).toEqual(rest.body);
  });

  test("a member who joined through REST is seen the same over /mcp", async ({ http }) => {
    const admin = await signUp(http);
    const link = await createLink(http, admin.accessToken);
    const joined = await joinWithoutPassword(http, link.secret);
    const rest = await request(http, "GET", "/api/user", { auth: `token ${joined.accessToken}` });
    const { client } = await http.connect({ Authorization: `Bearer ${joined.accessToken}` });
    const result = await client.callTool({ name: "get_current_user", arguments: {} });
    expect(result.structuredContent).toEqual(rest.body);
  });
});

describe("rate limit", () => {
  test("the second signup from one address within the hour answers 429 with Retry-After", async () => {
    const http = await startTestHttp({ ONBOARD_SIGNUPS_PER_HOUR: "1" });
    try {
      expect((await request(http, "POST", "/api/agents/signup", { body: {} })).status).toBe(200);
      const answer = await request(http, "POST", "/api/agents/signup", { body: {} });
      expectPulumiError(answer, 429, "TooManyRequestsError");
      const retryAfter = Number(answer.headers.get("retry-after"));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(3600);
      expect(await countRows(http, "users")).toBe(1);
    } finally {
      await http.close();
    }
  });

  test("a malformed signup does not use up the allowance", async () => {
    const http = await startTestHttp({ ONBOARD_SIGNUPS_PER_HOUR: "1" });
    try {
      expectPulumiError(await request(http, "POST", "/api/agents/signup", { body: { agentName: 1 } }), 400, "ValidationError");
      expect((await request(http, "POST", "/api/agents/signup", { body: {} })).status).toBe(200);
    } finally {
      await http.close();
    }
  });
});

// Where the seeds are silent, Unleash's own server (Unleash/unleash) decides.
describe("Unleash's conventions on its paths", () => {
  test("a validation error's details are a list of {message, path}, as BadDataError's (src/lib/error/bad-data-error.ts)", async ({ http }) => {
    const { accessToken } = await signUp(http);
    const answer = await request(http, "POST", "/api/admin/invite-link/tokens", { token: accessToken, body: { name: "Team", expiresAt: "next week" } });
    expectUnleashError(answer, 400, "ValidationError");
    expect(answer.body.details).toEqual([{ message: answer.body.message, path: "expiresAt" }]);
  });

  test.for([
    ["POST", "/api/admin/invite-link/tokens", { name: "Team", expiresAt: "2030-01-01T00:00:00Z", organization: "x" }, "organization"],
    ["POST", "/api/admin/invite-link/tokens", { name: "Team", expiresAt: "2030-01-01T00:00:00Z", color: "blue" }, "color"],
    ["POST", "/invite/SECRET/signup", { email: "a@example.com", name: "A", password: STRONG_PASSWORD, role: "admin" }, "role"],
  ] as const)("%s %s refuses an unknown property (%o) with 400, as the schema's additionalProperties: false does, and creates nothing", async ([method, path, body, property], { http }) => {
    const { accessToken } = await signUp(http);
    const link = await createLink(http, accessToken);
    const [users, links] = [await countRows(http, "users"), await countRows(http, "invite_links")];
    const answer = await request(http, method, path.replace("SECRET", link.secret), { token: path.startsWith("/invite/") ? undefined : accessToken, body });
    expectUnleashError(answer, 400, "ValidationError");
    expect(answer.body.message).toContain(`Unknown property "${property}"`);
    expect(answer.body.details[0].path).toBe(property);
    expect([await countRows(http, "users"), await countRows(http, "invite_links")]).toEqual([users, links]);
  });

  test("our own choice of organization travels in the query string, not in Unleash's body", async ({ http }) => {
    const { accessToken, org } = await signUp(http);
    const answer = await request(http, "POST", `/api/admin/invite-link/tokens?organization=${encodeURIComponent(org)}`, {
      token: accessToken,
      body: { name: "Team", expiresAt: inFuture(http, DAY) },
    });
    expect(answer.status, answer.text).toBe(201);
    const missing = await request(http, "POST", "/api/admin/invite-link/tokens?organization=no-such-org", { token: accessToken, body: { name: "Team", expiresAt: inFuture(http, DAY) } });
    expectUnleashError(missing, 404, "NotFoundError");
  });

  test("GET /api/admin/invite-link/tokens lists the organization's links as {tokens}, newest first, each with its secret and URL (publicSignupTokensSchema)", async ({ http }) => {
    const { accessToken } = await signUp(http);
    const first = await createLink(http, accessToken, { name: "First" });
    http.clock.advance(1000);
    const second = await createLink(http, accessToken, { name: "Second" });
    const answer = await request(http, "GET", "/api/admin/invite-link/tokens", { token: accessToken });
    expect(answer.status, answer.text).toBe(200);
    expect(Object.keys(answer.body)).toEqual(["tokens"]);
    const tokens = answer.body.tokens.map((token: unknown) => seedInviteToken.parse(token));
    expect(tokens.map((t: { secret: string; url: string }) => [t.secret, t.url])).toEqual([
      [second.secret, second.url],
      [first.secret, first.url],
    ]);
  });

  test("only an admin lists the links: a viewer who joined gets 403", async ({ http }) => {
    const { accessToken } = await signUp(http);
    const link = await createLink(http, accessToken);
    const joined = await request(http, "POST", `/invite/${link.secret}/signup`, { body: { email: "viewer@example.com", name: "Viewer" } });
    expect(joined.status, joined.text).toBe(200);
    const answer = await request(http, "GET", "/api/admin/invite-link/tokens", { token: joined.body.accessToken });
    expectUnleashError(answer, 403, "NoAccessError");
  });

  test("PUT with an empty object is 400 and changes nothing (publicSignupTokenUpdateSchema has nothing required, but an empty update is refused)", async ({ http }) => {
    const { accessToken } = await signUp(http);
    const link = await createLink(http, accessToken);
    const answer = await request(http, "PUT", `/api/admin/invite-link/tokens/${link.secret}`, { token: accessToken, body: {} });
    expectUnleashError(answer, 400, "ValidationError");
    const after = await request(http, "GET", `/api/admin/invite-link/tokens/${link.secret}`, { token: accessToken });
    expect(after.body).toMatchObject({ enabled: true, expiresAt: link.expiresAt });
  });

  test("a token that is present but not accepted is 401 UnauthorizedError; a missing one is AuthenticationRequired (src/lib/middleware/authorization-middleware.ts)", async ({ http }) => {
    const bad = await request(http, "GET", "/api/admin/invite-link/tokens", { token: "not-a-token" });
    expectUnleashError(bad, 401, "UnauthorizedError");
    const missing = await request(http, "GET", "/api/admin/invite-link/tokens");
    expectUnleashError(missing, 401, "AuthenticationRequired");
  });

  test("an email with spaces around it is 400 on the invite signup, not trimmed, and creates nobody", async ({ http }) => {
    const { accessToken } = await signUp(http);
    const link = await createLink(http, accessToken);
    const users = await countRows(http, "users");
    const answer = await request(http, "POST", `/invite/${link.secret}/signup`, { body: { email: " spaced@example.com ", name: "Spaced", password: STRONG_PASSWORD } });
    expectUnleashError(answer, 400, "ValidationError");
    expect(answer.body.details).toEqual([{ message: answer.body.message, path: "email" }]);
    expect(await countRows(http, "users")).toBe(users);
  });
});
