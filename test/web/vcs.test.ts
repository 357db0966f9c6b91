/**
 * Pulumi's VCS identity routes (seed 001) on a server that links no account
 * to a VCS: each answers as Pulumi does for a user without that identity,
 * never a 500, and all of them need a token.
 */
import { test as base, describe, expect } from "vitest";
import { claimAccount } from "../../src/services/claims.js";
import { DAY } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";
import { seedAgentSignupResponse, seedInviteToken, seedRedeemedAgent, seedUser } from "../seed-shapes.js";

const test = base.extend<{ http: TestHttp }>({
  // biome-ignore lint: vitest fixtures need the destructuring pattern.
  http: async ({}, use) => {
    const http = await startTestHttp();
    await use(http);
    await http.close();
  },
});

interface Answer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

async function request(http: TestHttp, method: string, path: string, token?: string): Promise<Answer> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `token ${token}` };
  const res = await fetch(`${http.url}${path}`, { method, headers });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  expect(text).not.toMatch(/\n\s+at /);
  return { status: res.status, headers: res.headers, body, text };
}

/** Pulumi's error body, as on the other /api/user routes. */
function expectPulumiError(answer: Answer, status: number, name?: string) {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.headers.get("content-type")).toMatch(/application\/json/);
  expect(answer.body).toMatchObject({ code: status, message: expect.any(String) });
  if (name) expect(answer.body.name).toBe(name);
  expect(answer.body).not.toHaveProperty("id");
}

