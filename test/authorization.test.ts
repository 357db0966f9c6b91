/**
 * Authorization matrix (issue 5): who may do what, over every surface,
 * generated from the one table below. Each cell is its own test.
 *
 * One HTTP server holds every identity. Organization O belongs to the admin;
 * it has a stack and an invite link L. "Hidden" cells (404 / empty) are run
 * twice, against O and against a made-up organization or secret, and the two
 * answers must be identical once the name is blanked out: a stranger learns
 * nothing about whether O's stacks or invite links exist.
 *
 * Surfaces:
 * - MCP/HTTP  — an SDK client over Streamable HTTP at /mcp, token in the Authorization header.
 * - MCP/stdio — the session stdio builds (createServer with the token, as from ONBOARD_TOKEN),
 *               over an in-memory transport: here a bad token reaches the tools.
 * - REST      — the seeds' paths.
 */
import { randomBytes } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { decodeJwt, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createServer } from "../src/server.js";
import { getCurrentUser } from "../src/services/accounts.js";
import { claimAccount } from "../src/services/claims.js";
import { createInviteLink, getInviteLink } from "../src/services/invites.js";
import { createStack } from "../src/services/stacks.js";
import { signingKey } from "../src/services/tokens.js";
import { captureLogs, DAY, HOUR } from "./fixture.js";
import { startTestHttp, type TestHttp } from "./http-fixture.js";

// ---------------------------------------------------------------------------
// The table. Outcomes:
//   ok     allowed
//   401    not signed in / token not valid (MCP/HTTP with a bad token: the request itself gets HTTP 401;
//          otherwise over MCP an isError result naming the reason)
//   403    forbidden (REST 403 NoAccessError; MCP isError "Only an admin of ...")
//   404    hidden: same answer as for a made-up organization or secret (REST 404; MCP isError)
//   empty  hidden: an empty list, same answer as for a made-up organization
//   409    already signed in (MCP agent_signup only: it would abandon the session's account)
//
// Columns: me = get_current_user / GET /api/user; claim = get_claim_status; stack = create_stack in O;
// list = list_stacks organization O / GET /api/user/stacks?organization=O;
// invite = create_invite_link for O / POST /api/admin/invite-link/tokens with {organization: O};
// default = POST /api/admin/invite-link/tokens without organization (the caller's default organization:
//           its own for agents, O for a member, who joined through O's link);
// getLink / putLink = GET / PUT /api/admin/invite-link/tokens/<secret of L>;
// signup = agent_signup / POST /api/agents/signup; redeem = redeem_invite / POST /invite/<L>/signup (no password);
//          over MCP a signed-in agent is refused both (409): a second account would leave the first without its agent.
// ---------------------------------------------------------------------------
const TABLE = `
identity    | http:me http:claim http:stack http:list http:invite http:signup http:redeem | stdio:me stdio:claim stdio:stack stdio:list stdio:invite stdio:signup stdio:redeem | rest:me rest:list rest:invite rest:default rest:getLink rest:putLink rest:signup rest:redeem
nobody      | 401     401        401        401       401         ok          ok          | 401      401         401         401        401          ok           ok           | 401     401       401         401          401          401          ok          ok
agent       | ok      ok         404        empty     404         409         409         | ok       ok          404         empty      404          409          409          | ok      empty     404         ok           404          404          ok          ok
claimed     | ok      ok         404        empty     404         409         409         | ok       ok          404         empty      404          409          409          | ok      empty     404         ok           404          404          ok          ok
claimEnded  | 401     ok         401        401       401         ok          ok          | 401      ok          401         401        401          ok           ok           | 401     401       401         401          401          401          ok          ok
member      | ok      ok         ok         ok        403         409         409         | ok       ok          ok          ok         403          409          409          | ok      ok        403         403          404          404          ok          ok
admin       | ok      ok         ok         ok        ok          409         409         | ok       ok          ok          ok         ok           409          409          | ok      ok        ok          ok           ok           ok           ok          ok
stranger    | ok      ok         404        empty     404         409         409         | ok       ok          404         empty      404          409          409          | ok      empty     404         ok           404          404          ok          ok
expired     | 401     401        401        401       401         401         401         | 401      401         401         401        401          ok           ok           | 401     401       401         401          401          401          401         401
revoked     | 401     401        401        401       401         401         401         | 401      401         401         401        401          ok           ok           | 401     401       401         401          401          401          401         401
forged      | 401     401        401        401       401         401         401         | 401      401         401         401        401          ok           ok           | 401     401       401         401          401          401          401         401
`;

