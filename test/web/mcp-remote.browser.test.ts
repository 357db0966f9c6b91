/**
 * A host that only speaks stdio, connected to /mcp through mcp-remote (the
 * proxy Claude Desktop and others use for remote servers). Connecting needs
 * no account; the first call that does gets a 401, from which mcp-remote
 * finds the authorization server, registers itself, prints the authorization
 * URL and waits on its own loopback callback, then repeats the call. The
 * human's part is done in headless Chromium; the host is the SDK v1 client
 * of a 2025-era desktop assistant.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from "vitest";
import { claimAccount } from "../../src/services/claims.js";
import { launchChromium } from "../browser.js";
import { HUMAN_PASSWORD, ok } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";

const MCP_REMOTE = fileURLToPath(new URL("../../node_modules/mcp-remote/dist/proxy.js", import.meta.url));

let browser: Browser;
let http: TestHttp;
let context: BrowserContext;
let page: Page;
let configDir: string;
let host: Client | undefined;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
beforeEach(async () => {
  http = await startTestHttp();
  context = await browser.newContext();
  page = await context.newPage();
  configDir = mkdtempSync(join(tmpdir(), "onboard-mcp-remote-"));
});
afterEach(async () => {
  // mcp-remote waits for its callback without end: closing the host ends it.
  await host?.close();
  host = undefined;
  await context?.close();
  await http?.close();
  rmSync(configDir, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts mcp-remote for /mcp under a stdio host, and hands back the authorization URL it prints once it needs the human. */
async function hostThroughMcpRemote() {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MCP_REMOTE, `${http.url}/mcp`, String(await freePort()), "--host", "127.0.0.1", "--transport", "http-only", "--auth-timeout", "60"],
    // Its own tokens in a folder of the test's; BROWSER=true keeps it from starting a desktop browser.
    env: { ...(process.env as Record<string, string>), MCP_REMOTE_CONFIG_DIR: configDir, BROWSER: "true", DISPLAY: "" },
    stderr: "pipe",
  });
  let stderr = "";
  const authorizationUrl = new Promise<string>((resolve) => {
    transport.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const printed = /Please authorize this client by visiting:\s*\n(\S+)/.exec(stderr);
      if (printed) resolve(printed[1]!);
    });
  });
  host = new Client({ name: "desktop-assistant", version: "1.0.0" });
  await host.connect(transport);
  return { client: host, authorizationUrl, stderr: () => stderr };
}

/** A call that waits while the human signs in, as a host's does. */
const callWhileSigningIn = (client: Client, name: string) => client.callTool({ name, arguments: {} }, undefined, { timeout: 60_000 });

test("a stdio host behind mcp-remote signs its human in: mcp-remote registers, the human approves, and get_current_user answers as them", { timeout: 90_000 }, async () => {
  const { client: signup } = await http.connect();
  const agent = await ok(signup, "agent_signup", { agentName: "First" });
  await claimAccount(http.handle.deps, { claimToken: new URL(agent.claimUrl).pathname.split("/").pop()!, username: "grace", email: "grace@example.com", password: HUMAN_PASSWORD, keepAgentAccess: false });

  const remote = await hostThroughMcpRemote();
  const answer = callWhileSigningIn(remote.client, "get_current_user");
  const url = new URL(await remote.authorizationUrl);
  expect(url.origin + url.pathname).toBe(`${http.url}/oauth/authorize`);
  expect(url.searchParams.get("resource")).toBe(`${http.url}/mcp`);
  expect(url.searchParams.get("code_challenge_method")).toBe("S256");
  await page.goto(url.toString());
  await page.getByRole("link", { name: "Sign in" }).click();
  await page.getByLabel("Username or email").fill("grace");
  await page.getByLabel("Password").fill(HUMAN_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect.poll(() => page.getByText("It will act as").textContent()).toContain("grace");
  await Promise.all([page.waitForURL(/\/oauth\/callback/), page.getByRole("button", { name: /^Allow / }).click()]);

  const me = await answer;
  expect(me.isError ?? false, JSON.stringify(me)).toBe(false);
  expect(me.structuredContent).toMatchObject({ githubLogin: "grace", isAgent: false });
});

test("the agent-first path through mcp-remote: the host gets an agent account of its own", { timeout: 90_000 }, async () => {
  const remote = await hostThroughMcpRemote();
  const answer = callWhileSigningIn(remote.client, "get_current_user");
  await page.goto(await remote.authorizationUrl);
  await page.getByRole("button", { name: /^Start a new agent account for / }).click();
  await Promise.all([page.waitForURL(/\/oauth\/callback/), page.getByRole("link", { name: /^Continue to / }).click()]);

  const me = await answer;
  expect(me.structuredContent).toMatchObject({ isAgent: true });
  const status = await remote.client.callTool({ name: "get_claim_status", arguments: {} });
  expect(status.structuredContent).toMatchObject({ claimed: false });
});
