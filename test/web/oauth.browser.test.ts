/**
 * MCP hosts signing in with OAuth, end to end: the MCP SDK v2 client's own
 * OAuth support (discovery from the resource's metadata, dynamic
 * registration, PKCE, the resource parameter, the code exchange) against the
 * authorization server, with sign-in and consent done in headless Chromium,
 * and then the host calling tools as the account it was given.
 */
import { mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import {
  auth,
  Client,
  type OAuthClientMetadata,
  StreamableHTTPClientTransport,
  UnauthorizedError,
} from "@modelcontextprotocol/client";
import { eq } from "drizzle-orm";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { claimAccount } from "../../src/services/claims.js";
import { disconnectHost, listConnectedHosts } from "../../src/services/connected-hosts.js";
import { launchChromium } from "../browser.js";
import { countRows, HUMAN_PASSWORD, jsonOrUndefined, ok } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";
import { agentFirstConsent, HOST_REDIRECT, HostProvider } from "../oauth-host.js";

const SCREENSHOTS = fileURLToPath(new URL("../../test-results/screenshots/", import.meta.url));
const REDIRECT = HOST_REDIRECT;

/** What hosts that identify themselves by a metadata document publish at https://host.example. */
const CLIENT_ID = "https://host.example/mcp-client.json";
const PUBLISHED: Record<string, object> = {
  "/mcp-client.json": { client_id: CLIENT_ID, client_name: "Published host", redirect_uris: [REDIRECT], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none" },
  "/nameless.json": { client_id: "https://host.example/nameless.json", redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" },
};

let browser: Browser;
let documents: Server;
/** The documents the authorization server fetched, by path. */
let fetched: string[] = [];
let http: TestHttp;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchChromium();
  documents = createServer((req, res) => {
    fetched.push(req.url ?? "");
    const body = PUBLISHED[req.url ?? ""];
    res.writeHead(body ? 200 : 404, { "content-type": "application/json", "cache-control": "max-age=60" }).end(JSON.stringify(body ?? {}));
  });
  await new Promise<void>((resolve) => documents.listen(0, "127.0.0.1", resolve));
});
afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => documents?.close(resolve));
});
beforeEach(async () => {
  fetched = [];
  // https://host.example is the local document server, reached through the fetch the authorization server is given.
  const local = `http://127.0.0.1:${(documents.address() as AddressInfo).port}`;
  http = await startTestHttp({}, { clientMetadataFetch: (url, init) => fetch(String(url).replace("https://host.example", local), init) });
  context = await browser.newContext();
  page = await context.newPage();
});
afterEach(async () => {
  await context?.close();
  await http?.close();
});

/** A human with an account and a password, signed in in the browser. */
async function signedInHuman() {
  const { client } = await http.connect();
  const first = await ok(client, "agent_signup", { agentName: "First" });
  await claimAccount(http.handle.deps, { claimToken: new URL(first.claimUrl).pathname.split("/").pop()!, username: "grace", email: "grace@example.com", password: HUMAN_PASSWORD, keepAgentAccess: false });
  await page.goto(`${http.url}/login`);
  await page.getByLabel("Username or email").fill("grace");
  await page.getByLabel("Password").fill(HUMAN_PASSWORD);
  await Promise.all([page.waitForURL(/\/console/), page.getByRole("button", { name: "Sign in" }).click()]);
}

/** Opens the authorization URL the SDK produced, lets `decide` act on the consent page, and returns where the browser was sent back to. */
async function authorizeInBrowser(url: URL, decide: () => Promise<void>): Promise<URL> {
  let callback: URL | undefined;
  await page.route(`${REDIRECT}**`, (route) => {
    callback = new URL(route.request().url());
    return route.fulfill({ status: 200, body: "You can close this window." });
  });
  await page.goto(url.toString());
  await decide();
  // Back at the host: the page has arrived there, so the next navigation of the test is its own.
  await page.waitForURL((at) => at.href.startsWith(REDIRECT), { timeout: 10_000 });
  await expect.poll(() => callback).toBeDefined();
  return callback!;
}

