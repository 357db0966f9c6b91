/**
 * The claim and invite pages over plain HTTP (no browser): the things a
 * browser is clumsy for — counting GETs, forging or dropping the CSRF pair,
 * foreign origins, racing POSTs, raw HTML and headers.
 */
import type { Client } from "@modelcontextprotocol/client";
import { and, eq, inArray, isNotNull } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { DAY, call, countRows, ok } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";

const GOOD_PASSWORD = "Correct-Horse-9";

let http: TestHttp;

beforeEach(async () => {
  http = await startTestHttp();
});

afterEach(async () => {
  await http.close();
});

interface PageAnswer {
  status: number;
  body: string;
  headers: Headers;
}

/**
 * Reads a response that a human's browser would render, and checks what every
 * such response must carry: an HTML type, a Content-Security-Policy, and never
 * a 500.
 */
async function readPage(response: Response): Promise<PageAnswer> {
  const body = await response.text();
  expect(response.status, `unexpected server error: ${body.slice(0, 400)}`).toBeLessThan(500);
  expect(response.headers.get("content-type") ?? "").toMatch(/^text\/html\b/);
  expect(response.headers.get("content-security-policy") ?? "").toContain("default-src 'none'");
  return { status: response.status, body, headers: response.headers };
}

interface OpenedForm extends PageAnswer {
  /** `onboard_csrf=<value>`, ready for a Cookie header. */
  cookie: string;
  /** The hidden field's value. */
  csrf: string;
}

async function openForm(url: string, headers: Record<string, string> = {}): Promise<OpenedForm> {
  const answer = await readPage(await fetch(url, { redirect: "manual", headers }));
  const setCookie = answer.headers.getSetCookie().find((line) => line.startsWith("onboard_csrf="));
  const cookie = setCookie?.split(";")[0] ?? headers.cookie ?? "";
  const csrf = answer.body.match(/name="csrf" value="([^"]*)"/)?.[1] ?? "";
  return { ...answer, cookie, csrf };
}

function post(url: string, fields: Record<string, string>, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(fields),
  });
}

async function signUpAgent(args: Record<string, unknown> = { agentName: "Release helper", agentModel: "claude-sonnet-4" }) {
  const signup = await ok((await http.connect()).client, "agent_signup", args);
  const { client } = await http.connect({ Authorization: `Bearer ${signup.accessToken}` });
  return { client, signup, claimUrl: signup.claimUrl as string, uid: signup.userInfo.id as string };
}

async function userRow(uid: string) {
  const { users } = http.store.db.tables;
  const [row] = await http.store.db
    .select({
      id: users.id,
      login: users.login,
      name: users.name,
      email: users.email,
      passwordHash: users.passwordHash,
      isAgent: users.isAgent,
      claimedAt: users.claimedAt,
    })
    .from(users)
    .where(eq(users.uid, uid));
  return row!;
}

async function claimRow(userId: number) {
  const { claimTokens } = http.store.db.tables;
  const [row] = await http.store.db
    .select({ consumedAt: claimTokens.consumedAt, agentAccessKept: claimTokens.agentAccessKept })
    .from(claimTokens)
    .where(eq(claimTokens.userId, userId));
  return row!;
}

/** Everything a claim may change, to compare before and after a refused one. */
async function claimSnapshot(uid: string) {
  const user = await userRow(uid);
  const { accessTokens } = http.store.db.tables;
  const revokedTokens = await http.store.db.$count(accessTokens, and(eq(accessTokens.userId, user.id), isNotNull(accessTokens.revokedAt)));
  return { user, claim: await claimRow(user.id), revokedTokens };
}

const claimFields = (form: { csrf: string }, username: string, email = `${username}@example.com`) => ({
  csrf: form.csrf,
  username,
  email,
  password: GOOD_PASSWORD,
  keepAgentAccess: "yes",
});

async function claimStatus(client: Client) {
  return ok(client, "get_claim_status");
}

