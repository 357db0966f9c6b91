// Races across processes: three `serve` processes share one database (one
// SQLite file, or one PostgreSQL database), and every contended write is
// spread over all three, so that the database (not one process's event loop)
// has to decide who wins.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CallToolResult, Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openStore, type Store } from "../db/client.js";
import { type FreshDatabase, testEngine } from "./databases.js";
import { jsonOrUndefined } from "./fixture.js";
import { brokenRules } from "./invariants.js";
import { type Serving, startServe, unmigratedDatabase } from "./processes.js";

const PROCESSES = 3;
const REQUEST_MS = 20_000;
const PASSWORD = "Race-c0ndition!";

interface Answer {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

async function request(url: string, init: RequestInit & { json?: unknown; token?: string } = {}): Promise<Answer> {
  const headers = new Headers(init.headers);
  if (init.json !== undefined) headers.set("content-type", "application/json");
  if (init.token) headers.set("authorization", `token ${init.token}`);
  const res = await fetch(url, {
    ...init,
    headers,
    body: init.json === undefined ? init.body : JSON.stringify(init.json),
    redirect: "manual",
    signal: AbortSignal.timeout(REQUEST_MS),
  });
  const text = await res.text();
  const body = jsonOrUndefined(text);
  return { status: res.status, body, text, headers: res.headers };
}

const tally = (statuses: number[]) =>
  statuses.reduce<Record<number, number>>((counts, status) => ({ ...counts, [status]: (counts[status] ?? 0) + 1 }), {});

let home: string;
let database: FreshDatabase | undefined;
let servers: Serving[] = [];
let store: Store | undefined;
const clients: Client[] = [];

/** The i-th of several concurrent requests goes to process i mod 3. */
const via = (i: number) => servers[i % PROCESSES]!.url;

const count = async (sql: string, ...params: unknown[]) => Number((await store!.query(sql, params))[0]!.n);

async function signup(i: number, agentName = `Racer ${i}`) {
  const answer = await request(`${via(i)}/api/agents/signup`, { method: "POST", json: { agentName } });
  expect(answer.status, answer.text).toBe(200);
  return answer.body as { accessToken: string; claimToken: string; claimUrl: string; userInfo: { id: string; githubLogin: string; organizations: Array<{ name: string }> } };
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "onboard-races-"));
  database = await unmigratedDatabase();
  // All three start at once on a database nobody has migrated: they race on the migrations too.
  const env = { HOME: home, ...database.env, ONBOARD_SIGNUPS_PER_HOUR: "0", LOG_LEVEL: "warn" };
  const started = await Promise.allSettled(Array.from({ length: PROCESSES }, () => startServe(env)));
  servers = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const failed = started.find((result) => result.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  expect(new Set(servers.map((served) => served.url)).size).toBe(PROCESSES);
  store = await openStore(database.settings);
}, 30_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await store?.close();
  await Promise.all(servers.map((served) => served.stop()));
  await database?.drop();
  rmSync(home, { recursive: true, force: true });
}, 30_000);

