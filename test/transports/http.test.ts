import { request as httpRequest } from "node:http";
import { eq } from "drizzle-orm";
import { type Client, SdkHttpError } from "@modelcontextprotocol/client";
import { Client as LegacyClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport as LegacyHttpTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { allTools } from "../../tools/index.js";
import { afterEach, describe, expect, test } from "vitest";
import { claimAccount } from "../../src/services/claims.js";
import { call, countRows, fails, HOUR, ok, textOf } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";
import { seedAgentSignupResponse, seedClaimStatus, seedRedeemedAgent, seedStacksPage, seedUser } from "../seed-shapes.js";

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

const countUsers = (http: TestHttp): Promise<number> => countRows(http, "users");

// ---------------------------------------------------------------------------
// The raw protocol, for what an SDK client would hide.

interface RpcMessage {
  jsonrpc: "2.0";
  id?: number | string | null;
  result?: Record<string, any>;
  error?: { code: number; message: string };
}

const MODERN = "2026-07-28";
let nextId = 1;
const envelope = { "io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientInfo": { name: "raw-test", version: "1.0.0" }, "io.modelcontextprotocol/clientCapabilities": {} };

/** A 2026-07-28 request: the version and capabilities travel with it, in _meta and the standard headers. */
function modern(method: string, params: Record<string, unknown> = {}) {
  const name = typeof params.name === "string" ? { "mcp-name": params.name } : {};
  return {
    body: { jsonrpc: "2.0", id: nextId++, method, params: { ...params, _meta: envelope } },
    headers: { "mcp-protocol-version": MODERN, "mcp-method": method, ...name } as Record<string, string>,
  };
}
const discover = () => modern("server/discover");
const toolCall = (name: string, args: Record<string, unknown> = {}) => modern("tools/call", { name, arguments: args });

/** A 2025-era initialize, as today's hosts open with. */
const initializeMessage = (protocolVersion = "2025-11-25") => ({
  jsonrpc: "2.0",
  id: nextId++,
  method: "initialize",
  params: { protocolVersion, capabilities: {}, clientInfo: { name: "raw-test", version: "1.0.0" } },
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

const send = (http: TestHttp, request: { body: unknown; headers: Record<string, string> }, headers: Record<string, string> = {}) =>
  post(http, request.body, { ...request.headers, ...headers });

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

async function rawCall(http: TestHttp, name: string, args: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const response = await send(http, toolCall(name, args), headers);
  return { status: response.status, message: response.status === 200 ? await messageOf(response) : undefined, response };
}

/**
 * A call that needs an account, made without one: HTTP 401 whose challenge
 * sends an OAuth host to sign in, and whose message tells an agent on its own
 * how to sign up. Returns that message.
 */
async function refusedForNoAccount(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const error = await client.callTool({ name, arguments: args }).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(SdkHttpError);
  expect((error as SdkHttpError).status).toBe(401);
  const message = (error as SdkHttpError).message;
  expect(message).toMatch(/signs in, or starts a new agent account.*agent_signup.*Authorization: Bearer <accessToken>/);
  return message;
}

/** A request with a Host header of the test's choosing (fetch does not allow setting Host). */
function withHost(http: TestHttp, host: string, request = discover()): Promise<{ status: number; body: string }> {
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
          ...request.headers,
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
    req.end(JSON.stringify(request.body));
  });
}

/** Signs up without a token and returns a client that sends the new one, with the answer. */
async function signUp(http: TestHttp, args: Record<string, unknown> = {}) {
  const { client: anonymous } = await http.connect();
  const signup = seedAgentSignupResponse.parse(await ok(anonymous, "agent_signup", args));
  const { client } = await http.connect({ Authorization: `Bearer ${signup.accessToken}` });
  return { client, signup };
}

async function inviteFrom(client: Client): Promise<string> {
  const invite = await ok(client, "create_invite_link", {
    name: "crew",
    expiresAt: new Date(Date.now() + 7 * 24 * HOUR).toISOString(),
  });
  return invite.url as string;
}

/** A 401 as MCP clients expect it: a Bearer challenge with the reason, and a JSON-RPC error body saying it too. */
async function expectUnauthorized(response: Response): Promise<RpcMessage> {
  expect(response.status).toBe(401);
  const challenge = response.headers.get("www-authenticate") ?? "";
  // RFC 9728 section 5.1: the challenge names the resource's metadata, where an OAuth host starts signing in.
  expect(challenge).toMatch(/^Bearer resource_metadata="http:\/\/[^"]+\/\.well-known\/oauth-protected-resource\/mcp", scope="mcp", error="invalid_token", error_description="[^"]{20,}"$/);
  const body = (await response.json()) as RpcMessage;
  expect(body.jsonrpc).toBe("2.0");
  expect(body.error?.code).toEqual(expect.any(Number));
  expect(body.error?.message).toContain("Authorization header");
  expect(body.result).toBeUndefined();
  return body;
}

// ---------------------------------------------------------------------------

describe("identity over HTTP: the credentials on each request, never a session", () => {
  test("an agent signs up without a token and is told to send it; without it the next request is anonymous, with it the account", async () => {
    const http = await start();
    const { client } = await http.connect();
    await refusedForNoAccount(client, "get_current_user");

    const result = await call(client, "agent_signup", { agentName: "Builder" });
    const signup = seedAgentSignupResponse.parse(result.structuredContent);
    expect(signup.claimUrl).toBe(`${http.url}/claim/${signup.claimToken}`);
    expect(textOf(result)).toContain('send "Authorization: Bearer <accessToken>" with every request');
    await refusedForNoAccount(client, "get_current_user");

    const { client: signedIn } = await http.connect({ Authorization: `Bearer ${signup.accessToken}` });
    const me = seedUser.parse(await ok(signedIn, "get_current_user"));
    expect(me).toMatchObject({ id: signup.userInfo.id, name: "Builder", isAgent: true });
    await ok(signedIn, "create_stack", { projectName: "web", stackName: "dev" });
    expect((await ok(signedIn, "list_stacks")).stacks).toHaveLength(1);
  });

  test("the server hands out no session id, and one sent without credentials acts as nobody", async () => {
    const http = await start();
    const { signup } = await signUp(http);
    const opened = await post(http, initializeMessage(), { Authorization: `Bearer ${signup.accessToken}` });
    expect(opened.status).toBe(200);
    expect(opened.headers.get("mcp-session-id")).toBeNull();
    const modernCall = await send(http, toolCall("get_current_user"), { Authorization: `Bearer ${signup.accessToken}` });
    expect(modernCall.headers.get("mcp-session-id")).toBeNull();

    // Whatever id a client makes up or copies, it is no credential.
    for (const sessionId of ["00000000-0000-4000-8000-000000000000", signup.userInfo.githubLogin, signup.accessToken.slice(0, 36)]) {
      const answer = await rawCall(http, "get_current_user", {}, { "mcp-session-id": sessionId });
      expect(answer.status).toBe(401);
      expect(answer.response.headers.get("www-authenticate")).toBe(`Bearer resource_metadata="${http.url}/.well-known/oauth-protected-resource/mcp", scope="mcp"`);
      expect(((await answer.response.json()) as RpcMessage).error?.message).toContain("the request carries none");
      expect((await rawCall(http, "create_stack", { projectName: "p", stackName: "s" }, { "mcp-session-id": sessionId })).status).toBe(401);
    }
    expect(await countRows(http, "stacks")).toBe(0);
  });

  test("2,000 anonymous requests in a row leave a client with a valid token served normally: there is no slot to fill", async () => {
    const http = await start();
    const { signup } = await signUp(http);
    for (let batch = 0; batch < 40; batch += 1) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => post(http, (batch + i) % 2 ? initializeMessage() : discover().body, (batch + i) % 2 ? {} : discover().headers)),
      );
      for (const answer of answers) {
        expect(answer.status).toBe(200);
        await answer.body?.cancel();
      }
    }
    const { client } = await http.connect({ Authorization: `Bearer ${signup.accessToken}` });
    expect((await ok(client, "get_current_user")).id).toBe(signup.userInfo.id);
    const { client: newcomer } = await http.connect();
    await ok(newcomer, "agent_signup");
  }, 90_000); // 2,000 servers built and answered in this one worker: CPU-bound, and both engines' suites run at once.

  test("the token works as `Authorization: Bearer <token>` and with the Pulumi CLI scheme `Authorization: token <token>`", async () => {
    const http = await start();
    const { signup } = await signUp(http, { agentName: "Bearer agent" });
    for (const header of [`Bearer ${signup.accessToken}`, `token ${signup.accessToken}`]) {
      const { client } = await http.connect({ Authorization: header });
      const me = seedUser.parse(await ok(client, "get_current_user"));
      expect(me).toMatchObject({ id: signup.userInfo.id, githubLogin: signup.userInfo.githubLogin, name: "Bearer agent" });
    }
  });

  test("a stack created through one client is seen by another holding the same token", async () => {
    const http = await start();
    const { client: first, signup } = await signUp(http);
    await ok(first, "create_stack", { projectName: "api", stackName: "prod" });
    const { client: second } = await http.connect({ Authorization: `Bearer ${signup.accessToken}` });
    const page = await ok(second, "list_stacks");
    expect(page.stacks.map((s: { stackName: string }) => s.stackName)).toEqual(["prod"]);
  });

  test("without a token, get_current_user is a 401 that tells the agent to call agent_signup, while discovery, agent_signup and redeem_invite work", async () => {
    const http = await start();
    const { client: inviter } = await signUp(http);
    const inviteUrl = await inviteFrom(inviter);

    const { client } = await http.connect();
    await refusedForNoAccount(client, "get_current_user");

    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(allTools.map((tool) => tool.name));

    const joined = seedRedeemedAgent.parse(await ok(client, "redeem_invite", { token: inviteUrl, email: "helper@example.com", name: "Helper" }));
    const { client: helper } = await http.connect({ Authorization: `Bearer ${joined.accessToken}` });
    expect((await ok(helper, "get_current_user")).githubLogin).toBe(joined.username);

    await ok(client, "agent_signup");
    expect(await countUsers(http)).toBe(3);
  });
});