describe("GET of the claim page", () => {
  test("never consumes the token: three GETs, then the claim still succeeds", async () => {
    const { client, claimUrl, uid } = await signUpAgent();
    const before = await claimSnapshot(uid);

    let form: OpenedForm | undefined;
    for (let i = 0; i < 3; i++) {
      form = await openForm(claimUrl, form ? { cookie: form.cookie } : {});
      expect(form.status).toBe(200);
      expect(form.body).toContain("Claim this account");
    }
    expect(await claimSnapshot(uid)).toEqual(before);
    expect(await claimStatus(client)).toMatchObject({ claimed: false });

    const claimed = await readPage(await post(claimUrl, claimFields(form!, "ada-lovelace"), { cookie: form!.cookie }));
    expect(claimed.status).toBe(200);
    expect(claimed.body).toContain("The account is yours");
    expect(await userRow(uid)).toMatchObject({ login: "ada-lovelace", email: "ada-lovelace@example.com", isAgent: false });
    expect(await claimStatus(client)).toMatchObject({ claimed: true, claimedBy: "ada-lovelace" });
  });

  test("a repeated GET keeps the same CSRF token instead of minting a new one", async () => {
    const { claimUrl } = await signUpAgent();
    const first = await openForm(claimUrl);
    const again = await fetch(claimUrl, { headers: { cookie: first.cookie } });
    await readPage(again);
    // The cookie may be sent again, but with the same value: an open tab's form keeps working.
    for (const line of again.headers.getSetCookie()) expect(line.split(";")[0]).toBe(first.cookie);
    const body = await (await fetch(claimUrl, { headers: { cookie: first.cookie } })).text();
    expect(body).toContain(`name="csrf" value="${first.csrf}"`);
  });
});

describe("CSRF protection of the claim form", () => {
  const cases: Array<[string, (form: OpenedForm) => { fields: Record<string, string>; headers: Record<string, string> }]> = [
    ["neither cookie nor field", (form) => ({ fields: { ...claimFields(form, "mallory"), csrf: "" }, headers: {} })],
    ["the field but no cookie", (form) => ({ fields: claimFields(form, "mallory"), headers: {} })],
    ["the cookie but no field", (form) => ({ fields: { ...claimFields(form, "mallory"), csrf: "" }, headers: { cookie: form.cookie } })],
    [
      "a field that does not match the cookie",
      (form) => ({ fields: { ...claimFields(form, "mallory"), csrf: `${form.csrf.slice(0, -1)}${form.csrf.endsWith("A") ? "B" : "A"}` }, headers: { cookie: form.cookie } }),
    ],
    [
      "a field of a different length than the cookie",
      (form) => ({ fields: { ...claimFields(form, "mallory"), csrf: `${form.csrf}x` }, headers: { cookie: form.cookie } }),
    ],
    [
      // Without an Origin header nothing else tells this apart from a real form: the server must have signed the pair.
      "a cookie and field the client made up, equal to each other, of the server's shape",
      (form) => {
        const madeUp = `${"ab".repeat(32)}.${"cd".repeat(32)}`;
        return { fields: { ...claimFields(form, "mallory"), csrf: madeUp }, headers: { cookie: `onboard_csrf=${madeUp}` } };
      },
    ],
    [
      "a pair issued to another session",
      (form) => ({ fields: claimFields(form, "mallory"), headers: { cookie: `${form.cookie}; onboard_session=someone-elses-session` } }),
    ],
  ];

  for (const [name, build] of cases) {
    test(`a POST with ${name} gets a 403 page and changes nothing`, async () => {
      const { client, claimUrl, uid } = await signUpAgent();
      const form = await openForm(claimUrl);
      const before = await claimSnapshot(uid);

      const { fields, headers } = build(form);
      const refused = await readPage(await post(claimUrl, fields, headers));

      expect(refused.status).toBe(403);
      expect(refused.body).toContain("Please try again");
      expect(await claimSnapshot(uid)).toEqual(before);
      expect(await claimStatus(client)).toMatchObject({ claimed: false });
      // The agent is untouched: still an agent, still working.
      expect(await ok(client, "get_current_user")).toMatchObject({ isAgent: true });
    });
  }

  test("the invite form refuses a POST without the CSRF pair and creates nobody", async () => {
    const { client } = await signUpAgent();
    const link = await ok(client, "create_invite_link", { name: "Team", expiresAt: new Date(http.clock.now().getTime() + DAY).toISOString() });
    const users = () => countRows(http, "users");
    const before = await users();

    const refused = await readPage(
      await post(link.url, { email: "eve@example.com", name: "Eve", password: GOOD_PASSWORD }),
    );

    expect(refused.status).toBe(403);
    expect(await users()).toBe(before);
  });
});