type Outcome = "ok" | "401" | "403" | "404" | "empty" | "409";
type Surface = "http" | "stdio" | "rest";
type IdentityKey = "nobody" | "agent" | "claimed" | "claimEnded" | "member" | "admin" | "stranger" | "expired" | "revoked" | "forged";
type OpKey = "me" | "claim" | "stack" | "list" | "invite" | "default" | "getLink" | "putLink" | "signup" | "redeem";

const SURFACE_NAMES: Record<Surface, string> = { http: "MCP over HTTP", stdio: "MCP over stdio", rest: "REST" };

interface IdentitySpec {
  phrase: string;
  /** A token is present but not valid: HTTP refuses it before any tool runs, on every route. */
  badToken?: boolean;
  /** The message of its 401, per surface. */
  unauthorized: { mcp: RegExp; rest: RegExp };
}

const same = (pattern: RegExp) => ({ mcp: pattern, rest: pattern });
const NEVER_401 = same(/^$/); // matches no real message: the table gives these identities no 401

const IDENTITIES: Record<IdentityKey, IdentitySpec> = {
  nobody: { phrase: "nobody", unauthorized: { mcp: /^You are not signed in\. Call agent_signup/, rest: /^Authentication required/ } },
  agent: { phrase: "an agent", unauthorized: NEVER_401 },
  claimed: { phrase: "a claimed human (agent access kept)", unauthorized: NEVER_401 },
  claimEnded: { phrase: "an agent whose human ended its access", unauthorized: same(/claimed this account at .* and ended your access/) },
  member: { phrase: "a member", unauthorized: NEVER_401 },
  admin: { phrase: "the admin", unauthorized: NEVER_401 },
  stranger: { phrase: "a user of another organization", unauthorized: NEVER_401 },
  expired: { phrase: "an expired token", badToken: true, unauthorized: same(/^This access token expired at /) },
  revoked: { phrase: "a revoked token", badToken: true, unauthorized: same(/^This access token has been revoked/) },
  forged: { phrase: "a token signed with another key", badToken: true, unauthorized: same(/^This access token is not valid here/) },
};

const OP_PHRASES: Record<OpKey, string> = {
  me: "see its own account",
  claim: "check its claim status",
  stack: "create a stack in O",
  list: "list O's stacks",
  invite: "create an invite link for O",
  default: "create an invite link for its default organization",
  getLink: "read O's invite link by its secret",
  putLink: "update O's invite link by its secret",
  signup: "sign up a new agent",
  redeem: "redeem O's invite link",
};

interface Cell {
  identity: IdentityKey;
  surface: Surface;
  op: OpKey;
  outcome: Outcome;
}

function parseTable(table: string): Cell[] {
  const [header, ...rows] = table
    .trim()
    .split("\n")
    .map((line) => line.replace(/\|/g, " ").trim().split(/\s+/));
  const columns = header!.slice(1).map((column) => column.split(":") as [Surface, OpKey]);
  const outcomes = new Set<string>(["ok", "401", "403", "404", "empty", "409"]);
  return rows.flatMap(([identity, ...cells]) => {
    if (!(identity! in IDENTITIES)) throw new Error(`Unknown identity ${identity}`);
    if (cells.length !== columns.length) throw new Error(`Row ${identity} has ${cells.length} cells, not ${columns.length}`);
    return cells.map((outcome, i) => {
      if (!outcomes.has(outcome)) throw new Error(`Unknown outcome ${outcome} for ${identity}`);
      const [surface, op] = columns[i]!;
      if (!(surface in SURFACE_NAMES) || !(op in OP_PHRASES)) throw new Error(`Unknown column ${surface}:${op}`);
      return { identity: identity as IdentityKey, surface, op, outcome: outcome as Outcome };
    });
  });
}

function testName({ identity, surface, op, outcome }: Cell): string {
  const who = IDENTITIES[identity];
  const mcp = surface !== "rest";
  const how = {
    ok: "allowed",
    "401": mcp && !(surface === "http" && who.badToken) ? "isError: unauthenticated" : "401",
    "403": mcp ? "isError: forbidden" : "403",
    "404": `${mcp ? "isError: not found" : "404"}, same as for a made-up one`,
    empty: "empty list, same as for a made-up organization",
    "409": "isError: already signed in",
  }[outcome];
  return `${who.phrase} ${outcome === "ok" ? "can" : "cannot"} ${OP_PHRASES[op]} over ${SURFACE_NAMES[surface]} (${how})`;
}

