import { request as httpRequest } from "node:http";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import { allTools } from "../../tools/index.js";
import { afterEach, describe, expect, test } from "vitest";
import { claimAccount } from "../../src/services/claims.js";
import { call, fails, HOUR, ok, textOf } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";
import { seedAgentSignupResponse, seedClaimStatus, seedRedeemedAgent, seedUser } from "../seed-shapes.js";

// ---------------------------------------------------------------------------
// Servers: each test starts its own, closed after it.

const running: TestHttp[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((http) => http.close()));
});

async function start(env: Record<string, string> = {}): Promise<TestHttp> {
  const http = await startTestHttp(env);
  running.push(http);
  return http;
}

const countUsers = (http: TestHttp): number =>
  (http.store.sqlite.prepare("SELECT count(*) AS n FROM users").get() as { n: number }).n;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// The raw protocol, for what an SDK client would hide.

interface RpcMessage {
  jsonrpc: "2.0";
  id?: number | string | null;
  result?: Record<string, any>;
  error?: { code: number; message: string };
}

let nextId = 1;
const initializeMessage = () => ({
  jsonrpc: "2.0",
  id: nextId++,
  method: "initialize",
  params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "raw-test", version: "1.0.0" } },
});
const pingMessage = () => ({ jsonrpc: "2.0", id: nextId++, method: "ping" });
const toolCallMessage = (name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id: nextId++,
  method: "tools/call",
  params: { name, arguments: args },
});

