// Figure 4: list_stacks with 1,000,000 stacks: a page near the end against the first page, on each engine.
import { randomUUID } from "node:crypto";
import type { Client } from "@modelcontextprotocol/client";
import Database from "better-sqlite3";
import type { Engine } from "../db/client.js";
import { listStacks, type StacksPage } from "../src/services/stacks.js";
import { openSubject, type Subject } from "./env.js";
import { callOk, interleave, median, ms, now, progress, type Row, timeSequential } from "./lib.js";

const STACKS = 1_000_000;
const ORGS = 4; // the agent's own organization and three it joined
const PAGE = 500; // list_stacks's cap
const MAX_WALK_PAGES = STACKS / PAGE + 10;
const WALK_MS = 180_000;
const ROUNDS = 7;
const CALLS = 15;
const ROUND_MS = 10_000;

interface Fixture {
  env: Subject;
  client: Client;
  userId: number;
  insertMs: number;
}

interface Agent {
  id: number;
  orgId: number;
  login: string;
}

// Stack ids look like the server's UUIDs, in order; round-robin over the
// organizations, so that every page mixes them. Keys go in ascending order,
// which keeps every index append-only: seconds, not minutes.
function insertIntoSqlite(file: string, agent: Agent, uidPrefix: string) {
  const sqlite = new Database(file);
  try {
    sqlite.pragma("busy_timeout = 5000");
    sqlite.pragma("cache_size = -262144"); // 256 MiB
    const createdAt = Date.now();
    const addOrg = sqlite.prepare("INSERT INTO organizations (name, created_at) VALUES (?, ?) RETURNING id");
    const join = sqlite.prepare("INSERT INTO memberships (user_id, org_id, role, created_at) VALUES (?, ?, 'member', ?)");
    const addStack = sqlite.prepare(
      "INSERT INTO stacks (uid, org_id, project_name, stack_name, created_at, created_by_user_id) VALUES (?, ?, ?, ?, ?, ?)",
    );
    sqlite.transaction(() => {
      const orgIds = [agent.orgId];
      for (let i = 1; i < ORGS; i++) {
        const { id } = addOrg.get(`bench-team-${i}-${agent.login}`, createdAt) as { id: number };
        join.run(agent.id, id, createdAt);
        orgIds.push(id);
      }
      for (let i = 0; i < STACKS; i++) {
        const n = String(i).padStart(7, "0");
        addStack.run(`${uidPrefix}${n}`, orgIds[i % ORGS], "project", `stack-${n}`, createdAt, agent.id);
      }
    })();
  } finally {
    sqlite.close();
  }
}

async function insertIntoPostgres(env: Subject, agent: Agent, uidPrefix: string) {
  const query = env.store.query;
  const orgIds = [agent.orgId];
  for (let i = 1; i < ORGS; i++) {
    const [org] = await query("INSERT INTO organizations (name, created_at) VALUES (?, now()) RETURNING id", [`bench-team-${i}-${agent.login}`]);
    await query("INSERT INTO memberships (user_id, org_id, role, created_at) VALUES (?, ?, 'member', now())", [agent.id, org!.id]);
    orgIds.push(Number(org!.id));
  }
  await query(
    `INSERT INTO stacks (uid, org_id, project_name, stack_name, created_at, created_by_user_id)
     SELECT ? || lpad(i::text, 7, '0'), (?::int[])[i % ${ORGS} + 1], 'project', 'stack-' || lpad(i::text, 7, '0'), now(), ?
     FROM generate_series(0, ${STACKS - 1}) AS i ORDER BY i`,
    [uidPrefix, `{${orgIds.join(",")}}`, agent.id],
  );
  await query("ANALYZE");
}

/** An agent that signed up through MCP, three more organizations it belongs to, and STACKS stacks spread over the four. */
async function populate(engine: Engine): Promise<Fixture> {
  const env = await openSubject(`stacks-${engine}`, engine);
  const signup = await callOk(await env.connect(), "agent_signup", { agentName: "Bench stacks" });
  const { accessToken, userInfo } = signup.structuredContent as { accessToken: string; userInfo: { githubLogin: string } };
  const login = userInfo.githubLogin;
  const client = await env.connect(accessToken);
  const [row] = await env.store.query("SELECT id, default_org_id AS org_id FROM users WHERE login = ?", [login]);
  const agent = { id: Number(row!.id), orgId: Number(row!.org_id), login };

  const started = now();
  const uidPrefix = randomUUID().slice(0, 29);
  if (engine === "sqlite") insertIntoSqlite(env.database.settings.dbFile, agent, uidPrefix);
  else await insertIntoPostgres(env, agent, uidPrefix);
  return { env, client, userId: agent.id, insertMs: now() - started };
}

