/**
 * Refreshing an agent's access token, as Pulumi's CLI does since v3.247.0
 * (pkg/backend/httpstate/client): POST /api/oauth/token with a form body
 * grant_type=refresh_token&refresh_token=…, no Authorization header; on a 401
 * it refreshes once and retries.
 */
import { test as base, expect } from "vitest";
import { endAgentAccess } from "../../src/services/agents.js";
import { claimAccount } from "../../src/services/claims.js";
import { authenticate } from "../../src/services/tokens.js";
import { HOUR, HUMAN_PASSWORD, jsonOrUndefined } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";

const test = base.extend<{ http: TestHttp }>({
  // biome-ignore lint: vitest fixtures need the destructuring pattern.
  http: async ({}, use) => {
    const http = await startTestHttp();
    await use(http);
    await http.close();
  },
});

async function signUp(http: TestHttp) {
  const res = await fetch(`${http.url}/api/agents/signup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ agentName: "CLI agent" }) });
  return (await res.json()) as { accessToken: string; refreshToken: string; claimToken: string };
}

async function refresh(http: TestHttp, form: Record<string, string>) {
  const res = await fetch(`${http.url}/api/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(form) });
  return { status: res.status, body: jsonOrUndefined(await res.text()), cache: res.headers.get("cache-control") };
}

const whoami = async (http: TestHttp, token: string) => (await fetch(`${http.url}/api/user`, { headers: { authorization: `token ${token}` } })).status;

test("an agent whose access token expired refreshes it and works again; the refresh token rotates", async ({ http }) => {
  const signup = await signUp(http);
  expect(signup.refreshToken).toEqual(expect.any(String));
  http.clock.advance(73 * HOUR);
  expect(await whoami(http, signup.accessToken)).toBe(401);

  const refreshed = await refresh(http, { grant_type: "refresh_token", refresh_token: signup.refreshToken });
  expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
  expect(refreshed.cache).toBe("no-store");
  expect(refreshed.body).toEqual({
    access_token: expect.any(String),
    issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
    token_type: "Bearer",
    expires_in: 72 * 3600,
    scope: "",
    refresh_token: expect.any(String),
  });
  expect(refreshed.body.refresh_token).not.toBe(signup.refreshToken);
  expect(await whoami(http, refreshed.body.access_token)).toBe(200);
  // And the next one refreshes in turn.
  expect((await refresh(http, { grant_type: "refresh_token", refresh_token: refreshed.body.refresh_token })).status).toBe(200);
});

test("a refresh token used twice revokes its whole family: the reused one and the one that replaced it", async ({ http }) => {
  const signup = await signUp(http);
  const first = await refresh(http, { grant_type: "refresh_token", refresh_token: signup.refreshToken });
  const replay = await refresh(http, { grant_type: "refresh_token", refresh_token: signup.refreshToken });
  expect(replay).toMatchObject({ status: 400, body: { error: "invalid_grant", error_description: expect.stringMatching(/already used once/) } });
  const after = await refresh(http, { grant_type: "refresh_token", refresh_token: first.body.refresh_token });
  expect(after).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
});

test("two refreshes racing with one token: one wins, and the family is then revoked", async ({ http }) => {
  const signup = await signUp(http);
  const answers = await Promise.all([0, 1].map(() => refresh(http, { grant_type: "refresh_token", refresh_token: signup.refreshToken })));
  expect(answers.map((a) => a.status).sort()).toEqual([200, 400]);
  const winner = answers.find((a) => a.status === 200)!;
  expect((await refresh(http, { grant_type: "refresh_token", refresh_token: winner.body.refresh_token })).status).toBe(400);
});

test("once the human ends the agent's access, at the claim or later, its refresh token no longer works", async ({ http }) => {
  const atClaim = await signUp(http);
  await claimAccount(http.handle.deps, { claimToken: atClaim.claimToken, username: "ada", email: "ada@example.com", password: HUMAN_PASSWORD, keepAgentAccess: false });
  expect(await refresh(http, { grant_type: "refresh_token", refresh_token: atClaim.refreshToken })).toMatchObject({ status: 400, body: { error: "invalid_grant", error_description: expect.stringMatching(/revoked/) } });

  const later = await signUp(http);
  await claimAccount(http.handle.deps, { claimToken: later.claimToken, username: "grace", email: "grace@example.com", password: HUMAN_PASSWORD, keepAgentAccess: true });
  const user = (await authenticate(http.handle.deps, later.accessToken)).user;
  await endAgentAccess(http.handle.deps, user.id, user.uid);
  expect((await refresh(http, { grant_type: "refresh_token", refresh_token: later.refreshToken })).status).toBe(400);
});

test("another grant type, a missing token or an unknown one get RFC 6749's errors", async ({ http }) => {
  expect(await refresh(http, { grant_type: "password", username: "a", password: "b" })).toMatchObject({ status: 400, body: { error: "unsupported_grant_type" } });
  expect(await refresh(http, { grant_type: "refresh_token" })).toMatchObject({ status: 400, body: { error: "invalid_request" } });
  expect(await refresh(http, { grant_type: "refresh_token", refresh_token: "made-up" })).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
});

test("the MCP agent_signup tool hands out no refresh token: an agent over MCP has no use for one", async ({ http }) => {
  const { client } = await http.connect();
  const signup = await client.callTool({ name: "agent_signup", arguments: {} });
  expect(signup.structuredContent).not.toHaveProperty("refreshToken");
  expect(JSON.stringify(signup.content)).not.toMatch(/refresh/i);
});
