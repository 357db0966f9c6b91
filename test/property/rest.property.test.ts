/**
 * Property-based tests for every REST route and web page over a real HTTP
 * server: random and hostile path segments (%00, bad percent-encoding, very
 * long tokens), query strings, Authorization headers, cookies and bodies
 * (wrong types, missing and extra fields, invalid JSON, odd charsets and
 * encodings, 1 MB bodies, thousands of form fields, deep nesting, NUL and odd
 * Unicode, SQL-looking text).
 *
 * Every request ends within a bound with a status below 500 and no stack
 * trace; an error is the route's JSON error body (pages: a readable HTML
 * page); a success matches the seed shape; and a failed request — like every
 * GET — leaves every row of every table as it was and sends no mail (a
 * refused accept of an org invite may keep its refusal as the invite's
 * acceptError, and only that: see acceptSnapshot).
 */
import { gzipSync } from "node:zlib";
import { eq } from "drizzle-orm";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { z } from "zod";
import { agentSignup } from "../../src/services/accounts.js";
import { agentClaimResponseShape } from "../../src/services/claim-into-account.js";
import { claimAccount } from "../../src/services/claims.js";
import { requestEmailChange, verifyEmail } from "../../src/services/emails.js";
import { inviteMember } from "../../src/services/org-invites.js";
import { createStack } from "../../src/services/stacks.js";
import { DAY } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";
import {
  seedAgentSignupResponse,
  seedDefaultOrganization,
  seedInviteToken,
  seedOrganizationSummary,
  seedPendingInvites,
  seedRedeemedAgent,
  seedStacksPage,
  seedUnleashUser,
  seedUser,
} from "../seed-shapes.js";
import { acceptSnapshot, BOUND_MS, dbState, holds, isoDate, MB, mutationsOf, name, nastyStrings, STACK_TRACE, STRONG_PASSWORD, shorten, simpleEmail, strongPassword } from "./harness.js";

// ---------------------------------------------------------------- arbitraries

const oddChars = [
  "\u0000", "\u0007", "\u001b", "\u007f", "\u0085", "\u00a0", "\u200b", "\u200e", "\u200f", "\u202e", "\u2028",
  "\ufeff", "\ufffd", "\uffff", "\u0301", "\ud800", "\udc00", "😀", "🏳️‍🌈", "ß", "İ", "'", '"', ";", "-", "%",
  "/", "\\", "<", "&", "=", "?", "#", "+", "a", "Z", "9",
];

const oddUnicode = fc.string({ unit: fc.constantFrom(...oddChars), maxLength: 40 });

/** Strings short enough for a URL or a header: everything but the 1 MB ones. */
const hostileShortString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...nastyStrings) },
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 3, arbitrary: oddUnicode },
  { weight: 1, arbitrary: fc.string({ minLength: 300, maxLength: 3_000 }) },
);

const hugeStrings = ["a".repeat(MB), "\u0000".repeat(MB), "😀".repeat(MB / 2), "'; DROP TABLE users; --".repeat(Math.ceil(MB / 23))];

const hostileString = fc.oneof({ weight: 12, arbitrary: hostileShortString }, { weight: 1, arbitrary: fc.constantFrom(...hugeStrings) });

const hostileNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, -1, 1.5, 2 ** 31, 2 ** 53 + 2, 1e308, Number.MIN_VALUE),
);

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: hostileString },
  { weight: 2, arbitrary: hostileNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.array(hostileShortString, { maxLength: 4 }) },
);

const extraKey = fc.oneof(
  fc.constantFrom("__proto__", "constructor", "toString", "token", "id", "isAgent", "role", "admin", "secret"),
  hostileShortString.filter((k) => k.length < 100),
);

/** JSON values for a body: valid ones, valid ones with fields replaced or added, random objects, non-objects. */
const jsonFor = (valid: fc.Arbitrary<Record<string, unknown>>, keys: string[]): fc.Arbitrary<unknown> =>
  mutationsOf(valid, keys, {
    extraKey,
    hostileValue,
    nonObject: fc.oneof(hostileShortString, hostileNumber, fc.boolean(), fc.constant(null), fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 })),
  });

interface Body {
  contentType?: string;
  contentEncoding?: string;
  data?: string | Uint8Array;
  label: string;
}