async function signUp(http: TestHttp) {
  const res = await fetch(`${http.url}/api/agents/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ agentName: "Release helper" }),
  });
  expect(res.status).toBe(200);
  return seedAgentSignupResponse.parse(await res.json());
}

const claimAsAda = (http: TestHttp, claimToken: string, keepAgentAccess: boolean) =>
  claimAccount(http.handle.deps, { claimToken, username: "ada", email: "ada@example.com", password: "Corr3ct-Horse!", keepAgentAccess });

const routes = [
  ["GET", "/api/user/github/acme/teams"],
  ["GET", "/api/user/gitlab-app/organizations"],
  ["GET", "/api/user/vcs/organizations"],
  ["POST", "/api/user/vcs/sync"],
  ["DELETE", "/api/user/vcs"],
] as const;

describe("authentication", () => {
  test("every VCS route answers 401 without a token, pointing at agent signup", async ({ http }) => {
    for (const [method, path] of routes) {
      const answer = await request(http, method, path);
      expectPulumiError(answer, 401, "AuthenticationRequired");
      expect(answer.body.message, `${method} ${path}`).toMatch(/\/api\/agents\/signup/);
    }
  });

  test("every VCS route answers 401 for a bad or expired token, never as anonymous", async ({ http }) => {
    const agent = await signUp(http);
    for (const [method, path] of routes) expectPulumiError(await request(http, method, path, "not-a-jwt"), 401);
    http.clock.advance(73 * 3_600_000);
    for (const [method, path] of routes) {
      const answer = await request(http, method, path, agent.accessToken);
      expectPulumiError(answer, 401);
      expect(answer.body.message).toMatch(/expired/);
    }
  });

  test("every VCS route answers 401 to a token the human ended at the claim", async ({ http }) => {
    const agent = await signUp(http);
    await claimAsAda(http, agent.claimToken, false);
    for (const [method, path] of routes) {
      const answer = await request(http, method, path, agent.accessToken);
      expectPulumiError(answer, 401, "AuthenticationRequired");
      expect(answer.body.message).toMatch(/claimed this account/);
    }
  });
});

describe("GET /api/user/github/{ghOrgName}/teams", () => {
  test("is 400 with Pulumi's message and an explanation, for an agent and for a claimed human", async ({ http }) => {
    const agent = await signUp(http);
    for (const phase of ["agent", "claimed"]) {
      if (phase === "claimed") await claimAsAda(http, agent.claimToken, true);
      const answer = await request(http, "GET", "/api/user/github/acme/teams", agent.accessToken);
      expectPulumiError(answer, 400, "BadDataError");
      expect(answer.body.message).toMatch(/^operation only supported for GitHub-backed users\. /);
      expect(answer.body.message).toMatch(/not linked to GitHub/);
    }
  });

  test("is the same 400 for any organization name, including odd but valid path segments", async ({ http }) => {
    const agent = await signUp(http);
    for (const name of [agent.userInfo.githubLogin, "no-such-org", "a%20b", "%C3%A9t%C3%A9"]) {
      const answer = await request(http, "GET", `/api/user/github/${name}/teams`, agent.accessToken);
      expectPulumiError(answer, 400, "BadDataError");
      expect(answer.body.message).toMatch(/^operation only supported for GitHub-backed users/);
    }
  });
});

describe("GET /api/user/vcs/organizations", () => {
  test("is 200 with an empty list: a missing backing identity is ignored, as the seed says", async ({ http }) => {
    const agent = await signUp(http);
    const answer = await request(http, "GET", "/api/user/vcs/organizations", agent.accessToken);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body).toEqual({ organizations: [] });
    await claimAsAda(http, agent.claimToken, true);
    expect((await request(http, "GET", "/api/user/vcs/organizations", agent.accessToken)).body).toEqual({ organizations: [] });
  });
});

describe("GET /api/user/gitlab-app/organizations (deprecated)", () => {
  test("is 200 with no GitLab groups, marked deprecated with its successor", async ({ http }) => {
    const agent = await signUp(http);
    const answer = await request(http, "GET", "/api/user/gitlab-app/organizations", agent.accessToken);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body).toEqual({ organizations: [] });
    expect(answer.headers.get("deprecation")).toBe("true");
    expect(answer.headers.get("link")).toBe('</api/user/vcs/organizations>; rel="successor-version"');
  });

  test("says it is deprecated on a refusal too", async ({ http }) => {
    const answer = await request(http, "GET", "/api/user/gitlab-app/organizations");
    expectPulumiError(answer, 401);
    expect(answer.headers.get("deprecation")).toBe("true");
  });

  test("is the only VCS route marked deprecated", async ({ http }) => {
    const agent = await signUp(http);
    for (const [method, path] of routes.filter(([, path]) => !path.includes("gitlab"))) {
      expect((await request(http, method, path, agent.accessToken)).headers.get("deprecation"), path).toBeNull();
    }
  });
});

describe("POST /api/user/vcs/sync", () => {
  test("is 400 saying there is no linked identity provider to sync from", async ({ http }) => {
    const agent = await signUp(http);
    const answer = await request(http, "POST", "/api/user/vcs/sync", agent.accessToken);
    expectPulumiError(answer, 400, "BadDataError");
    expect(answer.body.message).toMatch(/^There is no linked identity provider to sync from\./);
    expect(answer.body.message).toMatch(/no identity provider at all/);
  });

  test("names the provider asked for, whatever its case, and the account's own identity once claimed", async ({ http }) => {
    const agent = await signUp(http);
    await claimAsAda(http, agent.claimToken, true);
    for (const identity of ["github", "GitLab", "bitbucket"]) {
      const answer = await request(http, "POST", `/api/user/vcs/sync?identity=${identity}`, agent.accessToken);
      expectPulumiError(answer, 400, "BadDataError");
      expect(answer.body.message).toContain(`There is no ${identity.toLowerCase()} identity to sync from.`);
      expect(answer.body.message).toMatch(/only identity is "email"/);
    }
  });

  test("is 400 invalid query parameter for an unknown, empty or repeated identity", async ({ http }) => {
    const agent = await signUp(http);
    for (const query of ["identity=svn", "identity=", "identity=github&identity=gitlab", "identity=email"]) {
      const answer = await request(http, "POST", `/api/user/vcs/sync?${query}`, agent.accessToken);
      expectPulumiError(answer, 400, "ValidationError");
      expect(answer.body.message, query).toMatch(/^invalid query parameter: identity must be one of github, gitlab, bitbucket/);
    }
  });

  test("changes nothing", async ({ http }) => {
    const agent = await signUp(http);
    await request(http, "POST", "/api/user/vcs/sync?identity=github", agent.accessToken);
    const after = await request(http, "GET", "/api/user", agent.accessToken);
    expect(after.body).toEqual(agent.userInfo);
  });
});

describe("DELETE /api/user/vcs", () => {
  test("is 400 must have more than one identity provider, for an agent with none", async ({ http }) => {
    const agent = await signUp(http);
    const answer = await request(http, "DELETE", "/api/user/vcs?identity=github", agent.accessToken);
    expectPulumiError(answer, 400, "BadDataError");
    expect(answer.body.message).toMatch(/^must have more than one identity provider\. /);
    expect(answer.body.message).toMatch(/no identity provider at all/);
    expect(answer.body.message).toMatch(/Nothing was changed\.$/);
  });

  test("is the same 400 for a claimed human, whose one identity is email, and the account keeps it", async ({ http }) => {
    const agent = await signUp(http);
    await claimAsAda(http, agent.claimToken, true);
    for (const path of ["/api/user/vcs", "/api/user/vcs?identity=email"]) {
      const answer = await request(http, "DELETE", path, agent.accessToken);
      expectPulumiError(answer, 400, "BadDataError");
      expect(answer.body.message).toMatch(/^must have more than one identity provider\. This account's only identity is "email"/);
    }
    const me = seedUser.parse((await request(http, "GET", "/api/user", agent.accessToken)).body);
    expect(me.identities).toEqual(["email"]);
  });

  test("refuses a repeated identity parameter as a validation error", async ({ http }) => {
    const agent = await signUp(http);
    const answer = await request(http, "DELETE", "/api/user/vcs?identity=github&identity=gitlab", agent.accessToken);
    expectPulumiError(answer, 400, "ValidationError");
    expect(answer.body.message).toMatch(/identity/);
  });
});

describe("GET /api/user identity fields", () => {
  test("an agent: no identities, not a site admin, and no tokenInfo, so `pulumi whoami -v` says Token type: personal", async ({ http }) => {
    const agent = await signUp(http);
    expect(agent.userInfo).toMatchObject({ identities: [], siteAdmin: false });
    expect(agent.userInfo).not.toHaveProperty("tokenInfo");
    const answer = await request(http, "GET", "/api/user", agent.accessToken);
    expect(seedUser.parse(answer.body)).toEqual(agent.userInfo);
  });

  test("a claimed human reached through the agent's kept token: identity email, no tokenInfo", async ({ http }) => {
    const agent = await signUp(http);
    await claimAsAda(http, agent.claimToken, true);
    const me = seedUser.parse((await request(http, "GET", "/api/user", agent.accessToken)).body);
    expect(me).toMatchObject({ isAgent: false, identities: ["email"], siteAdmin: false });
    expect(me).not.toHaveProperty("tokenInfo");
  });

  test("an agent that joined through an invite link without a password: no identities, no tokenInfo", async ({ http }) => {
    const admin = await signUp(http);
    const created = await fetch(`${http.url}/api/admin/invite-link/tokens`, {
      method: "POST",
      headers: { authorization: `token ${admin.accessToken}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Team", expiresAt: new Date(http.clock.now().getTime() + DAY).toISOString() }),
    });
    const link = seedInviteToken.parse(await created.json());
    const joinedRes = await fetch(`${http.url}/invite/${link.secret}/signup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "robot@example.com", name: "Invited robot" }),
    });
    const joined = seedRedeemedAgent.parse(await joinedRes.json());
    const me = seedUser.parse((await request(http, "GET", "/api/user", joined.accessToken)).body);
    expect(me).toMatchObject({ email: "robot@example.com", identities: [], siteAdmin: false });
    expect(me).not.toHaveProperty("tokenInfo");
  });
});
