// Three stateless instances on one database (of the engine under test: one
// SQLite file, or one PostgreSQL database) behind a real nginx, round-robin
// with no stickiness: any instance must serve any request of a flow that
// another began, and the database alone decides every race.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, type ElicitRequestURLParams, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { openStore, type Store } from "../db/client.js";
import { type FreshDatabase, freshDatabase, testEngine } from "./databases.js";
import { jsonOrUndefined, ok } from "./fixture.js";
import { brokenRules } from "./invariants.js";
import { freePort, type LoadBalancer, loadBalancer } from "./nginx.js";
import { connectAgentFirst, HostProvider } from "./oauth-host.js";
import { type Serving, startServe } from "./processes.js";
import { seedAgentSignupResponse, seedClaimStatus, seedInviteToken, seedRedeemedAgent, seedStacksPage } from "./seed-shapes.js";

const INSTANCES = 3;
const PASSWORD = "Balanced-l0ad!";

let home: string;
let database: FreshDatabase | undefined;
let lb: LoadBalancer;
let instances: Array<{ served: Serving; port: number }> = [];
let store: Store | undefined;
const clients: Client[] = [];

const count = async (sql: string, ...params: unknown[]) => Number((await store!.query(sql, params))[0]!.n);
const tally = (statuses: number[]) => statuses.reduce<Record<number, number>>((all, status) => ({ ...all, [status]: (all[status] ?? 0) + 1 }), {});
/** How many tool calls each instance served so far, from its own log. */
const callsPerInstance = () => instances.map(({ served }) => (served.stderr().match(/"msg":"tool call(?: resumed)?"/g) ?? []).length);

async function connect(token?: string, capabilities = {}) {
  const client = new Client({ name: "balanced", version: "1.0.0" }, { capabilities, versionNegotiation: { mode: { pin: "2026-07-28" } } });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${lb.url}/mcp`), { requestInit: { headers: token ? { Authorization: `Bearer ${token}` } : {} } }),
  );
  clients.push(client);
  return client;
}

async function request(path: string, init: RequestInit = {}) {
  const response = await fetch(`${lb.url}${path}`, { redirect: "manual", ...init, signal: AbortSignal.timeout(20_000) });
  const text = await response.text();
  return { status: response.status, text, body: jsonOrUndefined(text), headers: response.headers };
}

/** A claim form as a browser gets it: its CSRF cookie and hidden field (from whichever instance answers). */
async function claimForm(claimUrl: string) {
  const page = await request(new URL(claimUrl).pathname);
  expect(page.status).toBe(200);
  const cookie = /onboard_csrf=([^;]+)/.exec(page.headers.get("set-cookie") ?? "")![1]!;
  const csrf = /<input type="hidden" name="csrf" value="([^"]+)">/.exec(page.text)![1]!;
  return { cookie: `onboard_csrf=${cookie}`, csrf };
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "onboard-lb-"));
  database = await freshDatabase();
  lb = await loadBalancer();
  const ports = await Promise.all(Array.from({ length: INSTANCES }, () => freePort()));
  const env = {
    HOME: home,
    ...database.env,
    ONBOARD_PUBLIC_URL: lb.url,
    ONBOARD_TRUST_PROXY: "loopback",
    ONBOARD_SIGNUPS_PER_HOUR: "0",
    LOG_LEVEL: "debug",
  };
  instances = await Promise.all(ports.map(async (port) => ({ port, served: await startServe({ ...env, ONBOARD_PORT: String(port) }) })));
  await lb.start(ports.map((port) => `http://127.0.0.1:${port}`));
  store = await openStore(database.settings);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await lb?.stop();
  await Promise.all(instances.map(({ served }) => served.stop()));
  await store?.close();
  await database?.drop();
  rmSync(home, { recursive: true, force: true });
}, 30_000);

