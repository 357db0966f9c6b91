/**
 * The human's side after the claim, in headless system Chromium: sign in,
 * the console, the agent's access, personal access tokens, claiming an
 * agent into an existing account, and running an organization. Pages are
 * saved as screenshots under test-results/screenshots/ (docs/screenshots/
 * holds the ones README.md shows).
 */
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Client } from "@modelcontextprotocol/client";
import type { Browser, BrowserContext, Page, Response } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from "vitest";
import { launchChromium } from "../browser.js";
import { call, ok } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";

const SCREENSHOTS = fileURLToPath(new URL("../../test-results/screenshots/", import.meta.url));
const PASSWORD = "Correct-Horse-9";
const PHONE = { width: 390, height: 844 };

let browser: Browser;
let http: TestHttp;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
beforeEach(async () => {
  http = await startTestHttp();
  context = await browser.newContext();
  page = await context.newPage();
});
afterEach(async () => {
  await context?.close();
  await http?.close();
});

const shoot = async (name: string) => {
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
  await page.setViewportSize(PHONE);
  await page.screenshot({ path: `${SCREENSHOTS}${name}-phone.png`, fullPage: true });
  // Nothing wider than the phone's screen: no sideways scrolling.
  expect(await page.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(PHONE.width);
  await page.setViewportSize({ width: 1280, height: 720 });
};

async function open(url: string): Promise<Response> {
  const response = await page.goto(url);
  expect(response, `no response for ${url}`).not.toBeNull();
  return response!;
}

/** Clicks a button and waits for the page the POST answers with (after any redirect). */
async function press(button: string | RegExp): Promise<Response> {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().resourceType() === "document" && r.status() !== 303),
    page.getByRole("button", { name: button }).first().click(),
  ]);
  await page.waitForLoadState("load");
  return response;
}

const heading = () => page.locator("h1").innerText();

/** An agent that signed up and made two stacks, claimed in the browser as "grace". */
async function claimedAgent(keep = true) {
  const signup = await ok((await http.connect()).client, "agent_signup", { agentName: "Release helper", agentModel: "claude-sonnet-4" });
  const token = signup.accessToken as string;
  const { client } = await http.connect({ Authorization: `Bearer ${token}` });
  await ok(client, "create_stack", { projectName: "website", stackName: "production", tags: { env: "prod" } });
  await ok(client, "create_stack", { projectName: "website", stackName: "staging" });
  await open(signup.claimUrl);
  await page.getByLabel("Your name").fill("Grace Hopper");
  await page.getByLabel("Username").fill("grace");
  await page.getByLabel("Email").fill("grace@example.com");
  await page.getByLabel("Password").fill(PASSWORD);
  if (!keep) await page.getByLabel(/let the agent keep working/i).uncheck();
  await press("Claim this account");
  expect(await heading()).toBe("The account is yours");
  return { client, token, org: signup.userInfo.organizations[0].name as string };
}

async function signInAs(identifier: string, password = PASSWORD) {
  await open(`${http.url}/login`);
  await page.getByLabel("Username or email").fill(identifier);
  await page.getByLabel("Password").fill(password);
  return press("Sign in");
}

const restUser = (token: string) => fetch(`${http.url}/api/user`, { headers: { Authorization: `Bearer ${token}` } });
/** GET /api/user's body for the token's account. */
const restUserBody = async (token: string) => (await (await restUser(token)).json()) as Record<string, any>;

test("claim → sign in with the username → both stacks, the organization and its members → sign out → sign in with the email", async () => {
  const { org } = await claimedAgent();
  await page.getByRole("link", { name: "Sign in to your console" }).click();
  await page.waitForURL(/\/login/);
  await shoot("sign-in");

  const answer = await signInAs("grace");
  expect(answer.status()).toBe(200);
  expect(new URL(page.url()).pathname).toBe("/console");
  const stacks = await page.locator("#stacks ~ .table tbody tr, section[aria-labelledby=stacks] tbody tr").allInnerTexts();
  expect(stacks.map((row) => row.replace(/\s+/g, " ").trim())).toEqual([`${org} website production`, `${org} website staging`]);
  expect(await page.locator("section[aria-labelledby=orgs] tbody tr").allInnerTexts()).toEqual([`${org}\tadmin`]);
  await shoot("console-overview");
  // The filters of list_stacks.
  await page.getByLabel("Tag", { exact: true }).fill("env");
  await page.getByLabel("Tag value").fill("prod");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/tagName=env/);
  expect(await page.locator("section[aria-labelledby=stacks] tbody tr").allInnerTexts()).toEqual([`${org}\twebsite\tproduction`]);
  await open(`${http.url}/console`);

  await page.getByRole("link", { name: org }).click();
  await page.waitForURL(/\/console\/orgs\//);
  expect(await heading()).toBe(org);
  expect((await page.locator("tbody tr").allInnerTexts()).map((row) => row.split("\t")[0])).toEqual(["grace"]);

  await press(/Sign out/);
  expect(new URL(page.url()).pathname).toBe("/login");
  expect(await page.getByRole("status").innerText()).toBe("You are signed out.");
  await open(`${http.url}/console`);
  expect(new URL(page.url()).pathname, "the console needs a session again").toBe("/login");

  await signInAs("grace@example.com");
  expect(new URL(page.url()).pathname).toBe("/console");
  // The name typed at the claim, not the agent's.
  expect(await heading()).toBe("Grace Hopper");
});