/** Percent-encodes every UTF-8 byte that is not unreserved; lone surrogates become U+FFFD. */
const pct = (text: string) =>
  [...Buffer.from(text, "utf8")].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`)).join("");

const formOf = (pairs: Array<[string, string]>) => pairs.map(([k, v]) => `${pct(k)}=${pct(v)}`).join("&");

const deepJson = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

/** Bodies that are not the JSON a route expects: broken, oversized, odd types, charsets and encodings. */
const strangeBody: fc.Arbitrary<Body> = fc.oneof(
  fc
    .constantFrom("{", "nul", '{"a":', "\u0000", "[]", "1", '"text"', "null", "true", '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}', "\ufeff{}", "{}{}", deepJson(20_000))
    .map((data) => ({ contentType: "application/json", data, label: `json ${data.slice(0, 40)}` })),
  fc
    .constantFrom(
      JSON.stringify({ agentName: "a".repeat(MB) }),
      JSON.stringify({ name: "\u0000".repeat(MB / 2) }),
      `[${"1,".repeat(MB / 2)}1]`,
    )
    .map((data) => ({ contentType: "application/json", data, label: `1 MB json` })),
  fc
    .constantFrom("application/json; charset=utf-16", "application/json; charset=latin1", "application/json; charset=klingon", "text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded; charset=ebcdic")
    .map((contentType) => ({ contentType, data: '{"agentName":"x","name":"x"}', label: contentType })),
  fc.dictionary(extraKey, hostileShortString, { maxKeys: 6 }).map((form) => ({
    contentType: "application/x-www-form-urlencoded",
    data: formOf(Object.entries(form)),
    label: "form",
  })),
  // More fields than the form parser takes (1000) in a small body, and many in a large one.
  fc.constantFrom(2_000, 20_000).map((n) => ({
    contentType: "application/x-www-form-urlencoded",
    data: Array.from({ length: n }, (_, i) => `${i}=`).join("&"),
    label: `form with ${n} fields`,
  })),
  fc.constantFrom("gzip", "deflate", "br", "x-unknown", "identity, gzip").map((contentEncoding) => ({
    contentType: "application/json",
    contentEncoding,
    data: "this is not compressed",
    label: `encoding ${contentEncoding}`,
  })),
  fc.constant({ contentType: "application/json", contentEncoding: "gzip", data: gzipSync(Buffer.alloc(3 * MB, 0x61)), label: "gzip bomb" }),
  fc.constant({ label: "no body" }),
);

const jsonBody = (valid: fc.Arbitrary<Record<string, unknown>>, keys: string[]): fc.Arbitrary<Body> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: jsonFor(valid, keys).map((value) => ({ contentType: "application/json", data: JSON.stringify(value), label: "json" })),
    },
    { weight: 1, arbitrary: strangeBody },
  );

/** Characters a header value may carry (fetch refuses the rest): visible ASCII and Latin-1. */
const headerText = fc.string({
  unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff })).map((c) => String.fromCharCode(c)),
  maxLength: 200,
});

const weirdSegments = [
  "%00",
  "a%00b",
  "%",
  "%zz",
  "%E0%A4%A",
  "%ED%A0%80",
  "%C0%AF",
  "%FF%FE",
  "%2F",
  "..%2F..%2Fetc%2Fpasswd",
  "%F0%9F%98%80",
  "%E2%80%AE",
  "e%CC%81%CC%81",
  "%27%3B%20DROP%20TABLE%20users%3B%20--",
  "NaN",
  "-1",
  "1e309",
  "null",
  "%20",
  "a".repeat(2_000),
  "a".repeat(12_000),
  "%00".repeat(3_000),
  "b".repeat(20_000), // beyond Node's 16 KB header limit: Node answers 431 itself
];

/** A path segment: hostile text percent-encoded, raw odd encodings, or one of `real`. */
const segment = (real: string[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...real).map(pct) },
    // Not "." or "..": URL parsing resolves those (and their %2E spellings) before a request is sent.
    { weight: 4, arbitrary: hostileShortString.filter((s) => s.length > 0 && !/^\.{1,2}$/.test(s)).map(pct) },
    { weight: 3, arbitrary: fc.constantFrom(...weirdSegments) },
    { weight: 1, arbitrary: fc.constantFrom(...real).map((t) => `${t}%00`) },
  );

const username = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{2,38}$/);

// ------------------------------------------------------------------- harness

interface Req {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  auth?: string;
  cookie?: string;
  body?: Body;
}

interface Answer {
  status: number;
  text: string;
  json: any;
  contentType: string;
  headers: Headers;
}

let http: TestHttp;

/** JSON.parse, or undefined for text that is not JSON. */
function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function send(req: Req): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (req.auth !== undefined) headers.authorization = req.auth;
  if (req.cookie !== undefined) headers.cookie = req.cookie;
  if (req.body?.contentType) headers["content-type"] = req.body.contentType;
  if (req.body?.contentEncoding) headers["content-encoding"] = req.body.contentEncoding;
  const res = await fetch(`${http.url}${req.path}`, {
    method: req.method,
    headers,
    body: req.method === "GET" ? undefined : req.body?.data,
    redirect: "manual",
    signal: AbortSignal.timeout(BOUND_MS),
  });
  const text = await res.text();
  return { status: res.status, text, json: safeJson(text), contentType: res.headers.get("content-type") ?? "", headers: res.headers };
}

const describeReq = (req: Req) =>
  shorten(`${req.method} ${req.path}${req.auth !== undefined ? ` auth=${JSON.stringify(req.auth)}` : ""}${req.cookie !== undefined ? ` cookie=${JSON.stringify(req.cookie)}` : ""}${req.body ? ` body(${req.body.label})=${typeof req.body.data === "string" ? JSON.stringify(req.body.data) : `<${req.body.data?.length ?? 0} bytes>`}` : ""}`).slice(0, 1_500);

type Outcome = "ok" | "refused";

const isUnleashPath = (path: string) => path.startsWith("/invite/") || path.startsWith("/api/admin/invite-link/");

/** The request line or headers outgrew Node's header limit: Node itself answers 431 with no body. */
const headerLimit = (answer: Answer) => answer.status === 431 && answer.text === "";

/** How many mails the server has written to its mail folder (the http fixture gives it one). */
const mailCount = (): number => http.mailbox().length;

/**
 * Sends `req` and checks what every answer owes: below 500, no stack trace,
 * and after an error or a GET the db as it was — except, with
 * `mayKeepAcceptError`, the acceptError a refused accept keeps on its invite.
 * `said` sums the answer up for failure messages.
 */
async function sendChecked(req: Req, options: { mayKeepAcceptError?: boolean } = {}): Promise<{ answer: Answer; said: string }> {
  const snapshot = options.mayKeepAcceptError ? await acceptSnapshot(http.store) : undefined;
  const before = snapshot?.full ?? (await dbState(http.store));
  const mailBefore = mailCount();
  const what = describeReq(req);
  const answer = await send(req);
  const said = `${what} → ${answer.status} ${shorten(answer.text).slice(0, 600)}`;
  expect(answer.status, said).toBeLessThan(500);
  expect(answer.text, said).not.toMatch(STACK_TRACE);
  // Mail goes out only after a change is committed.
  if (answer.status >= 400 || req.method === "GET") expect(mailCount(), `${said} sent mail`).toBe(mailBefore);
  if (snapshot && answer.status >= 400) await snapshot.expectRefusalKept(String(answer.json?.message ?? ""), req.path, said);
  else if (answer.status >= 400 || req.method === "GET") expect(await dbState(http.store), `${said} changed the db`).toEqual(before);
  return { answer, said };
}

/**
 * Sends a REST request and checks the answer: bounded, below 500, no stack
 * trace; an error is the route's JSON error body and leaves the db as it was;
 * a success has one of the `successStatus` codes (a 204 with no body) and
 * matches `shape`. GETs never change the db.
 */
async function checkApi(req: Req, shape: z.ZodType, successStatus: number | number[] = 200, options: { mayKeepAcceptError?: boolean } = {}): Promise<Outcome> {
  const { answer, said } = await sendChecked(req, options);
  if (answer.status >= 400) {
    if (headerLimit(answer)) return "refused";
    expect(answer.contentType, said).toMatch(/^application\/json/);
    expect(answer.json, said).toMatchObject({ name: expect.any(String), message: expect.stringMatching(/\S/) });
    if (isUnleashPath(req.path)) {
      expect(answer.json, said).toMatchObject({ id: expect.any(String) });
    } else if (!isUnleashPath(req.path)) {
      expect(answer.json.code, said).toBe(answer.status);
    }
    return "refused";
  }
  expect([successStatus].flat(), said).toContain(answer.status);
  if (answer.status === 204) expect(answer.text, said).toBe("");
  const parsed = shape.safeParse(answer.json);
  expect(parsed.success, `${said}: ${parsed.error?.message}`).toBe(true);
  return "ok";
}

/**
 * Sends a request for a page and checks it is a readable HTML page below 500
 * with its security headers; a failed POST and every GET leave the db as it was.
 */
async function checkPage(req: Req, success: RegExp): Promise<Outcome> {
  const { answer, said } = await sendChecked(req);
  if (headerLimit(answer)) return "refused";
  expect(answer.contentType, said).toMatch(/^text\/html/);
  expect(answer.headers.get("content-security-policy") ?? "", said).toContain("default-src 'none'");
  expect(answer.text, said).toMatch(/<h1>[^<]*\S/);
  if (answer.status >= 400) return "refused";
  expect(answer.status, said).toBe(200);
  if (req.method === "POST") expect(answer.text, said).toMatch(success);
  return "ok";
}

class Tally {
  readonly seen: Record<Outcome, number> = { ok: 0, refused: 0 };
  add(outcome: Outcome) {
    this.seen[outcome]++;
  }
  expectBoth() {
    expect(this.seen.ok, `no request succeeded: ${JSON.stringify(this.seen)}`).toBeGreaterThan(0);
    expect(this.seen.refused, `no request was refused: ${JSON.stringify(this.seen)}`).toBeGreaterThan(0);
  }
  /** For routes that document no success for any account of this server (README: the VCS routes). */
  expectOnlyRefusals() {
    expect(this.seen.ok, `a request succeeded: ${JSON.stringify(this.seen)}`).toBe(0);
    expect(this.seen.refused, `no request was refused: ${JSON.stringify(this.seen)}`).toBeGreaterThan(0);
  }
}

// --------------------------------------------------------------------- world

interface World {
  org: string;
  tokens: { admin: string; member: string; revoked: string; other: string };
  claimableToken: string;
  claimedToken: string;
  inviteSecret: string;
  expiredSecret: string;
  disabledSecret: string;
  updatableSecret: string;
  foreignSecret: string;
  continuationToken: string;
}

let world: World;

async function userIdOf(uid: string): Promise<number> {
  const { users } = http.store.db.tables;
  const [user] = await http.store.db.select({ id: users.id }).from(users).where(eq(users.uid, uid));
  return user!.id;
}

async function postJson(path: string, body: unknown, token?: string) {
  const answer = await send({ method: "POST", path, auth: token ? `Bearer ${token}` : undefined, body: { contentType: "application/json", data: JSON.stringify(body), label: "setup" } });
  if (answer.status >= 300) throw new Error(`setup ${path}: ${answer.status} ${answer.text}`);
  return answer.json;
}

async function buildWorld(): Promise<World> {
  const admin = seedAgentSignupResponse.parse(await postJson("/api/agents/signup", { agentName: "Admin bot" }));
  const org = admin.userInfo.organizations[0]!.name;
  const adminId = await userIdOf(admin.userInfo.id);
  for (const [projectName, stackName] of [["web", "dev"], ["web", "prod"], ["api", "dev"]] as const) {
    await createStack(http.handle.deps, adminId, { projectName, stackName, tags: { env: stackName } });
  }
  const future = new Date(http.clock.now().getTime() + 7 * DAY).toISOString();
  const link = async (token: string, name: string, expiresAt = future) =>
    seedInviteToken.parse(await postJson("/api/admin/invite-link/tokens", { name, expiresAt }, token));
  const invite = await link(admin.accessToken, "Team");
  const expired = await link(admin.accessToken, "Old", "2000-01-01T00:00:00Z");
  const disabled = await link(admin.accessToken, "Off");
  const updatable = await link(admin.accessToken, "Edited by the properties");
  const answer = await send({ method: "PUT", path: `/api/admin/invite-link/tokens/${disabled.secret}`, auth: `Bearer ${admin.accessToken}`, body: { contentType: "application/json", data: '{"enabled":false}', label: "setup" } });
  expect(answer.status).toBe(200);

  const other = seedAgentSignupResponse.parse(await postJson("/api/agents/signup", { agentName: "Other bot" }));
  const foreign = await link(other.accessToken, "Theirs");
  const member = seedRedeemedAgent.parse(await postJson(`/invite/${invite.secret}/signup`, { email: "member@example.com", name: "Member bot" }));

  const revoked = await agentSignup(http.handle.deps, { agentName: "Claimed bot" });
  await claimAccount(http.handle.deps, {
    claimToken: revoked.claimToken,
    username: "claimed-human",
    email: "human@example.com",
    password: STRONG_PASSWORD,
    keepAgentAccess: false,
  });

  const page = await send({ method: "GET", path: "/api/user/stacks?maxResults=1", auth: `Bearer ${admin.accessToken}` });
  return {
    org,
    tokens: { admin: admin.accessToken, member: member.accessToken, revoked: revoked.accessToken, other: other.accessToken },
    claimableToken: admin.claimToken,
    claimedToken: revoked.claimToken,
    inviteSecret: invite.secret,
    expiredSecret: expired.secret,
    disabledSecret: disabled.secret,
    updatableSecret: updatable.secret,
    foreignSecret: foreign.secret,
    continuationToken: page.json.continuationToken,
  };
}

const ADMIN_EMAIL = "admin@example.com";

/** Seed 001, GET /api/user/pending-emails. */
const seedPendingEmail = z.strictObject({ email: z.string() });
/** What POST /api/user/pending-invites/{id}/accept answers: the organization joined (seed 001's OrganizationSummaryWithRole). */
const seedAcceptedInvite = z.strictObject({ organization: seedOrganizationSummary });
/** The VCS organization listings: no account here has a VCS identity, so they are empty (README, "Identities and VCS"). */
const seedNoVcsOrganizations = z.strictObject({ organizations: z.array(z.never()) });

interface EmailWorld {
  /** An organization the admin joined as a member by accepting an emailed invite. */
  joinedOrg: string;
  /** An organization the admin is not in. */
  strangerOrg: string;
  /** Invites to the admin's verified email in every state, and one to another address. */
  invites: { pending: string; accepted: string; expired: string; canceled: string; ofMember: string; foreign: string };
  /** Email verification links of other accounts: still usable, used, expired, replaced, and one whose address another account took. */
  links: { live: string; used: string; expired: string; canceled: string; taken: string };
}

let emails: EmailWorld;
let unique = 0;

/** A new agent account made by the service: its row id and organization. */
async function newAgent(agentName: string) {
  const signup = await agentSignup(http.handle.deps, { agentName });
  return { id: await userIdOf(signup.userInfo.id), org: signup.userInfo.organizations[0]!.name };
}

/** The token of the last verification link mailed to `to`, from the mail folder. */
function linkMailedTo(to: string): string {
  const mail = http.mailbox().filter((m) => m.to === to).at(-1);
  const token = mail?.text.match(/\/verify-email\?token=([A-Za-z0-9_-]+)/)?.[1];
  if (!token) throw new Error(`setup: no verification link mailed to ${to}`);
  return token;
}

/** Asks for `email` on `userId` and returns the link's token, as the mail carries it. */
async function requestLink(userId: number, email: string): Promise<string> {
  await requestEmailChange(http.handle.deps, userId, { email });
  return linkMailedTo(email);
}

/** A new organization's invite to the admin's verified email, acceptable once. */
async function freshInvite(): Promise<string> {
  const host = await newAgent("Fresh host");
  return (await inviteMember(http.handle.deps, host.id, { email: ADMIN_EMAIL })).invite.id;
}

/** A new account's email verification link, usable once. */
async function freshLink(): Promise<string> {
  return requestLink((await newAgent("Verifier bot")).id, `fresh.${++unique}@example.com`);
}

/**
 * The admin's email verified through its link, an organization it joined by
 * an emailed invite, invites to it in every state, a pending email change of
 * its own, and other accounts' verification links in every state.
 */
async function buildEmailWorld(): Promise<EmailWorld> {
  const db = http.store.db;
  const { emailVerifications, memberships, organizations, orgInvites } = db.tables;
  const adminId = await userIdOf(seedUser.parse((await send({ method: "GET", path: "/api/user", auth: `Bearer ${world.tokens.admin}` })).json).id);
  await verifyEmail(http.handle.deps, await requestLink(adminId, ADMIN_EMAIL));

  const now = http.clock.now().getTime();
  const invite = async (agentName: string, email = ADMIN_EMAIL) => {
    const host = await newAgent(agentName);
    return { org: host.org, id: (await inviteMember(http.handle.deps, host.id, { email })).invite.id };
  };
  const joined = await invite("Joined host");
  const accepted = await send({ method: "POST", path: `/api/user/pending-invites/${joined.id}/accept`, auth: `Bearer ${world.tokens.admin}` });
  expect(accepted.status, accepted.text).toBe(200);
  const pending = await invite("Pending host");
  const expired = await invite("Expired host");
  await db.transact((tx) => tx.update(orgInvites).set({ expiresAt: new Date(now - DAY) }).where(eq(orgInvites.uid, expired.id)));
  const canceled = await invite("Canceled host");
  await db.transact((tx) => tx.update(orgInvites).set({ canceledAt: new Date(now) }).where(eq(orgInvites.uid, canceled.id)));
  const ofMember = await invite("Member host");
  await db.transact(async (tx) => {
    const [org] = await tx.select({ id: organizations.id }).from(organizations).where(eq(organizations.name, ofMember.org));
    await tx.insert(memberships).values({ userId: adminId, orgId: org!.id, role: "member", createdAt: new Date(now) });
  });
  const foreign = await invite("Foreign host", "someone.else@example.com");
  // A change the admin asked for and has not confirmed yet.
  await requestEmailChange(http.handle.deps, adminId, { email: "admin.next@example.com" });

  const live = await requestLink((await newAgent("Live link")).id, "live@example.com");
  const used = await requestLink((await newAgent("Used link")).id, "used@example.com");
  await verifyEmail(http.handle.deps, used);
  const expiredLink = await requestLink((await newAgent("Expired link")).id, "expired@example.com");
  await db.transact((tx) =>
    tx.update(emailVerifications).set({ expiresAt: new Date(now - DAY) }).where(eq(emailVerifications.email, "expired@example.com")),
  );
  const replaced = await newAgent("Replaced link");
  const canceledLink = await requestLink(replaced.id, "replaced@example.com");
  await requestLink(replaced.id, "replacement@example.com");
  const taken = await requestLink((await newAgent("Slow link")).id, "shared@example.com");
  await verifyEmail(http.handle.deps, await requestLink((await newAgent("Fast link")).id, "shared@example.com"));

  // The mail checks count files in the mail folder: make sure they count something.
  expect(mailCount()).toBeGreaterThan(10);
  return {
    joinedOrg: joined.org,
    strangerOrg: foreign.org,
    invites: { pending: pending.id, accepted: joined.id, expired: expired.id, canceled: canceled.id, ofMember: ofMember.id, foreign: foreign.id },
    links: { live, used, expired: expiredLink, canceled: canceledLink, taken },
  };
}

/** An Authorization header: none, a real role in either scheme, a damaged token, or hostile text. */
const authHeader = () =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 6, arbitrary: fc.constantFrom(`Bearer ${world.tokens.admin}`, `token ${world.tokens.admin}`, `bearer    ${world.tokens.admin}`) },
    { weight: 1, arbitrary: fc.constantFrom(`Bearer ${world.tokens.member}`, `Bearer ${world.tokens.revoked}`, `Bearer ${world.tokens.other}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        `Bearer ${world.tokens.admin}x`,
        `Bearer ${world.tokens.admin.slice(0, -2)}`,
        `Bearer ${world.tokens.admin} extra`,
        `Basic ${Buffer.from("admin:admin").toString("base64")}`,
        "Bearer",
        "Bearer ",
        `Bearer ${world.claimableToken}`,
        `Bearer ${"A".repeat(12_000)}`,
        "token '; DROP TABLE users; --",
        "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIn0.",
      ),
    },
    { weight: 1, arbitrary: headerText.map((t) => `Bearer ${t}`) },
    { weight: 1, arbitrary: headerText },
  );

