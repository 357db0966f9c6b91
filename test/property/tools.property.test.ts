/**
 * Property-based tests for every MCP tool: random and hostile arguments
 * (wrong types, missing and extra fields, 1 MB strings, NUL and odd Unicode,
 * SQL-looking text, huge and negative numbers, nested values) from random
 * sessions (anonymous, admin, member, claimed-and-revoked, garbage tokens).
 *
 * Whatever comes in, each call ends within a bound in either a result whose
 * structuredContent matches the seed shape, or an `isError` result with a
 * readable message — never an internal error, a stack trace or a hang — and a
 * failed call leaves every row of every table as it was and sends no mail
 * (accept_invite may keep its refusal as the invite's acceptError, and only
 * that: see acceptSnapshot). A protocol-level error is accepted only where
 * the SDK rejects `arguments` that are not an object, before any tool code
 * runs (DESIGN.md, "Protocol errors").
 */
import { ProtocolError, SdkHttpError } from "@modelcontextprotocol/client";
import { eq } from "drizzle-orm";
import fc from "fast-check";
import { describe } from "vitest";
import { z } from "zod";
import { agentSignup } from "../../src/services/accounts.js";
import { claimAccount } from "../../src/services/claims.js";
import { verifyEmail } from "../../src/services/emails.js";
import { updateInviteLink } from "../../src/services/invites.js";
import { inviteMember } from "../../src/services/org-invites.js";
import { call, DAY, expect, ok, signUp, type TestEnv, test, textOf, type ToolResult } from "../fixture.js";
import {
  seedAgentSignupResponse,
  seedAppStackSummary,
  seedClaimStatus,
  seedDefaultOrganization,
  seedInviteToken,
  seedOrganizationSummary,
  seedPendingInvites,
  seedPendingOrganizationInvite,
  seedRedeemedAgent,
  seedStacksPage,
  seedUnleashUser,
  seedUser,
} from "../seed-shapes.js";
import { acceptSnapshot, BOUND_MS, dbState, holds, isoDate, MB, mutationsOf, name, nastyStrings, STACK_TRACE, STRONG_PASSWORD, shorten, simpleEmail, strongPassword } from "./harness.js";

/** Seed 001, GET /api/user/pending-emails: what change_email answers. */
const seedPendingEmail = z.strictObject({ email: z.string() });

/** What accept_invite answers: the organization joined, as seed 001's OrganizationSummaryWithRole. */
const seedAcceptedInvite = z.strictObject({ organization: seedOrganizationSummary });

// ---------------------------------------------------------------- arbitraries

/** The shared hostile strings, and more that only the tools get. */
const toolNastyStrings = [
  ...nastyStrings,
  "Z\u0351\u0352\u0353\u0354\u0355\u0356\u0357",
  "-Infinity",
  "0x10",
  "undefined",
  "%s%s%n",
  "\u00a0name\u3000",
  "ǅǈ",
];

const oddChars = [
  "\u0000",
  "\u0007",
  "\u001b",
  "\u007f",
  "\u0085",
  "\u00a0",
  "\u200b",
  "\u200e",
  "\u200f",
  "\u202e",
  "\u2028",
  "\u2029",
  "\ufeff",
  "\ufffd",
  "\uffff",
  "\u0301",
  "\u0489",
  "\ud800",
  "\udbff",
  "\udc00",
  "\udfff",
  "😀",
  "🏳️‍🌈",
  "ﷺ",
  "ß",
  "İ",
  "'",
  '"',
  ";",
  "-",
  "%",
  "/",
  "\\",
  "<",
  ">",
  "&",
  "a",
  "Z",
  "9",
];

/** 1 MB strings, built once: plain, NUL, emoji, SQL-looking and combining marks. */
const hugeStrings = [
  "a".repeat(MB),
  "\u0000".repeat(MB),
  "😀".repeat(MB / 2),
  "'; DROP TABLE users; --".repeat(Math.ceil(MB / 23)),
  `e${"\u0301".repeat(MB)}`,
];

const oddUnicode = fc.string({ unit: fc.constantFrom(...oddChars), maxLength: 40 });

