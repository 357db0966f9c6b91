/**
 * Authorization matrix (issue 5): who may do what, over every surface,
 * generated from the one table below. Each cell is its own test.
 *
 * One HTTP server holds every identity. Organization O belongs to the admin;
 * it has a stack and an invite link L. The member's email address is verified,
 * and organizations of two outside inviters have emailed it invites: one still
 * pending, one the member already accepted (another invite went to the claimed
 * human's address, which is not verified). "Hidden" cells (404 / empty, and
 * 400 on a question about a named organization) are run twice, against O (or
 * L, or the invites) and against a made-up organization, secret or invite id,
 * and the two answers must be identical once the name is blanked out: a
 * stranger learns nothing about whether O's stacks, invite links or members'
 * invites exist.
 *
 * Surfaces:
 * - MCP/HTTP  — an SDK client over Streamable HTTP at /mcp, token in the Authorization header.
 * - MCP/stdio — the session stdio builds (createServer with the token, as from ONBOARD_TOKEN),
 *               over an in-memory transport: here a bad token reaches the tools.
 * - REST      — the seeds' paths.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { type CallToolResult, Client, SdkHttpError } from "@modelcontextprotocol/client";
import { InMemoryTransport } from "@modelcontextprotocol/server";
import { eq, inArray } from "drizzle-orm";
import { decodeJwt, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createServer } from "../src/server.js";
import { getCurrentUser } from "../src/services/accounts.js";
import { claimAccount } from "../src/services/claims.js";
import { getPendingEmail, requestEmailChange, requireVerifiedEmail } from "../src/services/emails.js";
import { createInviteLink, getInviteLink } from "../src/services/invites.js";
import { acceptInvite, inviteMember } from "../src/services/org-invites.js";
import { getDefaultOrganization } from "../src/services/orgs.js";
import { createStack } from "../src/services/stacks.js";
import { signingKey } from "../src/services/tokens.js";
import { captureLogs, DAY, HOUR } from "./fixture.js";
import { startTestHttp, type TestHttp } from "./http-fixture.js";

// ---------------------------------------------------------------------------
// The table. It is too wide for one band of columns, so it is printed in bands, as wide tables are in
// books: each band lists every identity, in the same order, against its own columns. Outcomes:
//   ok     allowed
//   401    not signed in / token not valid (MCP/HTTP with a bad token: the request itself gets HTTP 401;
//          otherwise over MCP an isError result naming the reason)
//   403    forbidden (REST 403 NoAccessError; MCP isError "Only an admin of ...")
//   404    hidden: same answer as for a made-up organization, secret or invite id (REST 404; MCP isError).
//          On an operation that names nothing (verified), a plain 404 about the caller's own account.
//   empty  an empty list; hidden where the operation names an organization: same answer as for a made-up one
//   409    conflict (MCP agent_signup / redeem_invite: already signed in; accepting an invite twice)
//   400    refused as a bad request (REST 400 BadDataError; the VCS routes of a server that links no VCS);
//          hidden where the operation names an organization: same answer as for a made-up one
//
// Band 1 — me = get_current_user / GET /api/user; claim = get_claim_status; stack = create_stack in O;
// list = list_stacks organization O / GET /api/user/stacks?organization=O;
// invite = create_invite_link for O / POST /api/admin/invite-link/tokens?organization=O;
// default = POST /api/admin/invite-link/tokens without organization (the caller's default organization:
//           its own for agents, O for a member, who joined through O's link);
// getLink / putLink = GET / PUT /api/admin/invite-link/tokens/<secret of L>;
// signup = agent_signup / POST /api/agents/signup; redeem = redeem_invite / POST /invite/<L>/signup (no password);
//          over MCP a signed-in agent is refused both (409): a second account would leave the first without its agent.
//
// Band 2 (MCP) and band 3 (REST) — the Users API:
// getDefault = get_default_organization / GET /api/user/organizations/default;
// setDefault = set_default_organization O / POST /api/user/organizations/O/default (204);
// email = change_email to a fresh address (pending until a human confirms it);
// inviteMember = invite_member a fresh address into O (an admin's; a member is refused 403);
// invites = list_pending_invites / GET /api/user/pending-invites: only the member has invites (to its verified email;
//          the one to the claimed human's unverified address does not count);
// accept = accept_invite / POST /api/user/pending-invites/<id>/accept of a fresh invite to the member's verified email;
// reaccept = the same for an invite the member has already accepted (409 to the member, 404 to everyone else);
// verified = GET /api/user/verified-email (the member's and the stranger's emails are verified);
// pending / dropPending = GET / DELETE /api/user/pending-emails, the caller having just asked for a change (200 / 204);
// ghTeams = GET /api/user/github/O/teams; vcsOrgs = GET /api/user/vcs/organizations; vcsSync = POST /api/user/vcs/sync;
// dropVcs = DELETE /api/user/vcs; gitlabOrgs = GET /api/user/gitlab-app/organizations (deprecated):
//          no account here is linked to a VCS, so the documented 400s and empty lists.
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

identity    | http:getDefault http:setDefault http:email http:inviteMember http:invites http:accept http:reaccept | stdio:getDefault stdio:setDefault stdio:email stdio:inviteMember stdio:invites stdio:accept stdio:reaccept
nobody      | 401             401             401        401               401          401         401           | 401              401              401         401                401           401          401
agent       | ok              404             ok         404               empty        404         404           | ok               404              ok          404                empty         404          404
claimed     | ok              404             ok         404               empty        404         404           | ok               404              ok          404                empty         404          404
claimEnded  | 401             401             401        401               401          401         401           | 401              401              401         401                401           401          401
member      | ok              ok              ok         403               ok           ok          409           | ok               ok               ok          403                ok            ok           409
admin       | ok              ok              ok         ok                empty        404         404           | ok               ok               ok          ok                 empty         404          404
stranger    | ok              404             ok         404               empty        404         404           | ok               404              ok          404                empty         404          404
expired     | 401             401             401        401               401          401         401           | 401              401              401         401                401           401          401
revoked     | 401             401             401        401               401          401         401           | 401              401              401         401                401           401          401
forged      | 401             401             401        401               401          401         401           | 401              401              401         401                401           401          401

identity    | rest:getDefault rest:setDefault rest:verified rest:pending rest:dropPending rest:invites rest:accept rest:reaccept | rest:ghTeams rest:vcsOrgs rest:vcsSync rest:dropVcs rest:gitlabOrgs
nobody      | 401             401             401           401          401              401          401         401           | 401          401          401          401          401
agent       | ok              404             404           ok           ok               empty        404         404           | 400          ok           400          400          ok
claimed     | ok              404             404           ok           ok               empty        404         404           | 400          ok           400          400          ok
claimEnded  | 401             401             401           401          401              401          401         401           | 401          401          401          401          401
member      | ok              ok              ok            ok           ok               ok           ok          409           | 400          ok           400          400          ok
admin       | ok              ok              404           ok           ok               empty        404         404           | 400          ok           400          400          ok
stranger    | ok              404             ok            ok           ok               empty        404         404           | 400          ok           400          400          ok
expired     | 401             401             401           401          401              401          401         401           | 401          401          401          401          401
revoked     | 401             401             401           401          401              401          401         401           | 401          401          401          401          401
forged      | 401             401             401           401          401              401          401         401           | 401          401          401          401          401
`;

const OUTCOMES = ["ok", "401", "403", "404", "empty", "409", "400"] as const;
type Outcome = (typeof OUTCOMES)[number];
/** The outcomes whose message each operation states (see Operation.says). */
type Refusal = "403" | "404" | "409" | "400";
type Surface = "http" | "stdio" | "rest";
type IdentityKey = "nobody" | "agent" | "claimed" | "claimEnded" | "member" | "admin" | "stranger" | "expired" | "revoked" | "forged";
type OpKey =
  | "me"
  | "claim"
  | "stack"
  | "list"
  | "invite"
  | "default"
  | "getLink"
  | "putLink"
  | "signup"
  | "redeem"
  | "getDefault"
  | "setDefault"
  | "email"
  | "inviteMember"
  | "invites"
  | "accept"
  | "reaccept"
  | "verified"
  | "pending"
  | "dropPending"
  | "ghTeams"
  | "vcsOrgs"
  | "vcsSync"
  | "dropVcs"
  | "gitlabOrgs";