describe("2025-era hosts on the same /mcp", () => {
  test("an SDK v1 client (a 2025-11-25 host) onboards: signup, create_stack, list_stacks, create_invite_link, redeem_invite, get_claim_status", async () => {
    const http = await start();
    const legacy = async (token?: string) => {
      const client = new LegacyClient({ name: "v1-host", version: "1.0.0" });
      const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
      await client.connect(new LegacyHttpTransport(new URL(`${http.url}/mcp`), { requestInit: { headers } }));
      running.push({ close: () => client.close() } as TestHttp);
      return client as unknown as Client;
    };
    const signup = seedAgentSignupResponse.parse(await ok(await legacy(), "agent_signup", { agentName: "Old host" }));
    const agent = await legacy(signup.accessToken);
    await ok(agent, "create_stack", { projectName: "web", stackName: "prod" });
    expect(seedStacksPage.parse(await ok(agent, "list_stacks")).stacks.map((stack) => stack.stackName)).toEqual(["prod"]);
    const inviteUrl = await inviteFrom(agent);
    const joined = seedRedeemedAgent.parse(await ok(await legacy(), "redeem_invite", { token: inviteUrl, email: "mate@example.com", name: "Mate" }));
    expect((await ok(await legacy(joined.accessToken), "get_current_user")).organizations[0].name).toBe(signup.userInfo.organizations[0]!.name);
    expect(seedClaimStatus.parse(await ok(agent, "get_claim_status")).claimed).toBe(false);
  });

  test.each(["2025-11-25", "2025-06-18", "2025-03-26"])("a %s initialize is answered with that revision, and its calls are served per request", async (version) => {
    const http = await start();
    const opened = await post(http, initializeMessage(version));
    const answer = await messageOf(opened);
    expect(answer.result?.protocolVersion).toBe(version);
    expect(answer.result?.serverInfo).toMatchObject({ name: "agent-onboard" });
    const headers = { "mcp-protocol-version": version };
    const signup = await messageOf(await post(http, { jsonrpc: "2.0", id: nextId++, method: "tools/call", params: { name: "agent_signup", arguments: {} } }, headers));
    const token = signup.result?.structuredContent?.accessToken as string;
    const me = await messageOf(
      await post(http, { jsonrpc: "2.0", id: nextId++, method: "tools/call", params: { name: "get_current_user", arguments: {} } }, { ...headers, Authorization: `Bearer ${token}` }),
    );
    expect(me.result?.structuredContent?.id).toBe(signup.result?.structuredContent?.userInfo.id);
  });

  test("the 2025 session operations answer 405: there is no stream or session to open or close", async () => {
    const http = await start();
    const get = await fetch(`${http.url}/mcp`, { headers: { accept: "text/event-stream" } });
    expect(get.status).toBe(405);
    await get.body?.cancel();
    const deleted = await fetch(`${http.url}/mcp`, { method: "DELETE", headers: { "mcp-session-id": "anything" } });
    expect(deleted.status).toBe(405);
  });
});

