import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Client, ElicitRequestURLParams } from "@modelcontextprotocol/client";
import { afterEach, describe, expect, test } from "vitest";
import { freshDatabase } from "../databases.js";
import { ok } from "../fixture.js";
import { startTestHttp } from "../http-fixture.js";
import { launchStdio, type StdioSession } from "../processes.js";
import { seedAgentSignupResponse, seedClaimStatus, seedInviteToken, seedRedeemedAgent, seedStacksPage } from "../seed-shapes.js";

type Era = "modern" | "legacy";

const closers: Array<() => Promise<unknown>> = [];
/** SQLite files stdio processes made on the postgres project, where they were to use PostgreSQL only. */
const strayFiles: string[] = [];
afterEach(async () => {
  await Promise.allSettled(closers.splice(0).map((close) => close()));
  expect(strayFiles.splice(0), "a process opened SQLite instead of PostgreSQL").toEqual([]);
});

/** A database for stdio processes, dropped (and checked) once `sessions` have all closed. */
async function stdioDatabase(sessions: StdioSession[], dir: string) {
  const database = await freshDatabase();
  closers.push(async () => {
    await Promise.allSettled(sessions.map((session) => session.close()));
    // On PostgreSQL, ONBOARD_DB names a scratch file nothing may create.
    if (database.engine === "postgres" && existsSync(database.settings.dbFile)) strayFiles.push(database.settings.dbFile);
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });
  return database;
}

/** How a host of one revision reaches the server: a client for a token (or none). */
interface Host {
  connect(token?: string): Promise<Client>;
}

async function httpHost(era: Era): Promise<Host> {
  const http = await startTestHttp();
  closers.push(() => http.close());
  return {
    connect: async (token) => (await http.connect(token ? { Authorization: `Bearer ${token}` } : {}, { era })).client,
  };
}

/** Over stdio the process keeps the token agent_signup returns; another identity is another process (ONBOARD_TOKEN). */
async function stdioHost(era: Era): Promise<Host> {
  const dir = mkdtempSync(join(tmpdir(), "onboard-revisions-"));
  // Every process of this host is on one database.
  const sessions: StdioSession[] = [];
  const database = await stdioDatabase(sessions, dir);
  let n = 0;
  return {
    async connect(token) {
      n += 1;
      const session = await launchStdio(
        { ...database.env, ONBOARD_PORT: "0", ONBOARD_CREDENTIALS: join(dir, `credentials-${n}.json`), ...(token ? { ONBOARD_TOKEN: token } : {}) },
        { era },
      );
      sessions.push(session);
      return session.client;
    },
  };
}

const hosts: Array<[string, Era, (era: Era) => Promise<Host>]> = [
  ["Streamable HTTP, 2026-07-28", "modern", httpHost],
  ["Streamable HTTP, a 2025-11-25 host", "legacy", httpHost],
  ["stdio, 2026-07-28", "modern", stdioHost],
  ["stdio, a 2025-11-25 host", "legacy", stdioHost],
];

describe.each(hosts)("the whole onboarding over %s", (_name, era, makeHost) => {
  test("signup → create_stack → list_stacks → create_invite_link → redeem_invite → get_claim_status", async () => {
    const host = await makeHost(era);
    const anonymous = await host.connect();
    expect(anonymous.getProtocolEra()).toBe(era);

    const signup = seedAgentSignupResponse.parse(await ok(anonymous, "agent_signup", { agentName: `Agent ${era}` }));
    const agent = await host.connect(signup.accessToken);
    await ok(agent, "create_stack", { projectName: "site", stackName: "prod" });
    const page = seedStacksPage.parse(await ok(agent, "list_stacks"));
    expect(page.stacks.map((stack) => stack.stackName)).toEqual(["prod"]);
    const invite = seedInviteToken.parse(
      await ok(agent, "create_invite_link", { name: "crew", expiresAt: new Date(Date.now() + 86_400_000).toISOString() }),
    );
    const joined = seedRedeemedAgent.parse(
      await ok(await host.connect(), "redeem_invite", { token: invite.url!, email: `mate-${era}@example.com`, name: "Mate" }),
    );
    const mate = await host.connect(joined.accessToken);
    expect((await ok(mate, "get_current_user")).organizations).toEqual([
      expect.objectContaining({ name: signup.userInfo.organizations[0]!.name, role: "member" }),
    ]);
    expect(seedClaimStatus.parse(await ok(agent, "get_claim_status"))).toMatchObject({ claimed: false });
  });
});

describe("the claim URL offer over stdio", () => {
  test.each(["modern", "legacy"] as const)("a %s host that can open URLs is asked once, and one account is made", async (era) => {
    const dir = mkdtempSync(join(tmpdir(), "onboard-offer-"));
    const sessions: StdioSession[] = [];
    const database = await stdioDatabase(sessions, dir);
    const session = await launchStdio(
      { ...database.env, ONBOARD_PORT: "0", ONBOARD_CREDENTIALS: join(dir, "credentials.json") },
      { era, capabilities: { elicitation: { url: {} } } },
    );
    sessions.push(session);
    const asked: ElicitRequestURLParams[] = [];
    session.client.setRequestHandler("elicitation/create", async (request) => {
      asked.push(request.params as ElicitRequestURLParams);
      return { action: "accept" };
    });

    const signup = seedAgentSignupResponse.parse(await ok(session.client, "agent_signup", { agentName: "Desk" }));

    expect(asked).toEqual([expect.objectContaining({ mode: "url", url: signup.claimUrl })]);
    // The connection acts as the new account, and there is only that one.
    expect((await ok(session.client, "get_current_user")).id).toBe(signup.userInfo.id);
    const page = await fetch(signup.claimUrl);
    expect(await page.text()).toContain("Desk");
  });
});
