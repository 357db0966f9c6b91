/**
 * The claim and invite pages as a human sees them: headless system Chromium
 * driven by playwright-core against the full HTTP server. Every page visited
 * is saved as a screenshot under test-results/screenshots/.
 */
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Client } from "@modelcontextprotocol/client";
import { eq, sql } from "drizzle-orm";
import type { Browser, BrowserContext, Page, Response } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import { launchChromium } from "../browser.js";
import { DAY, call, ok } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";

const SCREENSHOTS = fileURLToPath(new URL("../../test-results/screenshots/", import.meta.url));
const GOOD_PASSWORD = "Correct-Horse-9";

let browser: Browser;
let http: TestHttp;
let context: BrowserContext;
let page: Page;
/** Every URL any page of this test's browser asked for. */
let requested: string[];

beforeAll(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

beforeEach(async () => {
  http = await startTestHttp();
  requested = [];
  context = await newContext();
  page = await context.newPage();
});

afterEach(async () => {
  await context?.close();
  await http?.close();
});

/** A fresh context that records every request its pages make. */
async function newContext(options: Parameters<Browser["newContext"]>[0] = {}) {
  const created = await browser.newContext(options);
  created.on("request", (request) => requested.push(request.url()));
  return created;
}

const shoot = (target: Page, name: string) => target.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });

async function open(target: Page, url: string): Promise<Response> {
  const response = await target.goto(url);
  expect(response, `no response for ${url}`).not.toBeNull();
  return response!;
}

/** Clicks the form's button and waits until the answer to the POST is the page shown. */
async function submit(target: Page, button: string): Promise<Response> {
  const [response] = await Promise.all([
    target.waitForResponse((r) => r.request().method() === "POST" && r.request().resourceType() === "document"),
    target.waitForEvent("load"),
    target.getByRole("button", { name: button }).click(),
  ]);
  return response;
}

const heading = (target: Page) => target.locator("h1").innerText();

/** The claim page's summary as {Agent: ..., Organizations: ...}. */
async function summary(target: Page): Promise<Record<string, string>> {
  const terms = await target.locator("dl dt").allInnerTexts();
  const values = await target.locator("dl dd").allInnerTexts();
  return Object.fromEntries(terms.map((term, i) => [term.trim(), values[i]!.trim()]));
}

async function signUpAgent(agentName = "Release helper", agentModel = "claude-sonnet-4") {
  const signup = await ok((await http.connect()).client, "agent_signup", { agentName, agentModel });
  const { client } = await http.connect({ Authorization: `Bearer ${signup.accessToken}` });
  return { client, signup, claimUrl: signup.claimUrl as string, org: signup.userInfo.organizations[0].name as string };
}

async function fillClaimForm(target: Page, values: { username: string; email: string; password: string }) {
  await target.getByLabel("Username").fill(values.username);
  await target.getByLabel("Email").fill(values.email);
  await target.getByLabel("Password").fill(values.password);
}

const keepBox = (target: Page) => target.getByLabel(/let the agent keep working/i);

const currentUser = (client: Client) => ok(client, "get_current_user");
const claimStatus = (client: Client) => ok(client, "get_claim_status");