// ---------------------------------------------------------------------------
// The world every cell runs in.
// ---------------------------------------------------------------------------
interface Identity {
  token?: string;
  uid?: string;
  userId?: number;
  login?: string;
  /** The organization it signed up with (its name does not change at a claim). */
  orgName?: string;
  /** What get_claim_status must say when it answers. */
  claimed?: boolean;
}

interface Target {
  org: string;
  secret: string;
}

interface World {
  http: TestHttp;
  identities: Record<IdentityKey, Identity>;
  /** Organization O and its invite link L. */
  real: Target;
  /** A valid-looking organization name and secret that exist nowhere. */
  madeUp: Target;
  linkName: string;
  adminId: number;
  seededStackId: string;
}

const HUMAN_PASSWORD = "Matrix#Passw0rd-42";
let world: World;
let serial = 0;

interface Answer {
  ok: boolean;
  /** HTTP status: REST always, MCP/HTTP only when the request itself was refused. */
  status?: number;
  message: string;
  data: any;
}

async function rest(method: string, path: string, token: string | undefined, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${world.http.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  expect(text).not.toMatch(/\n\s+at /);
  const data = JSON.parse(text);
  return { ok: res.ok, status: res.status, message: res.ok ? "" : String(data.message), data };
}

const fromTool = (result: CallToolResult): Answer => {
  const text = result.content.map((block) => (block.type === "text" ? block.text : "")).join("\n");
  expect(text).not.toMatch(/\n\s+at /);
  return { ok: !result.isError, message: text, data: result.structuredContent };
};

async function mcpOverHttp(token: string | undefined, tool: string, args: Record<string, unknown>): Promise<Answer> {
  let client: Client;
  try {
    ({ client } = await world.http.connect(token === undefined ? {} : { Authorization: `Bearer ${token}` }));
  } catch (error) {
    if (!(error instanceof StreamableHTTPError)) throw error;
    // The SDK puts the refused request's body, a JSON-RPC error, at the end of its message.
    const body = JSON.parse(error.message.slice(error.message.indexOf("{")));
    expect(body.error.code).toBe(-32001);
    return { ok: false, status: error.code, message: body.error.message, data: undefined };
  }
  try {
    return fromTool((await client.callTool({ name: tool, arguments: args })) as CallToolResult);
  } finally {
    await client.close();
  }
}

const { log: stdioLog } = captureLogs("silent");

/** The session stdio builds for ONBOARD_TOKEN, over an in-memory pipe instead of stdin/stdout. */
async function mcpOverStdio(token: string | undefined, tool: string, args: Record<string, unknown>): Promise<Answer> {
  const server = createServer(world.http.handle.deps, { token, log: stdioLog });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "matrix", version: "1.0.0" });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  try {
    return fromTool((await client.callTool({ name: tool, arguments: args })) as CallToolResult);
  } finally {
    await client.close();
  }
}

// ---------------------------------------------------------------------------
// Operations: how each column is called, and what "allowed" must return.
// ---------------------------------------------------------------------------
interface Call {
  identity: Identity;
  target: Target;
  /** Unique per cell, shared by the real and the made-up call so their answers can be compared. */
  n: number;
}

interface Operation {
  /** Depends on O or L, so a hidden answer can be compared with the made-up target's. */
  targeted: boolean;
  mcp?: { tool: string; args(call: Call): Record<string, unknown> };
  rest?: { method: string; path(call: Call): string; body?(call: Call): unknown };
  allowed(data: any, call: Call): void;
}

const inAWeek = () => new Date(world.http.clock.now().getTime() + 7 * DAY).toISOString();
const linkPath = ({ target }: Call) => `/api/admin/invite-link/tokens/${encodeURIComponent(target.secret)}`;
const userIdOf = (uid: string) =>
  (world.http.store.sqlite.prepare("SELECT id FROM users WHERE uid = ?").get(uid) as { id: number }).id;

