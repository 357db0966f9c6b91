import { test as base, describe, expect } from "vitest";
import { jsonOrUndefined } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";

const test = base.extend<{ http: TestHttp }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest fixtures take their dependencies destructured
  http: async ({}, use) => {
    const http = await startTestHttp();
    await use(http);
    await http.close();
  },
});

async function call(http: TestHttp, method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(`${http.url}${path}`, {
    method,
    headers: { Authorization: `token ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: jsonOrUndefined(text), text };
}

async function signUp(http: TestHttp): Promise<string> {
  const res = await fetch(`${http.url}/api/agents/signup`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  return ((await res.json()) as { accessToken: string }).accessToken;
}

const inDays = (http: TestHttp, days: number) => Math.floor(http.clock.now().getTime() / 1000) + days * 86_400;

describe("Pulumi's /api/user/tokens", () => {
  test("POST answers {id, tokenValue}; the token acts as the account on /api/user; GET lists it without the value", async ({ http }) => {
    const agent = await signUp(http);
    const created = await call(http, "POST", "/api/user/tokens", agent, { description: "CI pipeline", expires: inDays(http, 30) });
    expect(created.status, created.text).toBe(200);
    expect(Object.keys(created.body).sort()).toEqual(["id", "tokenValue"]);

    const me = await call(http, "GET", "/api/user", created.body.tokenValue);
    expect(me.status).toBe(200);
    expect(me.body.githubLogin).toBe((await call(http, "GET", "/api/user", agent)).body.githubLogin);

    const listed = await call(http, "GET", "/api/user/tokens", agent);
    expect(listed.status).toBe(200);
    expect(listed.body.tokens).toEqual([
      { id: created.body.id, description: "CI pipeline", lastUsed: expect.any(Number), expires: inDays(http, 30), created: expect.any(String) },
    ]);
    expect(listed.body.tokens[0].lastUsed).toBeGreaterThan(0);
    expect(listed.text).not.toContain(created.body.tokenValue);
  });

  test("DELETE revokes the token at once (204), and it is no longer listed", async ({ http }) => {
    const agent = await signUp(http);
    const created = await call(http, "POST", "/api/user/tokens", agent, { description: "laptop", expires: inDays(http, 7) });
    const removed = await call(http, "DELETE", `/api/user/tokens/${created.body.id}`, agent);
    expect(removed.status).toBe(204);
    expect((await call(http, "GET", "/api/user", created.body.tokenValue)).status).toBe(401);
    expect((await call(http, "GET", "/api/user/tokens", agent)).body.tokens).toEqual([]);
  });

  test("another account's token id answers 404, and that token keeps working", async ({ http }) => {
    const owner = await signUp(http);
    const stranger = await signUp(http);
    const created = await call(http, "POST", "/api/user/tokens", owner, { description: "mine", expires: inDays(http, 7) });
    const refused = await call(http, "DELETE", `/api/user/tokens/${created.body.id}`, stranger);
    expect(refused.status).toBe(404);
    expect((await call(http, "GET", "/api/user", created.body.tokenValue)).status).toBe(200);
  });

  test.for([
    ["no description", { expires: 0 }, /Say what the token is for/],
    ["no expiry", { description: "x" }, /expires must be a time in the next 365 days/],
    ["an expiry in the past", { description: "x", expires: 1 }, /expires must be/],
    ["an expiry beyond a year", { description: "x", expires: 4_102_444_800 }, /expires must be/],
  ] as const)("POST with %s is a 400 that says what to send, and makes no token", async ([, body, message], { http }) => {
    const agent = await signUp(http);
    const answer = await call(http, "POST", "/api/user/tokens", agent, body);
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(message);
    expect((await call(http, "GET", "/api/user/tokens", agent)).body.tokens).toEqual([]);
  });

  test("without a token the routes answer 401", async ({ http }) => {
    const res = await fetch(`${http.url}/api/user/tokens`);
    expect(res.status).toBe(401);
  });
});