// --------------------------------------------------------------------- tests

beforeAll(async () => {
  http = await startTestHttp();
  world = await buildWorld();
  emails = await buildEmailWorld();
  const page = await fetch(`${http.url}/claim/${world.claimableToken}`);
  CSRF = (await page.text()).match(/name="csrf" value="([^"]+)"/)![1]!;
}, 30_000);

afterAll(async () => {
  await http?.close();
});

describe("Pulumi REST routes under random and hostile requests", { timeout: 60_000 }, () => {
  test("POST /api/agents/signup signs up with a seed-shaped answer or refuses with a JSON error and no write", async () => {
    const valid = fc.record(
      { agentName: fc.string({ minLength: 1, maxLength: 100 }), agentModel: fc.oneof(fc.string({ minLength: 1, maxLength: 100 }), oddUnicode) },
      { requiredKeys: [] },
    );
    const tally = new Tally();
    await holds(
      fc.asyncProperty(fc.option(authHeader(), { freq: 4 }), jsonBody(valid, ["agentName", "agentModel"]), async (auth, body) =>
        tally.add(await checkApi({ method: "POST", path: "/api/agents/signup", auth: auth ?? undefined, body }, seedAgentSignupResponse)),
      ),
      100,
    );
    tally.expectBoth();
  });

  test("GET /api/agents/signup/validate/:claimToken answers only for a claimable token and never writes", async () => {
    const tally = new Tally();
    await holds(
      fc.asyncProperty(segment([world.claimableToken, world.claimedToken]), async (token) =>
        tally.add(
          await checkApi(
            { method: "GET", path: `/api/agents/signup/validate/${token}` },
            agentClaimResponseShape.strict(),
          ),
        ),
      ),
      80,
      [[pct(world.claimableToken)], ["%ED%A0%80"]],
    );
    tally.expectBoth();
  });

  test("GET /api/user answers a seed-shaped User for a valid token and a JSON 401 for anything else", async () => {
    const tally = new Tally();
    await holds(
      fc.asyncProperty(authHeader(), fc.dictionary(extraKey, hostileShortString, { maxKeys: 3 }), async (auth, query) => {
        const search = Object.keys(query).length ? `?${formOf(Object.entries(query))}` : "";
        tally.add(await checkApi({ method: "GET", path: `/api/user${search}`, auth }, seedUser));
      }),
      80,
    );
    tally.expectBoth();
  });

  test("GET /api/user/stacks answers a seed-shaped page or a JSON error for any filters, page sizes and continuation tokens", async () => {
    const key = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom("organization", "project", "tagName", "tagValue", "maxResults", "continuationToken") },
      { weight: 1, arbitrary: fc.constantFrom("maxResults[]", "organization[a]", "__proto__", "constructor") },
      { weight: 1, arbitrary: extraKey.filter((k) => k.length < 50) },
    );
    const value = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(world.org, "web", "api", "env", "dev", "1", "2", "500", "100000") },
      { weight: 2, arbitrary: fc.constantFrom("0", "-1", "NaN", "1e309", "1.5", "Infinity", "", "0x10", " 2", "99999999999999999999", "1,2") },
      { weight: 2, arbitrary: fc.constantFrom(world.continuationToken, `${world.continuationToken}A`, `${world.continuationToken}.x`, "MQ.AAAA") },
      { weight: 3, arbitrary: hostileShortString },
    );
    const tally = new Tally();
    await holds(
      fc.asyncProperty(
        fc.oneof({ weight: 5, arbitrary: fc.constant(`Bearer ${world.tokens.admin}`) }, { weight: 2, arbitrary: authHeader() }),
        fc.array(fc.tuple(key, value), { maxLength: 6 }),
        async (auth, pairs) => {
          const search = pairs.length ? `?${formOf(pairs)}` : "";
          tally.add(await checkApi({ method: "GET", path: `/api/user/stacks${search}`, auth }, seedStacksPage));
        },
      ),
      120,
    );
    tally.expectBoth();
  });
});

