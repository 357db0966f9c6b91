/**
 * Pulumi's proof of work on REST agent signups: GET /api/agents/signup gives
 * {challengeID, challengeData}; the POST carries the solved challengeResult.
 */
import { test as base, expect } from "vitest";
import { countRows, jsonOrUndefined, MINUTE } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";
import { solveChallenge } from "../signup-challenge-solver.js";

const test = base.extend<{ http: TestHttp }>({
  // biome-ignore lint: vitest fixtures need the destructuring pattern.
  http: async ({}, use) => {
    const http = await startTestHttp({ ONBOARD_SIGNUP_CHALLENGE_BITS: "8", ONBOARD_SIGNUP_CHALLENGE_MINUTES: "5" });
    await use(http);
    await http.close();
  },
});

async function api(http: TestHttp, method: string, path: string, body?: unknown) {
  const res = await fetch(`${http.url}${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: jsonOrUndefined(text), text };
}

const challenge = async (http: TestHttp) => (await api(http, "GET", "/api/agents/signup")).body as { challengeID: string; challengeData: string };

test("a challenge is v1:<random>:<bits>; solved as Pulumi's CLI solves it, the signup succeeds", async ({ http }) => {
  const { challengeID, challengeData } = await challenge(http);
  expect(challengeData).toMatch(/^v1:[A-Za-z0-9_-]{16,}:8$/);
  const answer = await api(http, "POST", "/api/agents/signup", { challengeID, challengeResult: solveChallenge(challengeData), agentName: "Solver", agentModel: "x", challengeSolveDurationMs: 3 });
  expect(answer.status, answer.text).toBe(200);
  expect(answer.body).toMatchObject({ accessToken: expect.any(String), claimToken: expect.any(String) });
});

test.for([
  ["no challenge at all", () => ({})],
  ["a wrong result", (c: { challengeID: string; challengeData: string }) => ({ challengeID: c.challengeID, challengeResult: "not-it" })],
  ["a challenge we did not issue", (c: { challengeID: string; challengeData: string }) => ({ challengeID: `${c.challengeID.split(".")[0]}.forged`, challengeResult: solveChallenge(c.challengeData) })],
] as const)("%s: 400 with what to do, and no account", async ([, make], { http }) => {
  const c = await challenge(http);
  const before = await countRows(http, "users");
  const answer = await api(http, "POST", "/api/agents/signup", { agentName: "Cheat", ...make(c) });
  expect(answer.status, answer.text).toBe(400);
  expect(answer.body).toMatchObject({ code: 400, message: expect.stringContaining("GET /api/agents/signup") });
  expect(await countRows(http, "users")).toBe(before);
});

test("a challenge works once, also when two signups race with it", async ({ http }) => {
  const c = await challenge(http);
  const body = { challengeID: c.challengeID, challengeResult: solveChallenge(c.challengeData), agentName: "Twice" };
  const answers = await Promise.all([api(http, "POST", "/api/agents/signup", body), api(http, "POST", "/api/agents/signup", body)]);
  expect(answers.map((a) => a.status).sort()).toEqual([200, 400]);
  expect(answers.find((a) => a.status === 400)!.body.message).toMatch(/already been used/);
});

test("an expired challenge is refused", async ({ http }) => {
  const c = await challenge(http);
  http.clock.advance(5 * MINUTE + 1000);
  const answer = await api(http, "POST", "/api/agents/signup", { challengeID: c.challengeID, challengeResult: solveChallenge(c.challengeData), agentName: "Late" });
  expect(answer.status).toBe(400);
  expect(answer.body.message).toMatch(/expired/);
});

test("the MCP agent_signup tool asks for no proof of work (an LLM cannot grind hashes): the per-address limit guards it", async ({ http }) => {
  const { client } = await http.connect();
  const signup = await client.callTool({ name: "agent_signup", arguments: { agentName: "Tool" } });
  expect(signup.isError).toBeFalsy();
});
