/**
 * Email verification over real HTTP: Pulumi's verified-email and
 * pending-emails paths, and the confirmation page a human opens from the mail
 * the server wrote (GET shows, POST confirms once).
 */
import type { Client } from "@modelcontextprotocol/client";
import { asc, eq, getTableName } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { z } from "zod";
import { claimAccount } from "../../src/services/claims.js";
import { DAY, ok } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";

const PASSWORD = "Analytical#Engine1843";

/** Seed 001: the 200 body of GET /api/user/pending-emails. */
const seedPendingEmail = z.strictObject({ email: z.string() });

let http: TestHttp;

beforeEach(async () => {
  http = await startTestHttp();
});

afterEach(async () => {
  await http.close();
});

interface Agent {
  client: Client;
  token: string;
  uid: string;
  userId: number;
  claimToken: string;
  claimUrl: string;
}

async function signUpAgent(): Promise<Agent> {
  const signup = await ok((await http.connect()).client, "agent_signup", { agentName: "Mail tester" });
  const { client } = await http.connect({ Authorization: `Bearer ${signup.accessToken}` });
  const { users } = http.store.db.tables;
  const [user] = await http.store.db.select({ id: users.id }).from(users).where(eq(users.uid, signup.userInfo.id));
  return { client, token: signup.accessToken, uid: signup.userInfo.id, userId: user!.id, claimToken: signup.claimToken, claimUrl: signup.claimUrl };
}

/** An agent account claimed by a human as `email` (unverified), the agent keeping its token. */
async function claimedAgent(username = "ada-lovelace", email = "ada@example.com") {
  const agent = await signUpAgent();
  await claimAccount(http.handle.deps, { claimToken: agent.claimToken, username, email, password: PASSWORD, keepAgentAccess: true });
  return agent;
}

/** An MCP session over HTTP acting as `token`. */
const sessionOf = async (token: string) => (await http.connect({ authorization: `Bearer ${token}` })).client;

async function api(method: string, path: string, token?: string) {
  const res = await fetch(`${http.url}${path}`, { method, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
}

/** The link of the last verification mail the server wrote to `to`. */
function linkMailedTo(to: string) {
  const mail = http.mailbox().filter((message) => message.to === to).at(-1);
  expect(mail, `no mail to ${to}`).toBeDefined();
  expect(mail!.subject).toBe("Confirm your email address for agent-onboard");
  const url = mail!.text.match(/https?:\/\/\S+\/verify-email\?token=[A-Za-z0-9_-]+/)?.[0];
  expect(url, mail!.text).toBeDefined();
  return { url: url!, token: new URL(url!).searchParams.get("token")! };
}

interface PageAnswer {
  status: number;
  body: string;
}

/** A page a browser renders: HTML with a CSP, never a 500. */
async function readPage(res: Response): Promise<PageAnswer> {
  const body = await res.text();
  expect(res.status, body.slice(0, 300)).toBeLessThan(500);
  expect(res.headers.get("content-type") ?? "").toMatch(/^text\/html\b/);
  expect(res.headers.get("content-security-policy") ?? "").toContain("default-src 'none'");
  return { status: res.status, body };
}

async function openPage(url: string, cookie?: string) {
  const res = await fetch(url, { redirect: "manual", headers: cookie ? { cookie } : {} });
  const setCookie = res.headers.getSetCookie().find((line) => line.startsWith("onboard_csrf="));
  const page = await readPage(res);
  return { ...page, cookie: setCookie?.split(";")[0] ?? cookie ?? "", csrf: page.body.match(/name="csrf" value="([^"]*)"/)?.[1] ?? "" };
}

const confirm = (url: string, form: { csrf: string; cookie: string }) =>
  fetch(url, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: form.cookie },
    body: new URLSearchParams({ csrf: form.csrf }),
  });

async function userRow(userId: number) {
  const { users } = http.store.db.tables;
  const [row] = await http.store.db.select({ email: users.email, emailVerifiedAt: users.emailVerifiedAt }).from(users).where(eq(users.id, userId));
  return row!;
}

function verificationRows(userId: number) {
  const { emailVerifications } = http.store.db.tables;
  return http.store.db
    .select({ email: emailVerifications.email, verifiedAt: emailVerifications.verifiedAt, canceledAt: emailVerifications.canceledAt })
    .from(emailVerifications)
    .where(eq(emailVerifications.userId, userId))
    .orderBy(asc(emailVerifications.id));
}

describe("GET /api/user/verified-email", () => {
  test("is 404 for an agent without email and for an unverified address, 200 {} once the link was opened", async () => {
    const agent = await signUpAgent();
    const none = await api("GET", "/api/user/verified-email", agent.token);
    expect(none.status).toBe(404);
    expect(none.body).toMatchObject({ code: 404, name: "NotFoundError", message: expect.stringContaining("change_email") });

    await claimAccount(http.handle.deps, { claimToken: agent.claimToken, username: "ada-lovelace", email: "ada@example.com", password: PASSWORD, keepAgentAccess: true });
    const unverified = await api("GET", "/api/user/verified-email", agent.token);
    expect(unverified.status).toBe(404);
    expect(unverified.body.message).toContain("ada@example.com");

    const { url } = linkMailedTo("ada@example.com");
    const form = await openPage(url);
    expect((await readPage(await confirm(url, form))).status).toBe(200);

    const verified = await api("GET", "/api/user/verified-email", agent.token);
    expect(verified.status).toBe(200);
    expect(verified.body).toEqual({});
  });
});