describe("Unleash REST routes under random and hostile requests", { timeout: 60_000 }, () => {
  test("POST /api/admin/invite-link/tokens creates a seed-shaped token or refuses with a JSON error and no write", async () => {
    const now = http.clock.now().getTime();
    const valid = fc.record(
      {
        name: fc.oneof(fc.string({ minLength: 1, maxLength: 255 }), oddUnicode),
        expiresAt: fc.oneof(isoDate(now - 400 * DAY, now + 400 * DAY), isoDate(-62_000_000_000_000, 253_402_300_799_999)),
      },
      { requiredKeys: ["name", "expiresAt"] },
    );
    // Our own choice of organization is a query parameter on Unleash's path; an `organization` in the body is refused.
    const organization = fc.option(fc.oneof({ weight: 3, arbitrary: fc.constant(world.org) }, { weight: 1, arbitrary: name(30) }), { nil: undefined });
    const tally = new Tally();
    await holds(
      fc.asyncProperty(authHeader(), jsonBody(valid, ["name", "expiresAt", "organization"]), organization, async (auth, body, org) =>
        tally.add(
          await checkApi({ method: "POST", path: `/api/admin/invite-link/tokens${org === undefined ? "" : `?organization=${encodeURIComponent(org)}`}`, auth, body }, seedInviteToken, 201),
        ),
      ),
      100,
      [[`Bearer ${world.tokens.admin}`, { contentType: "application/json", data: JSON.stringify({ name: "Sure", expiresAt: new Date(now + DAY).toISOString() }), label: "json" }, world.org]],
    );
    tally.expectBoth();
  });

  test("GET /api/admin/invite-link/tokens/:secret shows an administered token or a JSON error, and never writes", async () => {
    const tally = new Tally();
    await holds(
      fc.asyncProperty(authHeader(), segment([world.inviteSecret, world.expiredSecret, world.foreignSecret]), async (auth, secret) =>
        tally.add(await checkApi({ method: "GET", path: `/api/admin/invite-link/tokens/${secret}`, auth }, seedInviteToken)),
      ),
      80,
    );
    tally.expectBoth();
  });

  test("PUT /api/admin/invite-link/tokens/:secret updates only expiry and enabled, or refuses with a JSON error and no write", async () => {
    const now = http.clock.now().getTime();
    // An update names at least one of the two (an empty one is refused, as Unleash refuses it).
    const valid = fc
      .record({ expiresAt: isoDate(now - 10 * DAY, now + 60 * DAY), enabled: fc.boolean() }, { requiredKeys: [] })
      .filter((body) => Object.keys(body).length > 0);
    const tally = new Tally();
    await holds(
      fc.asyncProperty(
        fc.oneof({ weight: 3, arbitrary: fc.constant(`Bearer ${world.tokens.admin}`) }, { weight: 1, arbitrary: authHeader() }),
        segment([world.updatableSecret, world.foreignSecret]),
        jsonBody(valid, ["expiresAt", "enabled"]),
        async (auth, secret, body) =>
          tally.add(await checkApi({ method: "PUT", path: `/api/admin/invite-link/tokens/${secret}`, auth, body }, seedInviteToken)),
      ),
      100,
      // One update sure to succeed: the random ones are mostly refusals, which leave nothing to compare with.
      [[`Bearer ${world.tokens.admin}`, world.updatableSecret, { contentType: "application/json", data: '{"enabled":true}', label: "json" }]],
    );
    tally.expectBoth();
  });

  test("GET /invite/:token/validate answers only for a usable link and never writes", async () => {
    const tally = new Tally();
    await holds(
      fc.asyncProperty(segment([world.inviteSecret, world.expiredSecret, world.disabledSecret]), async (token) =>
        tally.add(
          await checkApi(
            { method: "GET", path: `/invite/${token}/validate` },
            z.strictObject({ organization: z.string(), name: z.string(), expiresAt: z.iso.datetime({ offset: true }) }),
          ),
        ),
      ),
      80,
      [[pct(world.inviteSecret)], ["%zz"]],
    );
    tally.expectBoth();
  });

  test("POST /invite/:token/signup creates a Unleash user or refuses with a JSON error and no write", async () => {
    const valid = fc.record(
      {
        email: fc.oneof({ weight: 5, arbitrary: simpleEmail }, { weight: 1, arbitrary: fc.constantFrom("member@example.com", "HUMAN@example.com") }),
        name: fc.string({ minLength: 1, maxLength: 255 }).filter((s) => s.trim() !== ""),
        username: fc.oneof(username, fc.constantFrom("claimed-human", "CLAIMED-HUMAN")),
        // Mostly agents (no password): each human signup costs a memory-hard hash.
        password: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: strongPassword }),
      },
      { requiredKeys: ["email", "name", "password"] },
    );
    const tally = new Tally();
    await holds(
      fc.asyncProperty(
        fc.oneof(
          { weight: 4, arbitrary: fc.constant(world.inviteSecret) },
          { weight: 1, arbitrary: segment([world.inviteSecret, world.expiredSecret, world.disabledSecret]) },
        ),
        fc.oneof({ weight: 6, arbitrary: valid.map((value) => ({ value, body: { contentType: "application/json", data: JSON.stringify(value), label: "json" } as Body })) }, { weight: 6, arbitrary: jsonBody(valid, ["email", "name", "username", "password", "token"]).map((body) => ({ value: undefined, body })) }),
        async (token, { value, body }) => {
          const parsed = value ?? (typeof body.data === "string" ? safeJson(body.data) : undefined);
          const withPassword = typeof parsed === "object" && parsed !== null && (parsed as { password?: unknown }).password !== undefined;
          tally.add(await checkApi({ method: "POST", path: `/invite/${token}/signup`, body }, withPassword ? seedUnleashUser : seedRedeemedAgent));
        },
      ),
      80,
    );
    tally.expectBoth();
  });
});

