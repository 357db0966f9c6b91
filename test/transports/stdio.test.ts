import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { type FreshDatabase, freshDatabase } from "../databases.js";
import { call, ok, textOf } from "../fixture.js";
import { launchStdio, runCli, type StdioSession, startServe } from "../processes.js";
import { seedAgentSignupResponse, seedInviteToken, seedRedeemedAgent, seedStacksPage } from "../seed-shapes.js";

let dir: string;
let database: FreshDatabase;
let sessions: StdioSession[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "onboard-stdio-"));
  database = await freshDatabase();
  sessions = [];
});
afterEach(async () => {
  await Promise.all(sessions.map((session) => session.close()));
  // On PostgreSQL the processes must have used it, not a SQLite file at the ONBOARD_DB they were also given.
  if (database.engine === "postgres") expect(existsSync(database.settings.dbFile), "a process opened SQLite").toBe(false);
  await database.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** Launches `npm run stdio` on this test's database. */
async function launch(env: Record<string, string>) {
  const session = await launchStdio({ ...database.env, ONBOARD_PORT: "0", ...env });
  sessions.push(session);
  return session;
}

describe("npm run stdio", () => {
  test("an agent onboards in one process and a teammate joins from a second process on the same database", async () => {
    const first = await launch({ ONBOARD_CREDENTIALS: join(dir, "first.json") });
    const signup = seedAgentSignupResponse.parse(await ok(first.client, "agent_signup", { agentName: "Builder" }));
    const org = signup.userInfo.organizations[0]!.name;
    await ok(first.client, "create_stack", { projectName: "website", stackName: "prod", tags: { team: "web" } });
    const page = seedStacksPage.parse(await ok(first.client, "list_stacks"));
    expect(page.stacks.map((s) => `${s.orgName}/${s.projectName}/${s.stackName}`)).toEqual([`${org}/website/prod`]);
    const invite = seedInviteToken.parse(
      await ok(first.client, "create_invite_link", { name: "crew", expiresAt: new Date(Date.now() + 86_400_000).toISOString() }),
    );
    expect(invite.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/new-user\\?invite=${invite.secret}$`));

    const second = await launch({ ONBOARD_CREDENTIALS: join(dir, "second.json") });
    const joined = seedRedeemedAgent.parse(
      await ok(second.client, "redeem_invite", { token: invite.url!, email: "Helper@Example.com", name: "Helper" }),
    );
    expect(joined.email).toBe("helper@example.com");
    const me = await ok(second.client, "get_current_user");
    expect(me.organizations).toEqual([expect.objectContaining({ name: org, role: "member" })]);
    const shared = await ok(second.client, "list_stacks", { organization: org });
    expect(shared.stacks).toHaveLength(1);

    // The invite now lists who joined through it, seen from the first process.
    const firstMe = await ok(first.client, "get_current_user");
    expect(firstMe.githubLogin).toBe(signup.userInfo.githubLogin);

    const logs = first.stderr() + second.stderr();
    for (const secret of [signup.accessToken, signup.claimToken, invite.secret, joined.accessToken, joined.claimUrl.split("/").pop()!]) {
      expect(logs).not.toContain(secret);
    }
  });

  test("serves the claim page the agent hands to its human, on the port it reports", async () => {
    const session = await launch({ ONBOARD_CREDENTIALS: join(dir, "pages.json") });
    const signup = await ok(session.client, "agent_signup", { agentName: "Desk helper" });
    const page = await fetch(signup.claimUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Desk helper");
    expect(session.stderr()).toContain(new URL(signup.claimUrl).origin);
  });

  test("when another program holds the pages' port it still works, and the agent is told how its human serves the link once the port is free", async () => {
    const blocker = createServer().listen(0, "127.0.0.1");
    await once(blocker, "listening");
    const port = (blocker.address() as AddressInfo).port;
    try {
      const session = await launch({ ONBOARD_CREDENTIALS: join(dir, "busy.json"), ONBOARD_PORT: String(port) });
      const signup = await call(session.client, "agent_signup");
      expect((signup.structuredContent as { claimUrl: string }).claimUrl).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/claim/`));
      expect(textOf(signup)).toMatch(new RegExp(`Nothing serves the link yet: port ${port} is taken .* ONBOARD_PORT=${port} node \\S+cli\\.js pages`));
      expect(session.stderr()).toContain("cannot serve the claim and invite pages here");
    } finally {
      blocker.close();
    }
  });

  test("the agent is told its claim link opens while the host runs, and the command it names serves the link after the host has quit", async () => {
    const session = await launch({ ONBOARD_CREDENTIALS: join(dir, "later.json") });
    const signup = await call(session.client, "agent_signup", { agentName: "Night shift" });
    const claimUrl = (signup.structuredContent as { claimUrl: string }).claimUrl;
    const told = textOf(signup);
    expect(told).toContain("The link opens while this MCP server runs, that is while your host is open.");
    await session.close();
    await expect.poll(() => fetch(claimUrl).then(() => "served", () => "refused"), { message: "the host has quit: nothing serves the link" }).toBe("refused");

    // The command exactly as the agent was told it, on the port of the link.
    const command = /serve it first with: (.+)$/.exec(told)![1]!;
    const assignments = Object.fromEntries([...command.matchAll(/(ONBOARD_\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
    expect(assignments.ONBOARD_PORT).toBe(new URL(claimUrl).port);
    if (database.engine === "sqlite") expect(assignments.ONBOARD_DB).toBe(database.env.ONBOARD_DB);
    const pages = await startServe({ ...database.env, ONBOARD_PORT: assignments.ONBOARD_PORT! }, "pages");
    try {
      const page = await fetch(claimUrl);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("Take ownership of Night shift");
      expect((await fetch(`${pages.url}/mcp`, { method: "POST" })).status, "pages serves no MCP endpoint").toBe(404);
    } finally {
      await pages.stop();
    }
  });

  test("with an agent-onboard server already running on the same database, claim links point at it and the agent is told so", async () => {
    const running = await startServe(database.env);
    try {
      const port = new URL(running.url).port;
      const session = await launch({ ONBOARD_CREDENTIALS: join(dir, "beside.json"), ONBOARD_PORT: port });
      const signup = await call(session.client, "agent_signup", { agentName: "Beside" });
      const claimUrl = (signup.structuredContent as { claimUrl: string }).claimUrl;
      expect(textOf(signup)).toContain(`served by the agent-onboard server already running at http://127.0.0.1:${port} on the same database`);
      await session.close();
      // The host is gone; the running server still opens the link.
      const page = await fetch(claimUrl);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("Take ownership of Beside");
    } finally {
      await running.stop();
    }
  });

  test("a restarted host is still the same agent, through the credentials file kept private", async () => {
    const credentials = join(dir, "nested", "credentials.json");
    const first = await launch({ ONBOARD_CREDENTIALS: credentials });
    const signup = await ok(first.client, "agent_signup");
    await first.close();

    expect(statSync(credentials).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(credentials, "utf8"))).toEqual({ accessToken: signup.accessToken });

    const restarted = await launch({ ONBOARD_CREDENTIALS: credentials });
    const me = await ok(restarted.client, "get_current_user");
    expect(me.id).toBe(signup.userInfo.id);
  });

  test("ONBOARD_TOKEN chooses the account, ahead of the credentials file", async () => {
    const first = await launch({ ONBOARD_CREDENTIALS: join(dir, "a.json") });
    const a = await ok(first.client, "agent_signup", { agentName: "A" });
    const second = await launch({ ONBOARD_CREDENTIALS: join(dir, "b.json") });
    await ok(second.client, "agent_signup", { agentName: "B" });

    const chosen = await launch({ ONBOARD_CREDENTIALS: join(dir, "b.json"), ONBOARD_TOKEN: a.accessToken });
    expect((await ok(chosen.client, "get_current_user")).name).toBe("A");
  });
});

describe("the stdio command", () => {
  const initialize = {
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
  };

  test("writes nothing but JSON-RPC to stdout, and its logs to stderr", async () => {
    const input = [
      initialize,
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "agent_signup", arguments: {} } },
      { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "get_current_user", arguments: {} } },
    ]
      .map((message) => JSON.stringify(message))
      .join("\n");
    const run = await runCli(
      ["stdio"],
      { ...database.env, ONBOARD_CREDENTIALS: join(dir, "raw.json"), ONBOARD_PORT: "0" },
      `${input}\n`,
    );
    const lines = run.stdout.trim().split("\n");
    expect(lines.length).toBe(3);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ jsonrpc: "2.0" });
    for (const line of run.stderr.trim().split("\n")) expect(JSON.parse(line)).toHaveProperty("level");
    expect(run.code).toBe(0);
  });

  test("once the host closes stdin, it answers what it read and exits 0 promptly, idle database connections or not", async () => {
    const input = [
      initialize,
      { jsonrpc: "2.0", method: "notifications/initialized" },
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "agent_signup", arguments: {} } },
    ]
      .map((message) => JSON.stringify(message))
      .join("\n");
    const started = Date.now();
    const run = await runCli(["stdio"], { ...database.env, ONBOARD_CREDENTIALS: join(dir, "closing.json"), ONBOARD_PORT: "0" }, `${input}\n`);
    const took = Date.now() - started;
    expect(run.code).toBe(0);
    expect(run.stdout.trim().split("\n").map((line) => JSON.parse(line).id)).toEqual([1, 2]);
    // Start-up included; an open connection pool kept it waiting ~10 s for its idle timeout.
    expect(took).toBeLessThan(6_000);
  });

  test("a bad environment variable is one line naming it, and exit code 2", async () => {
    const run = await runCli(["stdio"], { ...database.env, ONBOARD_PORT: "eighty" });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain("ONBOARD_PORT");
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  test("an ONBOARD_DATABASE_URL whose server does not answer is one line naming it, without the password, and exit code 2", async () => {
    const password = "pw-never-shown";
    const run = await runCli(["stdio"], {
      ONBOARD_DATABASE_URL: `postgres://u:${password}@127.0.0.1:1/x`,
      ONBOARD_DB: join(dir, "never-made.db"),
      ONBOARD_CREDENTIALS: join(dir, "unused.json"),
      ONBOARD_PORT: "0",
    });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/^agent-onboard: ONBOARD_DATABASE_URL: .*connection refused/);
    expect(run.stderr).not.toContain(password);
    expect(existsSync(join(dir, "never-made.db")), "fell back to SQLite").toBe(false);
  });

  test("an unknown subcommand is refused with the usage and exit code 2", async () => {
    const run = await runCli(["launch"], {});
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("Usage: agent-onboard [serve|stdio|pages]");
  });
});