describe("the endpoint for a person and for the 2026 discovery", () => {
  test("a browser that opens the MCP URL gets a short page saying what it is for", async () => {
    const http = await start();
    const response = await fetch(`${http.url}/mcp`, { headers: { accept: "text/html,application/xhtml+xml" } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/text\/html/);
    const text = await response.text();
    expect(text).toContain("This is an MCP endpoint");
    expect(text).toContain(`${http.url}/mcp`);
  });

  test("server/discover names 2026-07-28, the capabilities and the instructions, and stamps the server's identity", async () => {
    const http = await start();
    const answer = await messageOf(await send(http, discover()));
    expect(answer.result?.supportedVersions).toContain(MODERN);
    expect(answer.result?.capabilities).toHaveProperty("tools");
    expect(answer.result?.instructions).toContain("agent_signup");
    expect(answer.result?._meta?.["io.modelcontextprotocol/serverInfo"]).toMatchObject({ name: "agent-onboard" });
  });
});

describe("401 for a token that is present but not valid", () => {
  test("an invalid token gets 401 whose challenge and body say why", async () => {
    const http = await start();
    const body = await expectUnauthorized(await send(http, discover(), { Authorization: "Bearer not-a-real-token" }));
    expect(body.error?.message).toContain("not valid here");
    await expectUnauthorized(await post(http, initializeMessage(), { Authorization: "Bearer not-a-real-token" }));
  });

  test("a token signed by another server gets 401", async () => {
    const other = await start();
    const { signup } = await signUp(other);
    const http = await start();
    await expectUnauthorized(await send(http, discover(), { Authorization: `Bearer ${signup.accessToken}` }));
  });

  test("an expired token gets 401 saying it expired", async () => {
    const http = await start();
    const { signup } = await signUp(http);
    http.clock.advance(73 * HOUR);
    const body = await expectUnauthorized(await send(http, toolCall("get_current_user"), { Authorization: `Bearer ${signup.accessToken}` }));
    expect(body.error?.message).toMatch(/expired/i);
  });

  test("a token still valid one hour before its expiry passes, the same token after it does not", async () => {
    const http = await start();
    const { signup } = await signUp(http);
    http.clock.advance(71 * HOUR);
    expect((await send(http, discover(), { Authorization: `Bearer ${signup.accessToken}` })).status).toBe(200);
    http.clock.advance(2 * HOUR);
    expect((await send(http, discover(), { Authorization: `Bearer ${signup.accessToken}` })).status).toBe(401);
  });

  test("a malformed Authorization header (Basic, or a scheme without a token) gets 401, not anonymous access", async () => {
    const http = await start();
    await expectUnauthorized(await send(http, discover(), { Authorization: "Basic xyz" }));
    await expectUnauthorized(await send(http, discover(), { Authorization: "Bearer" }));
  });

  test("an invalid token is refused for agent_signup too, and no user is created", async () => {
    const http = await start();
    const refused = await rawCall(http, "agent_signup", {}, { Authorization: "Bearer forged.token.value" });
    await expectUnauthorized(refused.response);
    expect(await countUsers(http)).toBe(0);
    const accepted = await rawCall(http, "agent_signup");
    expect(accepted.message?.result?.isError).toBeUndefined();
    expect(await countUsers(http)).toBe(1);
  });

  test("the resource's metadata names the authorization server on this origin, whose metadata points back (RFC 9728, RFC 8414)", async () => {
    const http = await start();
    for (const path of ["/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"]) {
      const resource = (await (await fetch(`${http.url}${path}`)).json()) as { resource: string; authorization_servers: string[] };
      expect(resource, path).toMatchObject({ resource: `${http.url}/mcp`, authorization_servers: [http.url] });
    }
    const server = (await (await fetch(`${http.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(server).toMatchObject({
      issuer: http.url,
      authorization_endpoint: `${http.url}/oauth/authorize`,
      token_endpoint: `${http.url}/oauth/token`,
      registration_endpoint: `${http.url}/oauth/register`,
      revocation_endpoint: `${http.url}/oauth/revoke`,
      code_challenge_methods_supported: ["S256"],
      response_types_supported: ["code"],
      client_id_metadata_document_supported: true,
    });
  });

  test("dynamic client registration is counted per address, apart from signups: past the hourly limit a 429 says when to retry, and signing up still works", async () => {
    const http = await start({ ONBOARD_SIGNUPS_PER_HOUR: "2" });
    const register = () =>
      fetch(`${http.url}/oauth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ client_name: "Host", redirect_uris: ["http://127.0.0.1:33418/callback"], token_endpoint_auth_method: "none" }),
      });
    for (let i = 0; i < 2; i++) expect((await register()).status).toBe(201);
    const refused = await register();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ error: "temporarily_unavailable", error_description: expect.stringMatching(/Too many OAuth client registrations .*Retry after/) });
    const { oauthRecords } = http.store.db.tables;
    expect(await http.store.db.select().from(oauthRecords).where(eq(oauthRecords.model, "Client"))).toHaveLength(2);
    const { client } = await http.connect();
    await ok(client, "agent_signup");
  });

  test("a refused token's 401 names the resource's metadata, where an OAuth host starts signing in", async () => {
    const http = await start();
    const refused = await send(http, discover(), { Authorization: "Bearer forged.token.value" });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toMatch(new RegExp(`^Bearer resource_metadata="${http.url}/\\.well-known/oauth-protected-resource/mcp", scope="mcp", error="invalid_token"`));
  });
});