describe("Pulumi user routes for organizations, emails, invites and VCS under random and hostile requests", { timeout: 60_000 }, () => {
  /** A query string of hostile parameters, which these routes ignore or refuse. */
  const anyQuery = fc.dictionary(extraKey.filter((k) => k.length < 50), hostileShortString, { maxKeys: 3 }).map((query) => (Object.keys(query).length ? `?${formOf(Object.entries(query))}` : ""));
  /** Routes that take no body still get one now and then. */
  const strayBody = fc.option(strangeBody, { freq: 3 }).map((body) => body ?? undefined);
  const adminMostly = () => fc.oneof({ weight: 3, arbitrary: fc.constant(`Bearer ${world.tokens.admin}`) }, { weight: 2, arbitrary: authHeader() });

  test("GET /api/user/organizations/default answers a seed-shaped {GitHubLogin, Messages} or a JSON error, and never writes", async () => {
    const tally = new Tally();
    await holds(
      fc.asyncProperty(authHeader(), anyQuery, async (auth, search) =>
        tally.add(await checkApi({ method: "GET", path: `/api/user/organizations/default${search}`, auth }, seedDefaultOrganization)),
      ),
      60,
    );
    tally.expectBoth();
  });

  test("POST /api/user/organizations/:orgName/default answers 204 for one of the caller's organizations, or a JSON error and no write", async () => {
    const tally = new Tally();
    try {
      await holds(
        fc.asyncProperty(
          adminMostly(),
          segment([world.org, world.org.toUpperCase(), emails.joinedOrg, emails.strangerOrg]),
          strayBody,
          async (auth, orgName, body) => tally.add(await checkApi({ method: "POST", path: `/api/user/organizations/${orgName}/default`, auth, body }, z.undefined(), 204)),
        ),
        80,
        [[`Bearer ${world.tokens.admin}`, pct(emails.joinedOrg), undefined], [`Bearer ${world.tokens.admin}`, pct(emails.strangerOrg), undefined]],
      );
    } finally {
      // The other properties create links in the admin's default organization.
      await postJson(`/api/user/organizations/${world.org}/default`, undefined, world.tokens.admin);
    }
    tally.expectBoth();
  });

  test("GET /api/user/verified-email answers {} for a verified primary email or a JSON error, and never writes", async () => {
    const tally = new Tally();
    await holds(
      fc.asyncProperty(authHeader(), anyQuery, async (auth, search) =>
        tally.add(await checkApi({ method: "GET", path: `/api/user/verified-email${search}`, auth }, z.strictObject({}))),
      ),
      60,
    );
    tally.expectBoth();
  });

  test("GET /api/user/pending-emails answers a seed-shaped {email} or 204, or a JSON error, and never writes", async () => {
    const tally = new Tally();
    await holds(
      fc.asyncProperty(authHeader(), anyQuery, async (auth, search) =>
        tally.add(await checkApi({ method: "GET", path: `/api/user/pending-emails${search}`, auth }, seedPendingEmail.or(z.undefined()), [200, 204])),
      ),
      60,
    );
    tally.expectBoth();
  });

  test("DELETE /api/user/pending-emails withdraws a pending change with 204, or answers a JSON error and writes nothing", async () => {
    const adminId = await userIdOf(seedUser.parse((await send({ method: "GET", path: "/api/user", auth: `Bearer ${world.tokens.admin}` })).json).id);
    const tally = new Tally();
    await holds(
      fc.asyncProperty(
        // The member's pending link is for its own primary address: that one cannot be withdrawn.
        fc.oneof({ weight: 3, arbitrary: adminMostly() }, { weight: 1, arbitrary: fc.constant(`Bearer ${world.tokens.member}`) }),
        fc.boolean(),
        strayBody,
        async (auth, askFirst, body) => {
          // Often a change waits to be withdrawn, asked for before the db is snapshot.
          if (askFirst) await requestEmailChange(http.handle.deps, adminId, { email: `admin.${++unique}@example.com` });
          tally.add(await checkApi({ method: "DELETE", path: "/api/user/pending-emails", auth, body }, z.undefined(), 204));
        },
      ),
      60,
      [[`Bearer ${world.tokens.admin}`, true, undefined], [`Bearer ${world.tokens.member}`, false, undefined]],
    );
    tally.expectBoth();
  });

  test("GET /api/user/pending-invites answers a seed-shaped {invites} or a JSON error, and never writes", async () => {
    const tally = new Tally();
    await holds(
      fc.asyncProperty(authHeader(), anyQuery, async (auth, search) =>
        tally.add(await checkApi({ method: "GET", path: `/api/user/pending-invites${search}`, auth }, seedPendingInvites)),
      ),
      60,
    );
    tally.expectBoth();
  });

  test("POST /api/user/pending-invites/:id/accept joins with a seed-shaped {organization}, or answers a JSON error writing at most the acceptError", async () => {
    const tally = new Tally();
    await holds(
      fc.asyncProperty(
        fc.oneof({ weight: 4, arbitrary: adminMostly() }, { weight: 1, arbitrary: fc.constant(`Bearer ${world.tokens.member}`) }),
        fc.oneof({ weight: 2, arbitrary: fc.constant("fresh") }, { weight: 3, arbitrary: segment(Object.values(emails.invites)) }),
        strayBody,
        async (auth, which, body) => {
          // A new invite for each "fresh" accept, made before the db is snapshot.
          const id = which === "fresh" ? await freshInvite() : which;
          tally.add(await checkApi({ method: "POST", path: `/api/user/pending-invites/${id}/accept`, auth, body }, seedAcceptedInvite, 200, { mayKeepAcceptError: true }));
        },
      ),
      100,
      [
        [`Bearer ${world.tokens.admin}`, "fresh", undefined],
        [`Bearer ${world.tokens.admin}`, emails.invites.expired, undefined],
        [`Bearer ${world.tokens.admin}`, emails.invites.canceled, undefined],
        [`Bearer ${world.tokens.admin}`, emails.invites.ofMember, undefined],
        [`Bearer ${world.tokens.member}`, emails.invites.pending, undefined],
      ],
    );
    tally.expectBoth();
  });

  test("GET /api/user/github/:ghOrgName/teams refuses with a JSON error for any account and name, and never writes", async () => {
    const tally = new Tally();
    await holds(
      fc.asyncProperty(authHeader(), segment([world.org, emails.joinedOrg, "pulumi", "octo-org"]), async (auth, ghOrgName) =>
        tally.add(await checkApi({ method: "GET", path: `/api/user/github/${ghOrgName}/teams`, auth }, z.never())),
      ),
      50,
    );
    tally.expectOnlyRefusals();
  });

  test("GET /api/user/vcs/organizations answers {organizations: []} or a JSON error, and never writes", async () => {
    const tally = new Tally();
    await holds(
      fc.asyncProperty(authHeader(), anyQuery, async (auth, search) =>
        tally.add(await checkApi({ method: "GET", path: `/api/user/vcs/organizations${search}`, auth }, seedNoVcsOrganizations)),
      ),
      50,
    );
    tally.expectBoth();
  });

  /** The `identity` query parameter: a provider in any case, repeated, bracketed, empty or hostile. */
  const identityQuery = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom("", "?identity=github", "?identity=GitLab", "?identity=bitbucket", "?identity=", "?identity") },
    { weight: 2, arbitrary: fc.constantFrom("?identity=github&identity=gitlab", "?identity[]=github", "?identity[a]=github", "?identity=%E0%A4%A", "?identity=github%00", "?identity=__proto__") },
    { weight: 2, arbitrary: hostileShortString.map((value) => `?identity=${pct(value)}`) },
    { weight: 1, arbitrary: anyQuery },
  );

  test("POST /api/user/vcs/sync refuses with a JSON error for any account and identity, and writes nothing", async () => {
    const tally = new Tally();
    await holds(
      fc.asyncProperty(authHeader(), identityQuery, strayBody, async (auth, search, body) =>
        tally.add(await checkApi({ method: "POST", path: `/api/user/vcs/sync${search}`, auth, body }, z.never())),
      ),
      50,
    );
    tally.expectOnlyRefusals();
  });

  test("DELETE /api/user/vcs refuses with a JSON error for any account and identity, and writes nothing", async () => {
    const tally = new Tally();
    await holds(
      fc.asyncProperty(authHeader(), identityQuery, strayBody, async (auth, search, body) =>
        tally.add(await checkApi({ method: "DELETE", path: `/api/user/vcs${search}`, auth, body }, z.never())),
      ),
      50,
    );
    tally.expectOnlyRefusals();
  });

  test("GET /api/user/gitlab-app/organizations answers {organizations: []} or a JSON error, always marked deprecated, and never writes", async () => {
    const tally = new Tally();
    await holds(
      fc.asyncProperty(authHeader(), anyQuery, async (auth, search) => {
        const req: Req = { method: "GET", path: `/api/user/gitlab-app/organizations${search}`, auth };
        const { answer, said } = await sendChecked(req);
        if (!headerLimit(answer)) {
          expect(answer.headers.get("deprecation"), said).toBe("true");
          expect(answer.headers.get("link") ?? "", said).toContain("</api/user/vcs/organizations>");
        }
        tally.add(await checkApi(req, seedNoVcsOrganizations));
      }),
      50,
    );
    tally.expectBoth();
  });
});