/** The whole dance as a host runs it: discovery and registration, the browser, the code exchange. */
async function connectHost(decide: () => Promise<void>) {
  const provider = new HostProvider();
  const serverUrl = `${http.url}/mcp`;
  expect(await auth(provider, { serverUrl })).toBe("REDIRECT");
  const callback = await authorizeInBrowser(provider.authorizationUrl!, decide);
  const code = callback.searchParams.get("code");
  expect(code, callback.toString()).toBeTruthy();
  expect(await auth(provider, { serverUrl, authorizationCode: code!, iss: callback.searchParams.get("iss") ?? undefined })).toBe("AUTHORIZED");
  const client = new Client({ name: "oauth-host", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
  await client.connect(new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider }));
  return { client, provider };
}

const allow = async () => {
  await page.getByRole("button", { name: "Allow Test MCP host" }).click();
};

describe("OAuth for MCP hosts", () => {
  test("a host added by URL alone: its first call that needs an account gets a 401, the human approves in the browser, and the call then goes through as them", async () => {
    await signedInHuman();
    const provider = new HostProvider();
    const transport = new StreamableHTTPClientTransport(new URL(`${http.url}/mcp`), { authProvider: provider });
    const client = new Client({ name: "lazy-host", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
    await client.connect(transport);
    // Discovery and the tools list need no account.
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain("get_current_user");
    await expect(client.callTool({ name: "get_current_user", arguments: {} })).rejects.toBeInstanceOf(UnauthorizedError);
    expect(provider.authorizationUrl?.origin).toBe(http.url);
    const callback = await authorizeInBrowser(provider.authorizationUrl!, async () => {
      await expect.poll(() => page.getByText("It will act as").textContent()).toContain("grace");
      await page.screenshot({ path: `${SCREENSHOTS}oauth-consent.png`, fullPage: true });
      await allow();
    });
    // RFC 9207: the answer names its issuer, which the SDK checks against the one it discovered.
    expect(callback.searchParams.get("iss")).toBe(http.url);
    await transport.finishAuth(callback.searchParams);
    expect(await ok(client, "get_current_user")).toMatchObject({ githubLogin: "grace", isAgent: false });
    await client.close();
  });

  test("the token is opaque, bound to /mcp, and not taken by the REST API", async () => {
    await signedInHuman();
    const { client, provider } = await connectHost(allow);
    expect(await ok(client, "get_current_user")).toMatchObject({ githubLogin: "grace" });
    const token = (await provider.tokens())!.access_token;
    expect(token).not.toContain(".");
    expect((await fetch(`${http.url}/api/user`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    await client.close();
  });

  test("the console lists each connected host with its last use, and disconnecting one stops its token at once", async () => {
    await signedInHuman();
    const { client, provider } = await connectHost(allow);
    await ok(client, "list_stacks");
    await page.goto(`${http.url}/console/hosts`);
    const row = page.getByRole("row", { name: /Test MCP host/ });
    await expect.poll(() => row.textContent()).toMatch(/GMT.*GMT/s); // connected and last used, both dated
    await page.screenshot({ path: `${SCREENSHOTS}console-hosts.png`, fullPage: true });
    await page.getByRole("button", { name: "Disconnect Test MCP host" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("Test MCP host is disconnected");
    expect(await page.getByRole("row", { name: /Test MCP host/ }).count()).toBe(0);
    await expectDisconnected(provider);
  });

  test("read-only access: the host sees and calls only the tools that change nothing; another is a 403 naming the scope it needs, and asking again for it gets everything", async () => {
    await signedInHuman();
    const { client, provider } = await connectHost(async () => {
      await page.getByLabel(/Read only: look at your account/).check();
      await page.screenshot({ path: `${SCREENSHOTS}oauth-consent-read-only.png`, fullPage: true });
      await allow();
    });
    expect(await ok(client, "get_current_user")).toMatchObject({ githubLogin: "grace" });
    const { tools } = await client.listTools();
    expect(tools.length).toBeGreaterThan(0);
    expect(tools.every((tool) => tool.annotations?.readOnlyHint)).toBe(true);
    expect(tools.map((tool) => tool.name)).not.toContain("create_stack");
    const createStack = (token: string) =>
      fetch(`${http.url}/mcp`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "create_stack", arguments: { projectName: "p", stackName: "s" } } }),
      });
    const refused = await createStack((await provider.tokens())!.access_token);
    expect(refused.status).toBe(403);
    expect(refused.headers.get("www-authenticate")).toMatch(/^Bearer resource_metadata="[^"]+", scope="mcp", error="insufficient_scope"/);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain("read-only access");
    expect(await countRows(http, "stacks")).toBe(0);
    await page.goto(`${http.url}/console/hosts`);
    expect(await page.getByRole("row", { name: /Test MCP host/ }).textContent()).toContain("read only");

    // Step-up: the host signs in again for the scope the 403 named; the human allows everything this time.
    provider.invalidateCredentials("tokens");
    expect(await auth(provider, { serverUrl: `${http.url}/mcp`, scope: "mcp" })).toBe("REDIRECT");
    const callback = await authorizeInBrowser(provider.authorizationUrl!, async () => {
      await page.getByLabel("Everything your account may do").check();
      await allow();
    });
    expect(await auth(provider, { serverUrl: `${http.url}/mcp`, authorizationCode: callback.searchParams.get("code")!, iss: callback.searchParams.get("iss") ?? undefined })).toBe("AUTHORIZED");
    expect((await createStack((await provider.tokens())!.access_token)).status).toBe(200);
    expect(await countRows(http, "stacks")).toBe(1);
    await page.goto(`${http.url}/console/hosts`);
    expect(await page.getByRole("row", { name: /Test MCP host/ }).textContent()).toContain("do everything");
  });

  test("another account cannot disconnect a host that is not theirs", async () => {
    await signedInHuman();
    const { client } = await connectHost(allow);
    const [grant] = (await listConnectedHosts(http.handle.deps, (await ok(client, "get_current_user")).id, 1)).items;
    const { client: other } = await http.connect();
    const second = await ok(other, "agent_signup", { agentName: "Second" });
    await claimAccount(http.handle.deps, { claimToken: new URL(second.claimUrl).pathname.split("/").pop()!, username: "mallory", email: "mallory@example.com", password: HUMAN_PASSWORD, keepAgentAccess: false });
    await expect(disconnectHost(http.handle.deps, second.userInfo.id, grant!.grantId)).rejects.toThrow(/No host of yours/);
    expect(await ok(client, "get_current_user")).toMatchObject({ githubLogin: "grace" });
  });

  test("signing in from the consent page brings the human back to it", async () => {
    const { client } = await http.connect();
    const first = await ok(client, "agent_signup", { agentName: "First" });
    await claimAccount(http.handle.deps, { claimToken: new URL(first.claimUrl).pathname.split("/").pop()!, username: "ada", email: "ada@example.com", password: HUMAN_PASSWORD, keepAgentAccess: false });
    const host = await connectHost(async () => {
      await page.getByRole("link", { name: "Sign in" }).click();
      await page.getByLabel("Username or email").fill("ada");
      await page.getByLabel("Password").fill(HUMAN_PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await allow();
    });
    expect(await ok(host.client, "get_current_user")).toMatchObject({ githubLogin: "ada" });
    await host.client.close();
  });

  test("\"Not you?\" on the consent page signs the human out and brings them back to it under another account", async () => {
    await signedInHuman();
    const { client } = await http.connect();
    const other = await ok(client, "agent_signup", { agentName: "Other" });
    await claimAccount(http.handle.deps, { claimToken: new URL(other.claimUrl).pathname.split("/").pop()!, username: "ada", email: "ada@example.com", password: HUMAN_PASSWORD, keepAgentAccess: false });
    const host = await connectHost(async () => {
      await page.getByRole("button", { name: "Not grace? Sign out and use another account" }).click();
      await expect.poll(() => page.getByRole("status").textContent()).toContain("You are signed out.");
      await page.getByLabel("Username or email").fill("ada");
      await page.getByLabel("Password").fill(HUMAN_PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await expect.poll(() => page.getByText("It will act as").textContent()).toContain("ada");
      await allow();
    });
    expect(await ok(host.client, "get_current_user")).toMatchObject({ githubLogin: "ada" });
    await host.client.close();
  });

  test("the agent-first path gives the host a new agent account, with a claim link for the human", async () => {
    let claimUrl = "";
    const { client } = await connectHost(async () => {
      await page.getByRole("button", { name: "Start a new agent account for Test MCP host" }).click();
      claimUrl = (await page.getByRole("link", { name: /\/claim\// }).textContent()) ?? "";
      await page.screenshot({ path: `${SCREENSHOTS}oauth-new-agent.png`, fullPage: true });
      await page.getByRole("link", { name: "Continue to Test MCP host" }).click();
    });
    const me = await ok(client, "get_current_user");
    expect(me).toMatchObject({ isAgent: true, name: "Test MCP host" });
    expect(claimUrl).toMatch(new RegExp(`^${http.url}/claim/`));
    expect((await fetch(claimUrl)).status).toBe(200);
    // The agent's own claim status is there for it to report.
    expect(await ok(client, "get_claim_status")).toMatchObject({ claimed: false });
    await client.close();
  });

  test("a human who claims the host's agent account and ends its access disconnects the host too", async () => {
    let claimUrl = "";
    const { provider } = await connectHost(async () => {
      await page.getByRole("button", { name: "Start a new agent account for Test MCP host" }).click();
      claimUrl = (await page.getByRole("link", { name: /\/claim\// }).textContent()) ?? "";
      await page.getByRole("link", { name: "Continue to Test MCP host" }).click();
    });
    await claimAccount(http.handle.deps, { claimToken: new URL(claimUrl).pathname.split("/").pop()!, username: "lin", email: "lin@example.com", password: HUMAN_PASSWORD, keepAgentAccess: false });
    await expectDisconnected(provider);
  });

  test("denying sends the host back with access_denied, and no token", async () => {
    const provider = new HostProvider();
    expect(await auth(provider, { serverUrl: `${http.url}/mcp` })).toBe("REDIRECT");
    const callback = await authorizeInBrowser(provider.authorizationUrl!, async () => {
      await page.getByRole("button", { name: "Deny" }).click();
    });
    expect(callback.searchParams.get("error")).toBe("access_denied");
    expect(callback.searchParams.get("code")).toBeNull();
  });
});
/** A tools/list over /mcp with a bearer token, by hand. */
const toolsListWith = (token: string) =>
  fetch(`${http.url}/mcp`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }),
  });

/** A disconnected host: its access token is refused with the challenge to sign in again, and its refresh token gets nothing. */
async function expectDisconnected(provider: HostProvider) {
  const { access_token, refresh_token } = (await provider.tokens())!;
  const refused = await toolsListWith(access_token);
  expect(refused.status).toBe(401);
  expect(refused.headers.get("www-authenticate")).toContain('error="invalid_token"');
  const refreshed = await tokenRequest({ grant_type: "refresh_token", refresh_token: refresh_token!, client_id: (await provider.clientInformation())!.client_id });
  expect(refreshed).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
}

/** The token request a host makes, by hand, to see exactly what the server answers. */
async function tokenRequest(fields: Record<string, string>) {
  const res = await fetch(`${http.url}/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(fields).toString() });
  return { status: res.status, body: jsonOrUndefined(await res.text()) };
}

/**
 * Up to the code: registration and PKCE by the SDK, consent given by hand on
 * the agent-first path (no browser, no password); the exchange is left to the test.
 */
async function codeFor(adjust: (url: URL) => void = () => {}) {
  const provider = new HostProvider();
  expect(await auth(provider, { serverUrl: `${http.url}/mcp` })).toBe("REDIRECT");
  const url = new URL(provider.authorizationUrl!);
  adjust(url);
  const callback = await agentFirstConsent(http.url, url);
  expect(callback.searchParams.get("error"), callback.toString()).toBeNull();
  return { provider, code: callback.searchParams.get("code")!, clientId: (await provider.clientInformation())!.client_id, verifier: provider.codeVerifier() };
}

describe("what the authorization server refuses", () => {
  test("a code used twice: the second exchange fails, and the tokens of the first stop working", async () => {
    const { code, clientId, verifier } = await codeFor();
    const exchange = { grant_type: "authorization_code", code, client_id: clientId, code_verifier: verifier, redirect_uri: REDIRECT, resource: `${http.url}/mcp` };
    const first = await tokenRequest(exchange);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect((await toolsListWith(first.body.access_token)).status).toBe(200);
    const second = await tokenRequest(exchange);
    expect(second).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    const refused = await toolsListWith(first.body.access_token);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toContain(`resource_metadata="${http.url}/.well-known/oauth-protected-resource/mcp"`);
  });

  test("a host that asks for no scope gets everything (which includes reading)", async () => {
    const { code, clientId, verifier } = await codeFor((url) => url.searchParams.delete("scope"));
    const issued = await tokenRequest({ grant_type: "authorization_code", code, client_id: clientId, code_verifier: verifier, redirect_uri: REDIRECT, resource: `${http.url}/mcp` });
    expect(issued).toMatchObject({ status: 200, body: { token_type: "Bearer" } });
    expect(issued.body.scope.split(" ").sort()).toEqual(["mcp", "mcp:read"]);
    expect((await toolsListWith(issued.body.access_token)).status).toBe(200);
  });

  test("a wrong code_verifier is refused", async () => {
    const { code, clientId } = await codeFor();
    const answer = await tokenRequest({ grant_type: "authorization_code", code, client_id: clientId, code_verifier: "x".repeat(64), redirect_uri: REDIRECT });
    expect(answer).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });

  test("a redirect URI that was not registered is never redirected to", async () => {
    const provider = new HostProvider();
    expect(await auth(provider, { serverUrl: `${http.url}/mcp` })).toBe("REDIRECT");
    const url = new URL(provider.authorizationUrl!);
    url.searchParams.set("redirect_uri", "http://127.0.0.1:33418/elsewhere");
    const res = await fetch(url, { redirect: "manual" });
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
    expect(await res.text()).toMatch(/redirect_uri/);
  });

  test("a native host's loopback redirect may name another port (RFC 8252), but nothing else may differ", async () => {
    class NativeHost extends HostProvider {
      override get clientMetadata(): OAuthClientMetadata {
        return { ...super.clientMetadata, application_type: "native" } as OAuthClientMetadata;
      }
    }
    const provider = new NativeHost();
    expect(await auth(provider, { serverUrl: `${http.url}/mcp` })).toBe("REDIRECT");
    const authorizeWith = (redirect: string) => {
      const url = new URL(provider.authorizationUrl!);
      url.searchParams.set("redirect_uri", redirect);
      return fetch(url, { redirect: "manual" });
    };
    const otherPort = await authorizeWith("http://127.0.0.1:40999/callback");
    expect(otherPort.status).toBe(303);
    expect(otherPort.headers.get("location")).toMatch(/^\/oauth\/interaction\//);
    for (const redirect of ["http://127.0.0.1:40999/elsewhere", "http://localhost:33418/callback", "http://192.0.2.1:33418/callback"]) {
      const refused = await authorizeWith(redirect);
      expect(refused.status, redirect).toBe(400);
      expect(refused.headers.get("location"), redirect).toBeNull();
    }
  });

  test("a token for another resource is refused at the authorization request", async () => {
    const provider = new HostProvider();
    expect(await auth(provider, { serverUrl: `${http.url}/mcp` })).toBe("REDIRECT");
    const url = new URL(provider.authorizationUrl!);
    url.searchParams.set("resource", "https://elsewhere.example/mcp");
    const res = await fetch(url, { redirect: "manual" });
    const location = new URL(res.headers.get("location")!);
    expect(location.searchParams.get("error")).toBe("invalid_target");
  });

  test("a refresh token used twice ends the whole grant", async () => {
    const { code, clientId, verifier } = await codeFor();
    const issued = await tokenRequest({ grant_type: "authorization_code", code, client_id: clientId, code_verifier: verifier, redirect_uri: REDIRECT });
    expect(issued.body.refresh_token).toBeTruthy();
    const refreshed = await tokenRequest({ grant_type: "refresh_token", refresh_token: issued.body.refresh_token, client_id: clientId });
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(issued.body.refresh_token);
    const reused = await tokenRequest({ grant_type: "refresh_token", refresh_token: issued.body.refresh_token, client_id: clientId });
    expect(reused).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
    const afterTheft = await tokenRequest({ grant_type: "refresh_token", refresh_token: refreshed.body.refresh_token, client_id: clientId });
    expect(afterTheft).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });
});

describe("hosts identified by a Client ID Metadata Document", () => {
  class PublishedHost extends HostProvider {
    constructor(readonly clientMetadataUrl = CLIENT_ID) {
      super();
    }
  }

  test("the host needs no registration: the server reads its document, the consent page names its publisher and warns of a loopback redirect", async () => {
    const provider = new PublishedHost();
    const serverUrl = `${http.url}/mcp`;
    expect(await auth(provider, { serverUrl })).toBe("REDIRECT");
    expect(provider.authorizationUrl!.searchParams.get("client_id")).toBe(CLIENT_ID);
    const { client: first } = await http.connect();
    const agent = await ok(first, "agent_signup", { agentName: "First" });
    await claimAccount(http.handle.deps, { claimToken: new URL(agent.claimUrl).pathname.split("/").pop()!, username: "grace", email: "grace@example.com", password: HUMAN_PASSWORD, keepAgentAccess: false });
    let callback: URL | undefined;
    await page.route(`${REDIRECT}**`, (route) => {
      callback = new URL(route.request().url());
      return route.fulfill({ status: 200, body: "You can close this window." });
    });
    await page.goto(provider.authorizationUrl!.toString());
    await page.getByRole("link", { name: "Sign in" }).click();
    await page.getByLabel("Username or email").fill("grace");
    await page.getByLabel("Password").fill(HUMAN_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe("Connect Published host");
    expect(await page.getByText("published by").textContent()).toContain("host.example");
    expect(await page.getByRole("note").textContent()).toContain("returns to a program on this computer");
    await page.getByRole("button", { name: "Allow Published host" }).click();
    await expect.poll(() => callback, { timeout: 10_000 }).toBeDefined();
    expect(await auth(provider, { serverUrl, authorizationCode: callback!.searchParams.get("code")!, iss: callback!.searchParams.get("iss") ?? undefined })).toBe("AUTHORIZED");
    const client = new Client({ name: "published-host", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
    await client.connect(new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider }));
    expect(await ok(client, "get_current_user")).toMatchObject({ githubLogin: "grace" });
    expect(fetched).toContain("/mcp-client.json");
    const { oauthRecords } = http.store.db.tables;
    expect(await http.store.db.select().from(oauthRecords).where(eq(oauthRecords.model, "Client"))).toEqual([]);
    await client.close();
  });

  test("a document without a client_name is refused on a page, and the host is never redirected to", async () => {
    const provider = new PublishedHost("https://host.example/nameless.json");
    expect(await auth(provider, { serverUrl: `${http.url}/mcp` })).toBe("REDIRECT");
    const res = await fetch(provider.authorizationUrl!, { redirect: "manual" });
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
    expect(await res.text()).toContain("Cannot connect this host");
  });
});
