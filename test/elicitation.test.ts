import type { ElicitRequestURLParams } from "@modelcontextprotocol/client";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { countRows, jsonOrUndefined, ok, textOf } from "./fixture.js";
import { startTestHttp, type TestHttp } from "./http-fixture.js";
import { seedAgentSignupResponse, seedRedeemedAgent } from "./seed-shapes.js";

let http: TestHttp;
beforeEach(async () => {
  http = await startTestHttp();
});
afterEach(async () => {
  await http.close();
});

const GOOD_PASSWORD = "Correct-Horse-9";
const users = () => countRows(http, "users");

/** A host that declares URL-mode elicitation, records what it is asked to open and answers `action`. */
async function urlCapableClient(era: "modern" | "legacy", action: "accept" | "decline" = "accept", headers = {}) {
  const asked: ElicitRequestURLParams[] = [];
  const { client } = await http.connect(headers, { era, capabilities: { elicitation: { url: {} } } });
  client.setRequestHandler("elicitation/create", async (request) => {
    asked.push(request.params as ElicitRequestURLParams);
    return { action };
  });
  return { client, asked };
}

/** One raw 2026-07-28 tools/call, as any HTTP client could send it, capable of URL elicitation. */
async function rawCall(name: string, params: Record<string, unknown>, token?: string) {
  const response = await fetch(`${http.url}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2026-07-28",
      "mcp-method": "tools/call",
      "mcp-name": name,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: {
        name,
        arguments: {},
        ...params,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": "2026-07-28",
          "io.modelcontextprotocol/clientInfo": { name: "raw", version: "1" },
          "io.modelcontextprotocol/clientCapabilities": { elicitation: { url: {} } },
        },
      },
    }),
  });
  const text = await response.text();
  const body = jsonOrUndefined(text) ?? jsonOrUndefined(text.replace(/^[\s\S]*?data: /, "").split("\n")[0] ?? "");
  return { status: response.status, result: body?.result, error: body?.error };
}

/** The first round of a signup: an account, and the input request with its sealed state. */
async function firstRound(agentName = "Sealed") {
  const { result } = await rawCall("agent_signup", { arguments: { agentName } });
  expect(result.resultType).toBe("input_required");
  return { requestState: result.requestState as string, claimUrl: result.inputRequests.claim.params.url as string };
}

const accepted = { claim: { action: "accept" } };

describe("the claim URL offered through an input_required round (2026-07-28)", () => {
  test("a host that can open URLs is asked to open the claim page, and the retried call answers the signup with no second account", async () => {
    const { client, asked } = await urlCapableClient("modern");

    const result = await client.callTool({ name: "agent_signup", arguments: { agentName: "Opener" } });

    const signup = seedAgentSignupResponse.parse(result.structuredContent);
    expect(asked).toEqual([expect.objectContaining({ mode: "url", url: signup.claimUrl })]);
    expect(asked[0]!.message).toMatch(/claim/i);
    expect(textOf(result)).toMatch(/^Your host opened the claim page for your human\./);
    expect(textOf(result)).toContain('"Authorization: Bearer <accessToken>"');
    expect(await users()).toBe(1);
    const me = await ok((await http.connect({ Authorization: `Bearer ${signup.accessToken}` })).client, "get_current_user");
    expect(me.githubLogin).toBe(signup.userInfo.githubLogin);
  });

  test("a human who declines still gets the signup answer, and the agent is told to pass the link on", async () => {
    const { client, asked } = await urlCapableClient("modern", "decline");

    const result = await client.callTool({ name: "agent_signup", arguments: {} });

    expect(asked).toHaveLength(1);
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toMatch(/did not open the claim page.*give them the claim URL yourself/);
    expect(await users()).toBe(1);
  });

  test("an agent joining through an invite link without a password gets its claim URL offered the same way", async () => {
    const { client: admin } = await http.connect({ Authorization: `Bearer ${(await rawSignup()).accessToken}` });
    const link = await ok(admin, "create_invite_link", { name: "crew", expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
    const { client, asked } = await urlCapableClient("modern");

    const result = await client.callTool({ name: "redeem_invite", arguments: { token: link.secret, email: "joiner@example.com", name: "Joiner" } });

    const joined = seedRedeemedAgent.parse(result.structuredContent);
    expect(asked).toEqual([expect.objectContaining({ mode: "url", url: joined.claimUrl })]);
    expect(await users()).toBe(2);
  });

  test("a redeem with a password signs up a human: nothing is offered", async () => {
    const { client: admin } = await http.connect({ Authorization: `Bearer ${(await rawSignup()).accessToken}` });
    const link = await ok(admin, "create_invite_link", { name: "crew", expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
    const { client, asked } = await urlCapableClient("modern");

    await ok(client, "redeem_invite", { token: link.secret, email: "human@example.com", name: "Human", password: GOOD_PASSWORD });

    expect(asked).toEqual([]);
  });

  test("a host without URL elicitation gets the plain result, with the claim URL in the text", async () => {
    const { client } = await http.connect();

    const result = await client.callTool({ name: "agent_signup", arguments: {} });

    const signup = seedAgentSignupResponse.parse(result.structuredContent);
    expect(textOf(result)).toContain(signup.claimUrl);
    expect(await users()).toBe(1);
  });
});

/** A signup without URL elicitation, as a plain client makes it. */
async function rawSignup() {
  const { client } = await http.connect();
  return seedAgentSignupResponse.parse(await ok(client, "agent_signup", {}));
}

describe("the requestState of a retried signup is attacker-controlled input", () => {
  test("the genuine retry answers once; replaying it creates nothing and says it was already used", async () => {
    const { requestState } = await firstRound();
    expect(await users()).toBe(1);

    const retry = await rawCall("agent_signup", { requestState, inputResponses: accepted });
    expect(seedAgentSignupResponse.parse(retry.result.structuredContent).userInfo.name).toBe("Sealed");

    const replay = await rawCall("agent_signup", { requestState, inputResponses: accepted });
    expect(replay.result.isError).toBe(true);
    expect(replay.result.content[0].text).toMatch(/already used.*Nothing was created/);
    expect(replay.result).not.toHaveProperty("structuredContent");
    expect(await users()).toBe(1);
  });

  test("a forged or altered state creates nothing and is refused clearly", async () => {
    const { requestState } = await firstRound();
    const [header, key, iv, ciphertext, tag] = requestState.split(".");
    const flipped = `${ciphertext!.slice(0, -2)}${ciphertext!.endsWith("AA") ? "BB" : "AA"}`;
    for (const forged of ["forged", `${header}.${key}.${iv}.${flipped}.${tag}`, Buffer.from('{"userId":1}').toString("base64url")]) {
      const answer = await rawCall("agent_signup", { requestState: forged, inputResponses: accepted });
      expect(answer.result.isError, forged).toBe(true);
      expect(answer.result.content[0].text).toMatch(/not issued by this server for this tool, or it was altered\. Nothing was created or changed\./);
    }
    expect(await users()).toBe(1);
  });

  test("an expired state creates nothing and says it expired", async () => {
    const { requestState } = await firstRound();
    http.clock.advance(10 * 60_000 + 1_000);

    const answer = await rawCall("agent_signup", { requestState, inputResponses: accepted });

    expect(answer.result.isError).toBe(true);
    expect(answer.result.content[0].text).toMatch(/expired/);
    expect(await users()).toBe(1);
  });

  test("another account's state is refused to a caller signed in as someone else", async () => {
    const { requestState } = await firstRound();
    const other = await rawSignup();

    const answer = await rawCall("agent_signup", { requestState, inputResponses: accepted }, other.accessToken);

    expect(answer.result.isError).toBe(true);
    expect(answer.result.content[0].text).toMatch(/belongs to another account/);
    expect(await users()).toBe(2);
  });

  test("a signup state is no key to another tool", async () => {
    const { requestState } = await firstRound();

    const answer = await rawCall("redeem_invite", {
      arguments: { token: "x".repeat(43), email: "a@example.com", name: "A" },
      requestState,
      inputResponses: accepted,
    });

    expect(answer.result.isError).toBe(true);
    expect(answer.result.content[0].text).toMatch(/not issued by this server for this tool/);
    expect(await users()).toBe(1);
  });
});

describe("2025-era hosts", () => {
  test("over stateless HTTP a 2025-era host gets the plain result: there is no session to ask it through", async () => {
    const { client, asked } = await urlCapableClient("legacy");

    const result = await client.callTool({ name: "agent_signup", arguments: {} });

    expect(asked).toEqual([]);
    expect(textOf(result)).toContain(seedAgentSignupResponse.parse(result.structuredContent).claimUrl);
  });
});