describe("GET and DELETE /api/user/pending-emails", () => {
  test("204 with nothing pending; DELETE is 204 then too", async () => {
    const agent = await signUpAgent();
    const none = await api("GET", "/api/user/pending-emails", agent.token);
    expect(none.status).toBe(204);
    expect(none.text).toBe("");
    expect((await api("DELETE", "/api/user/pending-emails", agent.token)).status).toBe(204);
  });

  test("the verification of the primary email is pending, and deleting it is 400 with the seed's message", async () => {
    const agent = await claimedAgent();
    const pending = await api("GET", "/api/user/pending-emails", agent.token);
    expect(pending.status).toBe(200);
    expect(seedPendingEmail.parse(pending.body)).toEqual({ email: "ada@example.com" });

    const refused = await api("DELETE", "/api/user/pending-emails", agent.token);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ code: 400, message: expect.stringMatching(/^Cannot delete the pending verification for primary email\./) });
    expect(await verificationRows(agent.userId)).toEqual([{ email: "ada@example.com", verifiedAt: null, canceledAt: null }]);
  });

  test("a change from change_email is the latest pending; DELETE withdraws it (its link then 404) and the primary stays", async () => {
    const agent = await claimedAgent();
    const session = await sessionOf(agent.token);
    expect(await ok(session, "change_email", { email: "Ada.New@Example.com" })).toEqual({ email: "ada.new@example.com" });

    const pending = await api("GET", "/api/user/pending-emails", agent.token);
    expect(pending.status).toBe(200);
    expect(seedPendingEmail.parse(pending.body)).toEqual({ email: "ada.new@example.com" });

    const deleted = await api("DELETE", "/api/user/pending-emails", agent.token);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe("");
    expect((await api("GET", "/api/user/pending-emails", agent.token)).status).toBe(204);
    expect((await api("DELETE", "/api/user/pending-emails", agent.token)).status).toBe(204);
    expect((await userRow(agent.userId)).email).toBe("ada@example.com");

    const { url } = linkMailedTo("ada.new@example.com");
    expect((await openPage(url)).status).toBe(404);
  });
});

describe("authentication", () => {
  for (const [method, path] of [
    ["GET", "/api/user/verified-email"],
    ["GET", "/api/user/pending-emails"],
    ["DELETE", "/api/user/pending-emails"],
  ] as const) {
    test(`${method} ${path} is 401 without a token and with a bad one`, async () => {
      const missing = await api(method, path);
      expect(missing.status).toBe(401);
      expect(missing.body).toMatchObject({ code: 401, name: "AuthenticationRequired" });
      expect((await api(method, path, "not-a-token")).status).toBe(401);
    });
  }
});

describe("signups mail a verification link", () => {
  test("a claim through the claim page writes the mail, and only the hash of its token is stored", async () => {
    const agent = await signUpAgent();
    const claimForm = await openPage(agent.claimUrl);
    const claimed = await fetch(agent.claimUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: claimForm.cookie },
      body: new URLSearchParams({ csrf: claimForm.csrf, username: "ada-lovelace", email: "Ada@Example.com", password: PASSWORD, keepAgentAccess: "yes" }),
    });
    expect((await readPage(claimed)).status).toBe(200);

    const { url, token } = linkMailedTo("ada@example.com");
    expect(url.startsWith(`${http.handle.publicUrl}/verify-email?token=`)).toBe(true);
    expect(await userRow(agent.userId)).toEqual({ email: "ada@example.com", emailVerifiedAt: null });

    for (const table of Object.values(http.store.db.tables)) {
      const rows = (await http.store.db.select().from(table)) as Record<string, unknown>[];
      for (const row of rows) {
        for (const value of Object.values(row)) if (typeof value === "string") expect(value, getTableName(table)).not.toContain(token);
      }
    }
    expect(http.logs.join("\n")).not.toContain(token);
  });

  test("an invite signup through the invite page writes the mail", async () => {
    const inviter = await signUpAgent();
    const link = await ok(inviter.client, "create_invite_link", { name: "Team", expiresAt: new Date(http.clock.now().getTime() + DAY).toISOString() });
    const form = await openPage(link.url);
    const joined = await fetch(link.url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: form.cookie },
      body: new URLSearchParams({ csrf: form.csrf, email: "joiner@example.com", name: "Joiner", password: PASSWORD }),
    });
    expect((await readPage(joined)).status).toBe(200);
    const { url } = linkMailedTo("joiner@example.com");
    expect((await openPage(url)).body).toContain("Confirm joiner@example.com for account");
  });
});

