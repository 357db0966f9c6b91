import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  type ElicitRequest,
  ElicitRequestSchema,
  ElicitationCompleteNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { ok, textOf } from "./fixture.js";
import { startTestHttp, type TestHttp } from "./http-fixture.js";

let http: TestHttp;
beforeEach(async () => {
  http = await startTestHttp();
});
afterEach(async () => {
  await http.close();
});

/** A client that declares URL-mode elicitation and records what it is asked and told. */
async function urlCapableClient() {
  const requests: ElicitRequest["params"][] = [];
  const completed: string[] = [];
  const client = new Client({ name: "url-capable", version: "1.0.0" }, { capabilities: { elicitation: { url: {} } } });
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    requests.push(request.params);
    return { action: "accept" };
  });
  client.setNotificationHandler(ElicitationCompleteNotificationSchema, (notification) => {
    completed.push(notification.params.elicitationId);
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`)));
  return { client, requests, completed };
}

/** The human opens the claim page and submits the form, as a browser would. */
async function claimThroughPage(claimUrl: string) {
  const form = await fetch(claimUrl);
  const cookie = form.headers.get("set-cookie")!.split(";")[0]!;
  const csrf = (await form.text()).match(/name="csrf" value="([^"]+)"/)![1]!;
  const done = await fetch(claimUrl, {
    method: "POST",
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ csrf, username: "owner", email: "owner@example.com", password: "Owner-Passw0rd!", keepAgentAccess: "yes" }),
  });
  expect(done.status).toBe(200);
}

describe("URL-mode elicitation of the claim URL", () => {
  test("a client that supports it is asked to open the claim URL, and told when the human has claimed the account", async () => {
    const { client, requests, completed } = await urlCapableClient();
    const signup = await ok(client, "agent_signup", { agentName: "Eliciting" });

    await vi.waitFor(() => expect(requests).toHaveLength(1));
    const [request] = requests as Array<ElicitRequest["params"] & { mode: "url"; url: string; elicitationId: string }>;
    expect(request).toMatchObject({ mode: "url", url: signup.claimUrl, message: expect.stringContaining("claim") });
    expect(completed).toEqual([]);

    await claimThroughPage(signup.claimUrl);
    await vi.waitFor(() => expect(completed).toEqual([request!.elicitationId]), { timeout: 5_000, interval: 100 });
    expect(await ok(client, "get_claim_status")).toMatchObject({ claimed: true, claimedBy: "owner" });
  });

  test("an agent joining through an invite link without a password gets its claim URL offered the same way", async () => {
    const admin = await urlCapableClient();
    await ok(admin.client, "agent_signup");
    const invite = await ok(admin.client, "create_invite_link", { name: "crew", expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
    const joiner = await urlCapableClient();
    const joined = await ok(joiner.client, "redeem_invite", { token: invite.url, email: "joiner@example.com", name: "Joiner" });
    await vi.waitFor(() => expect(joiner.requests).toEqual([expect.objectContaining({ mode: "url", url: joined.claimUrl })]));
  });

  test("a client without it gets the plain result, with the claim URL in the text for the agent to pass on", async () => {
    const { client } = await http.connect();
    const result = await client.callTool({ name: "agent_signup", arguments: {} });
    expect(result.isError).toBeFalsy();
    const text = textOf(result as never);
    expect(text).toContain("Give your human this link");
    expect(text).toContain((result.structuredContent as { claimUrl: string }).claimUrl);
    expect(await ok(client, "get_claim_status")).toMatchObject({ claimed: false });
  });
});