describe(`three instances on one ${testEngine} database behind nginx`, () => {
  test("the whole onboarding, each request on whichever instance nginx picks", async () => {
    const before = callsPerInstance();
    const asked: ElicitRequestURLParams[] = [];
    const host = await connect(undefined, { elicitation: { url: {} } });
    host.setRequestHandler("elicitation/create", async (request) => {
      asked.push(request.params as ElicitRequestURLParams);
      return { action: "accept" };
    });
    // The first round and its retry land on different instances: the sealed state is any instance's to open.
    const signup = seedAgentSignupResponse.parse(await ok(host, "agent_signup", { agentName: "Balanced" }));
    expect(asked).toEqual([expect.objectContaining({ url: signup.claimUrl })]);
    expect(signup.claimUrl.startsWith(`${lb.url}/claim/`)).toBe(true);

    const agent = await connect(signup.accessToken);
    for (const stackName of ["dev", "staging", "prod"]) await ok(agent, "create_stack", { projectName: "site", stackName });
    expect(seedStacksPage.parse(await ok(agent, "list_stacks")).stacks.map((stack) => stack.stackName)).toEqual(["dev", "staging", "prod"]);
    const invite = seedInviteToken.parse(await ok(agent, "create_invite_link", { name: "crew", expiresAt: new Date(Date.now() + 86_400_000).toISOString() }));
    const joined = seedRedeemedAgent.parse(await ok(await connect(), "redeem_invite", { token: invite.url!, email: "mate@example.com", name: "Mate" }));
    expect((await ok(await connect(joined.accessToken), "get_current_user")).organizations[0].name).toBe(signup.userInfo.organizations[0]!.name);

    const form = await claimForm(signup.claimUrl);
    const claimed = await request(new URL(signup.claimUrl).pathname, {
      method: "POST",
      headers: { cookie: form.cookie, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrf: form.csrf, username: "owner", email: "owner@example.com", password: PASSWORD, keepAgentAccess: "yes" }).toString(),
    });
    expect(claimed.status).toBe(200);
    expect(seedClaimStatus.parse(await ok(agent, "get_claim_status"))).toMatchObject({ claimed: true, claimedBy: "owner" });

    const served = callsPerInstance().map((calls, i) => calls - before[i]!);
    expect(served.every((calls) => calls >= 2), `tool calls per instance: ${served.join(", ")}`).toBe(true);
  });

  test("a host signs in with OAuth across the instances: discovery, registration, consent, the agent-first path and the code exchange each on whichever instance answers", async () => {
    const provider = new HostProvider("Balanced host");
    await connectAgentFirst(lb.url, provider);
    const host = new Client({ name: "balanced-oauth", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
    await host.connect(new StreamableHTTPClientTransport(new URL(`${lb.url}/mcp`), { authProvider: provider }));
    clients.push(host);
    for (let i = 0; i < INSTANCES; i++) expect(await ok(host, "get_current_user")).toMatchObject({ isAgent: true, name: "Balanced host" });
  });

  test("20 concurrent claims of one token across the instances: exactly one succeeds", async () => {
    const signup = (await request("/api/agents/signup", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).body;
    const forms = await Promise.all(Array.from({ length: INSTANCES }, () => claimForm(signup.claimUrl)));
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const form = forms[i % INSTANCES]!;
        return request(new URL(signup.claimUrl).pathname, {
          method: "POST",
          headers: { cookie: form.cookie, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ csrf: form.csrf, username: `claimer-${i}`, email: `claimer-${i}@example.com`, password: PASSWORD }).toString(),
        });
      }),
    );
    expect(tally(answers.map((answer) => answer.status))).toEqual({ 200: 1, 409: 19 });
    expect(await count("SELECT count(*) AS n FROM users WHERE login LIKE 'claimer-%'")).toBe(1);
  });

  test("20 concurrent redeems of one email across the instances: exactly one user", async () => {
    const admin = (await request("/api/agents/signup", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).body;
    const link = await request("/api/admin/invite-link/tokens", {
      method: "POST",
      headers: { authorization: `Bearer ${admin.accessToken}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "race", expiresAt: new Date(Date.now() + 86_400_000).toISOString() }),
    });
    expect(link.status, link.text).toBe(201);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        request(`/invite/${link.body.secret}/signup`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email: "twin@example.com", name: `Twin ${i}`, username: `twin-${i}`, password: PASSWORD }),
        }),
      ),
    );
    expect(tally(answers.map((answer) => answer.status))).toEqual({ 200: 1, 409: 19 });
    expect(await count("SELECT count(*) AS n FROM users WHERE email = 'twin@example.com'")).toBe(1);
  });

  test("an instance killed with SIGKILL during a load of get_current_user: once nginx skips it, no request fails", async () => {
    const { accessToken } = (await request("/api/agents/signup", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).body;
    const call = () =>
      request("/mcp", {
        method: "POST",
        headers: {
          authorization: `Bearer ${accessToken}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          "mcp-protocol-version": "2026-07-28",
          "mcp-method": "tools/call",
          "mcp-name": "get_current_user",
        },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "tools/call",
          params: { name: "get_current_user", arguments: {}, _meta: { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} } },
        }),
      });
    const failures: Array<{ at: number; what: string }> = [];
    let answered = 0;
    const started = Date.now();
    let killedAt = Number.POSITIVE_INFINITY;
    const workers = Array.from({ length: 8 }, async () => {
      while (Date.now() - started < 4_000) {
        try {
          const answer = await call();
          const result = jsonOrUndefined(answer.text.replace(/^[\s\S]*?data: /, "").split("\n")[0] ?? "")?.result ?? answer.body?.result;
          if (answer.status === 200 && result && !result.isError) answered += 1;
          else failures.push({ at: Date.now(), what: `${answer.status} ${answer.text.slice(0, 200)}` });
        } catch (error) {
          failures.push({ at: Date.now(), what: String(error) });
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    instances[0]!.served.child.kill("SIGKILL");
    killedAt = Date.now();
    await Promise.all(workers);

    expect(await instances[0]!.served.exited).toBeNull(); // ended by the signal
    const afterNotice = failures.filter((failure) => failure.at > killedAt + 1_000);
    const described = (list: typeof failures) => JSON.stringify(list.slice(0, 3).map(({ at, what }) => ({ msAfterKill: at - killedAt, what })));
    expect(afterNotice, described(afterNotice)).toEqual([]);
    expect(failures.length, described(failures)).toBeLessThanOrEqual(8); // at most the calls in flight at the kill
    expect(answered).toBeGreaterThan(100);
    // Nothing is half-written: no account without its organization or tokens, no row pointing nowhere.
    expect(await brokenRules(store!)).toEqual({});
    // The survivors still serve everything, the whole flow included.
    const agent = await connect(accessToken);
    await ok(agent, "create_stack", { projectName: "after", stackName: "kill" });
    expect(await count("SELECT count(*) AS n FROM stacks WHERE project_name = 'after'")).toBe(1);
  });
});