function post(http: TestHttp, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${http.url}/mcp`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

/** The one JSON-RPC message of a response, whether sent as JSON or as a server-sent event. */
async function messageOf(response: Response): Promise<RpcMessage> {
  const text = await response.text();
  if ((response.headers.get("content-type") ?? "").includes("text/event-stream")) {
    const data = text
      .split("\n")
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice("data:".length).trim())
      .filter(Boolean);
    expect(data, `one data event in ${JSON.stringify(text)}`).toHaveLength(1);
    return JSON.parse(data[0]!) as RpcMessage;
  }
  return JSON.parse(text) as RpcMessage;
}

const sessionHeaders = (sessionId: string, extra: Record<string, string> = {}) => ({
  "mcp-session-id": sessionId,
  "mcp-protocol-version": LATEST_PROTOCOL_VERSION,
  ...extra,
});

/** Opens a session as a client would (initialize, then notifications/initialized) and returns its id. */
async function openSession(http: TestHttp, headers: Record<string, string> = {}): Promise<string> {
  const response = await post(http, initializeMessage(), headers);
  expect(response.status).toBe(200);
  const sessionId = response.headers.get("mcp-session-id");
  expect(sessionId).toBeTruthy();
  expect((await messageOf(response)).result?.protocolVersion).toBe(LATEST_PROTOCOL_VERSION);
  const initialized = await post(http, { jsonrpc: "2.0", method: "notifications/initialized" }, sessionHeaders(sessionId!, headers));
  expect(initialized.status).toBe(202);
  return sessionId!;
}

async function rawCall(http: TestHttp, sessionId: string, name: string, args: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const response = await post(http, toolCallMessage(name, args), sessionHeaders(sessionId, headers));
  return { status: response.status, message: response.status === 200 ? await messageOf(response) : undefined, response };
}

const ping = (http: TestHttp, sessionId: string) => post(http, pingMessage(), sessionHeaders(sessionId));

/** A request with a Host header of the test's choosing (fetch does not allow setting Host). */
function withHost(http: TestHttp, host: string, body: unknown): Promise<{ status: number; body: string }> {
  const url = new URL(`${http.url}/mcp`);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        hostname: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: {
          host: host,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** Signs up on a fresh SDK session and returns that session with the answer. */
async function signUp(http: TestHttp, args: Record<string, unknown> = {}) {
  const { client } = await http.connect();
  const signup = seedAgentSignupResponse.parse(await ok(client, "agent_signup", args));
  return { client, signup };
}

async function inviteFrom(client: Client): Promise<string> {
  const invite = await ok(client, "create_invite_link", {
    name: "crew",
    expiresAt: new Date(Date.now() + 7 * 24 * HOUR).toISOString(),
  });
  return invite.url as string;
}

const resourceMetadataOf = (http: TestHttp) => `${http.url}/.well-known/oauth-protected-resource/mcp`;

/** A 401 as MCP clients expect it: WWW-Authenticate pointing at the resource metadata, and a JSON-RPC error body. */
async function expectUnauthorized(http: TestHttp, response: Response): Promise<RpcMessage> {
  expect(response.status).toBe(401);
  const challenge = response.headers.get("www-authenticate") ?? "";
  expect(challenge).toMatch(/^Bearer\b/);
  expect(challenge).toContain(`resource_metadata="${resourceMetadataOf(http)}"`);
  const body = (await response.json()) as RpcMessage;
  expect(body.jsonrpc).toBe("2.0");
  expect(body.error?.code).toEqual(expect.any(Number));
  expect(body.error?.message).toEqual(expect.any(String));
  expect(body.result).toBeUndefined();
  return body;
}

// ---------------------------------------------------------------------------

describe("identity over HTTP", () => {
  test("an agent signs up without any Authorization header and the same session is then bound to the new user", async () => {
    const http = await start();
    const { client } = await http.connect();
    expect(await fails(client, "get_current_user")).toContain("agent_signup");

    const signup = seedAgentSignupResponse.parse(await ok(client, "agent_signup", { agentName: "Builder" }));
    expect(signup.claimUrl).toBe(`${http.url}/claim/${signup.claimToken}`);

    const me = seedUser.parse(await ok(client, "get_current_user"));
    expect(me).toMatchObject({ id: signup.userInfo.id, name: "Builder", isAgent: true });
    // The binding lasts for the session: other tools act as that user too.
    await ok(client, "create_stack", { projectName: "web", stackName: "dev" });
    expect((await ok(client, "list_stacks")).stacks).toHaveLength(1);
  });

  test("the session binding of one client does not leak into another anonymous session", async () => {
    const http = await start();
    await signUp(http);
    const { client: other } = await http.connect();
    expect(await fails(other, "get_current_user")).toContain("agent_signup");
  });

  test("the token works as `Authorization: Bearer <token>` on a new session", async () => {
    const http = await start();
    const { signup } = await signUp(http, { agentName: "Bearer agent" });
    const { client } = await http.connect({ Authorization: `Bearer ${signup.accessToken}` });
    const me = seedUser.parse(await ok(client, "get_current_user"));
    expect(me).toMatchObject({ id: signup.userInfo.id, githubLogin: signup.userInfo.githubLogin, name: "Bearer agent" });
  });

  test("the token works with the Pulumi CLI scheme `Authorization: token <token>` on a new session", async () => {
    const http = await start();
    const { signup } = await signUp(http);
    const { client } = await http.connect({ Authorization: `token ${signup.accessToken}` });
    expect((await ok(client, "get_current_user")).id).toBe(signup.userInfo.id);
  });

  test("a stack created through one session is seen by another session holding the same token", async () => {
    const http = await start();
    const { client: first, signup } = await signUp(http);
    await ok(first, "create_stack", { projectName: "api", stackName: "prod" });
    const { client: second } = await http.connect({ Authorization: `Bearer ${signup.accessToken}` });
    const page = await ok(second, "list_stacks");
    expect(page.stacks.map((s: { stackName: string }) => s.stackName)).toEqual(["prod"]);
  });

  test("without a token, get_current_user tells the agent to call agent_signup, while discovery, agent_signup and redeem_invite work", async () => {
    const http = await start();
    const { client: inviter } = await signUp(http);
    const inviteUrl = await inviteFrom(inviter);

    const { client } = await http.connect();
    const result = await call(client, "get_current_user");
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain("agent_signup");
    expect(result.structuredContent).toBeUndefined();

    // Discovery works signed out: every tool is listed.
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(allTools.map((tool) => tool.name).sort());

    const joined = seedRedeemedAgent.parse(await ok(client, "redeem_invite", { token: inviteUrl, email: "helper@example.com", name: "Helper" }));
    expect((await ok(client, "get_current_user")).githubLogin).toBe(joined.username);

    const { client: third } = await http.connect();
    await ok(third, "agent_signup");
    expect(countUsers(http)).toBe(3);
  });
});

describe("401 for a token that is present but not valid", () => {
  test("an invalid token gets 401 with a WWW-Authenticate challenge naming the resource metadata", async () => {
    const http = await start();
    const response = await post(http, initializeMessage(), { Authorization: "Bearer not-a-real-token" });
    await expectUnauthorized(http, response);
    expect(response.headers.get("mcp-session-id")).toBeNull();
    expect(http.handle.sessionCount()).toBe(0);
  });

  test("a token signed by another server gets 401", async () => {
    const other = await start();
    const { signup } = await signUp(other);
    const http = await start();
    await expectUnauthorized(http, await post(http, initializeMessage(), { Authorization: `Bearer ${signup.accessToken}` }));
  });

  test("an expired token gets 401 saying it expired", async () => {
    const http = await start();
    const { signup } = await signUp(http);
    http.clock.advance(73 * HOUR);
    const body = await expectUnauthorized(
      http,
      await post(http, initializeMessage(), { Authorization: `Bearer ${signup.accessToken}` }),
    );
    expect(body.error?.message).toMatch(/expired/i);
  });

  test("a token still valid one hour before its expiry passes, the same token after it does not", async () => {
    const http = await start();
    const { signup } = await signUp(http);
    http.clock.advance(71 * HOUR);
    expect((await post(http, initializeMessage(), { Authorization: `Bearer ${signup.accessToken}` })).status).toBe(200);
    http.clock.advance(2 * HOUR);
    expect((await post(http, initializeMessage(), { Authorization: `Bearer ${signup.accessToken}` })).status).toBe(401);
  });

  test("a malformed Authorization header (Basic) gets 401, not anonymous access", async () => {
    const http = await start();
    await expectUnauthorized(http, await post(http, initializeMessage(), { Authorization: "Basic xyz" }));
    expect(http.handle.sessionCount()).toBe(0);
  });

  test("an Authorization header with a scheme but no token gets 401", async () => {
    const http = await start();
    await expectUnauthorized(http, await post(http, initializeMessage(), { Authorization: "Bearer" }));
  });

  test("an invalid token on an open anonymous session is refused for agent_signup too, and no user is created", async () => {
    const http = await start();
    const sessionId = await openSession(http);
    const refused = await rawCall(http, sessionId, "agent_signup", {}, { Authorization: "Bearer forged.token.value" });
    await expectUnauthorized(http, refused.response);
    expect(countUsers(http)).toBe(0);

    // The session itself is fine: without the bad header the same call signs up.
    const accepted = await rawCall(http, sessionId, "agent_signup");
    expect(accepted.status).toBe(200);
    expect(accepted.message?.result?.isError).toBeUndefined();
    expect(countUsers(http)).toBe(1);
  });

  test("an expired token sent on a session bound by signup gets 401 on the follow-up request", async () => {
    const http = await start();
    const sessionId = await openSession(http);
    const signup = await rawCall(http, sessionId, "agent_signup");
    const token = signup.message?.result?.structuredContent?.accessToken as string;
    expect(token).toEqual(expect.any(String));
    http.clock.advance(73 * HOUR);
    await expectUnauthorized(http, (await rawCall(http, sessionId, "get_current_user", {}, { Authorization: `Bearer ${token}` })).response);
  });

  test("the protected resource metadata names /mcp and header bearer tokens", async () => {
    const http = await start();
    const response = await fetch(resourceMetadataOf(http));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/application\/json/);
    const metadata = (await response.json()) as { resource: string; bearer_methods_supported: string[] };
    expect(metadata.resource).toBe(`${http.url}/mcp`);
    expect(metadata.bearer_methods_supported).toContain("header");
  });

  test("with ONBOARD_PUBLIC_URL the challenge and metadata use the public URL", async () => {
    const http = await start({ ONBOARD_PUBLIC_URL: "https://onboard.example.com" });
    const response = await post(http, initializeMessage(), { Authorization: "Bearer nope" });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain(
      'resource_metadata="https://onboard.example.com/.well-known/oauth-protected-resource/mcp"',
    );
    const metadata = (await (await fetch(`${http.url}/.well-known/oauth-protected-resource/mcp`)).json()) as { resource: string };
    expect(metadata.resource).toBe("https://onboard.example.com/mcp");
  });
});

describe("DNS-rebinding protection", () => {
  test("a foreign Origin gets 403 on initialize before any session is opened", async () => {
    const http = await start();
    const response = await post(http, initializeMessage(), { Origin: "http://evil.example" });
    expect(response.status).toBe(403);
    expect(response.headers.get("mcp-session-id")).toBeNull();
    expect(((await response.json()) as { message: string }).message).toContain("ONBOARD_ALLOWED_ORIGINS");
    expect(http.handle.sessionCount()).toBe(0);
  });

  test("a foreign Origin gets 403 for an agent_signup on an open session, and no user is created", async () => {
    const http = await start();
    const sessionId = await openSession(http);
    const refused = await rawCall(http, sessionId, "agent_signup", {}, { Origin: "http://evil.example" });
    expect(refused.status).toBe(403);
    expect(countUsers(http)).toBe(0);
  });

  test("a foreign Host header gets 403 before any session is opened", async () => {
    const http = await start();
    const port = new URL(http.url).port;
    for (const host of [`evil.example:${port}`, "evil.example", `127.0.0.1.evil.example:${port}`]) {
      const answer = await withHost(http, host, initializeMessage());
      expect(answer.status, host).toBe(403);
      expect(answer.body).toContain("is not allowed");
    }
    expect(http.handle.sessionCount()).toBe(0);
  });

  test("the loopback names of the server's own port are accepted as Host", async () => {
    const http = await start();
    const port = new URL(http.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      expect((await withHost(http, host, initializeMessage())).status, host).toBe(200);
    }
  });

  test("an Origin listed in ONBOARD_ALLOWED_ORIGINS is accepted, others still are not", async () => {
    const http = await start({ ONBOARD_ALLOWED_ORIGINS: "https://app.example, https://console.example" });
    expect((await post(http, initializeMessage(), { Origin: "https://console.example" })).status).toBe(200);
    const sessionId = await openSession(http, { Origin: "https://app.example" });
    const signup = await rawCall(http, sessionId, "agent_signup", {}, { Origin: "https://app.example" });
    expect(signup.status).toBe(200);
    expect(signup.message?.result?.structuredContent?.accessToken).toEqual(expect.any(String));
    expect((await post(http, initializeMessage(), { Origin: "https://evil.example" })).status).toBe(403);
  });

  test("the server's own origin is accepted", async () => {
    const http = await start();
    expect((await post(http, initializeMessage(), { Origin: http.url })).status).toBe(200);
    const localhost = http.url.replace("127.0.0.1", "localhost");
    expect((await post(http, initializeMessage(), { Origin: localhost })).status).toBe(200);
  });
});

describe("session lifecycle", () => {
  test("initialize issues an Mcp-Session-Id and opens one session", async () => {
    const http = await start();
    const response = await post(http, initializeMessage());
    expect(response.status).toBe(200);
    expect(response.headers.get("mcp-session-id")).toMatch(/^[0-9a-f-]{36}$/);
    const message = await messageOf(response);
    expect(message.result?.serverInfo).toMatchObject({ name: "agent-onboard" });
    expect(http.handle.sessionCount()).toBe(1);
  });

  test("each initialize gets a session id of its own", async () => {
    const http = await start();
    const a = await openSession(http);
    const b = await openSession(http);
    expect(a).not.toBe(b);
    expect(http.handle.sessionCount()).toBe(2);
  });

  test("an unknown session id gets 404 with a JSON-RPC error", async () => {
    const http = await start();
    await openSession(http);
    const response = await ping(http, "00000000-0000-4000-8000-000000000000");
    expect(response.status).toBe(404);
    const body = (await response.json()) as RpcMessage;
    expect(body.jsonrpc).toBe("2.0");
    expect(body.error?.message).toMatch(/session/i);
  });

  test("a request other than initialize without a session id gets 400", async () => {
    const http = await start();
    const response = await post(http, pingMessage());
    expect(response.status).toBe(400);
    expect(((await response.json()) as RpcMessage).error?.message).toContain("initialize");
    expect(http.handle.sessionCount()).toBe(0);
  });

  test("DELETE with the session id closes the session; the id then gets 404", async () => {
    const http = await start();
    const keep = await openSession(http);
    const sessionId = await openSession(http);
    expect((await ping(http, sessionId)).status).toBe(200);
    expect(http.handle.sessionCount()).toBe(2);

    const deleted = await fetch(`${http.url}/mcp`, { method: "DELETE", headers: sessionHeaders(sessionId) });
    expect(deleted.status).toBe(200);
    expect(http.handle.sessionCount()).toBe(1);
    expect((await ping(http, sessionId)).status).toBe(404);
    expect((await fetch(`${http.url}/mcp`, { method: "DELETE", headers: sessionHeaders(sessionId) })).status).toBe(404);
    expect((await ping(http, keep)).status).toBe(200);
  });

  test("an SDK client that terminates its session frees it on the server", async () => {
    const http = await start();
    const { client, transport } = await http.connect();
    await ok(client, "agent_signup");
    const sessionId = transport.sessionId!;
    expect(http.handle.sessionCount()).toBe(1);
    await transport.terminateSession();
    expect(http.handle.sessionCount()).toBe(0);
    expect((await ping(http, sessionId)).status).toBe(404);
  });

  test("a session left idle longer than ONBOARD_SESSION_IDLE_SECONDS is closed, one kept in use survives", async () => {
    const http = await start({ ONBOARD_SESSION_IDLE_SECONDS: "0.2" });
    const idle = await openSession(http);
    const { client: busy, transport } = await http.connect();
    expect(http.handle.sessionCount()).toBe(2);

    const until = Date.now() + 1_000;
    while (Date.now() < until) {
      await busy.ping();
      await sleep(40);
    }
    expect((await ping(http, idle)).status).toBe(404);
    expect(http.handle.sessionCount()).toBe(1);
    expect((await ping(http, transport.sessionId!)).status).toBe(200);
    await ok(busy, "agent_signup");

    // Once left alone, the busy one goes too.
    const deadline = Date.now() + 3_000;
    while (http.handle.sessionCount() > 0 && Date.now() < deadline) await sleep(50);
    expect(http.handle.sessionCount()).toBe(0);
    expect((await ping(http, transport.sessionId!)).status).toBe(404);
  });

  test("with ONBOARD_MAX_SESSIONS=2 a third initialize gets 503 with Retry-After, and a freed slot can be reused", async () => {
    const http = await start({ ONBOARD_MAX_SESSIONS: "2" });
    const first = await openSession(http);
    await openSession(http);

    const refused = await post(http, initializeMessage());
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.headers.get("mcp-session-id")).toBeNull();
    const body = (await refused.json()) as RpcMessage;
    expect(body.error?.message).toMatch(/retry/i);
    expect(http.handle.sessionCount()).toBe(2);

    // Existing sessions keep working at the cap.
    expect((await ping(http, first)).status).toBe(200);

    await fetch(`${http.url}/mcp`, { method: "DELETE", headers: sessionHeaders(first) });
    expect(http.handle.sessionCount()).toBe(1);
    expect((await post(http, initializeMessage())).status).toBe(200);
  });
});

describe("signup rate limit per address", () => {
  test("with ONBOARD_SIGNUPS_PER_HOUR=2 the third agent_signup is refused with when to retry, and no third user exists", async () => {
    const http = await start({ ONBOARD_SIGNUPS_PER_HOUR: "2" });
    await signUp(http);
    await signUp(http);
    const { client } = await http.connect();
    const text = await fails(client, "agent_signup");
    expect(text).toMatch(/too many/i);
    expect(text).toMatch(/Retry after \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z \(in \d+ s\)/);
    expect(countUsers(http)).toBe(2);
    // The refused session stays anonymous.
    expect(await fails(client, "get_current_user")).toContain("agent_signup");
  });

  test("redeem_invite counts against the same limit and is refused once it is reached", async () => {
    const http = await start({ ONBOARD_SIGNUPS_PER_HOUR: "2" });
    const { client: admin } = await signUp(http);
    const inviteUrl = await inviteFrom(admin);
    const { client: helper } = await http.connect();
    await ok(helper, "redeem_invite", { token: inviteUrl, email: "one@example.com", name: "One" });

    const { client: late } = await http.connect();
    expect(await fails(late, "agent_signup")).toMatch(/Retry after/);
    expect(await fails(late, "redeem_invite", { token: inviteUrl, email: "two@example.com", name: "Two" })).toMatch(/Retry after/);
    expect(countUsers(http)).toBe(2);
  });

  test("tools that create no account are not limited", async () => {
    const http = await start({ ONBOARD_SIGNUPS_PER_HOUR: "1" });
    const { client } = await signUp(http);
    const { client: other } = await http.connect();
    await fails(other, "agent_signup");

    for (let i = 0; i < 5; i += 1) {
      await ok(client, "get_current_user");
      await ok(client, "create_stack", { projectName: "web", stackName: `s${i}` });
      await ok(client, "list_stacks");
      await ok(client, "get_claim_status");
    }
    await inviteFrom(client);
    expect((await ok(client, "list_stacks")).stacks).toHaveLength(5);
  });
});

describe("after a claim that ended the agent's access", () => {
  const human = { username: "ada-lovelace", email: "ada@example.com", password: "Analytical#Engine1843" };

  test("the agent's token still passes the HTTP layer so get_claim_status answers, while get_current_user is an error", async () => {
    const http = await start();
    const { client: bound, signup } = await signUp(http);
    await claimAccount(http.handle.deps, { claimToken: signup.claimToken, ...human, keepAgentAccess: false });

    // No 401 for the revoked-by-claim token.
    const initialize = await post(http, initializeMessage(), { Authorization: `Bearer ${signup.accessToken}` });
    expect(initialize.status).toBe(200);

    const { client } = await http.connect({ Authorization: `Bearer ${signup.accessToken}` });
    const status = seedClaimStatus.parse(await ok(client, "get_claim_status"));
    expect(status).toMatchObject({ claimed: true, claimedBy: human.username, agentAccessKept: false });
    expect(await fails(client, "get_current_user")).toMatch(/claimed this account/);
    expect(await fails(client, "list_stacks")).toContain("get_claim_status");

    // The session bound by signup sees the same.
    expect((await ok(bound, "get_claim_status")).claimed).toBe(true);
    expect(await fails(bound, "get_current_user")).toContain("get_claim_status");
  });

  test("a token revoked other than by a claim gets 401", async () => {
    const http = await start();
    const { signup } = await signUp(http);
    http.store.sqlite.prepare("UPDATE access_tokens SET revoked_at = ?, revoked_reason = NULL").run(http.clock.now().getTime());
    const body = await expectUnauthorized(http, await post(http, initializeMessage(), { Authorization: `Bearer ${signup.accessToken}` }));
    expect(body.error?.message).toMatch(/revoked/);
  });
});