describe("DNS-rebinding protection", () => {
  test("a foreign Origin gets 403 before any work, and says how to allow one", async () => {
    const http = await start();
    const response = await send(http, discover(), { Origin: "http://evil.example" });
    expect(response.status).toBe(403);
    expect(((await response.json()) as { message: string }).message).toContain("ONBOARD_ALLOWED_ORIGINS");
  });

  test("a foreign Origin gets 403 for an agent_signup, and no user is created", async () => {
    const http = await start();
    const refused = await rawCall(http, "agent_signup", {}, { Origin: "http://evil.example" });
    expect(refused.status).toBe(403);
    expect(await countUsers(http)).toBe(0);
  });

  test("a foreign Host header gets 403", async () => {
    const http = await start();
    const port = new URL(http.url).port;
    for (const host of [`evil.example:${port}`, "evil.example", `127.0.0.1.evil.example:${port}`]) {
      const answer = await withHost(http, host);
      expect(answer.status, host).toBe(403);
      expect(answer.body).toContain("is not allowed");
    }
  });

  test("the loopback names of the server's own port are accepted as Host", async () => {
    const http = await start();
    const port = new URL(http.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      expect((await withHost(http, host)).status, host).toBe(200);
    }
  });

  test("an Origin listed in ONBOARD_ALLOWED_ORIGINS is accepted, others still are not", async () => {
    const http = await start({ ONBOARD_ALLOWED_ORIGINS: "https://app.example, https://console.example" });
    expect((await send(http, discover(), { Origin: "https://console.example" })).status).toBe(200);
    const signup = await rawCall(http, "agent_signup", {}, { Origin: "https://app.example" });
    expect(signup.status).toBe(200);
    expect(signup.message?.result?.structuredContent?.accessToken).toEqual(expect.any(String));
    expect((await send(http, discover(), { Origin: "https://evil.example" })).status).toBe(403);
  });

  test("the server's own origin is accepted", async () => {
    const http = await start();
    expect((await send(http, discover(), { Origin: http.url })).status).toBe(200);
    const localhost = http.url.replace("127.0.0.1", "localhost");
    expect((await post(http, initializeMessage(), { Origin: localhost })).status).toBe(200);
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
    expect(await countUsers(http)).toBe(2);
  });

  test("redeem_invite counts against the same limit and is refused once it is reached", async () => {
    const http = await start({ ONBOARD_SIGNUPS_PER_HOUR: "2" });
    const { client: admin } = await signUp(http);
    const inviteUrl = await inviteFrom(admin);
    const { client: helper } = await http.connect();
    await ok(helper, "redeem_invite", { token: inviteUrl, email: "one@example.com", name: "One" });
    expect(await countUsers(http)).toBe(2);

    const { client: late } = await http.connect();
    expect(await fails(late, "agent_signup")).toMatch(/Retry after/);
    expect(await fails(late, "redeem_invite", { token: inviteUrl, email: "two@example.com", name: "Two" })).toMatch(/Retry after/);
    expect(await countUsers(http)).toBe(2);
  });

  test("a forged X-Forwarded-For does not escape the limit: no proxy is trusted unless ONBOARD_TRUST_PROXY says so", async () => {
    const http = await start({ ONBOARD_SIGNUPS_PER_HOUR: "1" });
    expect((await rawCall(http, "agent_signup", {}, { "x-forwarded-for": "198.51.100.1" })).message?.result?.isError).toBeUndefined();
    const second = await rawCall(http, "agent_signup", {}, { "x-forwarded-for": "198.51.100.2" });
    expect(second.message?.result?.content[0].text).toMatch(/Too many signup attempts/);
    expect(await countUsers(http)).toBe(1);
  });

  test("behind a trusted proxy each client the proxy names has its own share, an IPv6 client per /64", async () => {
    const http = await start({ ONBOARD_SIGNUPS_PER_HOUR: "1", ONBOARD_TRUST_PROXY: "loopback" });
    const signUpAs = async (client: string) =>
      (await rawCall(http, "agent_signup", {}, { "x-forwarded-for": client })).message?.result?.isError !== true;
    expect(await signUpAs("198.51.100.1")).toBe(true);
    expect(await signUpAs("198.51.100.2")).toBe(true);
    expect(await signUpAs("198.51.100.1")).toBe(false);
    expect(await signUpAs("2001:db8:1:2::10")).toBe(true);
    expect(await signUpAs("2001:db8:1:2::99")).toBe(false);
    // The REST signup counts the same clients.
    const rest = await fetch(`${http.url}/api/agents/signup`, { method: "POST", headers: { "content-type": "application/json", "x-forwarded-for": "198.51.100.2" }, body: "{}" });
    expect(rest.status).toBe(429);
    expect(await countUsers(http)).toBe(3);
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
    const { signup } = await signUp(http);
    await claimAccount(http.handle.deps, { claimToken: signup.claimToken, ...human, keepAgentAccess: false });

    // No 401 for the revoked-by-claim token.
    expect((await send(http, discover(), { Authorization: `Bearer ${signup.accessToken}` })).status).toBe(200);

    const { client } = await http.connect({ Authorization: `Bearer ${signup.accessToken}` });
    const status = seedClaimStatus.parse(await ok(client, "get_claim_status"));
    expect(status).toMatchObject({ claimed: true, claimedBy: human.username, agentAccessKept: false });
    expect(await fails(client, "get_current_user")).toMatch(/claimed this account/);
    expect(await fails(client, "list_stacks")).toContain("get_claim_status");
  });

  test("a token revoked other than by a claim gets 401", async () => {
    const http = await start();
    const { signup } = await signUp(http);
    await http.store.db.transact(async (tx) => {
      await tx.update(tx.tables.accessTokens).set({ revokedAt: http.clock.now(), revokedReason: null });
    });
    const body = await expectUnauthorized(await send(http, discover(), { Authorization: `Bearer ${signup.accessToken}` }));
    expect(body.error?.message).toMatch(/revoked/);
  });
});