describe(`three serve processes on one database (${testEngine})`, () => {
  test("60 concurrent agent signups make 60 whole, distinct accounts", async () => {
    const tables = ["users", "organizations", "memberships", "access_tokens", "claim_tokens"];
    const before: Record<string, number> = {};
    for (const table of tables) before[table] = await count(`SELECT count(*) AS n FROM ${table}`);

    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => request(`${via(i)}/api/agents/signup`, { method: "POST", json: { agentName: `Racer ${i}` } })),
    );
    expect(tally(answers.map((answer) => answer.status))).toEqual({ 200: 60 });

    const logins = answers.map((answer) => answer.body.userInfo.githubLogin as string);
    expect(new Set(logins).size).toBe(60);
    expect(new Set(answers.map((answer) => answer.body.accessToken)).size).toBe(60);
    expect(new Set(answers.map((answer) => answer.body.claimToken)).size).toBe(60);
    for (const table of tables) expect((await count(`SELECT count(*) AS n FROM ${table}`)) - before[table]!, table).toBe(60);

    // Each of them is whole: personal organization with the agent as admin, one access and one claim token.
    const placeholders = logins.map(() => "?").join(",");
    expect(
      await count(
        `SELECT count(*) AS n FROM users u
           JOIN organizations o ON o.id = u.default_org_id AND o.name = u.login
           JOIN memberships m ON m.user_id = u.id AND m.org_id = o.id AND m.role = 'admin'
          WHERE u.is_agent AND u.login IN (${placeholders})
            AND (SELECT count(*) FROM access_tokens a WHERE a.user_id = u.id) = 1
            AND (SELECT count(*) FROM claim_tokens c WHERE c.user_id = u.id) = 1`,
        ...logins,
      ),
    ).toBe(60);

    // A token issued by one process is honoured by the others (the signing key lives in the db).
    const me = await Promise.all(answers.map((answer, i) => request(`${via(i + 1)}/api/user`, { token: answer.body.accessToken })));
    expect(me.map((answer) => answer.body?.githubLogin)).toEqual(logins);
  });

  test("15 concurrent redeems of one email through one invite link make one user; the rest get 409", async () => {
    const admin = await signup(0, "Inviter");
    const link = await request(`${via(1)}/api/admin/invite-link/tokens`, {
      method: "POST",
      token: admin.accessToken,
      json: { name: "race", expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(link.status, link.text).toBe(201);
    const secret = link.body.secret as string;

    // The same address in different cases: it is stored lowercased, so these all clash.
    const spellings = ["same@example.com", "Same@Example.com", "SAME@EXAMPLE.COM"];
    const answers = await Promise.all(
      Array.from({ length: 15 }, (_, i) =>
        request(`${via(i)}/invite/${secret}/signup`, {
          method: "POST",
          json: { email: spellings[i % spellings.length], name: `Twin ${i}`, username: `twin-${i}`, password: PASSWORD },
        }),
      ),
    );
    expect(tally(answers.map((answer) => answer.status))).toEqual({ 200: 1, 409: 14 });
    for (const answer of answers.filter((answer) => answer.status === 409)) {
      expect(answer.body).toMatchObject({ name: "NameExistsError" });
      expect(answer.body.message).toContain("same@example.com");
    }
    const winner = answers.find((answer) => answer.status === 200)!.body;
    expect(winner.email).toBe("same@example.com");

    expect(await count("SELECT count(*) AS n FROM users WHERE lower(email) = 'same@example.com'")).toBe(1);
    expect(await count("SELECT count(*) AS n FROM users WHERE login LIKE 'twin-%'")).toBe(1);
    const { users } = store!.db.tables;
    const [user] = await store!.db
      .select({ id: users.id, login: users.login, isAgent: users.isAgent, passwordHash: users.passwordHash })
      .from(users)
      .where(eq(users.email, "same@example.com"));
    expect(user!.login).toBe(winner.username);
    expect(user!.id).toBe(winner.id);
    expect(user!.isAgent).toBe(false);
    expect(user!.passwordHash).toMatch(/^scrypt\$/);
    expect(await count("SELECT count(*) AS n FROM memberships WHERE user_id = ? AND role = 'viewer'", user!.id)).toBe(1);
    expect(await count("SELECT count(*) AS n FROM invite_link_users WHERE user_id = ?", user!.id)).toBe(1);

    const listed = await request(`${via(2)}/api/admin/invite-link/tokens/${secret}`, { token: admin.accessToken });
    expect(listed.body.users.map((joined: { email: string }) => joined.email)).toEqual(["same@example.com"]);
  });

  test("15 concurrent claims of one claim token: exactly one 200, the rest 409", async () => {
    const agent = await signup(0, "Claimable");
    const token = agent.claimToken;

    // One GET per process, as a human's browser would: a CSRF cookie and the form's hidden field.
    const forms = await Promise.all(
      servers.map(async (served) => {
        const page = await request(`${served.url}/claim/${token}`);
        expect(page.status).toBe(200);
        const cookie = /onboard_csrf=([^;]+)/.exec(page.headers.get("set-cookie") ?? "")?.[1];
        const field = /<input type="hidden" name="csrf" value="([^"]+)">/.exec(page.text)?.[1];
        expect(cookie).toBeDefined();
        expect(field).toBe(decodeURIComponent(cookie!));
        return { cookie: `onboard_csrf=${cookie}`, csrf: field! };
      }),
    );

    const answers = await Promise.all(
      Array.from({ length: 15 }, (_, i) => {
        const form = forms[i % PROCESSES]!;
        return request(`${via(i)}/claim/${token}`, {
          method: "POST",
          headers: { cookie: form.cookie, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            csrf: form.csrf,
            username: `claimer-${i}`,
            email: `claimer-${i}@example.com`,
            password: PASSWORD,
            keepAgentAccess: "yes",
          }).toString(),
        });
      }),
    );
    expect(tally(answers.map((answer) => answer.status))).toEqual({ 200: 1, 409: 14 });
    const winner = answers.findIndex((answer) => answer.status === 200);
    expect(answers[winner]!.text).toContain(`claimer-${winner}`);
    for (const answer of answers.filter((answer) => answer.status === 409)) {
      // Refused before hashing while the winner's claim ran, or after it had.
      expect(answer.text).toMatch(/being claimed in another window|already been claimed/);
    }

    const { users, claimTokens } = store!.db.tables;
    const [user] = await store!.db
      .select({
        login: users.login,
        email: users.email,
        isAgent: users.isAgent,
        claimedAt: users.claimedAt,
        consumedAt: claimTokens.consumedAt,
        agentAccessKept: claimTokens.agentAccessKept,
      })
      .from(users)
      .innerJoin(claimTokens, eq(claimTokens.userId, users.id))
      .where(eq(users.uid, agent.userInfo.id));
    expect(user).toMatchObject({
      login: `claimer-${winner}`,
      email: `claimer-${winner}@example.com`,
      isAgent: false,
      agentAccessKept: true,
    });
    expect(user!.claimedAt).toBeInstanceOf(Date);
    expect(user!.consumedAt).toEqual(user!.claimedAt);
    expect(await count("SELECT count(*) AS n FROM users WHERE login LIKE 'claimer-%' OR email LIKE 'claimer-%'")).toBe(1);

    // The agent kept its access and sees who claimed it, from any process.
    const me = await request(`${via(2)}/api/user`, { token: agent.accessToken });
    expect(me.body).toMatchObject({ githubLogin: `claimer-${winner}`, isAgent: false });
  });

  test("15 concurrent create_stack calls with the same name make one stack; the others say it already exists", async () => {
    const agent = await signup(1, "Stacker");
    const org = agent.userInfo.organizations[0]!.name;

    const sessions = await Promise.all(
      Array.from({ length: 15 }, async (_, i) => {
        const client = new Client({ name: `racer-${i}`, version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
        clients.push(client);
        const transport = new StreamableHTTPClientTransport(new URL(`${via(i)}/mcp`), {
          requestInit: { headers: { Authorization: `Bearer ${agent.accessToken}` } },
        });
        await client.connect(transport, { timeout: REQUEST_MS });
        return client;
      }),
    );
    // Every session is open before any call is made, so the calls really overlap.
    const results = (await Promise.all(
      sessions.map((client) =>
        client.callTool(
          { name: "create_stack", arguments: { organization: org, projectName: "racing", stackName: "prod", tags: { lane: "fast" } } },
          { timeout: REQUEST_MS },
        ),
      ),
    )) as CallToolResult[];

    const created = results.filter((result) => !result.isError);
    const refused = results.filter((result) => result.isError);
    expect(created).toHaveLength(1);
    expect(created[0]!.structuredContent).toMatchObject({ orgName: org, projectName: "racing", stackName: "prod" });
    expect(refused).toHaveLength(14);
    for (const result of refused) {
      const text = result.content.map((block) => (block.type === "text" ? block.text : "")).join("\n");
      expect(text).toContain(`The stack ${org}/racing/prod already exists`);
    }

    expect(
      await count(
        `SELECT count(*) AS n FROM stacks s JOIN organizations o ON o.id = s.org_id
          WHERE o.name = ? AND s.project_name = 'racing' AND s.stack_name = 'prod'`,
        org,
      ),
    ).toBe(1);
    expect(await count("SELECT count(*) AS n FROM stack_tags WHERE name = 'lane'")).toBe(1);
    await Promise.all(sessions.map((client) => client.close()));
  });

  test("afterwards the database is whole and no process logged an unexpected error", async () => {
    expect(await brokenRules(store!)).toEqual({});
    for (const served of servers) {
      expect(served.child.exitCode).toBeNull();
      expect(served.errorLines()).toEqual([]);
    }
  });
});