test("a wrong password is refused; after five the account waits, and the page says for how long", async () => {
  await claimedAgent();
  const wrong = await signInAs("grace", "Wrong-Horse-9");
  expect(wrong.status()).toBe(401);
  expect(await page.getByRole("alert").innerText()).toMatch(/username, email or password is not right/);
  expect(await page.getByLabel("Username or email").inputValue()).toBe("grace");
  await shoot("sign-in-refused");
  for (let i = 0; i < 4; i++) await signInAs("grace", "Wrong-Horse-9");

  const throttled = await signInAs("grace");
  expect(throttled.status()).toBe(429);
  expect(await page.getByRole("alert").innerText()).toMatch(/Try again in 15 minutes/);
  expect(new URL(page.url()).pathname).toBe("/login");
});

test("ending the agent's access in the console: its token gets 401 on REST and an error on /mcp; giving access back hands over a working one", async () => {
  const { client, token } = await claimedAgent();
  expect((await restUser(token)).status).toBe(200);
  await signInAs("grace");
  await page.getByRole("link", { name: "Agents" }).click();
  await page.waitForURL(/\/console\/agents$/);
  await shoot("console-agents");
  await page.getByRole("link", { name: "The agent that created this account" }).click();
  await page.waitForURL(/\/console\/agents\/.+/);
  const agentPage = page.url();
  expect(await page.locator("main > p").first().innerText()).toMatch(/1 access token still work/);
  await shoot("console-agent-access");

  await press("End the agent's access");
  expect(await page.getByRole("status").innerText()).toMatch(/The agent's access has ended: 1 token was revoked/);
  expect((await restUser(token)).status).toBe(401);
  // The HTTP layer refuses the revoked token before any tool runs: a 401 the client reports.
  await expect(call(client as Client, "get_current_user")).rejects.toThrow(/revoked/);

  await press("Give the agent a new access token");
  const restored = (await page.locator("#new-token").innerText()).trim();
  expect(restored).not.toBe(token);
  const rest = await restUser(restored);
  expect(rest.status).toBe(200);
  expect(await rest.json()).toMatchObject({ githubLogin: "grace" });
  const { client: again } = await http.connect({ Authorization: `Bearer ${restored}` });
  expect(await ok(again, "get_current_user")).toMatchObject({ githubLogin: "grace" });
  await open(agentPage);
  expect(await page.locator("#new-token").count(), "the value is shown once").toBe(0);
});

test("a personal access token: created with a name and expiry, shown once, used on REST, revoked", async () => {
  await claimedAgent(false);
  await signInAs("grace");
  await page.getByRole("link", { name: "Access tokens" }).click();
  await page.waitForURL(/\/console\/tokens/);
  expect(await page.locator(".empty").innerText()).toMatch(/No personal access tokens yet/);

  await page.getByLabel("What it is for").fill("laptop CLI");
  await page.getByLabel("Expires after").selectOption("90");
  await press("Create token");
  const value = (await page.locator("#new-token").innerText()).trim();
  const user = await restUser(value);
  expect(user.status).toBe(200);
  expect(await user.json()).toMatchObject({ githubLogin: "grace", isAgent: false });
  await shoot("console-tokens");

  await open(`${http.url}/console/tokens`);
  expect(await page.locator("#new-token").count(), "the value is shown once").toBe(0);
  const row = page.locator("tbody tr", { hasText: "laptop CLI" });
  expect(await row.locator("td").nth(4).innerText()).toBe("active");
  await press(/Revoke laptop CLI/);
  expect(await page.getByRole("status").innerText()).toMatch(/revoked: it stops working at once/);
  const after = await restUser(value);
  expect(after.status, await after.clone().text()).toBe(401);
});

test("an invite signup lands on a page that leads to sign-in, and the new member sees the organization", async () => {
  const { client, org } = await claimedAgent();
  const link = await ok(client, "create_invite_link", { name: "Team", expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
  await context.clearCookies();
  await open(link.url);
  await page.getByLabel("Email").fill("ada@example.com");
  await page.getByLabel("Name", { exact: true }).fill("Ada");
  await page.getByLabel("Username (optional)").fill("ada");
  await page.getByLabel("Password").fill(PASSWORD);
  await press("Create account and join");
  expect(await page.locator("main").innerText()).toContain("We sent a confirmation link to ada@example.com");
  await page.getByRole("link", { name: "Sign in" }).click();
  await page.waitForURL(/\/login/);
  await signInAs("ada");
  expect(await page.locator("section[aria-labelledby=orgs] tbody tr").allInnerTexts()).toEqual([`${org}\tviewer`]);
});

test("a sign-in form posted from another site, or with a made-up token, signs nobody in", async () => {
  await claimedAgent();
  await context.clearCookies();
  const forged = await fetch(`${http.url}/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: "onboard_csrf=a.b" },
    body: new URLSearchParams({ csrf: "a.b", identifier: "grace", password: PASSWORD }),
    redirect: "manual",
  });
  expect(forged.status).toBe(403);
  expect(forged.headers.getSetCookie().some((line) => line.startsWith("onboard_session="))).toBe(false);
  const [row] = await http.store.query("SELECT count(*) AS n FROM sessions");
  expect(Number(row!.n)).toBe(0);
});

test("the session cookie is HttpOnly and SameSite=Lax, and a new one is set at every sign-in", async () => {
  await claimedAgent();
  await signInAs("grace");
  const first = (await context.cookies()).find((cookie) => cookie.name === "onboard_session")!;
  expect(first).toMatchObject({ httpOnly: true, sameSite: "Lax", secure: false });
  await press(/Sign out/);
  await signInAs("grace");
  const second = (await context.cookies()).find((cookie) => cookie.name === "onboard_session")!;
  expect(second.value).not.toBe(first.value);
});

/** A second agent with a stack of its own, not yet claimed. */
async function anotherAgent() {
  const signup = await ok((await http.connect()).client, "agent_signup", { agentName: "Docs writer", agentModel: "claude-haiku-4" });
  const { client } = await http.connect({ Authorization: `Bearer ${signup.accessToken}` });
  await ok(client, "create_stack", { projectName: "docs", stackName: "preview" });
  await ok(client, "create_invite_link", { name: "Writers", expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
  return { client, claimUrl: signup.claimUrl as string, org: signup.userInfo.organizations[0].name as string };
}

test("claim into an existing account: sign in first from the claim page, see what moves, claim; the human's GET /api/user lists the agent's organization as admin", async () => {
  const { token } = await claimedAgent();
  await context.clearCookies();
  const writer = await anotherAgent();

  await open(writer.claimUrl);
  await page.getByRole("link", { name: "Sign in first" }).click();
  await page.waitForURL(/\/login\?next=/);
  await page.getByLabel("Username or email").fill("grace");
  await page.getByLabel("Password").fill(PASSWORD);
  await press("Sign in");
  expect(new URL(page.url()).pathname, "back on the claim page after signing in").toBe(new URL(writer.claimUrl).pathname);

  const section = page.locator("section[aria-labelledby=into]");
  expect(await section.locator("h2").innerText()).toBe("Claim into your account grace");
  expect(await section.locator("li").allInnerTexts()).toEqual([`${writer.org} with 1 stack and 1 invite link: you become its admin`]);
  await shoot("claim-into-account");
  expect((await restUserBody(token)).organizations.map((o: { name: string }) => o.name)).not.toContain(writer.org);

  await press("Claim into grace");
  expect(await heading()).toBe("The agent is yours");
  expect(await page.getByRole("status").innerText()).toBe(`You claimed it into grace and are now admin of ${writer.org}.`);

  const user = await restUserBody(token);
  expect(user.organizations).toContainEqual(expect.objectContaining({ name: writer.org, role: "admin" }));
  expect(await ok(writer.client, "get_claim_status")).toMatchObject({ claimed: true, claimedBy: "grace", agentAccessKept: true });

  await page.getByRole("link", { name: "See it in your console" }).click();
  await page.waitForURL(/\/console\/agents$/);
  expect(await page.locator("tbody tr").first().innerText()).toMatch(/The agent that created this account/);
  await page.getByRole("link", { name: /Docs writer/ }).click();
  await press("End the agent's access");
  await expect(call(writer.client as Client, "get_current_user")).rejects.toThrow(/revoked/);

  // The link is spent: opening it again says so.
  const again = await open(writer.claimUrl);
  expect(again.status()).toBe(409);
});

test("an organization's admin changes a member's role, manages invite links and email invites, and cannot remove the last admin", async () => {
  const { client, org } = await claimedAgent();
  const link = await ok(client, "create_invite_link", { name: "Team", expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
  await ok(await (await http.connect()).client, "redeem_invite", { token: link.url, email: "ada@example.com", name: "Ada", username: "ada" });
  await signInAs("grace");
  await open(`${http.url}/console/orgs/${org}`);

  const members = page.locator("section[aria-labelledby=members]");
  await members.getByLabel("Role of ada", { exact: true }).selectOption("member");
  await press("Change the role of ada");
  expect(await page.getByRole("status").innerText()).toBe(`ada is now a member of ${org}.`);
  await members.getByLabel("Role of grace", { exact: true }).selectOption("viewer");
  const refused = await press("Change the role of grace");
  expect(refused.status()).toBe(409);
  expect(await members.getByRole("alert").innerText()).toMatch(/without an admin/);

  const links = page.locator("section[aria-labelledby=links]");
  expect(await links.locator("tbody tr").first().innerText()).toMatch(/^Team\s+http:\S+\/new-user\?invite=\S+\s*\tworks\t.*\tada/s);
  await press("Disable the link Team");
  expect(await links.locator("tbody tr").first().innerText()).toMatch(/\tdisabled\t/);
  const redeemed = await call(await (await http.connect()).client, "redeem_invite", { token: link.url, email: "late@example.com", name: "Late" });
  expect(redeemed.isError, "a disabled link admits nobody").toBe(true);
  await press("Enable the link Team");
  await press("Extend the link Team by a month");
  expect(await page.getByRole("status").innerText()).toMatch(/now works until/);

  await page.getByLabel("Name", { exact: true }).fill("Contractors");
  await page.getByLabel("Works for").selectOption("14");
  await press("Create link");
  const url = (await page.locator("#new-link").innerText()).trim();
  expect(url).toMatch(/\/new-user\?invite=/);
  expect(await ok(await (await http.connect()).client, "redeem_invite", { token: url, email: "carol@example.com", name: "Carol" })).toMatchObject({ email: "carol@example.com" });

  await page.getByLabel("Email", { exact: true }).fill("dana@example.com");
  await press("Send invite");
  expect(await page.getByRole("status").innerText()).toMatch(/Invite sent to dana@example.com as member/);
  await shoot("console-organization");
  await press("Cancel the invite to dana@example.com");
  expect(await page.locator("section[aria-labelledby=invites] .empty").innerText()).toMatch(/No invites are waiting/);

  await press("Remove ada from " + org);
  expect(await page.getByRole("status").innerText()).toMatch(/ada was removed/);
  expect(await members.locator("tbody tr").allInnerTexts()).not.toContainEqual(expect.stringMatching(/^ada\t/));
});

test("the account page changes the name and picture, and starts an email change that waits for its link", async () => {
  const { token } = await claimedAgent();
  await signInAs("grace");
  await page.getByRole("link", { name: "Account" }).click();
  await page.getByLabel("Name").fill("Rear Admiral Grace Hopper");
  await page.getByLabel("Picture address").fill("http://example.com/grace.png");
  const refused = await press("Save profile");
  expect(refused.status()).toBe(400);
  expect(await page.getByRole("alert").innerText()).toMatch(/https:\/\//);
  await page.getByLabel("Picture address").fill("https://example.com/grace.png");
  await press("Save profile");
  expect(await page.getByRole("status").innerText()).toBe("Profile saved.");
  expect(await restUserBody(token)).toMatchObject({ name: "Rear Admiral Grace Hopper", avatarUrl: "https://example.com/grace.png" });

  await page.getByLabel("New email address").fill("grace@navy.example");
  await press("Send confirmation link");
  expect(await page.getByRole("status").innerText()).toMatch(/We sent a confirmation link to grace@navy.example/);
  expect(await page.locator("section[aria-labelledby=emails] dl").innerText()).toMatch(/Pending\s+grace@navy.example/);
  await shoot("console-account");
  await press("Withdraw grace@navy.example");
  expect(await page.locator("section[aria-labelledby=emails] dl").innerText()).not.toMatch(/Pending/);
  expect((await restUserBody(token)).email).toBe("grace@example.com");
});