const OPERATIONS: Record<OpKey, Operation> = {
  me: {
    targeted: false,
    mcp: { tool: "get_current_user", args: () => ({}) },
    rest: { method: "GET", path: () => "/api/user" },
    allowed(data, { identity }) {
      expect(data).toMatchObject({ id: identity.uid, githubLogin: identity.login, isAgent: !identity.claimed });
    },
  },
  claim: {
    targeted: false,
    mcp: { tool: "get_claim_status", args: () => ({}) },
    allowed(data, { identity }) {
      expect(data.claimed).toBe(Boolean(identity.claimed));
    },
  },
  stack: {
    targeted: true,
    mcp: { tool: "create_stack", args: ({ target, n }) => ({ organization: target.org, projectName: "matrix", stackName: `s${n}` }) },
    allowed(data, { target, n }) {
      expect(data).toMatchObject({ orgName: target.org, projectName: "matrix", stackName: `s${n}` });
    },
  },
  list: {
    targeted: true,
    mcp: { tool: "list_stacks", args: ({ target }) => ({ organization: target.org }) },
    rest: { method: "GET", path: ({ target }) => `/api/user/stacks?organization=${encodeURIComponent(target.org)}` },
    allowed(data, { target }) {
      expect(data.stacks.map((stack: { id: string }) => stack.id)).toContain(world.seededStackId);
      for (const stack of data.stacks) expect(stack.orgName).toBe(target.org);
    },
  },
  invite: {
    targeted: true,
    mcp: { tool: "create_invite_link", args: ({ target, n }) => ({ name: `Matrix ${n}`, expiresAt: inAWeek(), organization: target.org }) },
    rest: {
      method: "POST",
      path: () => "/api/admin/invite-link/tokens",
      body: ({ target, n }) => ({ name: `Matrix ${n}`, expiresAt: inAWeek(), organization: target.org }),
    },
    allowed(data, { n }) {
      expect(data).toMatchObject({ name: `Matrix ${n}`, enabled: true });
      // The link is O's: O's admin can read it.
      expect(getInviteLink(world.http.handle.deps, world.adminId, data.secret).name).toBe(`Matrix ${n}`);
    },
  },
  default: {
    targeted: false,
    rest: { method: "POST", path: () => "/api/admin/invite-link/tokens", body: ({ n }) => ({ name: `Matrix ${n}`, expiresAt: inAWeek() }) },
    allowed(data, { identity, n }) {
      expect(data).toMatchObject({ name: `Matrix ${n}`, enabled: true });
      // In the caller's own default organization, which it administers.
      expect(getInviteLink(world.http.handle.deps, identity.userId!, data.secret).name).toBe(`Matrix ${n}`);
    },
  },
  getLink: {
    targeted: true,
    rest: { method: "GET", path: linkPath },
    allowed(data, { target }) {
      expect(data).toMatchObject({ secret: target.secret, name: world.linkName });
    },
  },
  putLink: {
    targeted: true,
    rest: { method: "PUT", path: linkPath, body: () => ({ enabled: true }) },
    allowed(data, { target }) {
      expect(data).toMatchObject({ secret: target.secret, name: world.linkName, enabled: true });
    },
  },
  signup: {
    targeted: false,
    mcp: { tool: "agent_signup", args: ({ n }) => ({ agentName: `Matrix ${n}` }) },
    rest: { method: "POST", path: () => "/api/agents/signup", body: ({ n }) => ({ agentName: `Matrix ${n}` }) },
    allowed(data, { identity }) {
      expect(data.accessToken).toEqual(expect.any(String));
      expect(data.userInfo).toMatchObject({ isAgent: true, name: expect.stringMatching(/^Matrix \d+$/) });
      expect(data.userInfo.id).not.toBe(identity.uid);
    },
  },
  redeem: {
    targeted: false,
    mcp: {
      tool: "redeem_invite",
      args: ({ n }) => ({ token: world.real.secret, email: `matrix-${n}@example.com`, name: `Matrix ${n}` }),
    },
    rest: {
      method: "POST",
      path: () => `/invite/${encodeURIComponent(world.real.secret)}/signup`,
      body: ({ n }) => ({ email: `matrix-${n}@example.com`, name: `Matrix ${n}` }),
    },
    allowed(data, { n }) {
      expect(data).toMatchObject({ email: `matrix-${n}@example.com`, rootRole: 3, accessToken: expect.any(String) });
      const joined = getCurrentUser(world.http.handle.deps, data.id);
      expect(joined.organizations).toEqual([expect.objectContaining({ name: world.real.org, role: "member" })]);
    },
  },
};

async function perform(surface: Surface, op: Operation, call: Call): Promise<Answer> {
  const token = call.identity.token;
  if (surface === "rest") {
    const route = op.rest!;
    return rest(route.method, route.path(call), token, route.body?.(call));
  }
  const { tool, args } = op.mcp!;
  return (surface === "http" ? mcpOverHttp : mcpOverStdio)(token, tool, args(call));
}