// ---------------------------------------------------------------------- pages

/** A form token the server issued (read off a page before the tests), which the form echoes; a made-up one is refused. */
let CSRF = "";

/** The CSRF pair: matching, mismatched, missing, made up, or a cookie header of junk. */
const csrf = fc.oneof(
  { weight: 6, arbitrary: fc.constant(null).map(() => ({ cookie: `onboard_csrf=${CSRF}`, field: CSRF })) },
  { weight: 1, arbitrary: fc.constant(null).map(() => ({ cookie: `onboard_csrf=${CSRF}`, field: `${CSRF}x` })) },
  { weight: 1, arbitrary: fc.constant(null).map(() => ({ cookie: undefined, field: CSRF })) },
  { weight: 1, arbitrary: fc.constant({ cookie: `onboard_csrf=${"ab".repeat(32)}.${"cd".repeat(32)}`, field: `${"ab".repeat(32)}.${"cd".repeat(32)}` }) },
  { weight: 1, arbitrary: fc.constantFrom("onboard_csrf=%E0%A4%A", "onboard_csrf=", "onboard_csrf", ";;;=;", `onboard_csrf=${"a".repeat(8_000)}`).map((cookie) => ({ cookie, field: cookie.slice(13) })) },
  { weight: 1, arbitrary: headerText.map((text) => ({ cookie: `onboard_csrf=${text}`, field: text })) },
);