describe("foreign origins", () => {
  test("a claim POST with a foreign Origin header is refused with 403 and changes nothing", async () => {
    const { client, claimUrl, uid } = await signUpAgent();
    const form = await openForm(claimUrl);
    const before = await claimSnapshot(uid);

    const refused = await readPage(await post(claimUrl, claimFields(form, "mallory"), { cookie: form.cookie, origin: "https://evil.example" }));

    expect(refused.status).toBe(403);
    // A page for the human who sent it, not JSON about a setting of /mcp.
    expect(refused.headers.get("content-type")).toMatch(/^text\/html/);
    expect(refused.body).toContain("Please try again");
    expect(refused.body).not.toContain("ONBOARD_ALLOWED_ORIGINS");
    expect(await claimSnapshot(uid)).toEqual(before);
    expect(await claimStatus(client)).toMatchObject({ claimed: false });
  });

  test("a sign-in POST with a foreign Origin header gets the same page, and /mcp still answers JSON", async () => {
    const refused = await readPage(await post(`${http.url}/login`, { identifier: "x", password: "y" }, { origin: "https://evil.example" }));
    expect(refused.status).toBe(403);
    expect(refused.body).toContain("Please try again");
    const mcp = await fetch(`${http.url}/mcp`, { method: "POST", headers: { origin: "https://evil.example", "content-type": "application/json" }, body: "{}" });
    expect(mcp.status).toBe(403);
    expect(await mcp.json()).toMatchObject({ name: "NoAccessError", message: expect.stringContaining("ONBOARD_ALLOWED_ORIGINS") });
  });

  test("an invite POST with a foreign Origin header is refused with 403", async () => {
    const { client } = await signUpAgent();
    const link = await ok(client, "create_invite_link", { name: "Team", expiresAt: new Date(http.clock.now().getTime() + DAY).toISOString() });
    const form = await openForm(link.url);

    const refused = await post(
      link.url,
      { csrf: form.csrf, email: "eve@example.com", name: "Eve", password: GOOD_PASSWORD },
      { cookie: form.cookie, origin: "https://evil.example" },
    );

    expect(refused.status).toBe(403);
    const { users } = http.store.db.tables;
    expect(await http.store.db.$count(users, eq(users.email, "eve@example.com"))).toBe(0);
  });

  test("a POST from the server's own origin is accepted", async () => {
    const { claimUrl } = await signUpAgent();
    const form = await openForm(claimUrl);

    const claimed = await readPage(await post(claimUrl, claimFields(form, "own-origin"), { cookie: form.cookie, origin: http.url }));

    expect(claimed.status).toBe(200);
  });
});

describe("concurrent claims", () => {
  test("20 parallel valid claims on one token: exactly one 200, the rest 409, and the winner's username is stored", async () => {
    const { client, claimUrl, uid } = await signUpAgent();
    const form = await openForm(claimUrl);
    expect(form.csrf).not.toBe("");

    const names = Array.from({ length: 20 }, (_, i) => `claimer-${i}`);
    const answers = await Promise.all(
      names.map(async (name) => {
        const answer = await readPage(await post(claimUrl, claimFields(form, name), { cookie: form.cookie }));
        return { name, ...answer };
      }),
    );

    const winners = answers.filter((answer) => answer.status === 200);
    const losers = answers.filter((answer) => answer.status !== 200);
    expect(winners).toHaveLength(1);
    expect(losers.map((answer) => answer.status)).toEqual(Array(19).fill(409));
    // Refused before hashing while the winner's claim ran, or after it had.
    for (const loser of losers) expect(loser.body).toMatch(/being claimed in another window|already been claimed/);

    const winner = winners[0]!.name;
    expect(winners[0]!.body).toContain(winner);
    expect(await userRow(uid)).toMatchObject({ login: winner, email: `${winner}@example.com`, isAgent: false });
    const { users } = http.store.db.tables;
    const sameNames = await http.store.db.select({ login: users.login }).from(users).where(inArray(users.login, names));
    expect(sameNames).toEqual([{ login: winner }]);
    expect(await claimStatus(client)).toMatchObject({ claimed: true, claimedBy: winner });
  });
});