const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...toolNastyStrings) },
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }) },
  { weight: 3, arbitrary: oddUnicode },
  { weight: 1, arbitrary: fc.string({ minLength: 300, maxLength: 3_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(...hugeStrings) },
);

const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, 0, -1, 1.5, 2 ** 31, 2 ** 53 + 2, -(2 ** 63), 1e308, Number.MIN_VALUE),
);

const nonObject: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  hostileNumber,
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }),
);

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: hostileString },
  { weight: 2, arbitrary: hostileNumber },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constantFrom(null, undefined) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.object({ maxDepth: 2, maxKeys: 4 }) },
  { weight: 1, arbitrary: fc.array(hostileString, { maxLength: 4 }) },
);

const extraKey = fc.oneof(fc.constantFrom("__proto__", "constructor", "toString", "token", "id", "isAgent", "role", "admin"), hostileString.filter((k) => k.length < 200));

/**
 * Arguments for a tool: fully valid ones (so that successes happen too), valid
 * ones with fields replaced, removed or added, wholly random objects, and
 * values that are not objects at all.
 */
const argumentsFor = (valid: fc.Arbitrary<Record<string, unknown>>, keys: string[]): fc.Arbitrary<unknown> =>
  mutationsOf(valid, keys, { extraKey, hostileValue, nonObject });

/** Date-times as text, including impossible calendar dates (Feb 31), odd offsets and out-of-range parts. */
const craftedDateTime = fc
  .tuple(
    fc.integer({ min: 0, max: 9999 }),
    fc.integer({ min: 0, max: 13 }),
    fc.integer({ min: 0, max: 32 }),
    fc.integer({ min: 0, max: 25 }),
    fc.integer({ min: 0, max: 61 }),
    fc.constantFrom("Z", "+00:00", "-12:00", "+14:00", "+23:59", "-23:59", "+99:99", ""),
  )
  .map(([y, mo, d, h, mi, off]) => {
    const p = (n: number, w = 2) => String(n).padStart(w, "0");
    return `${p(y, 4)}-${p(mo)}-${p(d)}T${p(h)}:${p(mi)}:${p(mi)}${off}`;
  });

// ------------------------------------------------------------------- harness

/** The row id of the user whose uid (the public id) is `uid`. */
async function userIdOf(env: TestEnv, uid: string): Promise<number> {
  const { users } = env.deps.db.tables;
  const [user] = await env.deps.db.select({ id: users.id }).from(users).where(eq(users.uid, uid));
  return user!.id;
}