/** A valid-looking form carrying the matching CSRF field. */
const exampleForm = (pairs: Array<[string, string]>): Body => ({
  contentType: "application/x-www-form-urlencoded",
  data: formOf([["csrf", CSRF], ...pairs]),
  label: "example form",
});

/** A form body: the fields given (hostile or valid), repeated fields, broken encodings, 1 MB, or not a form at all. */
function formBody(fields: fc.Arbitrary<Record<string, string>>, keys: string[]) {
  return (field: string): fc.Arbitrary<Body> => {
    const withCsrf = (pairs: Array<[string, string]>) => formOf([["csrf", field], ...pairs]);
    const mutated = fc
      .tuple(fields, fc.dictionary(fc.oneof(fc.constantFrom(...keys), extraKey), hostileShortString, { minKeys: 1, maxKeys: 3 }))
      .map(([base, changes]) => ({ ...base, ...changes }));
    return fc.oneof(
      // Valid forms are rarer than elsewhere: each accepted one costs a memory-hard password hash.
      { weight: 3, arbitrary: fields.map((f) => ({ contentType: "application/x-www-form-urlencoded", data: withCsrf(Object.entries(f)), label: "form" })) },
      { weight: 5, arbitrary: mutated.map((f) => ({ contentType: "application/x-www-form-urlencoded", data: withCsrf(Object.entries(f)), label: "mutated form" })) },
      {
        weight: 1,
        arbitrary: fields.map((f) => ({
          contentType: "application/x-www-form-urlencoded",
          data: `${withCsrf(Object.entries(f))}&${formOf(Object.entries(f))}`,
          label: "every field twice",
        })),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom("%zz=%E0%A4%A&username=%ED%A0%80", "=&&=&", "username&email&password", "a".repeat(MB), `username=${"x".repeat(MB)}`).map((data) => ({
          contentType: "application/x-www-form-urlencoded",
          data: `csrf=${pct(field)}&${data}`,
          label: "broken form",
        })),
      },
      { weight: 1, arbitrary: strangeBody },
    );
  };
}