describe("the confirmation page", () => {
  test("GET shows what will be confirmed and never consumes the link; the POST confirms once, a second POST is 409", async () => {
    const agent = await claimedAgent();
    await ok(await sessionOf(agent.token), "change_email", { email: "new@example.com" });
    const { url } = linkMailedTo("new@example.com");

    let form = await openPage(url);
    for (let i = 0; i < 3; i++) form = await openPage(url, form.cookie);
    expect(form.status).toBe(200);
    expect(form.body).toContain("Confirm new@example.com for account ada-lovelace");
    expect(form.body).toContain('<form method="post">');
    expect(form.csrf).not.toBe("");
    expect((await verificationRows(agent.userId)).at(-1)).toEqual({ email: "new@example.com", verifiedAt: null, canceledAt: null });
    expect((await userRow(agent.userId)).email).toBe("ada@example.com");

    const confirmed = await readPage(await confirm(url, form));
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toContain("new@example.com");
    expect(confirmed.body).toContain("ada-lovelace");
    expect(await userRow(agent.userId)).toEqual({ email: "new@example.com", emailVerifiedAt: expect.any(Date) });
    expect((await verificationRows(agent.userId)).at(-1)!.verifiedAt).toEqual(expect.any(Date));
    expect((await ok(await sessionOf(agent.token), "get_current_user")).email).toBe("new@example.com");

    const again = await readPage(await confirm(url, form));
    expect(again.status).toBe(409);
    expect(again.body).toContain("already used");
    expect((await openPage(url)).status).toBe(409);
  });

  test("a POST without the CSRF pair is 403 and confirms nothing", async () => {
    const agent = await claimedAgent();
    const { url } = linkMailedTo("ada@example.com");
    const form = await openPage(url);
    const refused = await readPage(await confirm(url, { csrf: "", cookie: form.cookie }));
    expect(refused.status).toBe(403);
    expect((await userRow(agent.userId)).emailVerifiedAt).toBeNull();
  });

  test("an expired link is 410 on GET and POST, and confirms nothing", async () => {
    const agent = await claimedAgent();
    const { url } = linkMailedTo("ada@example.com");
    const form = await openPage(url);
    http.clock.advance(3 * DAY);
    const expired = await readPage(await confirm(url, form));
    expect(expired.status).toBe(410);
    expect(expired.body).toContain("expired");
    expect((await openPage(url)).status).toBe(410);
    expect((await userRow(agent.userId)).emailVerifiedAt).toBeNull();
  });

  test("an unknown, empty, repeated or replaced link is 404", async () => {
    const agent = await claimedAgent();
    const { url: replaced } = linkMailedTo("ada@example.com");
    await ok(await sessionOf(agent.token), "change_email", { email: "new@example.com" });
    const form = await openPage(`${http.url}/verify-email?token=nope`);
    expect(form.status).toBe(404);
    expect(form.body).toContain("not known");
    for (const path of ["/verify-email", "/verify-email?token=", "/verify-email?token=a&token=b", "/verify-email?token=%zz"]) {
      expect((await openPage(`${http.url}${path}`)).status, path).toBe(404);
    }
    expect((await openPage(replaced)).status).toBe(404);
    // A form opened on another link still only reaches its own (unknown) token.
    const fresh = await openPage(linkMailedTo("new@example.com").url);
    expect((await readPage(await confirm(`${http.url}/verify-email?token=nope`, fresh))).status).toBe(404);
    expect((await readPage(await confirm(replaced, fresh))).status).toBe(404);
    expect(await userRow(agent.userId)).toEqual({ email: "ada@example.com", emailVerifiedAt: null });
  });

  test("an address another account took meanwhile is a 409 page, and nothing changes", async () => {
    const ada = await claimedAgent();
    const bob = await claimedAgent("bob-builder", "bob@example.com");
    await ok(await sessionOf(ada.token), "change_email", { email: "wanted@example.com" });
    const adaLink = linkMailedTo("wanted@example.com").url;
    const adaForm = await openPage(adaLink);
    await ok(await sessionOf(bob.token), "change_email", { email: "wanted@example.com" });
    const bobLink = linkMailedTo("wanted@example.com").url;
    expect((await readPage(await confirm(bobLink, await openPage(bobLink)))).status).toBe(200);

    const taken = await readPage(await confirm(adaLink, adaForm));
    expect(taken.status).toBe(409);
    expect(taken.body).toContain("This address is taken");
    expect((await openPage(adaLink)).status).toBe(409);
    expect((await userRow(ada.userId)).email).toBe("ada@example.com");
    expect((await verificationRows(ada.userId)).at(-1)).toMatchObject({ email: "wanted@example.com", verifiedAt: null });
  });

  test("two concurrent POSTs of one link: exactly one 200, the other 409", async () => {
    const agent = await claimedAgent();
    const { url } = linkMailedTo("ada@example.com");
    const form = await openPage(url);
    const answers = await Promise.all([confirm(url, form), confirm(url, form)].map(async (res) => (await readPage(await res)).status));
    expect(answers.sort()).toEqual([200, 409]);
    expect((await userRow(agent.userId)).emailVerifiedAt).toEqual(expect.any(Date));
    expect((await verificationRows(agent.userId)).filter((row) => row.verifiedAt !== null)).toHaveLength(1);
  });
});
