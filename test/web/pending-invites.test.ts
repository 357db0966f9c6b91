/**
 * Pulumi's pending organization invites over real HTTP: GET
 * /api/user/pending-invites and POST …/{id}/accept, with invites sent by
 * invite_member over /mcp and mailed to the mail folder.
 */
import { eq } from "drizzle-orm";
import { test as base, describe, expect } from "vitest";
import { DAY } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";
import { seedOrganizationSummary, seedPendingInvites, seedPendingOrganizationInvite, seedUser } from "../seed-shapes.js";

const test = base.extend<{ http: TestHttp }>({
  // biome-ignore lint: vitest fixtures need the destructuring pattern.
  http: async ({}, use) => {
    // Access tokens outlive an invite (7 days) here, so that expiry can be reached with the clock.
    const http = await startTestHttp({ ONBOARD_ACCESS_TOKEN_TTL_HOURS: String(30 * 24) });
    await use(http);
    await http.close();
  },
});

interface Answer {
  status: number;
  body: any;
  text: string;
}

async function request(http: TestHttp, method: string, pathOrUrl: string, token?: string, json?: unknown): Promise<Answer> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (json !== undefined) headers["content-type"] = "application/json";
  const payload = json === undefined ? undefined : JSON.stringify(json);
  const res = await fetch(pathOrUrl.startsWith("http") ? pathOrUrl : `${http.url}${pathOrUrl}`, { method, headers, body: payload });
  const text = await res.text();
  expect(text).not.toMatch(/\n\s+at /);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text };
}

/** Pulumi's error body: numeric code equal to the status, the kind's name, a message. */
function expectPulumiError(answer: Answer, status: number, name: string) {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.body).toMatchObject({ code: status, name, message: expect.any(String) });
}

async function signup(http: TestHttp, agentName: string) {
  const answer = await request(http, "POST", "/api/agents/signup", undefined, { agentName });
  expect(answer.status, answer.text).toBe(200);
  return answer.body as { accessToken: string; userInfo: { id: string; githubLogin: string } };
}

async function verifyEmail(http: TestHttp, uid: string, email: string) {
  await http.store.db.transact(async (tx) => {
    const { users } = tx.tables;
    await tx.update(users).set({ email, emailVerifiedAt: http.clock.now() }).where(eq(users.uid, uid));
  });
}

async function inviteRow(http: TestHttp, uid: string) {
  const { orgInvites } = http.store.db.tables;
  const [row] = await http.store.db
    .select({ acceptError: orgInvites.acceptError, acceptedAt: orgInvites.acceptedAt })
    .from(orgInvites)
    .where(eq(orgInvites.uid, uid));
  return row;
}

/** A host that invited invitee@example.com over /mcp, and the invitee with that address verified. */
async function invited(http: TestHttp, role: "member" | "admin" = "member") {
  const host = await signup(http, "Host");
  const invitee = await signup(http, "Invitee");
  await verifyEmail(http, invitee.userInfo.id, "invitee@example.com");
  const { client } = await http.connect({ authorization: `Bearer ${host.accessToken}` });
  const result = await client.callTool({ name: "invite_member", arguments: { email: "invitee@example.com", role } });
  expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
  const invite = seedPendingOrganizationInvite.parse(result.structuredContent);
  return { host, org: host.userInfo.githubLogin, invitee, invite };
}

describe("GET /api/user/pending-invites", () => {
  test("200 with the invites to the caller's verified email; the invite was mailed with the accept URL", async ({ http }) => {
    const { org, invitee, invite } = await invited(http, "admin");
    const answer = await request(http, "GET", "/api/user/pending-invites", invitee.accessToken);
    expect(answer.status, answer.text).toBe(200);
    expect(seedPendingInvites.parse(answer.body)).toEqual({ invites: [invite] });
    expect(invite).toMatchObject({ role: "admin", status: "pending", acceptInviteUrl: `${http.url}/api/user/pending-invites/${invite.id}/accept` });

    const mail = http.mailbox().filter((message) => message.subject.startsWith("You are invited"));
    expect(mail).toEqual([{ to: "invitee@example.com", subject: `You are invited to join ${org} on agent-onboard`, text: expect.stringContaining(invite.acceptInviteUrl) }]);
    expect(mail[0]!.text).toContain("accept_invite");

    const user = seedUser.parse((await request(http, "GET", "/api/user", invitee.accessToken)).body);
    expect(user.potentialOrganizations).toEqual([expect.objectContaining({ name: org, role: "potential-member" })]);
  });

  test("200 with an empty list for a caller without a verified email", async ({ http }) => {
    await invited(http);
    const other = await signup(http, "Other");
    await http.store.db.transact(async (tx) => {
      const { users } = tx.tables;
      await tx.update(users).set({ email: "invitee2@example.com" }).where(eq(users.uid, other.userInfo.id));
    });
    const answer = await request(http, "GET", "/api/user/pending-invites", other.accessToken);
    expect(answer.status).toBe(200);
    expect(seedPendingInvites.parse(answer.body)).toEqual({ invites: [] });
  });

  test("401 without a token or with a bad one", async ({ http }) => {
    expectPulumiError(await request(http, "GET", "/api/user/pending-invites"), 401, "AuthenticationRequired");
    expectPulumiError(await request(http, "GET", "/api/user/pending-invites", "not-a-token"), 401, "AuthenticationRequired");
  });
});

