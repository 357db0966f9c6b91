import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { openStore, type Store } from "../../db/client.js";
import { type FreshDatabase, freshDatabase } from "../databases.js";
import { call, ok, textOf } from "../fixture.js";
import { brokenRules } from "../invariants.js";
import { runCli, type Serving, startServe } from "../processes.js";
import { seedAgentSignupResponse, seedUnleashUser } from "../seed-shapes.js";
import { solveChallenge } from "../signup-challenge-solver.js";

let dir: string;
let database: FreshDatabase;
let servers: Serving[];
let clients: Client[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "onboard-serve-"));
  database = await freshDatabase();
  servers = [];
  clients = [];
});

afterEach(async () => {
  await Promise.allSettled(clients.map((client) => client.close()));
  await Promise.all(servers.map((served) => served.stop("SIGKILL")));
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `agent-onboard serve` on this test's database and keeps it for clean-up. */
async function serve(env: Record<string, string> = {}): Promise<Serving> {
  const served = await startServe({ HOME: dir, ...database.env, ...env });
  servers.push(served);
  return served;
}

async function connect(mcpUrl: string, options: ConstructorParameters<typeof StreamableHTTPClientTransport>[1] = {}) {
  const client = new Client({ name: "serve-test", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), options));
  clients.push(client);
  return client;
}

/** Opens the database the server wrote, checks that it is whole and hands it to `use`. */
async function inspectDb<T>(use: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(database.settings);
  try {
    expect(await brokenRules(store)).toEqual({});
    return await use(store);
  } finally {
    await store.close();
  }
}

/** `agent-onboard serve` with ONBOARD_DATABASE_URL set to `url`; ONBOARD_DB names a file that must never be made. */
const serveOn = (url: string) =>
  runCli(["serve"], { HOME: dir, ONBOARD_DATABASE_URL: url, ONBOARD_DB: join(dir, "never-made.db"), ONBOARD_PORT: "0" });

describe("agent-onboard serve", () => {
  test("prints the MCP and web URLs of the port it picked", async () => {
    const served = await serve();
    const url = new URL(served.mcpUrl);
    expect(url.hostname).toBe("127.0.0.1");
    expect(Number(url.port)).toBeGreaterThan(0);
    expect(served.stdout()).toContain(`Web: ${url.origin}/`);
    // stdout carries only the banner; logs go to stderr as JSON lines.
    for (const line of served.stderr().trim().split("\n")) expect(() => JSON.parse(line)).not.toThrow();
    expect(await served.stop()).toBe(0);
  });

  test("an agent signs up over HTTP; SIGTERM then exits 0 promptly and leaves a whole database holding the user", async () => {
    const served = await serve();
    const signup = seedAgentSignupResponse.parse(await ok(await connect(served.mcpUrl), "agent_signup", { agentName: "Process agent" }));
    const client = await connect(served.mcpUrl, { requestInit: { headers: { Authorization: `Bearer ${signup.accessToken}` } } });
    await ok(client, "create_stack", { projectName: "web", stackName: "prod" });
    expect(signup.claimUrl).toBe(`${new URL(served.mcpUrl).origin}/claim/${signup.claimToken}`);

    const stopping = Date.now();
    expect(await served.stop()).toBe(0);
    // The client's open stream must not hold the shutdown until connections are cut.
    expect(Date.now() - stopping).toBeLessThan(4_000);
    expect(served.stderr()).toContain("shutting down");

    await inspectDb(async ({ db }) => {
      const { users, stacks } = db.tables;
      const found = await db.select({ login: users.login, name: users.name, isAgent: users.isAgent }).from(users).where(eq(users.uid, signup.userInfo.id));
      expect(found).toEqual([{ login: signup.userInfo.githubLogin, name: "Process agent", isAgent: true }]);
      expect(await db.$count(stacks)).toBe(1);
    });
  });

  test("a REST agent signup solves the proof of work at the default difficulty, 16 bits, as Pulumi's CLI does", async () => {
    const served = await serve({ ONBOARD_SIGNUP_CHALLENGE_BITS: "16" });
    const { challengeID, challengeData } = (await (await fetch(`${served.url}/api/agents/signup`)).json()) as { challengeID: string; challengeData: string };
    expect(challengeData).toMatch(/:16$/);
    const unsolved = await fetch(`${served.url}/api/agents/signup`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ agentName: "Lazy" }) });
    expect(unsolved.status).toBe(400);
    const solved = await fetch(`${served.url}/api/agents/signup`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ challengeID, challengeResult: solveChallenge(challengeData), agentName: "Solver" }),
    });
    expect(solved.status, await solved.clone().text()).toBe(200);
    seedAgentSignupResponse.parse(await solved.json());
  });

  test("a restarted server on the same database still accepts the agent's token", async () => {
    const first = await serve();
    const signup = await ok(await connect(first.mcpUrl), "agent_signup");
    expect(await first.stop()).toBe(0);

    const second = await serve();
    const client = await connect(second.mcpUrl, {
      requestInit: { headers: { Authorization: `Bearer ${signup.accessToken}` } },
    });
    expect((await ok(client, "get_current_user")).id).toBe(signup.userInfo.id);
    expect(await second.stop()).toBe(0);
  });

  test("rotating ONBOARD_SIGNING_KEYS: a restart with a new first key keeps the old key's tokens working until it is dropped", async () => {
    const [older, newer] = ["older", "newer"].map((id) => `${id}:${Buffer.alloc(32, id.length).toString("base64url")}`);
    const first = await serve({ ONBOARD_SIGNING_KEYS: older! });
    const signup = await ok(await connect(first.mcpUrl), "agent_signup");
    expect(await first.stop()).toBe(0);
    const asAgent = { requestInit: { headers: { Authorization: `Bearer ${signup.accessToken}` } } };

    const rotated = await serve({ ONBOARD_SIGNING_KEYS: `${newer},${older}` });
    expect((await ok(await connect(rotated.mcpUrl, asAgent), "get_current_user")).id).toBe(signup.userInfo.id);
    expect(await rotated.stop()).toBe(0);

    const dropped = await serve({ ONBOARD_SIGNING_KEYS: newer! });
    await expect(connect(dropped.mcpUrl, asAgent)).rejects.toMatchObject({ status: 401 });
    expect(dropped.stderr()).not.toContain(newer!.split(":")[1]);
    expect(await dropped.stop()).toBe(0);
  });

  test("a redeem_invite in flight when SIGTERM arrives still gets its answer, and its user is stored", async () => {
    const served = await serve();
    const { accessToken } = await ok(await connect(served.mcpUrl), "agent_signup");
    const admin = await connect(served.mcpUrl, { requestInit: { headers: { Authorization: `Bearer ${accessToken}` } } });
    const invite = await ok(admin, "create_invite_link", {
      name: "crew",
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });

    // Resolves once the server has answered the tools/call with its response headers, i.e. is working on it.
    let started!: () => void;
    const inFlight = new Promise<void>((resolve) => (started = resolve));
    const human = await connect(served.mcpUrl, {
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        if (typeof init?.body === "string" && init.body.includes('"redeem_invite"')) started();
        return response;
      },
    });
    // With a password, the memory-hard hash makes this call take a while.
    const pending = call(human, "redeem_invite", {
      token: invite.url,
      email: "Grace@Example.com",
      name: "Grace Hopper",
      username: "grace",
      password: "Compiler#Pioneer1952",
    });
    await inFlight;
    served.child.kill("SIGTERM");

    const result = await Promise.race([
      pending,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the call in flight got no answer")), 8_000)),
    ]);
    expect(result.isError, textOf(result)).toBeFalsy();
    const user = seedUnleashUser.parse(result.structuredContent);
    expect(user).toMatchObject({ email: "grace@example.com", username: "grace", rootRole: 3 });
    expect(await served.exited).toBe(0);

    await inspectDb(async ({ db }) => {
      const { users } = db.tables;
      const [row] = await db
        .select({ id: users.id, login: users.login, isAgent: users.isAgent, passwordHash: users.passwordHash })
        .from(users)
        .where(eq(users.email, "grace@example.com"));
      expect(row).toMatchObject({ id: user.id, login: "grace", isAgent: false });
      expect(row!.passwordHash).toMatch(/^scrypt\$/);
    });
  });

  test("a bad variable stops serve with exit code 2 and a one-line message naming it", async () => {
    const { code, stderr } = await runCli(["serve"], { HOME: dir, ...database.env, ONBOARD_PORT: "eighty" });
    expect(code).toBe(2);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toContain("ONBOARD_PORT");
  });

  test("a port already in use stops serve with exit code 2 and a line naming ONBOARD_PORT and what to do", async () => {
    const blocker = createServer().listen(0, "127.0.0.1");
    await once(blocker, "listening");
    try {
      const port = String((blocker.address() as AddressInfo).port);
      const { code, stdout, stderr } = await runCli(["serve"], { HOME: dir, ...database.env, ONBOARD_PORT: port });
      expect(code).toBe(2);
      expect(stdout).toBe("");
      expect(stderr.trim().split("\n")).toHaveLength(1);
      expect(stderr).toMatch(new RegExp(`^agent-onboard: ONBOARD_PORT: port ${port} on 127\\.0\\.0\\.1 is already in use; .*ONBOARD_PORT=0 picks a free one`));
    } finally {
      blocker.close();
    }
  });

  test("an ONBOARD_DATABASE_URL whose server does not answer stops serve with exit code 2 and one line naming it, without the password", async () => {
    const password = "pw-never-shown";
    const { code, stdout, stderr } = await serveOn(`postgres://u:${password}@127.0.0.1:1/x`);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(/^agent-onboard: ONBOARD_DATABASE_URL: .*connection refused/);
    expect(stderr).not.toContain(password);
    expect(existsSync(join(dir, "never-made.db")), "fell back to SQLite").toBe(false);
  });
});