describe("claim and invite pages under random and hostile requests", { timeout: 60_000 }, () => {
  test("GET /claim/:token shows a readable page for any token and never consumes it or writes", async () => {
    const tally = new Tally();
    await holds(
      fc.asyncProperty(segment([world.claimableToken, world.claimedToken]), fc.option(csrf.map((c) => c.cookie)), async (token, cookie) =>
        tally.add(await checkPage({ method: "GET", path: `/claim/${token}`, cookie: cookie ?? undefined }, /./)),
      ),
      80,
      [[pct(world.claimableToken), null], ["%E0%A4%A", null]],
    );
    tally.expectBoth();
  });

  test("POST /claim/:token claims once with valid details, or answers a readable page and writes nothing", async () => {
    const fields = fc.record(
      {
        username: fc.oneof({ weight: 4, arbitrary: username }, { weight: 1, arbitrary: fc.constantFrom("claimed-human", "Admin-bot") }),
        email: fc.oneof({ weight: 4, arbitrary: simpleEmail }, { weight: 1, arbitrary: fc.constantFrom("member@example.com", "HUMAN@example.com") }),
        password: strongPassword,
        keepAgentAccess: fc.constantFrom("yes", "", "no", "0"),
      },
      { requiredKeys: ["username", "email", "password"] },
    );
    const body = formBody(fields, ["username", "email", "password", "keepAgentAccess"]);
    const tally = new Tally();
    await holds(
      fc.asyncProperty(
        fc.oneof({ weight: 3, arbitrary: fc.constant("fresh") }, { weight: 1, arbitrary: segment([world.claimedToken]) }),
        csrf.chain((pair) => body(pair.field).map((b) => ({ cookie: pair.cookie, body: b }))),
        async (which, { cookie, body }) => {
          // A fresh agent for each claim attempt, created before the db is snapshot.
          const token = which === "fresh" ? pct((await agentSignup(http.handle.deps, { agentName: "Fresh bot" })).claimToken) : which;
          tally.add(await checkPage({ method: "POST", path: `/claim/${token}`, cookie, body }, /The account is yours/));
        },
      ),
      50,
      [
        ["fresh", { cookie: `onboard_csrf=${CSRF}`, body: exampleForm([["username", "example-human"], ["email", "example.claim@example.com"], ["password", STRONG_PASSWORD]]) }],
        ["fresh", { cookie: undefined, body: exampleForm([["username", "example-human2"], ["email", "example.claim2@example.com"], ["password", STRONG_PASSWORD]]) }],
      ],
    );
    tally.expectBoth();
  });

  test("GET /new-user shows a readable invite page for any invite parameter and never writes", async () => {
    const invite = fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(world.inviteSecret, world.expiredSecret, world.disabledSecret).map((s) => `?invite=${pct(s)}`) },
      { weight: 2, arbitrary: hostileShortString.map((s) => `?invite=${pct(s)}`) },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          "",
          "?invite",
          "?invite=",
          `?invite=${world.inviteSecret}&invite=${world.inviteSecret}`,
          `?invite[]=${world.inviteSecret}`,
          "?invite=%E0%A4%A",
          "?invite=%00",
          `?invite=${"a".repeat(12_000)}`,
          `?invite=${pct(`http://x/new-user?invite=${world.inviteSecret}`)}`,
        ),
      },
    );
    const tally = new Tally();
    await holds(
      fc.asyncProperty(invite, fc.option(csrf.map((c) => c.cookie)), async (search, cookie) =>
        tally.add(await checkPage({ method: "GET", path: `/new-user${search}`, cookie: cookie ?? undefined }, /./)),
      ),
      80,
      [[`?invite=${pct(world.inviteSecret)}`, null], ["?invite=%E0%A4%A", null]],
    );
    tally.expectBoth();
  });

  test("POST /new-user signs a human up with valid details, or answers a readable page and writes nothing", async () => {
    const fields = fc.record(
      {
        email: fc.oneof({ weight: 5, arbitrary: simpleEmail }, { weight: 1, arbitrary: fc.constantFrom("member@example.com", "HUMAN@example.com") }),
        name: fc.string({ minLength: 1, maxLength: 255 }).filter((s) => s.trim() !== ""),
        username: fc.oneof(username, fc.constant("")),
        password: strongPassword,
      },
      { requiredKeys: ["email", "name", "password"] },
    );
    const body = formBody(fields, ["email", "name", "username", "password"]);
    const invite = fc.oneof(
      { weight: 5, arbitrary: fc.constant(`?invite=${pct(world.inviteSecret)}`) },
      { weight: 1, arbitrary: fc.constantFrom(world.expiredSecret, world.disabledSecret).map((s) => `?invite=${pct(s)}`) },
      { weight: 1, arbitrary: hostileShortString.map((s) => `?invite=${pct(s)}`) },
      { weight: 1, arbitrary: fc.constantFrom("", "?invite=%E0%A4%A", `?invite=${world.inviteSecret}&invite=x`) },
    );
    const tally = new Tally();
    await holds(
      fc.asyncProperty(invite, csrf.chain((pair) => body(pair.field).map((b) => ({ cookie: pair.cookie, body: b }))), async (search, { cookie, body }) =>
        tally.add(await checkPage({ method: "POST", path: `/new-user${search}`, cookie, body }, /is a member of/)),
      ),
      50,
      [
        [`?invite=${pct(world.inviteSecret)}`, { cookie: `onboard_csrf=${CSRF}`, body: exampleForm([["email", "example.invite@example.com"], ["name", "Example Human"], ["password", STRONG_PASSWORD]]) }],
        [`?invite=${pct(world.expiredSecret)}`, { cookie: `onboard_csrf=${CSRF}`, body: exampleForm([["email", "example.invite2@example.com"], ["name", "Example Human"], ["password", STRONG_PASSWORD]]) }],
      ],
    );
    tally.expectBoth();
  });
});

describe("the email confirmation page under random and hostile requests", { timeout: 60_000 }, () => {
  test("GET /verify-email shows a readable page for any token and never consumes it or writes", async () => {
    const token = fc.oneof(
      { weight: 2, arbitrary: fc.constant(`?token=${pct(emails.links.live)}`) },
      { weight: 2, arbitrary: fc.constantFrom(...Object.values(emails.links)).map((t) => `?token=${pct(t)}`) },
      { weight: 2, arbitrary: hostileShortString.map((t) => `?token=${pct(t)}`) },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          "",
          "?token",
          "?token=",
          `?token=${emails.links.live}&token=${emails.links.live}`,
          `?token[]=${emails.links.live}`,
          `?token=${emails.links.live}%00`,
          "?token=%E0%A4%A",
          "?token=%00",
          `?token=${"a".repeat(12_000)}`,
          `?token=${pct(`http://x/verify-email?token=${emails.links.live}`)}`,
        ),
      },
    );
    const tally = new Tally();
    await holds(
      fc.asyncProperty(token, fc.option(csrf.map((c) => c.cookie)), async (search, cookie) =>
        tally.add(await checkPage({ method: "GET", path: `/verify-email${search}`, cookie: cookie ?? undefined }, /./)),
      ),
      60,
      [[`?token=${pct(emails.links.live)}`, null], ["?token=%E0%A4%A", null]],
    );
    tally.expectBoth();
  });

  test("POST /verify-email confirms a usable link once, or answers a readable page and writes nothing", async () => {
    const body = formBody(fc.constant({} as Record<string, string>), ["token", "email"]);
    const tally = new Tally();
    await holds(
      fc.asyncProperty(
        fc.oneof(
          { weight: 3, arbitrary: fc.constant("fresh") },
          { weight: 2, arbitrary: fc.constantFrom(...Object.values(emails.links)).map((t) => `?token=${pct(t)}`) },
          { weight: 1, arbitrary: hostileShortString.map((t) => `?token=${pct(t)}`) },
          { weight: 1, arbitrary: fc.constantFrom("", "?token=%E0%A4%A", `?token=${emails.links.live}&token=x`) },
        ),
        csrf.chain((pair) => body(pair.field).map((b) => ({ cookie: pair.cookie, body: b }))),
        async (which, { cookie, body }) => {
          // A new link for each "fresh" attempt, made before the db is snapshot.
          const search = which === "fresh" ? `?token=${pct(await freshLink())}` : which;
          tally.add(await checkPage({ method: "POST", path: `/verify-email${search}`, cookie, body }, /Email address confirmed/));
        },
      ),
      60,
      [
        ["fresh", { cookie: `onboard_csrf=${CSRF}`, body: exampleForm([]) }],
        ["fresh", { cookie: undefined, body: exampleForm([]) }],
        [`?token=${pct(emails.links.taken)}`, { cookie: `onboard_csrf=${CSRF}`, body: exampleForm([]) }],
      ],
    );
    tally.expectBoth();
  });
});

describe("the server after hostile requests", { timeout: 60_000 }, () => {
  test("still answers every route normally", async () => {
    const user = await send({ method: "GET", path: "/api/user", auth: `Bearer ${world.tokens.admin}` });
    expect(user.status).toBe(200);
    expect(seedUser.safeParse(user.json).success).toBe(true);
    const validate = await send({ method: "GET", path: `/invite/${world.inviteSecret}/validate` });
    expect(validate.status).toBe(200);
    const claim = await send({ method: "GET", path: `/claim/${world.claimableToken}` });
    expect(claim.status).toBe(200);
    const invites = await send({ method: "GET", path: "/api/user/pending-invites", auth: `Bearer ${world.tokens.admin}` });
    expect(invites.status).toBe(200);
    expect(seedPendingInvites.safeParse(invites.json).success).toBe(true);
    const verify = await send({ method: "GET", path: `/verify-email?token=${await freshLink()}` });
    expect(verify.status).toBe(200);
    expect(http.logs.filter((line) => /"level":50/.test(line)).map((line) => shorten(line).slice(0, 500))).toEqual([]);
  });
});