describe("POST /api/user/pending-invites/{id}/accept", () => {
  test("200 with the organization joined, at the very acceptInviteUrl; then it is in GET /api/user", async ({ http }) => {
    const { org, invitee, invite } = await invited(http, "admin");
    const answer = await request(http, "POST", invite.acceptInviteUrl, invitee.accessToken);
    expect(answer.status, answer.text).toBe(200);
    expect(Object.keys(answer.body)).toEqual(["organization"]);
    expect(seedOrganizationSummary.parse(answer.body.organization)).toMatchObject({ name: org, githubLogin: org, role: "admin" });
    const user = seedUser.parse((await request(http, "GET", "/api/user", invitee.accessToken)).body);
    expect(user.organizations).toContainEqual(expect.objectContaining({ name: org, role: "admin" }));
    expect(user.potentialOrganizations).toEqual([]);
    expect((await request(http, "GET", "/api/user/pending-invites", invitee.accessToken)).body).toEqual({ invites: [] });
  });

  test("409 when accepted twice", async ({ http }) => {
    const { invitee, invite } = await invited(http);
    expect((await request(http, "POST", invite.acceptInviteUrl, invitee.accessToken)).status).toBe(200);
    expectPulumiError(await request(http, "POST", invite.acceptInviteUrl, invitee.accessToken), 409, "NameExistsError");
  });

  test("404 with the same message for an unknown invite and one addressed to someone else", async ({ http }) => {
    const { org, invite } = await invited(http);
    const stranger = await signup(http, "Stranger");
    await verifyEmail(http, stranger.userInfo.id, "stranger@example.com");
    const foreign = await request(http, "POST", invite.acceptInviteUrl, stranger.accessToken);
    const unknown = await request(http, "POST", "/api/user/pending-invites/no-such-invite/accept", stranger.accessToken);
    expectPulumiError(foreign, 404, "NotFoundError");
    expectPulumiError(unknown, 404, "NotFoundError");
    expect(foreign.body.message.replace(invite.id, "ID")).toBe(unknown.body.message.replace("no-such-invite", "ID"));
    expect(foreign.text).not.toContain(org);
  });

  test("400 for an expired invite (by the server's clock), and the error is kept on the invite", async ({ http }) => {
    const { invitee, invite } = await invited(http);
    http.clock.advance(7 * DAY);
    const answer = await request(http, "POST", invite.acceptInviteUrl, invitee.accessToken);
    expectPulumiError(answer, 400, "BadDataError");
    expect(answer.body.message).toMatch(/expired/);
    expect(await inviteRow(http, invite.id)).toEqual({ acceptError: answer.body.message, acceptedAt: null });
  });

  test("401 without a token, and nothing changes", async ({ http }) => {
    const { invite } = await invited(http);
    expectPulumiError(await request(http, "POST", invite.acceptInviteUrl), 401, "AuthenticationRequired");
    expect(await inviteRow(http, invite.id)).toEqual({ acceptError: null, acceptedAt: null });
  });

  test("concurrent accepts of one invite: one 200, the rest 409, exactly one membership", async ({ http }) => {
    const { org, invitee, invite } = await invited(http);
    const answers = await Promise.all(Array.from({ length: 8 }, () => request(http, "POST", invite.acceptInviteUrl, invitee.accessToken)));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, ...Array(7).fill(409)]);
    const rows = await http.store.query(
      "SELECT count(*) AS n FROM memberships m JOIN organizations o ON o.id = m.org_id JOIN users u ON u.id = m.user_id WHERE o.name = ? AND u.uid = ?",
      [org, invitee.userInfo.id],
    );
    expect(rows).toEqual([{ n: 1 }]);
  });
});