const SURFACE_NAMES: Record<Surface, string> = { http: "MCP over HTTP", stdio: "MCP over stdio", rest: "REST" };

interface IdentitySpec {
  phrase: string;
  /** A token is present but not valid: HTTP refuses it before any tool runs, on every route. */
  badToken?: boolean;
  /** No token: /mcp answers a call that needs an account with HTTP 401 and a challenge, where an OAuth host signs in. */
  anonymous?: boolean;
  /** The message of its 401, per surface (`http`, where /mcp says it otherwise than stdio). */
  unauthorized: { mcp: RegExp; rest: RegExp; http?: RegExp };
}

/** Whether HTTP itself refuses the cell's request, with a 401, before any tool runs. */
const refusedByHttp = (surface: Surface, who: IdentitySpec) => surface === "rest" || (surface === "http" && Boolean(who.badToken || who.anonymous));

const same = (pattern: RegExp) => ({ mcp: pattern, rest: pattern });
const NEVER_401 = same(/^$/); // matches no real message: the table gives these identities no 401

const IDENTITIES: Record<IdentityKey, IdentitySpec> = {
  nobody: {
    phrase: "nobody",
    anonymous: true,
    unauthorized: { mcp: /^You are not signed in\. Call agent_signup/, rest: /^Authentication required/, http: /^This tool acts as an account, and the request carries none\. .*agent_signup/ },
  },
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
  getDefault: "see its default organization",
  setDefault: "make O its default organization",
  email: "ask to change its email address",
  inviteMember: "invite an email address into O",
  invites: "see the invites emailed to the member",
  accept: "accept an invite emailed to the member",
  reaccept: "accept an invite the member already accepted",
  verified: "show a verified email address",
  pending: "see its own pending email change",
  dropPending: "withdraw its own pending email change",
  ghTeams: "list the GitHub teams of O",
  vcsOrgs: "list its VCS organizations (none)",
  vcsSync: "sync its profile from a VCS identity provider",
  dropVcs: "disconnect a VCS identity provider",
  gitlabOrgs: "list its GitLab app organizations (none)",
};