describe("HTML escaping", () => {
  test("an agent name and model made of markup appear escaped on the claim page, never as tags", async () => {
    const agentName = "<script>alert(1)</script>";
    const agentModel = `"><img src=x onerror=alert(2)>`;
    const { claimUrl } = await signUpAgent({ agentName, agentModel });

    const form = await openForm(claimUrl);

    expect(form.status).toBe(200);
    expect(form.body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(form.body).toContain("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;");
    expect(form.body).not.toContain("<script");
    expect(form.body).not.toContain("<img");
    expect(form.body).toMatch(/<title>Claim &lt;script&gt;alert\(1\)&lt;\/script&gt; · agent-onboard<\/title>/);
  });

  test("values typed into the form are escaped when the form is shown again", async () => {
    const { claimUrl } = await signUpAgent();
    const form = await openForm(claimUrl);
    const username = `"><script>alert(3)</script>`;
    const email = `x"onfocus="alert(4)@example.com`;

    const again = await readPage(
      await post(claimUrl, { csrf: form.csrf, username, email, password: GOOD_PASSWORD, keepAgentAccess: "yes" }, { cookie: form.cookie }),
    );

    expect(again.status).toBe(400);
    expect(again.body).not.toContain("<script");
    expect(again.body).toContain(`value="&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;"`);
    expect(again.body).toContain(`value="x&quot;onfocus=&quot;alert(4)@example.com"`);
  });

  test("an invite link's name made of markup appears escaped on the invite page", async () => {
    const { client } = await signUpAgent();
    const link = await ok(client, "create_invite_link", {
      name: "<b onmouseover=alert(5)>Team</b>",
      expiresAt: new Date(http.clock.now().getTime() + DAY).toISOString(),
    });

    const form = await openForm(link.url);

    expect(form.status).toBe(200);
    expect(form.body).toContain("&lt;b onmouseover=alert(5)&gt;Team&lt;/b&gt;");
    expect(form.body).not.toContain("<b ");
  });
});

describe("every page answer is an HTML page with a CSP, never a 500", () => {
  test("the claim page in each of its states", async () => {
    const { client, claimUrl, uid } = await signUpAgent();
    const form = await openForm(claimUrl);
    expect(form.status).toBe(200);

    // Each field error re-shows the form with 400.
    const weak = await readPage(await post(claimUrl, { ...claimFields(form, "someone"), password: "short" }, { cookie: form.cookie }));
    expect(weak.status).toBe(400);
    expect(weak.body).toContain("at least 10 characters");
    const badName = await readPage(await post(claimUrl, claimFields(form, "-x"), { cookie: form.cookie }));
    expect(badName.status).toBe(400);
    const badEmail = await readPage(await post(claimUrl, claimFields(form, "someone", "not-an-email"), { cookie: form.cookie }));
    expect(badEmail.status).toBe(400);
    const empty = await readPage(await post(claimUrl, { csrf: form.csrf }, { cookie: form.cookie }));
    expect(empty.status).toBe(400);
    const repeated = await readPage(
      await post(claimUrl, { ...claimFields(form, "someone"), username: "a" } as Record<string, string>, { cookie: form.cookie }),
    );
    expect(repeated.status).toBe(400);
    expect((await userRow(uid)).isAgent).toBe(true);

    // A username another account already holds: 409 with the form again, not the "already claimed" page.
    const other = await signUpAgent();
    const otherLogin = (await ok(other.client, "get_current_user")).githubLogin as string;
    const taken = await readPage(await post(claimUrl, claimFields(form, otherLogin), { cookie: form.cookie }));
    expect(taken.status).toBe(409);
    expect(taken.body).toContain("already taken");
    expect(taken.body).toContain("Claim this account");
    expect(await claimStatus(client)).toMatchObject({ claimed: false });

    const success = await readPage(await post(claimUrl, claimFields(form, "the-owner"), { cookie: form.cookie }));
    expect(success.status).toBe(200);

    const claimedGet = await readPage(await fetch(claimUrl));
    expect(claimedGet.status).toBe(409);
    const claimedPost = await readPage(await post(claimUrl, claimFields(form, "late-comer"), { cookie: form.cookie }));
    expect(claimedPost.status).toBe(409);
    expect((await userRow(uid)).login).toBe("the-owner");

    const unknown = await readPage(await fetch(`${http.url}/claim/not-a-real-token`));
    expect(unknown.status).toBe(404);
    const unknownPost = await readPage(await post(`${http.url}/claim/not-a-real-token`, claimFields(form, "nobody"), { cookie: form.cookie }));
    expect(unknownPost.status).toBe(404);
  });

  test("an expired claim link answers 410 to GET and POST and changes nothing", async () => {
    const { claimUrl, uid } = await signUpAgent();
    const form = await openForm(claimUrl);
    http.clock.advance(31 * DAY);
    const before = await claimSnapshot(uid);

    const get = await readPage(await fetch(claimUrl));
    expect(get.status).toBe(410);
    expect(get.body).toContain("expired");
    const postAnswer = await readPage(await post(claimUrl, claimFields(form, "too-late"), { cookie: form.cookie }));
    expect(postAnswer.status).toBe(410);
    expect(await claimSnapshot(uid)).toEqual(before);
  });

  test("the invite page in each of its states", async () => {
    const { client } = await signUpAgent();
    const link = await ok(client, "create_invite_link", { name: "Team", expiresAt: new Date(http.clock.now().getTime() + DAY).toISOString() });
    const form = await openForm(link.url);
    expect(form.status).toBe(200);

    const noPassword = await readPage(await post(link.url, { csrf: form.csrf, email: "a@example.com", name: "A" }, { cookie: form.cookie }));
    expect(noPassword.status).toBe(400);
    const weak = await readPage(
      await post(link.url, { csrf: form.csrf, email: "a@example.com", name: "A", password: "aaaBBB111!!!" }, { cookie: form.cookie }),
    );
    expect(weak.status).toBe(400);
    expect(weak.body).toContain("three repeating characters");
    const noName = await readPage(
      await post(link.url, { csrf: form.csrf, email: "a@example.com", name: "  ", password: GOOD_PASSWORD }, { cookie: form.cookie }),
    );
    expect(noName.status).toBe(400);

    const joined = await readPage(
      await post(link.url, { csrf: form.csrf, email: "A@Example.com", name: "A", password: GOOD_PASSWORD }, { cookie: form.cookie }),
    );
    expect(joined.status).toBe(200);
    const again = await readPage(
      await post(link.url, { csrf: form.csrf, email: "a@example.com", name: "A again", password: GOOD_PASSWORD }, { cookie: form.cookie }),
    );
    expect(again.status).toBe(409);

    const invalid = await readPage(await fetch(`${http.url}/new-user?invite=nope`));
    expect(invalid.status).toBe(400);
    const missing = await readPage(await fetch(`${http.url}/new-user`));
    expect(missing.status).toBe(400);
    const twice = await readPage(await fetch(`${http.url}/new-user?invite=a&invite=b`));
    expect(twice.status).toBe(400);
    const invalidPost = await readPage(
      await post(`${http.url}/new-user?invite=nope`, { csrf: form.csrf, email: "b@example.com", name: "B", password: GOOD_PASSWORD }, { cookie: form.cookie }),
    );
    expect(invalidPost.status).toBe(400);

    http.clock.advance(2 * DAY);
    const expired = await readPage(await fetch(link.url));
    expect(expired.status).toBe(400);
  });

  test("malformed requests get a readable page, not a server error", async () => {
    const { claimUrl, uid } = await signUpAgent();
    const form = await openForm(claimUrl);
    const before = await claimSnapshot(uid);

    // A cookie that is not valid percent-encoding.
    const badCookie = await readPage(await fetch(claimUrl, { headers: { cookie: "onboard_csrf=%zz" } }));
    expect(badCookie.status).toBe(200);
    const badCookiePost = await readPage(await post(claimUrl, claimFields(form, "x-user"), { cookie: "onboard_csrf=%E0%A4%A" }));
    expect(badCookiePost.status).toBe(403);
    // A claim link whose token is not valid percent-encoding (a mangled paste).
    const badPath = await readPage(await fetch(`${http.url}/claim/%zz`));
    expect(badPath.status).toBe(400);
    expect(badPath.body).toContain("<h1>");
    // A form body over the size limit.
    const huge = await readPage(
      await post(claimUrl, { ...claimFields(form, "big-user"), filler: "x".repeat(20_000) }, { cookie: form.cookie }),
    );
    expect(huge.status).toBe(413);
    // A body that is not a form at all.
    const json = await readPage(
      await fetch(claimUrl, { method: "POST", headers: { "content-type": "application/json", cookie: form.cookie }, body: "{" }),
    );
    expect(json.status).toBe(403);
    // Repeated fields arrive as arrays.
    const arrays = await readPage(
      await fetch(claimUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: form.cookie },
        body: `csrf=${form.csrf}&username=a-one&username=a-two&email=x%40example.com&password=${encodeURIComponent(GOOD_PASSWORD)}`,
      }),
    );
    expect(arrays.status).toBe(400);
    const twoCsrf = await readPage(
      await fetch(claimUrl, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", cookie: form.cookie },
        body: `csrf=${form.csrf}&csrf=${form.csrf}&username=two-csrf&email=x%40example.com&password=${encodeURIComponent(GOOD_PASSWORD)}`,
      }),
    );
    expect(twoCsrf.status).toBe(403);

    expect(await claimSnapshot(uid)).toEqual(before);
  });

  test("a page is never framed or cached, and sends its referrer only to its own origin", async () => {
    const { claimUrl } = await signUpAgent();
    const response = await fetch(claimUrl);
    const answer = await readPage(response);
    expect(answer.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(answer.headers.get("x-frame-options")).toBe("DENY");
    expect(answer.headers.get("cache-control")).toBe("no-store");
    // Not "no-referrer": with it Chromium sends `Origin: null` on the form POST, which the Origin check refuses.
    expect(answer.body).toContain(`<meta name="referrer" content="same-origin">`);
    const cookie = answer.headers.getSetCookie().find((line) => line.startsWith("onboard_csrf="))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
  });
});

describe("after the claim, the agent", () => {
  test("keeps working when the box stays checked, and loses access when it is unchecked (form without the field)", async () => {
    const kept = await signUpAgent();
    const keptForm = await openForm(kept.claimUrl);
    await readPage(await post(kept.claimUrl, claimFields(keptForm, "keeper"), { cookie: keptForm.cookie }));
    expect(await ok(kept.client, "get_current_user")).toMatchObject({ isAgent: false, githubLogin: "keeper" });
    expect(await claimStatus(kept.client)).toMatchObject({ claimed: true, claimedBy: "keeper", agentAccessKept: true });

    const ended = await signUpAgent();
    const endedForm = await openForm(ended.claimUrl);
    const { keepAgentAccess: _dropped, ...withoutBox } = claimFields(endedForm, "ender");
    const answer = await readPage(await post(ended.claimUrl, withoutBox, { cookie: endedForm.cookie }));
    expect(answer.status).toBe(200);
    expect(answer.body).toContain("access has ended");
    expect((await call(ended.client, "get_current_user")).isError).toBe(true);
    expect(await claimStatus(ended.client)).toMatchObject({ claimed: true, claimedBy: "ender", agentAccessKept: false });
  });
});