describe("claim page", () => {
  test("a human sees what the agent made, claims it, and the agent sees the claim; the link then answers 409", async () => {
    const { client, signup, claimUrl, org } = await signUpAgent();
    const stack = await ok(client, "create_stack", { projectName: "website", stackName: "production" });
    expect(claimUrl.startsWith(`${http.url}/claim/`)).toBe(true);

    const shown = await open(page, claimUrl);
    expect(shown.status()).toBe(200);
    expect(await heading(page)).toBe("Take ownership of Release helper");
    const facts = await summary(page);
    expect(facts.Agent).toBe("Release helper (claude-sonnet-4)");
    expect(facts.Organizations).toBe(org);
    expect(facts.Stacks).toBe(`${stack.orgName}/website/production`);
    const expiry = page.locator("dd time");
    expect(await expiry.getAttribute("datetime")).toBe(signup.claimTokenValidUntil);
    expect(await expiry.innerText()).toBe(new Date(signup.claimTokenValidUntil).toUTCString());
    expect(await keepBox(page).isChecked()).toBe(true);
    await shoot(page, "claim-form");

    await fillClaimForm(page, { username: "grace-hopper", email: "grace@example.com", password: GOOD_PASSWORD });
    const answer = await submit(page, "Claim this account");

    expect(answer.status()).toBe(200);
    expect(await heading(page)).toBe("The account is yours");
    expect(await page.getByRole("status").innerText()).toContain("grace-hopper");
    await shoot(page, "claim-success");

    expect(await currentUser(client)).toMatchObject({
      id: signup.userInfo.id,
      isAgent: false,
      githubLogin: "grace-hopper",
      email: "grace@example.com",
    });
    const status = await claimStatus(client);
    expect(status).toMatchObject({ claimed: true, claimedBy: "grace-hopper", agentAccessKept: true });
    expect(Date.parse(status.claimedAt)).toBe(http.clock.now().getTime());
    // The stack is still there, now the human's.
    expect((await ok(client, "list_stacks")).stacks).toHaveLength(1);

    const again = await open(page, claimUrl);
    expect(again.status()).toBe(409);
    expect(await heading(page)).toBe("This account has already been claimed");
    expect(await page.locator("form").count()).toBe(0);
    await shoot(page, "claim-already-claimed");
  });

  test("unchecking 'let the agent keep working' ends the agent's access; only get_claim_status still answers", async () => {
    const { client, claimUrl } = await signUpAgent();
    await open(page, claimUrl);

    await fillClaimForm(page, { username: "ends-access", email: "ends@example.com", password: GOOD_PASSWORD });
    await keepBox(page).uncheck();
    const answer = await submit(page, "Claim this account");

    expect(answer.status()).toBe(200);
    expect(await page.getByText("The agent's access has ended").count()).toBe(1);
    expect((await call(client, "get_current_user")).isError).toBe(true);
    expect((await call(client, "list_stacks")).isError).toBe(true);
    expect(await claimStatus(client)).toMatchObject({ claimed: true, claimedBy: "ends-access", agentAccessKept: false });
  });

  test("a weak password re-shows the form with 400 and the rule it broke, keeps what was typed, and claims nothing", async () => {
    const { client, claimUrl } = await signUpAgent();
    await open(page, claimUrl);

    await fillClaimForm(page, { username: "Weak-Pass", email: "Weak@Example.com", password: "lowercase-only-1" });
    await keepBox(page).uncheck();
    const answer = await submit(page, "Claim this account");

    expect(answer.status()).toBe(400);
    expect(await page.getByRole("alert").innerText()).toBe("The password must contain at least one uppercase letter.");
    expect(await page.getByLabel("Username").inputValue()).toBe("Weak-Pass");
    expect(await page.getByLabel("Email").inputValue()).toBe("Weak@Example.com");
    expect(await page.getByLabel("Password").inputValue()).toBe("");
    expect(await keepBox(page).isChecked()).toBe(false);

    // Nothing was claimed: the agent's token still works and it is still an agent.
    expect(await currentUser(client)).toMatchObject({ isAgent: true });
    expect(await claimStatus(client)).toMatchObject({ claimed: false });

    // The re-shown form is a working form: with a good password the claim goes through as chosen.
    await page.getByLabel("Password").fill(GOOD_PASSWORD);
    const retried = await submit(page, "Claim this account");
    expect(retried.status()).toBe(200);
    expect(await claimStatus(client)).toMatchObject({ claimed: true, claimedBy: "Weak-Pass", agentAccessKept: false });
  });

  test("an expired claim link shows a readable page with status 410", async () => {
    const { claimUrl } = await signUpAgent();
    http.clock.advance(31 * DAY);

    const answer = await open(page, claimUrl);

    expect(answer.status()).toBe(410);
    expect(await heading(page)).toBe("This claim link has expired");
    expect(await page.locator("main").innerText()).toContain("sign up again");
    expect(await page.locator("form").count()).toBe(0);
    await shoot(page, "claim-expired");
  });

  test("an unknown claim link shows a readable page with status 404", async () => {
    const answer = await open(page, `${http.url}/claim/this-token-was-never-issued`);

    expect(answer.status()).toBe(404);
    expect(await heading(page)).toBe("This claim link is not known");
    expect(await page.locator("main").innerText()).toContain("whole link");
    await shoot(page, "claim-unknown");
  });
});

describe("invite page", () => {
  test("a human signs up through an invite link and becomes a member of the organization", async () => {
    const { client, org } = await signUpAgent();
    const link = await ok(client, "create_invite_link", {
      name: "Platform team",
      expiresAt: new Date(http.clock.now().getTime() + 7 * DAY).toISOString(),
    });

    const shown = await open(page, link.url);
    expect(shown.status()).toBe(200);
    expect(await heading(page)).toBe(`Join ${org}`);
    expect(await page.locator("main").innerText()).toContain("Platform team");
    await shoot(page, "invite-form");

    await page.getByLabel("Email").fill("New.Person@Example.COM");
    await page.getByLabel("Name", { exact: true }).fill("New Person");
    await page.getByLabel("Password").fill(GOOD_PASSWORD);
    const answer = await submit(page, "Create account and join");

    expect(answer.status()).toBe(200);
    expect(await heading(page)).toBe("Welcome, New Person");
    expect(await page.getByRole("status").innerText()).toContain(org);
    await shoot(page, "invite-success");

    const { users, memberships, organizations } = http.store.db.tables;
    const joined = await http.store.db
      .select({
        email: users.email,
        name: users.name,
        isAgent: users.isAgent,
        passwordHash: users.passwordHash,
        role: memberships.role,
        org: organizations.name,
      })
      .from(users)
      .innerJoin(memberships, eq(memberships.userId, users.id))
      .innerJoin(organizations, eq(organizations.id, memberships.orgId))
      .where(eq(sql`lower(${users.email})`, "new.person@example.com"));
    expect(joined.map(({ passwordHash, ...row }) => ({ ...row, hasPassword: passwordHash !== null }))).toEqual([
      { email: "new.person@example.com", name: "New Person", isAgent: false, hasPassword: true, role: "viewer", org },
    ]);
  });

  test("an invalid invite link shows a readable page with status 400", async () => {
    const answer = await open(page, `${http.url}/new-user?invite=not-a-real-secret`);

    expect(answer.status()).toBe(400);
    expect(await heading(page)).toBe("This invite link is not valid");
    expect(await page.locator("main").innerText()).toContain("Ask the person who invited you");
    expect(await page.locator("form").count()).toBe(0);
    await shoot(page, "invite-invalid");
  });
});