interface Cell {
  identity: IdentityKey;
  surface: Surface;
  op: OpKey;
  outcome: Outcome;
}

/** Reads every band of the table; each band has the same identities, in the same order, and no column appears twice. */
function parseTable(table: string): Cell[] {
  const bands = table.trim().split(/\n\s*\n/);
  const seen = new Set<string>();
  let identities: string | undefined;
  return bands.flatMap((band) => {
    const [header, ...rows] = band
      .trim()
      .split("\n")
      .map((line) => line.replace(/\|/g, " ").trim().split(/\s+/));
    const columns = header!.slice(1).map((column) => {
      if (seen.has(column)) throw new Error(`Column ${column} appears twice`);
      seen.add(column);
      return column.split(":") as [Surface, OpKey];
    });
    const order = rows.map(([identity]) => identity).join(" ");
    if (identities !== undefined && order !== identities) throw new Error(`A band lists the identities ${order}, not ${identities}`);
    identities = order;
    return rows.flatMap(([identity, ...cells]) => {
      if (!(identity! in IDENTITIES)) throw new Error(`Unknown identity ${identity}`);
      if (cells.length !== columns.length) throw new Error(`Row ${identity} has ${cells.length} cells, not ${columns.length}`);
      return cells.map((outcome, i) => {
        if (!(OUTCOMES as readonly string[]).includes(outcome)) throw new Error(`Unknown outcome ${outcome} for ${identity}`);
        const [surface, op] = columns[i]!;
        if (!(surface in SURFACE_NAMES) || !(op in OP_PHRASES)) throw new Error(`Unknown column ${surface}:${op}`);
        return { identity: identity as IdentityKey, surface, op, outcome: outcome as Outcome };
      });
    });
  });
}

/** Whether this cell must answer exactly as the same question about something that does not exist. */
const isHidden = (op: Operation, outcome: Outcome) => op.targeted && (outcome === "404" || outcome === "empty" || outcome === "400");