/** An answer with the organization name and secret blanked out, and Unleash's per-error random id dropped. */
function blanked(answer: Answer, target: Target): string {
  const data = answer.data && typeof answer.data === "object" ? { ...answer.data } : answer.data;
  if (!answer.ok && data) delete data.id;
  return JSON.stringify({ ...answer, data }).replaceAll(target.org, "<org>").replaceAll(encodeURIComponent(target.secret), "<secret>");
}

async function runCell(cell: Cell): Promise<void> {
  const op = OPERATIONS[cell.op];
  const spec = IDENTITIES[cell.identity];
  const identity = world.identities[cell.identity];
  const call: Call = { identity, target: world.real, n: ++serial };
  const answer = await perform(cell.surface, op, call);
  const rest = cell.surface === "rest";
  const context = `${cell.surface}:${cell.op} as ${cell.identity}: ${answer.message || JSON.stringify(answer.data)}`;

  switch (cell.outcome) {
    case "ok":
      expect(answer.ok, context).toBe(true);
      if (rest) expect(answer.status).toBe(cell.op === "invite" || cell.op === "default" ? 201 : 200);
      op.allowed(answer.data, call);
      return;
    case "401": {
      expect(answer.ok, context).toBe(false);
      // A present token that is not valid is refused by HTTP itself, never taken as anonymous.
      const refusedByHttp = rest || (cell.surface === "http" && spec.badToken);
      expect(answer.status, context).toBe(refusedByHttp ? 401 : undefined);
      if (rest) expect(answer.data.name).toBe("AuthenticationRequired");
      expect(answer.message).toMatch(spec.unauthorized[rest ? "rest" : "mcp"]);
      return;
    }
    case "403":
      expect(answer.ok, context).toBe(false);
      expect(answer.status, context).toBe(rest ? 403 : undefined);
      if (rest) expect(answer.data.name).toBe("NoAccessError");
      expect(answer.message).toMatch(new RegExp(`^Only an admin of "${world.real.org}" can create invite links; you are a member`));
      return;
    case "409":
      expect(answer.ok, context).toBe(false);
      expect(answer.status, context).toBe(rest ? 409 : undefined);
      expect(answer.message).toMatch(/^You are already signed in as /);
      return;
    case "404":
      expect(answer.ok, context).toBe(false);
      expect(answer.status, context).toBe(rest ? 404 : undefined);
      if (rest) expect(answer.data.name).toBe("NotFoundError");
      expect(answer.message).toMatch(/^(You are not a member of an organization named "[^"]+"|No invite link with that secret exists)/);
      break;
    case "empty":
      expect(answer.ok, context).toBe(true);
      expect(answer.data).toEqual({ stacks: [] });
      break;
  }
  // Hidden: the same question about something that does not exist gets the same answer.
  expect(op.targeted).toBe(true);
  const madeUp = await perform(cell.surface, op, { ...call, target: world.madeUp });
  expect(blanked(answer, world.real)).toBe(blanked(madeUp, world.madeUp));
}

// ---------------------------------------------------------------------------
// Building the identities.
// ---------------------------------------------------------------------------
async function restSignup(agentName: string) {
  const answer = await rest("POST", "/api/agents/signup", undefined, { agentName });
  expect(answer.status, answer.message).toBe(200);
  const signup = answer.data;
  const identity: Identity = {
    token: signup.accessToken,
    uid: signup.userInfo.id,
    userId: userIdOf(signup.userInfo.id),
    login: signup.userInfo.githubLogin,
    orgName: signup.userInfo.organizations[0].name,
    claimed: false,
  };
  return { signup, identity };
}

async function claimed(agentName: string, username: string, keepAgentAccess: boolean): Promise<Identity> {
  const { signup, identity } = await restSignup(agentName);
  await claimAccount(world.http.handle.deps, {
    claimToken: signup.claimToken,
    username,
    email: `${username}@example.com`,
    password: HUMAN_PASSWORD,
    keepAgentAccess,
  });
  return { ...identity, login: username, claimed: true };
}

async function buildWorld(): Promise<void> {
  const http = await startTestHttp();
  world = { http } as World;
  const deps = http.handle.deps;

  // Expired: signed up 73 hours ago. The clock goes back and returns before anyone else exists,
  // so no other identity is touched by the time travel.
  http.clock.advance(-73 * HOUR);
  const expired = (await restSignup("Expired")).identity;
  http.clock.advance(73 * HOUR);

  const admin = (await restSignup("Org owner")).identity;
  const org = admin.login!;
  const seeded = createStack(deps, admin.userId!, { organization: org, projectName: "app", stackName: "prod" });
  const link = createInviteLink(deps, admin.userId!, { name: "Team O", expiresAt: inAWeek(), organization: org });

  const joined = await rest("POST", `/invite/${encodeURIComponent(link.secret)}/signup`, undefined, {
    email: "member@example.com",
    name: "Member of O",
  });
  expect(joined.status, joined.message).toBe(200);
  const member: Identity = {
    token: joined.data.accessToken,
    uid: getCurrentUser(deps, joined.data.id).id,
    userId: joined.data.id,
    login: joined.data.username,
    claimed: false,
  };

  const agent = (await restSignup("Fresh agent")).identity;
  const stranger = (await restSignup("Stranger")).identity;
  // The stranger has a stack and a link of its own, so its empty answers are not just an empty account.
  createStack(deps, stranger.userId!, { projectName: "app", stackName: "prod" });
  createInviteLink(deps, stranger.userId!, { name: "Stranger's team", expiresAt: inAWeek() });

  const claimedHuman = await claimed("Claimed", "claimed-human", true);
  const claimEnded = await claimed("Let go", "strict-human", false);

  const revoked = (await restSignup("Revoked")).identity;
  http.store.sqlite
    .prepare("UPDATE access_tokens SET revoked_at = ?, revoked_reason = NULL WHERE jti = ?")
    .run(http.clock.now().getTime(), decodeJwt(revoked.token!).jti);

  // The admin's own claims (subject and a live jti), signed with a key that is not the server's.
  const now = Math.floor(http.clock.now().getTime() / 1000);
  const forgedToken = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer("agent-onboard")
    .setSubject(admin.uid!)
    .setJti(decodeJwt(admin.token!).jti!)
    .setIssuedAt(now)
    .setExpirationTime(now + HOUR / 1000)
    .sign(randomBytes(32));

  world = {
    http,
    identities: {
      nobody: {},
      agent,
      claimed: claimedHuman,
      claimEnded,
      member,
      admin,
      stranger,
      expired,
      revoked,
      forged: { ...admin, token: forgedToken },
    },
    real: { org, secret: link.secret },
    madeUp: { org: `no-such-org-${randomBytes(4).toString("hex")}`, secret: randomBytes(32).toString("base64url") },
    linkName: link.name,
    adminId: admin.userId!,
    seededStackId: seeded.id,
  };
}

// ---------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------
const CELLS = parseTable(TABLE);

beforeAll(buildWorld);
afterAll(async () => {
  await world?.http.close();
});

describe("the identities are what they claim to be", () => {
  test("the forged token differs from a working one only by its key", async () => {
    const { forged, admin } = world.identities;
    const claims = decodeJwt(forged.token!);
    expect(claims).toMatchObject({ iss: "agent-onboard", sub: admin.uid, jti: decodeJwt(admin.token!).jti });
    const resigned = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .sign(signingKey(world.http.handle.deps.db));
    const answer = await rest("GET", "/api/user", resigned);
    expect(answer.status, answer.message).toBe(200);
    expect(answer.data.id).toBe(admin.uid);
  });

  test("the expired token's own expiry has passed, and it was otherwise never revoked", () => {
    const { expired } = world.identities;
    expect(decodeJwt(expired.token!).exp! * 1000).toBeLessThanOrEqual(world.http.clock.now().getTime());
    const row = world.http.store.sqlite
      .prepare("SELECT revoked_at AS revokedAt FROM access_tokens WHERE jti = ?")
      .get(decodeJwt(expired.token!).jti) as { revokedAt: number | null };
    expect(row.revokedAt).toBeNull();
  });

  test("the member joined O as a member; the admin administers O; the others are not in O", () => {
    const orgsOf = (key: IdentityKey) =>
      getCurrentUser(world.http.handle.deps, world.identities[key].userId!).organizations.map(({ name, role }) => ({ name, role }));
    expect(orgsOf("member")).toEqual([{ name: world.real.org, role: "member" }]);
    expect(orgsOf("admin")).toEqual([{ name: world.real.org, role: "admin" }]);
    for (const key of ["agent", "claimed", "claimEnded", "stranger", "expired", "revoked"] as const) {
      expect(orgsOf(key)).toEqual([{ name: world.identities[key].orgName, role: "admin" }]);
    }
  });
});

describe("authorization matrix", () => {
  test.each(CELLS.map((cell) => [testName(cell), cell] as const))("%s", async (_name, cell) => {
    await runCell(cell);
  });
});