/**
 * A continuation token near the end, obtained honestly: walk every page from
 * the start through the service, as a client would, and keep the token that
 * leads to the second-to-last page (a full one).
 */
async function walk(fixture: Fixture) {
  const tokens: string[] = [];
  let total = 0;
  let token: string | undefined;
  const started = now();
  for (let page = 0; page < MAX_WALK_PAGES && now() - started < WALK_MS; page++) {
    const result: StacksPage = await listStacks(fixture.env.deps, fixture.userId, { maxResults: PAGE, continuationToken: token });
    total += result.stacks.length;
    token = result.continuationToken;
    if (!token) break;
    tokens.push(token);
  }
  if (total !== STACKS) throw new Error(`the walk saw ${total} stacks, expected ${STACKS}`);
  return { nearEnd: tokens.at(-2)!, pages: tokens.length + 1, walkMs: now() - started };
}

const FIGURES: Record<Engine, { tool: string; service: string; label: string }> = {
  sqlite: { tool: "4a", service: "4b", label: "SQLite" },
  postgres: { tool: "4c", service: "4d", label: "PostgreSQL" },
};

async function pagingOn(engine: Engine): Promise<{ rows: Row[]; note: string }> {
  const { label } = FIGURES[engine];
  progress(`4: list_stacks with ${STACKS.toLocaleString("en")} stacks on ${label} (bulk insert)`);
  const fixture = await populate(engine);
  try {
    progress(`4: inserted in ${(fixture.insertMs / 1000).toFixed(1)} s; walking every page for a token near the end`);
    const { nearEnd, pages, walkMs } = await walk(fixture);

    const firstArgs = { maxResults: PAGE };
    const nearEndArgs = { maxResults: PAGE, continuationToken: nearEnd };
    const expectFull = (page: StacksPage) => {
      if (page.stacks.length !== PAGE || !page.continuationToken) throw new Error("expected a full page with a continuation token");
    };
    expectFull(await listStacks(fixture.env.deps, fixture.userId, firstArgs));
    expectFull(await listStacks(fixture.env.deps, fixture.userId, nearEndArgs));

    const viaTool = (args: Record<string, unknown>) => () => callOk(fixture.client, "list_stacks", args);
    const viaService = (args: typeof firstArgs) => () => listStacks(fixture.env.deps, fixture.userId, args);
    const rows: Row[] = [];
    for (const [figure, where, first, last] of [
      [FIGURES[engine].tool, `${label}: list_stacks tool, in-process (2026-07-28)`, viaTool(firstArgs), viaTool(nearEndArgs)],
      [FIGURES[engine].service, `${label}: listStacks service (the query alone)`, viaService(firstArgs), viaService(nearEndArgs)],
    ] as const) {
      await timeSequential(CALLS, ROUND_MS, first);
      await timeSequential(CALLS, ROUND_MS, last);
      const rounds = await interleave(
        ROUNDS,
        () => timeSequential(CALLS, ROUND_MS, first),
        () => timeSequential(CALLS, ROUND_MS, last),
      );
      const base = median(rounds.baseline.map(median));
      const subj = median(rounds.subject.map(median));
      rows.push({
        figure,
        what: `${where}, ${STACKS.toLocaleString("en")} stacks in ${ORGS} orgs, ${PAGE}/page, p50: page ${pages - 1} of ${pages} vs first page`,
        baseline: ms(base),
        subject: ms(subj),
        ratio: subj / base,
        target: figure === FIGURES[engine].tool ? { op: "<=", value: 1.5 } : undefined,
      });
    }
    return {
      rows,
      note:
        `Figure ${FIGURES[engine].tool}: on ${label} the bulk insert of ${STACKS.toLocaleString("en")} stacks took ${(fixture.insertMs / 1000).toFixed(1)} s; ` +
        `walking all ${pages} pages through the service took ${(walkMs / 1000).toFixed(1)} s (${(walkMs / pages).toFixed(2)} ms a page). ` +
        "A page is a keyset query (stacks.id after the token's, in id order, joined to the caller's memberships), so where it starts does not change what it reads.",
    };
  } finally {
    await fixture.env.close();
  }
}

export async function stacksPaging(): Promise<{ rows: Row[]; notes: string[] }> {
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const engine of ["sqlite", "postgres"] as const) {
    const result = await pagingOn(engine);
    rows.push(...result.rows);
    notes.push(result.note);
  }
  return { rows, notes };
}