function testName({ identity, surface, op, outcome }: Cell): string {
  const who = IDENTITIES[identity];
  const mcp = surface !== "rest";
  const madeUp = isHidden(OPERATIONS[op], outcome) ? ", same as for a made-up one" : "";
  const how = {
    ok: "allowed",
    "401": refusedByHttp(surface, who) ? "401" : "isError: unauthenticated",
    "403": mcp ? "isError: forbidden" : "403",
    "404": `${mcp ? "isError: not found" : "404"}${madeUp}`,
    empty: `empty list${madeUp}`,
    "409": mcp ? `isError: ${op === "signup" || op === "redeem" ? "already signed in" : "conflict"}` : "409",
    "400": `${mcp ? "isError: bad request" : "400"}${madeUp}`,
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
  /** The organization it signed up with (its name does not change at a claim); O for the member. Its default one. */
  orgName?: string;
  /** What get_claim_status must say when it answers. */
  claimed?: boolean;
}

interface Target {
  org: string;
  secret: string;
  /** An emailed invite still waiting for the member (fresh for each accept cell; see Operation.prepare). */
  invite?: string;
  /** The organization that sent `invite`. */
  inviteOrg?: string;
  /** An emailed invite the member has already accepted. */
  accepted: string;
}

interface World {
  http: TestHttp;
  identities: Record<IdentityKey, Identity>;
  /** Organization O, its invite link L, and the invite the member accepted. */
  real: Target;
  /** A valid-looking organization name, secret and invite ids that exist nowhere. */
  madeUp: Target;
  linkName: string;
  adminId: number;
  seededStackId: string;
  /** The member's verified email address, to which the invites are sent. */
  memberEmail: string;
  /** An invite to the member that nobody accepts, from an outside organization. */
  standingInviteId: string;
  /** The outside organization whose invite (real.accepted) the member accepted. */
  acceptedOrg: string;
}

const HUMAN_PASSWORD = "Matrix#Passw0rd-42";
let world: World;
let serial = 0;

interface Answer {
  ok: boolean;
  /** HTTP status: REST always, MCP/HTTP only when the request itself was refused. */
  status?: number;
  message: string;
  /** The JSON body (REST) or structuredContent (MCP); undefined for a REST 204. */
  data: any;
}

async function rest(method: string, path: string, token: string | undefined, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${world.http.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  expect(text).not.toMatch(/\n\s+at /);
  if (res.status === 204) expect(text).toBe("");
  const data = res.status === 204 ? undefined : JSON.parse(text);
  return { ok: res.ok, status: res.status, message: res.ok ? "" : String(data.message), data };
}

const fromTool = (result: CallToolResult): Answer => {
  const text = (result.content ?? []).map((block) => (block.type === "text" ? block.text : "")).join("\n");
  expect(text).not.toMatch(/\n\s+at /);
  return { ok: !result.isError, message: text, data: result.structuredContent };
};

async function mcpOverHttp(token: string | undefined, tool: string, args: Record<string, unknown>): Promise<Answer> {
  let client: Client;
  try {
    ({ client } = await world.http.connect(token === undefined ? {} : { Authorization: `Bearer ${token}` }));
  } catch (error) {
    if (!(error instanceof SdkHttpError)) throw error;
    // The SDK keeps the status; the refusal's text is in the body of the same request, sent again.
    const refused = await fetch(`${world.http.url}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "m", version: "1" } } }),
    });
    const body = (await refused.json()) as { error: { code: number; message: string } };
    expect(body.error.code).toBe(-32001);
    expect(refused.status).toBe(error.status);
    return { ok: false, status: error.status, message: body.error.message, data: undefined };
  }
  try {
    return fromTool((await client.callTool({ name: tool, arguments: args })) as CallToolResult);
  } catch (error) {
    if (!(error instanceof SdkHttpError)) throw error;
    // A call refused by HTTP: the SDK keeps the status, and the JSON-RPC error of the body in its message.
    const body = JSON.parse(error.message.slice(error.message.indexOf("{"))) as { error: { code: number; message: string } };
    expect(body.error.code).toBe(-32001);
    return { ok: false, status: error.status, message: body.error.message, data: undefined };
  } finally {
    await client.close();
  }
}

const { log: stdioLog } = captureLogs("silent");

/** The session stdio builds for ONBOARD_TOKEN, over an in-memory pipe instead of stdin/stdout. */
async function mcpOverStdio(token: string | undefined, tool: string, args: Record<string, unknown>): Promise<Answer> {
  const server = createServer(world.http.handle.deps, { token, log: stdioLog, signIn: () => "saved" });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "matrix", version: "1.0.0" });
  await Promise.all([server.connect(serverSide), client.connect(clientSide)]);
  try {
    return fromTool((await client.callTool({ name: tool, arguments: args })) as CallToolResult);
  } catch (error) {
    if (!(error instanceof SdkHttpError)) throw error;
    // A call refused by HTTP: the SDK keeps the status, and the JSON-RPC error of the body in its message.
    const body = JSON.parse(error.message.slice(error.message.indexOf("{"))) as { error: { code: number; message: string } };
    expect(body.error.code).toBe(-32001);
    return { ok: false, status: error.status, message: body.error.message, data: undefined };
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
  surface: Surface;
  /** Unique per cell, shared by the real and the made-up call so their answers can be compared. */
  n: number;
}

interface Operation {
  /** Depends on O, L or an invite, so a hidden answer can be compared with the made-up target's. */
  targeted: boolean;
  mcp?: { tool: string; args(call: Call): Record<string, unknown> };
  /** `status`: of an allowed call, 200 unless given. */
  rest?: { method: string; path(call: Call): string; body?(call: Call): unknown; status?: number };
  /** Run before the cell's call (not before the made-up one); what it returns replaces parts of the real target. */
  prepare?(call: Omit<Call, "target">): Promise<Partial<Target>> | Partial<Target>;
  allowed?(data: any, call: Call): void | Promise<void>;
  /** The message of each refusal the table gives this operation (the REST name is in REFUSAL_NAMES). */
  says?: Partial<Record<Refusal, () => RegExp>>;
  /** What "empty" answers, when the operation lists something other than stacks. */
  empty?: unknown;
}

const REFUSAL_NAMES: Record<Refusal, string> = { "403": "NoAccessError", "404": "NotFoundError", "409": "NameExistsError", "400": "BadDataError" };

const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const notAMemberOf = () => /^You are not a member of an organization named "[^"]+"/;
const noSuchInviteLink = () => /^No invite link with that secret exists/;
const noSuchInvite = () => /^No invite with id "[^"]+" is addressed to you\. /;
const alreadySignedIn = () => /^You are already signed in as /;

const inAWeek = () => new Date(world.http.clock.now().getTime() + 7 * DAY).toISOString();
const linkPath = ({ target }: Call) => `/api/admin/invite-link/tokens/${encodeURIComponent(target.secret)}`;
const acceptPath = (id: string) => `/api/user/pending-invites/${encodeURIComponent(id)}/accept`;
async function userIdOf(uid: string): Promise<number> {
  const { db } = world.http.store;
  const { users } = db.tables;
  const [user] = await db.select({ id: users.id }).from(users).where(eq(users.uid, uid));
  return user!.id;
}
const organizationsOf = async (userId: number) =>
  (await getCurrentUser(world.http.handle.deps, userId)).organizations.map(({ name, role }) => ({ name, role }));

/** The caller asks for an email change just before the cell, so that it has one pending of its own. */
async function askForEmailChange({ identity, n }: Omit<Call, "target">): Promise<Partial<Target>> {
  if (identity.userId !== undefined) await requestEmailChange(world.http.handle.deps, identity.userId, { email: `pending-${n}@example.com` });
  return {};
}

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
    says: { "404": notAMemberOf },
  },
  list: {
    targeted: true,
    mcp: { tool: "list_stacks", args: ({ target }) => ({ organization: target.org }) },
    rest: { method: "GET", path: ({ target }) => `/api/user/stacks?organization=${encodeURIComponent(target.org)}` },
    allowed(data, { target }) {
      expect(data.stacks.map((stack: { id: string }) => stack.id)).toContain(world.seededStackId);
      for (const stack of data.stacks) expect(stack.orgName).toBe(target.org);
    },
    empty: { stacks: [] },
  },
  invite: {
    targeted: true,
    mcp: { tool: "create_invite_link", args: ({ target, n }) => ({ name: `Matrix ${n}`, expiresAt: inAWeek(), organization: target.org }) },
    rest: {
      method: "POST",
      path: ({ target }) => `/api/admin/invite-link/tokens?organization=${encodeURIComponent(target.org)}`,
      body: ({ n }) => ({ name: `Matrix ${n}`, expiresAt: inAWeek() }),
      status: 201,
    },
    async allowed(data, { n }) {
      expect(data).toMatchObject({ name: `Matrix ${n}`, enabled: true });
      // The link is O's: O's admin can read it.
      expect((await getInviteLink(world.http.handle.deps, world.adminId, data.secret)).name).toBe(`Matrix ${n}`);
    },
    says: {
      "403": () => new RegExp(`^Only an admin of "${escaped(world.real.org)}" can create invite links; you are a member`),
      "404": notAMemberOf,
    },
  },
  default: {
    targeted: false,
    rest: {
      method: "POST",
      path: () => "/api/admin/invite-link/tokens",
      body: ({ n }) => ({ name: `Matrix ${n}`, expiresAt: inAWeek() }),
      status: 201,
    },
    async allowed(data, { identity, n }) {
      expect(data).toMatchObject({ name: `Matrix ${n}`, enabled: true });
      // In the caller's own default organization, which it administers.
      expect((await getInviteLink(world.http.handle.deps, identity.userId!, data.secret)).name).toBe(`Matrix ${n}`);
    },
    says: { "403": () => new RegExp(`^Only an admin of "${escaped(world.real.org)}" can create invite links; you are a member`) },
  },
  getLink: {
    targeted: true,
    rest: { method: "GET", path: linkPath },
    allowed(data, { target }) {
      expect(data).toMatchObject({ secret: target.secret, name: world.linkName });
    },
    says: { "404": noSuchInviteLink },
  },
  putLink: {
    targeted: true,
    rest: { method: "PUT", path: linkPath, body: () => ({ enabled: true }) },
    allowed(data, { target }) {
      expect(data).toMatchObject({ secret: target.secret, name: world.linkName, enabled: true });
    },
    says: { "404": noSuchInviteLink },
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
    says: { "409": alreadySignedIn },
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
    async allowed(data, { n }) {
      expect(data).toMatchObject({ email: `matrix-${n}@example.com`, rootRole: 3, accessToken: expect.any(String) });
      expect(await organizationsOf(data.id)).toEqual([{ name: world.real.org, role: "member" }]);
    },
    says: { "409": alreadySignedIn },
  },

  // The Users API (bands 2 and 3).
  getDefault: {
    targeted: false,
    mcp: { tool: "get_default_organization", args: () => ({}) },
    rest: { method: "GET", path: () => "/api/user/organizations/default" },
    allowed(data, { identity }) {
      expect(data).toEqual({ GitHubLogin: identity.orgName, Messages: expect.any(Array) });
    },
  },
  setDefault: {
    targeted: true,
    mcp: { tool: "set_default_organization", args: ({ target }) => ({ organization: target.org }) },
    rest: { method: "POST", path: ({ target }) => `/api/user/organizations/${encodeURIComponent(target.org)}/default`, status: 204 },
    async allowed(data, { identity, target, surface }) {
      const chosen = { GitHubLogin: target.org, Messages: [] };
      if (surface === "rest") expect(data).toBeUndefined();
      else expect(data).toEqual(chosen);
      expect(await getDefaultOrganization(world.http.handle.deps.db, identity.userId!)).toEqual(chosen);
    },
    says: { "404": notAMemberOf },
  },
  email: {
    targeted: false,
    mcp: { tool: "change_email", args: ({ n }) => ({ email: `new-${n}@example.com` }) },
    async allowed(data, { identity, n }) {
      const email = `new-${n}@example.com`;
      expect(data).toEqual({ email });
      // Pending, on the caller's own account, and mailed to the new address for a human to confirm.
      expect(await getPendingEmail(world.http.handle.deps, identity.userId!)).toEqual({ email });
      expect(world.http.mailbox()).toContainEqual(
        expect.objectContaining({ to: expect.stringContaining(email), subject: "Confirm your email address for agent-onboard" }),
      );
    },
  },
  inviteMember: {
    targeted: true,
    mcp: { tool: "invite_member", args: ({ target, n }) => ({ email: `invitee-${n}@example.com`, organization: target.org }) },
    async allowed(data, { target, n }) {
      const email = `invitee-${n}@example.com`;
      expect(data).toMatchObject({ email, role: "member", status: "pending", sentBy: { githubLogin: world.identities.admin.login } });
      const { db } = world.http.store;
      const { organizations, orgInvites } = db.tables;
      const rows = await db
        .select({ org: organizations.name })
        .from(orgInvites)
        .innerJoin(organizations, eq(organizations.id, orgInvites.orgId))
        .where(eq(orgInvites.uid, data.id));
      expect(rows).toEqual([{ org: target.org }]);
      expect(world.http.mailbox()).toContainEqual(expect.objectContaining({ to: expect.stringContaining(email) }));
    },
    says: {
      "403": () => new RegExp(`^Only an admin of "${escaped(world.real.org)}" can invite members; you are a member`),
      "404": notAMemberOf,
    },
  },
  invites: {
    targeted: false,
    mcp: { tool: "list_pending_invites", args: () => ({}) },
    rest: { method: "GET", path: () => "/api/user/pending-invites" },
    allowed(data) {
      expect(data.invites.map((invite: { id: string }) => invite.id)).toContain(world.standingInviteId);
      expect(data.invites.map((invite: { id: string }) => invite.id)).not.toContain(world.real.accepted);
      for (const invite of data.invites) expect(invite).toMatchObject({ email: world.memberEmail, status: "pending" });
    },
    empty: { invites: [] },
  },
  accept: {
    targeted: true,
    mcp: { tool: "accept_invite", args: ({ target }) => ({ id: target.invite }) },
    rest: { method: "POST", path: ({ target }) => acceptPath(target.invite!) },
    // A fresh outside organization invites the member for each cell: one the member is in could not invite it again.
    async prepare({ n }) {
      const inviter = (await restSignup(`Inviter ${n}`)).identity;
      const sent = await inviteMember(world.http.handle.deps, inviter.userId!, { email: world.memberEmail });
      return { invite: sent.invite.id, inviteOrg: sent.organization };
    },
    async allowed(data, { identity, target }) {
      const org = target.inviteOrg!;
      expect(data).toEqual({ organization: expect.objectContaining({ name: org, githubLogin: org, role: "member" }) });
      expect(await organizationsOf(identity.userId!)).toContainEqual({ name: org, role: "member" });
    },
    says: { "404": noSuchInvite },
  },
  reaccept: {
    targeted: true,
    mcp: { tool: "accept_invite", args: ({ target }) => ({ id: target.accepted }) },
    rest: { method: "POST", path: ({ target }) => acceptPath(target.accepted) },
    says: { "404": noSuchInvite, "409": () => /^This invite to \S+ was already accepted at / },
  },
  verified: {
    targeted: false,
    rest: { method: "GET", path: () => "/api/user/verified-email" },
    async allowed(data, { identity }) {
      expect(data).toEqual({});
      await expect(requireVerifiedEmail(world.http.handle.deps, identity.userId!)).resolves.toBeUndefined();
    },
    says: { "404": () => /^(The email address \S+ is not verified yet|This account has no email address yet)/ },
  },
  pending: {
    targeted: false,
    rest: { method: "GET", path: () => "/api/user/pending-emails" },
    prepare: askForEmailChange,
    allowed(data, { n }) {
      expect(data).toEqual({ email: `pending-${n}@example.com` });
    },
  },
  dropPending: {
    targeted: false,
    rest: { method: "DELETE", path: () => "/api/user/pending-emails", status: 204 },
    prepare: askForEmailChange,
    async allowed(data, { identity }) {
      expect(data).toBeUndefined();
      expect(await getPendingEmail(world.http.handle.deps, identity.userId!)).toBeUndefined();
    },
  },
  ghTeams: {
    targeted: true,
    rest: { method: "GET", path: ({ target }) => `/api/user/github/${encodeURIComponent(target.org)}/teams` },
    says: { "400": () => /^operation only supported for GitHub-backed users\. / },
  },
  vcsOrgs: {
    targeted: false,
    rest: { method: "GET", path: () => "/api/user/vcs/organizations" },
    allowed(data) {
      expect(data).toEqual({ organizations: [] });
    },
  },
  vcsSync: {
    targeted: false,
    rest: { method: "POST", path: () => "/api/user/vcs/sync" },
    says: { "400": () => /^There is no linked identity provider to sync from\. / },
  },
  dropVcs: {
    targeted: false,
    rest: { method: "DELETE", path: () => "/api/user/vcs" },
    says: { "400": () => /^must have more than one identity provider\. / },
  },
  gitlabOrgs: {
    targeted: false,
    rest: { method: "GET", path: () => "/api/user/gitlab-app/organizations" },
    allowed(data) {
      expect(data).toEqual({ organizations: [] });
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

/** An answer with the organization name, secret and invite ids blanked out, and Unleash's per-error random id dropped. */
function blanked(answer: Answer, target: Target): string {
  const data = answer.data && typeof answer.data === "object" ? { ...answer.data } : answer.data;
  if (!answer.ok && data) delete data.id;
  let text = JSON.stringify({ ...answer, data })
    .replaceAll(target.org, "<org>")
    .replaceAll(encodeURIComponent(target.secret), "<secret>")
    .replaceAll(target.accepted, "<invite>");
  if (target.invite) text = text.replaceAll(target.invite, "<invite>");
  return text;
}

async function runCell(cell: Cell): Promise<void> {
  const op = OPERATIONS[cell.op];
  const spec = IDENTITIES[cell.identity];
  const identity = world.identities[cell.identity];
  const n = ++serial;
  const prepared = (await op.prepare?.({ identity, surface: cell.surface, n })) ?? {};
  const call: Call = { identity, target: { ...world.real, ...prepared }, surface: cell.surface, n };
  const answer = await perform(cell.surface, op, call);
  const rest = cell.surface === "rest";
  const context = `${cell.surface}:${cell.op} as ${cell.identity}: ${answer.message || JSON.stringify(answer.data)}`;

  switch (cell.outcome) {
    case "ok":
      expect(answer.ok, context).toBe(true);
      if (rest) expect(answer.status, context).toBe(op.rest!.status ?? 200);
      expect(op.allowed, `${cell.op} says nothing of what an allowed call returns`).toBeDefined();
      await op.allowed!(answer.data, call);
      return;
    case "401": {
      expect(answer.ok, context).toBe(false);
      // A present token that is not valid is refused by HTTP itself, never taken as anonymous; so is a call without one that needs an account.
      expect(answer.status, context).toBe(refusedByHttp(cell.surface, spec) ? 401 : undefined);
      // Unleash's paths call a token they do not accept an UnauthorizedError, and only a missing one AuthenticationRequired; Pulumi's say the latter.
      const unleash = /^\/(api\/admin|invite)\//.test(op.rest?.path(call) ?? "");
      if (rest) expect(answer.data.name).toBe(unleash && call.identity.token ? "UnauthorizedError" : "AuthenticationRequired");
      expect(answer.message).toMatch((rest ? spec.unauthorized.rest : cell.surface === "http" ? spec.unauthorized.http : undefined) ?? spec.unauthorized.mcp);
      return;
    }
    case "403":
    case "404":
    case "409":
    case "400": {
      const says = op.says?.[cell.outcome];
      expect(says, `${cell.op} says nothing of its ${cell.outcome}`).toBeDefined();
      expect(answer.ok, context).toBe(false);
      expect(answer.status, context).toBe(rest ? Number(cell.outcome) : undefined);
      if (rest) expect(answer.data.name).toBe(REFUSAL_NAMES[cell.outcome]);
      expect(answer.message).toMatch(says!());
      break;
    }
    case "empty":
      expect(op.empty, `${cell.op} says nothing of its empty answer`).toBeDefined();
      expect(answer.ok, context).toBe(true);
      if (rest) expect(answer.status, context).toBe(200);
      expect(answer.data).toEqual(op.empty);
      break;
  }
  if (!isHidden(op, cell.outcome)) return;
  // Hidden: the same question about something that does not exist gets the same answer.
  const madeUp = await perform(cell.surface, op, { ...call, target: world.madeUp });
  expect(blanked(answer, call.target)).toBe(blanked(madeUp, world.madeUp));
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
    userId: await userIdOf(signup.userInfo.id),
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

/** Marks an address as the account's verified email, as opening its confirmation link would. */
async function verifyEmailOf(userId: number, email: string): Promise<void> {
  await world.http.store.db.transact(async (tx) => {
    const { users } = tx.tables;
    await tx.update(users).set({ email, emailVerifiedAt: world.http.clock.now() }).where(eq(users.id, userId));
  });
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
  const seeded = await createStack(deps, admin.userId!, { organization: org, projectName: "app", stackName: "prod" });
  const link = await createInviteLink(deps, admin.userId!, { name: "Team O", expiresAt: inAWeek(), organization: org });

  const memberEmail = "member@example.com";
  const joined = await rest("POST", `/invite/${encodeURIComponent(link.secret)}/signup`, undefined, {
    email: memberEmail,
    name: "Member of O",
  });
  expect(joined.status, joined.message).toBe(200);
  const member: Identity = {
    token: joined.data.accessToken,
    uid: (await getCurrentUser(deps, joined.data.id)).id,
    userId: joined.data.id,
    login: joined.data.username,
    orgName: org,
    claimed: false,
  };
  await verifyEmailOf(member.userId!, memberEmail);
  // The link made it a Viewer (read-only); O's admin then invited its address as a member, which it accepted.
  const promotion = await inviteMember(deps, admin.userId!, { email: memberEmail, organization: org });
  await acceptInvite(deps, member.userId!, promotion.invite.id);

  const agent = (await restSignup("Fresh agent")).identity;
  const stranger = (await restSignup("Stranger")).identity;
  // The stranger has a stack, a link and a verified email of its own, so its empty answers are not just an empty account.
  await createStack(deps, stranger.userId!, { projectName: "app", stackName: "prod" });
  await createInviteLink(deps, stranger.userId!, { name: "Stranger's team", expiresAt: inAWeek() });
  await verifyEmailOf(stranger.userId!, "stranger@example.com");

  // Two outside organizations have emailed the member invites: one still pending, one it accepted.
  const inviter = (await restSignup("Inviter")).identity;
  const standing = await inviteMember(deps, inviter.userId!, { email: memberEmail });
  const earlierInviter = (await restSignup("Earlier inviter")).identity;
  const accepted = await inviteMember(deps, earlierInviter.userId!, { email: memberEmail });
  await acceptInvite(deps, member.userId!, accepted.invite.id);

  const claimedHuman = await claimed("Claimed", "claimed-human", true);
  const claimEnded = await claimed("Let go", "strict-human", false);
  // Invites reach only a verified address: the one sent to the claimed human's unconfirmed email is not theirs to see.
  await inviteMember(deps, inviter.userId!, { email: "claimed-human@example.com" });

  const revoked = (await restSignup("Revoked")).identity;
  await http.store.db.transact(async (tx) => {
    const { accessTokens } = tx.tables;
    await tx
      .update(accessTokens)
      .set({ revokedAt: http.clock.now(), revokedReason: null })
      .where(eq(accessTokens.jti, decodeJwt(revoked.token!).jti!));
  });

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
    real: { org, secret: link.secret, accepted: accepted.invite.id },
    madeUp: {
      org: `no-such-org-${randomBytes(4).toString("hex")}`,
      secret: randomBytes(32).toString("base64url"),
      invite: randomUUID(),
      accepted: randomUUID(),
    },
    linkName: link.name,
    adminId: admin.userId!,
    seededStackId: seeded.id,
    memberEmail,
    standingInviteId: standing.invite.id,
    acceptedOrg: accepted.organization,
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
      .sign(await signingKey(world.http.handle.deps.db));
    const answer = await rest("GET", "/api/user", resigned);
    expect(answer.status, answer.message).toBe(200);
    expect(answer.data.id).toBe(admin.uid);
  });

  test("the expired token's own expiry has passed, and it was otherwise never revoked", async () => {
    const { expired } = world.identities;
    expect(decodeJwt(expired.token!).exp! * 1000).toBeLessThanOrEqual(world.http.clock.now().getTime());
    const { db } = world.http.store;
    const { accessTokens } = db.tables;
    const rows = await db
      .select({ revokedAt: accessTokens.revokedAt })
      .from(accessTokens)
      .where(eq(accessTokens.jti, decodeJwt(expired.token!).jti!));
    expect(rows).toEqual([{ revokedAt: null }]);
  });

  test("the member joined O as a member (and an outside organization by an invite); the admin administers O; the others are not in O", async () => {
    const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
    expect((await organizationsOf(world.identities.member.userId!)).sort(byName)).toEqual(
      [
        { name: world.real.org, role: "member" },
        { name: world.acceptedOrg, role: "member" },
      ].sort(byName),
    );
    expect(await organizationsOf(world.identities.admin.userId!)).toEqual([{ name: world.real.org, role: "admin" }]);
    for (const key of ["agent", "claimed", "claimEnded", "stranger", "expired", "revoked"] as const) {
      expect(await organizationsOf(world.identities[key].userId!)).toEqual([{ name: world.identities[key].orgName, role: "admin" }]);
    }
  });

  test("only the member and the stranger have a verified email; the invites are addressed to the member's", async () => {
    const verified = async (key: IdentityKey) => {
      try {
        await requireVerifiedEmail(world.http.handle.deps, world.identities[key].userId!);
        return true;
      } catch {
        return false;
      }
    };
    for (const key of ["agent", "claimed", "claimEnded", "member", "admin", "stranger"] as const) {
      expect(await verified(key), key).toBe(key === "member" || key === "stranger");
    }
    const { db } = world.http.store;
    const { orgInvites } = db.tables;
    const addressed = await db
      .select({ email: orgInvites.email, acceptedAt: orgInvites.acceptedAt })
      .from(orgInvites)
      .where(inArray(orgInvites.uid, [world.standingInviteId, world.real.accepted]))
      .orderBy(orgInvites.id);
    expect(addressed).toEqual([
      { email: world.memberEmail, acceptedAt: null },
      { email: world.memberEmail, acceptedAt: expect.any(Date) },
    ]);
  });
});

describe("authorization matrix", () => {
  test.each(CELLS.map((cell) => [testName(cell), cell] as const))("%s", async (_name, cell) => {
    await runCell(cell);
  });
});
