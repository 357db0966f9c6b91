import { describe } from "vitest";
import { claimAccount } from "../../src/services/claims.js";
import { call, countRows, DAY, expect, fails, HOUR, ok, signUp, test, textOf, type TestEnv } from "../fixture.js";
import { seedAppStackSummary, seedClaimStatus, seedStacksPage, seedUser } from "../seed-shapes.js";

const human = { username: "ada-lovelace", email: "Ada@Example.com", password: "Analytical#Engine1843" };

const claim = (env: TestEnv, claimToken: string, keepAgentAccess: boolean) =>
  claimAccount(env.deps, { claimToken, ...human, keepAgentAccess });

describe("get_claim_status", () => {
  test("without a token it tells the agent to sign up first", async ({ env }) => {
    expect(await fails(await env.connect(), "get_claim_status")).toContain("agent_signup");
  });

  test("an unclaimed account is not claimed and says until when the claim URL works", async ({ env }) => {
    const { client, signup } = await signUp(env);
    const status = seedClaimStatus.parse(await ok(client, "get_claim_status"));
    expect(status).toEqual({ claimed: false, claimTokenValidUntil: signup.claimTokenValidUntil });
  });

  test("the text of an unclaimed status asks the agent to remind its human", async ({ env }) => {
    const { client, signup } = await signUp(env);
    const text = textOf(await call(client, "get_claim_status"));
    expect(text).toMatch(/not claimed/i);
    expect(text).toContain(signup.claimTokenValidUntil);
  });

  test("after a claim that keeps the agent's access: claimed by the human's username, access kept", async ({ env }) => {
    const { client, signup, claimToken } = await signUp(env);
    env.clock.advance(2 * HOUR);
    const claimedAt = env.clock.now().toISOString();
    await claim(env, claimToken, true);

    const status = seedClaimStatus.parse(await ok(client, "get_claim_status"));
    expect(status).toEqual({
      claimed: true,
      claimedAt,
      claimedBy: human.username,
      claimTokenValidUntil: signup.claimTokenValidUntil,
      agentAccessKept: true,
    });
  });

  test("after a claim that keeps the agent's access, the agent's other tools keep working on the claimed account", async ({ env }) => {
    const { client, signup, claimToken } = await signUp(env);
    await claim(env, claimToken, true);

    const me = seedUser.parse(await ok(client, "get_current_user"));
    expect(me).toMatchObject({ id: signup.userInfo.id, githubLogin: human.username, isAgent: false, email: "ada@example.com" });
    const stack = seedAppStackSummary.parse(await ok(client, "create_stack", { projectName: "web", stackName: "dev" }));
    const page = seedStacksPage.parse(await ok(client, "list_stacks"));
    expect(page.stacks.map((s) => s.id)).toEqual([stack.id]);
  });

  test("a kept access still ends when the agent's token expires", async ({ env }) => {
    const { client, claimToken } = await signUp(env);
    await claim(env, claimToken, true);
    env.clock.advance(72 * HOUR);
    expect(await fails(client, "get_current_user")).toMatch(/expired/i);
  });

  test("after a claim that ends the agent's access, other tools say so and point to get_claim_status", async ({ env }) => {
    const { client, token, claimToken } = await signUp(env);
    await claim(env, claimToken, false);

    for (const session of [client, await env.connect(token)]) {
      for (const [tool, args] of [
        ["get_current_user", {}],
        ["create_stack", { projectName: "web", stackName: "dev" }],
        ["list_stacks", {}],
      ] as const) {
        const message = await fails(session, tool, args);
        expect(message).toMatch(/claimed/i);
        expect(message).toMatch(/ended your access/i);
        expect(message).toContain("get_claim_status");
      }
    }
    expect(await countRows(env, "stacks")).toBe(0);
  });

  test("after a claim that ends the agent's access, get_claim_status still answers: claimed, access not kept", async ({ env }) => {
    const { client, token, signup, claimToken } = await signUp(env);
    env.clock.advance(DAY);
    const claimedAt = env.clock.now().toISOString();
    await claim(env, claimToken, false);

    for (const session of [client, await env.connect(token)]) {
      const result = await call(session, "get_claim_status");
      expect(result.isError).toBeFalsy();
      const status = seedClaimStatus.parse(result.structuredContent);
      expect(status).toEqual({
        claimed: true,
        claimedAt,
        claimedBy: human.username,
        claimTokenValidUntil: signup.claimTokenValidUntil,
        agentAccessKept: false,
      });
      expect(textOf(result)).toMatch(/ended your access/i);
    }
  });

  test("the status of one agent says nothing about another agent's claim", async ({ env }) => {
    const first = await signUp(env);
    const second = await signUp(env);
    await claim(env, first.claimToken, true);
    expect(seedClaimStatus.parse(await ok(second.client, "get_claim_status")).claimed).toBe(false);
    expect(seedClaimStatus.parse(await ok(first.client, "get_claim_status")).claimed).toBe(true);
  });
});