describe("accessibility and privacy", () => {
  test("every form field is reachable by its label and the pages declare a viewport", async () => {
    const { client, claimUrl } = await signUpAgent();
    const link = await ok(client, "create_invite_link", {
      name: "Team",
      expiresAt: new Date(http.clock.now().getTime() + DAY).toISOString(),
    });

    await open(page, claimUrl);
    for (const [label, name] of [
      ["Username", "username"],
      ["Email", "email"],
      ["Password", "password"],
    ] as const) {
      const field = page.getByLabel(label);
      expect(await field.count(), label).toBe(1);
      expect(await field.getAttribute("name")).toBe(name);
      expect(await field.isVisible()).toBe(true);
    }
    expect(await keepBox(page).getAttribute("name")).toBe("keepAgentAccess");
    expect(await page.locator('meta[name="viewport"]').getAttribute("content")).toContain("width=device-width");
    expect(await page.locator("html").getAttribute("lang")).toBe("en");

    await open(page, link.url);
    for (const [label, name, exact] of [
      ["Email", "email", false],
      ["Name", "name", true],
      ["Username", "username", false],
      ["Password", "password", false],
    ] as const) {
      const field = page.getByLabel(label, { exact });
      expect(await field.count(), label).toBe(1);
      expect(await field.getAttribute("name")).toBe(name);
    }
    expect(await page.locator('meta[name="viewport"]').getAttribute("content")).toContain("width=device-width");
  });

  test("no request leaves the server's origin while a human claims an account and joins by invite", async () => {
    const { client, claimUrl } = await signUpAgent();
    const link = await ok(client, "create_invite_link", {
      name: "Team",
      expiresAt: new Date(http.clock.now().getTime() + DAY).toISOString(),
    });
    const postOrigins: Array<string | undefined> = [];
    page.on("request", (request) => {
      if (request.method() === "POST") postOrigins.push(request.headers().origin);
    });

    await open(page, claimUrl);
    await fillClaimForm(page, { username: "origin-check", email: "origin@example.com", password: GOOD_PASSWORD });
    expect((await submit(page, "Claim this account")).status()).toBe(200);
    await open(page, link.url);
    await page.getByLabel("Email").fill("joiner@example.com");
    await page.getByLabel("Name", { exact: true }).fill("Joiner");
    await page.getByLabel("Password").fill(GOOD_PASSWORD);
    expect((await submit(page, "Create account and join")).status()).toBe(200);
    await open(page, `${http.url}/claim/unknown`);
    await open(page, `${http.url}/new-user?invite=unknown`);

    expect(requested.length).toBeGreaterThanOrEqual(6);
    const foreign = requested.filter((url) => !url.startsWith(`${http.url}/`));
    expect(foreign).toEqual([]);
    // The forms post with the page's own origin (a "null" origin would be refused by the Origin check).
    expect(postOrigins).toEqual([http.url, http.url]);
  });

  test("on a phone-sized screen the claim form fits the width without sideways scrolling", async () => {
    const { claimUrl } = await signUpAgent("An agent with a rather long name to wrap", "some-model-with-a-long-identifier-v2");
    const phone = await newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    try {
      const mobile = await phone.newPage();
      expect((await open(mobile, claimUrl)).status()).toBe(200);

      // Evaluated in the page (a string, as this project's TypeScript has no DOM types).
      expect(await mobile.evaluate<number>("window.innerWidth")).toBe(390);
      expect(await mobile.evaluate<number>("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
      const button = await mobile.getByRole("button", { name: "Claim this account" }).boundingBox();
      expect(button!.width).toBeGreaterThan(300);
      expect(button!.x + button!.width).toBeLessThanOrEqual(390);
      await shoot(mobile, "claim-form-mobile");
    } finally {
      await phone.close();
    }
  });
});