/** Rejects with a clear message when `promise` takes longer than BOUND_MS. */
async function bounded<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${BOUND_MS} ms`)), BOUND_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A short, printable picture of a value that may hold 1 MB strings. */
function brief(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value, (_key, v) => (v === undefined ? "<undefined>" : typeof v === "number" && !Number.isFinite(v) ? String(v) : v)) ?? String(value);
  } catch {
    text = String(value);
  }
  return shorten(text).slice(0, 2_000);
}

const isPlainObject = (value: unknown) => typeof value === "object" && value !== null && !Array.isArray(value);

type Outcome = "ok" | "refused" | "rejected by SDK";

/**
 * Calls a tool on a fresh session and checks the answer: bounded, no stack
 * trace, no internal error; a refusal leaves the db untouched; a success
 * matches `shape`.
 */
async function callChecked(
  env: TestEnv,
  token: string | undefined,
  tool: string,
  args: unknown,
  shape: z.ZodType,
  options: { mayKeepAcceptError?: boolean } = {},
): Promise<Outcome> {
  const client = await env.connect(token);
  const snapshot = options.mayKeepAcceptError ? await acceptSnapshot(env.store) : undefined;
  const before = snapshot?.full ?? (await dbState(env.store));
  const mailBefore = env.mail.length;
  const what = `${tool}(${brief(args)})`;
  let result: ToolResult;
  try {
    result = (await bounded(client.callTool({ name: tool, arguments: args as Record<string, unknown> }), what)) as ToolResult;
  } catch (error) {
    if (error instanceof SdkHttpError) {
      // A body past the transport's limit is refused before it is read, as any HTTP server would.
      expect(error.status, `${what} threw ${String(error)}`).toBe(413);
      expect(await dbState(env.store), `${what} changed the db`).toEqual(before);
      return "rejected by SDK";
    }
    // Only the SDK's own refusal of non-object arguments may come back as a protocol error.
    expect(error, `${what} threw ${String(error)}`).toBeInstanceOf(ProtocolError);
    expect(isPlainObject(args), `${what} got a protocol error: ${String(error)}`).toBe(false);
    // The SDK parses the request before any tool code runs and reports the bad `arguments` itself.
    expect([-32602, -32603]).toContain((error as ProtocolError).code);
    expect(String((error as Error).message)).toMatch(/arguments/);
    expect(String((error as Error).message)).not.toMatch(STACK_TRACE);
    expect(await dbState(env.store), `${what} changed the db`).toEqual(before);
    expect(env.mail.length, `${what} sent mail`).toBe(mailBefore);
    return "rejected by SDK";
  }
  const text = textOf(result);
  expect(text, `${what} leaked a stack trace`).not.toMatch(STACK_TRACE);
  if (result.isError) {
    expect(text.trim().length, `${what} failed without a message`).toBeGreaterThan(0);
    expect(text, `${what} hit an internal error`).not.toMatch(/Internal error|Output validation error|MCP error -32603/);
    expect(result.structuredContent, `${what} failed but returned data`).toBeUndefined();
    // accept_invite keeps the refusal of an expired or canceled invite, or of a member, as that invite's acceptError: nothing else.
    if (snapshot) await snapshot.expectRefusalKept(text, JSON.stringify(args) ?? "", what);
    else expect(await dbState(env.store), `${what} failed (${text.slice(0, 200)}) but changed the db`).toEqual(before);
    // Mail goes out only after a change is committed.
    expect(env.mail.slice(mailBefore).map((m) => m.subject), `${what} failed but sent mail`).toEqual([]);
    return "refused";
  }
  const parsed = shape.safeParse(result.structuredContent);
  expect(parsed.success, `${what} answered ${brief(result.structuredContent)}: ${parsed.error?.message}`).toBe(true);
  expect(text.trim().length).toBeGreaterThan(0);
  return "ok";
}

/** Counts outcomes so that a property can insist that both successes and refusals were exercised. */
class Tally {
  readonly seen: Record<Outcome, number> = { ok: 0, refused: 0, "rejected by SDK": 0 };
  add(outcome: Outcome) {
    this.seen[outcome]++;
  }
  expectBoth() {
    expect(this.seen.ok, `no call succeeded: ${JSON.stringify(this.seen)}`).toBeGreaterThan(0);
    expect(this.seen.refused, `no call was refused: ${JSON.stringify(this.seen)}`).toBeGreaterThan(0);
  }
}

// --------------------------------------------------------------------- world

interface World {
  org: string;
  memberOrg: string;
  tokens: { admin: string; member: string; revoked: string };
  garbageTokens: string[];
  inviteSecret: string;
  inviteUrl: string;
  expiredSecret: string;
  disabledSecret: string;
  continuationToken: string;
}

/**
 * An admin agent with stacks and invite links (usable, expired, disabled), an
 * agent that joined as a member, and an agent whose human claimed it and ended
 * its access.
 */
async function buildWorld(env: TestEnv): Promise<World> {
  const admin = await signUp(env, { agentName: "Admin bot", agentModel: "test-model" });
  const org = admin.signup.userInfo.organizations[0].name as string;
  for (const [projectName, stackName] of [["web", "dev"], ["web", "prod"], ["api", "dev"]] as const) {
    await ok(admin.client, "create_stack", { projectName, stackName, tags: { env: stackName } });
  }
  const future = new Date(env.clock.now().getTime() + 7 * DAY).toISOString();
  const invite = await ok(admin.client, "create_invite_link", { name: "Team", expiresAt: future });
  const expired = await ok(admin.client, "create_invite_link", { name: "Old", expiresAt: "2000-01-01T00:00:00Z" });
  const disabled = await ok(admin.client, "create_invite_link", { name: "Off", expiresAt: future });
  const adminId = await userIdOf(env, admin.signup.userInfo.id);
  await updateInviteLink(env.deps, adminId, disabled.secret, { enabled: false });

  const member = await ok(await env.connect(), "redeem_invite", { token: invite.secret, email: "member@example.com", name: "Member bot" });

  const revoked = await signUp(env, { agentName: "Claimed bot" });
  await claimAccount(env.deps, {
    claimToken: revoked.claimToken,
    username: "claimed-human",
    email: "human@example.com",
    password: STRONG_PASSWORD,
    keepAgentAccess: false,
  });

  const page = await ok(admin.client, "list_stacks", { maxResults: 1 });
  const [header, payload] = admin.token.split(".");
  return {
    org,
    memberOrg: org,
    tokens: { admin: admin.token, member: member.accessToken, revoked: revoked.token },
    garbageTokens: [
      `${admin.token}x`,
      admin.token.slice(0, -2),
      `Bearer ${admin.token}`,
      `${header}.${payload}.`,
      `eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.${payload}.`,
      admin.claimToken,
      invite.secret,
    ],
    inviteSecret: invite.secret,
    inviteUrl: invite.url,
    expiredSecret: expired.secret,
    disabledSecret: disabled.secret,
    continuationToken: page.continuationToken,
  };
}

const ADMIN_EMAIL = "admin@example.com";
/** Stands for the id of an invite made just before the call, so that accepts can keep succeeding. */
const FRESH = "<fresh-invite>";

interface InviteWorld {
  /** An organization the admin joined as a member by accepting an emailed invite. */
  joinedOrg: string;
  /** An organization the admin is not in. */
  strangerOrg: string;
  /** Invites addressed to the admin's verified email, in every state, and one addressed to someone else. */
  ids: { pending: string; accepted: string; expired: string; canceled: string; ofMember: string; foreign: string };
  /** A new organization's invite to the admin, acceptable once. */
  freshInvite(): Promise<string>;
}

/**
 * On top of `world`: the admin's email verified through change_email and its
 * link, an organization it joined by an emailed invite, and invites to it that
 * are pending, accepted, expired, canceled, from an organization it already
 * belongs to, and one to another address.
 */
async function buildInviteWorld(env: TestEnv, world: World): Promise<InviteWorld> {
  const db = env.deps.db;
  const { memberships, organizations, orgInvites, users } = db.tables;
  const admin = await env.connect(world.tokens.admin);
  await ok(admin, "change_email", { email: ADMIN_EMAIL });
  const link = env.mail.filter((m) => m.to === ADMIN_EMAIL).at(-1)!.text.match(/\/verify-email\?token=([A-Za-z0-9_-]+)/)![1]!;
  await verifyEmail(env.deps, link);

  const host = async (agentName: string) => {
    const signup = await agentSignup(env.deps, { agentName });
    return { id: await userIdOf(env, signup.userInfo.id), org: signup.userInfo.organizations[0]!.name };
  };
  const invite = async (agentName: string, email = ADMIN_EMAIL) => {
    const from = await host(agentName);
    return { org: from.org, id: (await inviteMember(env.deps, from.id, { email })).invite.id };
  };
  const now = env.clock.now().getTime();
  const joined = await invite("Joined host");
  await ok(admin, "accept_invite", { id: joined.id });
  const pending = await invite("Pending host");
  const expired = await invite("Expired host");
  await db.transact((tx) => tx.update(orgInvites).set({ expiresAt: new Date(now - DAY) }).where(eq(orgInvites.uid, expired.id)));
  const canceled = await invite("Canceled host");
  await db.transact((tx) => tx.update(orgInvites).set({ canceledAt: new Date(now) }).where(eq(orgInvites.uid, canceled.id)));
  const ofMember = await invite("Member host");
  const [adminRow] = await db.select({ id: users.id }).from(users).where(eq(users.email, ADMIN_EMAIL));
  await db.transact(async (tx) => {
    const [org] = await tx.select({ id: organizations.id }).from(organizations).where(eq(organizations.name, ofMember.org));
    await tx.insert(memberships).values({ userId: adminRow!.id, orgId: org!.id, role: "member", createdAt: new Date(now) });
  });
  const foreign = await invite("Foreign host", "someone.else@example.com");
  return {
    joinedOrg: joined.org,
    strangerOrg: foreign.org,
    ids: { pending: pending.id, accepted: joined.id, expired: expired.id, canceled: canceled.id, ofMember: ofMember.id, foreign: foreign.id },
    freshInvite: async () => (await invite("Fresh host")).id,
  };
}

/** Who calls: anonymous, a real role, a damaged or foreign token, or a hostile string. */
function sessionToken(world: World): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 6, arbitrary: fc.constant(world.tokens.admin) },
    { weight: 2, arbitrary: fc.constant(world.tokens.member) },
    { weight: 1, arbitrary: fc.constant(world.tokens.revoked) },
    { weight: 1, arbitrary: fc.constantFrom(...world.garbageTokens) },
    { weight: 1, arbitrary: hostileString },
  );
}

// --------------------------------------------------------------------- tests

describe("every MCP tool under random and hostile arguments", { timeout: 60_000 }, () => {
  test("agent_signup either signs up an agent with a seed-shaped answer or refuses cleanly without writing", async ({ env }) => {
    const valid = fc.record(
      { agentName: fc.string({ minLength: 1, maxLength: 100 }), agentModel: fc.string({ minLength: 1, maxLength: 100 }) },
      { requiredKeys: [] },
    );
    const world = await buildWorld(env);
    const tally = new Tally();
    await holds(
      fc.asyncProperty(
        fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: sessionToken(world) }),
        argumentsFor(valid, ["agentName", "agentModel"]),
        async (token, args) => tally.add(await callChecked(env, token, "agent_signup", args, seedAgentSignupResponse)),
      ),
      120,
    );
    tally.expectBoth();
  });

  test("get_current_user ignores any arguments and answers a seed-shaped User or a clean refusal", async ({ env }) => {
    const world = await buildWorld(env);
    const tally = new Tally();
    await holds(
      fc.asyncProperty(sessionToken(world), argumentsFor(fc.constant({}), []), async (token, args) =>
        tally.add(await callChecked(env, token, "get_current_user", args, seedUser)),
      ),
      100,
    );
    tally.expectBoth();
  });

  test("get_claim_status answers the claim state or a clean refusal for any session and arguments", async ({ env }) => {
    const world = await buildWorld(env);
    const tally = new Tally();
    await holds(
      fc.asyncProperty(sessionToken(world), argumentsFor(fc.constant({}), []), async (token, args) =>
        tally.add(await callChecked(env, token, "get_claim_status", args, seedClaimStatus)),
      ),
      100,
    );
    tally.expectBoth();
  });

  test("create_stack creates a seed-shaped stack or refuses without writing a stack or a tag", async ({ env }) => {
    const world = await buildWorld(env);
    const valid = fc.record(
      {
        organization: fc.oneof(fc.constant(world.org), fc.constant(world.org.toUpperCase()), name(30)),
        projectName: fc.oneof(fc.constantFrom("web", "api", "WEB"), name(20)),
        stackName: fc.oneof(fc.constantFrom("dev", "prod", "DEV"), name(20)),
        tags: fc.dictionary(fc.stringMatching(/^[A-Za-z0-9_.:-]{1,40}$/), fc.oneof(fc.string({ maxLength: 256 }), oddUnicode), { maxKeys: 8 }),
      },
      { requiredKeys: ["projectName", "stackName"] },
    );
    const tally = new Tally();
    await holds(
      fc.asyncProperty(sessionToken(world), argumentsFor(valid, ["organization", "projectName", "stackName", "tags"]), async (token, args) =>
        tally.add(await callChecked(env, token, "create_stack", args, seedAppStackSummary)),
      ),
      150,
      [[world.tokens.admin, { projectName: "example", stackName: "dev" }], [world.tokens.admin, { projectName: "example", stackName: "dev" }]],
    );
    tally.expectBoth();
  });

  test("list_stacks answers a seed-shaped page or a clean refusal for any filters, page sizes and continuation tokens", async ({ env }) => {
    const world = await buildWorld(env);
    const valid = fc.record(
      {
        organization: fc.oneof(fc.constant(world.org), name(30)),
        project: fc.constantFrom("web", "api", "nope"),
        tagName: fc.constantFrom("env", "other"),
        tagValue: fc.constantFrom("dev", "prod"),
        maxResults: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 10_000 })),
        continuationToken: fc.oneof(
          fc.constant(world.continuationToken),
          fc.constant(`${world.continuationToken}A`),
          fc.constant(world.continuationToken.replace(/^./, "x")),
          fc.constant(`${world.continuationToken}.extra`),
        ),
      },
      { requiredKeys: [] },
    );
    const tally = new Tally();
    await holds(
      fc.asyncProperty(
        sessionToken(world),
        argumentsFor(valid, ["organization", "project", "tagName", "tagValue", "maxResults", "continuationToken"]),
        async (token, args) => tally.add(await callChecked(env, token, "list_stacks", args, seedStacksPage)),
      ),
      150,
      [[world.tokens.admin, {}], [world.tokens.admin, { continuationToken: "MQ.forged" }]],
    );
    tally.expectBoth();
  });

  test("create_invite_link answers a seed-shaped invite token or refuses without writing a link", async ({ env }) => {
    const world = await buildWorld(env);
    const now = env.clock.now().getTime();
    const valid = fc.record(
      {
        name: fc.oneof(fc.string({ minLength: 1, maxLength: 255 }), oddUnicode),
        expiresAt: fc.oneof(
          isoDate(now - 400 * DAY, now + 400 * DAY),
          isoDate(-62_000_000_000_000, 253_402_300_799_999),
          craftedDateTime,
        ),
        organization: fc.oneof({ weight: 3, arbitrary: fc.constant(world.org) }, { weight: 1, arbitrary: name(30) }),
      },
      { requiredKeys: ["name", "expiresAt"] },
    );
    const tally = new Tally();
    await holds(
      fc.asyncProperty(sessionToken(world), argumentsFor(valid, ["name", "expiresAt", "organization"]), async (token, args) =>
        tally.add(await callChecked(env, token, "create_invite_link", args, seedInviteToken)),
      ),
      150,
      [[world.tokens.admin, { name: "Example", expiresAt: new Date(now + DAY).toISOString() }], [world.tokens.member, { name: "Example", expiresAt: new Date(now + DAY).toISOString() }]],
    );
    tally.expectBoth();
  });

  test("redeem_invite creates a Unleash user or refuses without writing a user, membership or token", async ({ env }) => {
    const world = await buildWorld(env);
    const token = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(world.inviteSecret, world.inviteUrl, ` ${world.inviteSecret}\n`) },
      { weight: 1, arbitrary: fc.constantFrom(world.expiredSecret, world.disabledSecret) },
      { weight: 1, arbitrary: hostileString.map((s) => `http://onboard.test/new-user?invite=${s}`) },
      { weight: 1, arbitrary: hostileString.map((s) => `https://x/invite/${s}/signup`) },
      { weight: 1, arbitrary: fc.constantFrom("https://%zz", "http://[::1", "http://x/invite/%E0%A4%A/signup", "http://x/new-user?invite=") },
    );
    const valid = fc.record(
      {
        token,
        email: fc.oneof({ weight: 5, arbitrary: simpleEmail }, { weight: 1, arbitrary: fc.constantFrom("member@example.com", "MEMBER@example.com", "human@example.com") }),
        name: fc.oneof(fc.string({ minLength: 1, maxLength: 255 }).filter((s) => s.trim() !== ""), oddUnicode.filter((s) => s.trim() !== "")),
        username: fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_.-]{2,38}$/), fc.constantFrom("claimed-human", "CLAIMED-HUMAN")),
        // Mostly agents (no password): each human signup costs a memory-hard hash.
        password: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: strongPassword }),
      },
      { requiredKeys: ["token", "email", "name", "password"] },
    );
    const tally = new Tally();
    await holds(
      fc.asyncProperty(
        fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: sessionToken(world) }),
        argumentsFor(valid, ["token", "email", "name", "username", "password"]),
        async (session, args) => {
          const withPassword = isPlainObject(args) && (args as { password?: unknown }).password !== undefined;
          tally.add(await callChecked(env, session, "redeem_invite", args, withPassword ? seedUnleashUser : seedRedeemedAgent));
        },
      ),
      120,
      [
        [undefined, { token: world.inviteUrl, email: "example.redeem@example.com", name: "Example bot" }],
        [undefined, { token: world.expiredSecret, email: "example.redeem2@example.com", name: "Example bot" }],
      ],
    );
    tally.expectBoth();
  });
});

describe("the organization and email tools under random and hostile arguments", { timeout: 60_000 }, () => {
  test("get_default_organization answers a seed-shaped {GitHubLogin, Messages} or a clean refusal for any session and arguments", async ({ env }) => {
    const world = await buildWorld(env);
    const tally = new Tally();
    await holds(
      fc.asyncProperty(sessionToken(world), argumentsFor(fc.constant({}), []), async (token, args) =>
        tally.add(await callChecked(env, token, "get_default_organization", args, seedDefaultOrganization)),
      ),
      80,
    );
    tally.expectBoth();
  });

  test("set_default_organization chooses one of the caller's organizations or refuses without writing", async ({ env }) => {
    const world = await buildWorld(env);
    const invites = await buildInviteWorld(env, world);
    const valid = fc.record(
      {
        organization: fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom(world.org, world.org.toUpperCase(), invites.joinedOrg) },
          { weight: 1, arbitrary: fc.constant(invites.strangerOrg) },
          { weight: 1, arbitrary: name(30) },
          { weight: 1, arbitrary: fc.constantFrom(`${world.org} `, `${world.org}\u0000`, `${world.org}/x`, "a".repeat(101)) },
        ),
      },
      { requiredKeys: ["organization"] },
    );
    const tally = new Tally();
    await holds(
      fc.asyncProperty(sessionToken(world), argumentsFor(valid, ["organization"]), async (token, args) =>
        tally.add(await callChecked(env, token, "set_default_organization", args, seedDefaultOrganization)),
      ),
      100,
      [[world.tokens.admin, { organization: invites.joinedOrg }], [world.tokens.admin, { organization: invites.strangerOrg }]],
    );
    tally.expectBoth();
  });

  test("change_email makes an address pending with a seed-shaped {email}, or refuses without writing", async ({ env }) => {
    const world = await buildWorld(env);
    await buildInviteWorld(env, world);
    const valid = fc.record(
      {
        email: fc.oneof(
          { weight: 4, arbitrary: simpleEmail },
          // The admin's verified address, the member's and the claimed human's, in other cases and with blanks.
          { weight: 2, arbitrary: fc.constantFrom(ADMIN_EMAIL, "ADMIN@Example.com", "member@example.com", "human@example.com", " new.one@example.com\n") },
          { weight: 1, arbitrary: fc.constantFrom("a@b", "@example.com", "x@", "a b@example.com", `${"a".repeat(250)}@example.com`, "a@example.com\u0000", "ü@exämple.com") },
        ),
      },
      { requiredKeys: ["email"] },
    );
    const tally = new Tally();
    await holds(
      fc.asyncProperty(sessionToken(world), argumentsFor(valid, ["email"]), async (token, args) =>
        tally.add(await callChecked(env, token, "change_email", args, seedPendingEmail)),
      ),
      100,
      [[world.tokens.admin, { email: "example.change@example.com" }], [world.tokens.admin, { email: ADMIN_EMAIL }]],
    );
    tally.expectBoth();
  });

  test("invite_member answers a seed-shaped PendingOrganizationInvite or refuses without writing an invite", async ({ env }) => {
    const world = await buildWorld(env);
    const invites = await buildInviteWorld(env, world);
    const valid = fc.record(
      {
        email: fc.oneof(
          { weight: 4, arbitrary: simpleEmail },
          { weight: 1, arbitrary: fc.constantFrom(ADMIN_EMAIL, "member@example.com", "MEMBER@example.com", "someone.else@example.com") },
        ),
        role: fc.oneof({ weight: 4, arbitrary: fc.constantFrom("member", "admin") }, { weight: 1, arbitrary: fc.constantFrom("Admin", "owner", "", "none") }),
        organization: fc.oneof(
          { weight: 3, arbitrary: fc.constant(world.org) },
          { weight: 1, arbitrary: fc.constantFrom(invites.joinedOrg, invites.strangerOrg) },
          { weight: 1, arbitrary: name(30) },
        ),
      },
      { requiredKeys: ["email"] },
    );
    const tally = new Tally();
    await holds(
      fc.asyncProperty(sessionToken(world), argumentsFor(valid, ["email", "role", "organization"]), async (token, args) =>
        tally.add(await callChecked(env, token, "invite_member", args, seedPendingOrganizationInvite)),
      ),
      120,
      [[world.tokens.admin, { email: "example.invite@example.com" }], [world.tokens.admin, { email: "member@example.com" }]],
    );
    tally.expectBoth();
  });

  test("list_pending_invites answers a seed-shaped {invites} or a clean refusal for any session and arguments", async ({ env }) => {
    const world = await buildWorld(env);
    await buildInviteWorld(env, world);
    const tally = new Tally();
    await holds(
      fc.asyncProperty(sessionToken(world), argumentsFor(fc.constant({}), []), async (token, args) =>
        tally.add(await callChecked(env, token, "list_pending_invites", args, seedPendingInvites)),
      ),
      80,
    );
    tally.expectBoth();
  });

  test("accept_invite joins with a seed-shaped {organization}, or refuses writing at most the acceptError it reports", async ({ env }) => {
    const world = await buildWorld(env);
    const invites = await buildInviteWorld(env, world);
    const id = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(FRESH, ` ${FRESH}\n`, `http://onboard.test/api/user/pending-invites/${FRESH}/accept`, `https://elsewhere.test/pending-invites/${FRESH}/accept?x=1`) },
      { weight: 3, arbitrary: fc.constantFrom(...Object.values(invites.ids)) },
      { weight: 1, arbitrary: fc.constantFrom(...Object.values(invites.ids)).map((uid) => `http://onboard.test/api/user/pending-invites/${uid}/accept`) },
      { weight: 1, arbitrary: fc.constantFrom(`${FRESH}x`, FRESH.toUpperCase(), "/pending-invites/%E0%A4%A/accept", "/pending-invites//accept", "a".repeat(2049)) },
      { weight: 1, arbitrary: hostileString },
    );
    const tally = new Tally();
    await holds(
      fc.asyncProperty(
        fc.oneof({ weight: 5, arbitrary: fc.constant(world.tokens.admin) }, { weight: 2, arbitrary: sessionToken(world) }),
        argumentsFor(fc.record({ id }), ["id"]),
        async (token, args) => {
          // A new invite for each accept that names one, made before the db is snapshot.
          const named = isPlainObject(args) ? (args as { id?: unknown }).id : undefined;
          if (typeof named === "string" && named.includes(FRESH)) args = { ...(args as object), id: named.replace(FRESH, await invites.freshInvite()) };
          tally.add(await callChecked(env, token, "accept_invite", args, seedAcceptedInvite, { mayKeepAcceptError: true }));
        },
      ),
      120,
      [
        [world.tokens.admin, { id: FRESH }],
        [world.tokens.admin, { id: invites.ids.expired }],
        [world.tokens.admin, { id: invites.ids.canceled }],
        [world.tokens.admin, { id: invites.ids.ofMember }],
        [world.tokens.member, { id: invites.ids.pending }],
      ],
    );
    tally.expectBoth();
  });
});

describe("sessions after hostile calls", { timeout: 60_000 }, () => {
  test("a session keeps working normally after any sequence of hostile calls", async ({ env }) => {
    const world = await buildWorld(env);
    const tools = [
      "get_current_user",
      "get_claim_status",
      "create_stack",
      "list_stacks",
      "create_invite_link",
      "get_default_organization",
      "set_default_organization",
      "change_email",
      "invite_member",
      "list_pending_invites",
      "accept_invite",
    ] as const;
    await holds(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...tools), fc.dictionary(extraKey, hostileValue, { maxKeys: 4 })), { minLength: 1, maxLength: 5 }), async (calls) => {
        const client = await env.connect(world.tokens.admin);
        for (const [tool, args] of calls) {
          const result = await bounded(call(client, tool, args), tool).catch((error: unknown) => {
            // A body past the transport's limit is refused before it is read; the client goes on.
            if (error instanceof SdkHttpError && error.status === 413) return undefined;
            throw error;
          });
          if (result) expect(textOf(result)).not.toMatch(STACK_TRACE);
        }
        const me = await bounded(ok(client, "get_current_user"), "get_current_user");
        expect(seedUser.safeParse(me).success).toBe(true);
      }),
      40,
    );
  });
});
