// Figure 4: list_stacks with 1,000,000 stacks: a page near the end against the first page.
import { randomUUID } from "node:crypto";
import type { Client } from "@modelcontextprotocol/client";
import { listStacks, type StacksPage } from "../src/services/stacks.js";
import { openSubject, type Subject } from "./env.js";
import { callOk, interleave, median, ms, now, progress, type Row, timeSequential } from "./lib.js";

const STACKS = 1_000_000;
const ORGS = 4; // the agent's own organization and three it joined
const PAGE = 500; // list_stacks's cap
const MAX_WALK_PAGES = STACKS / PAGE + 10;
const WALK_MS = 120_000;
const ROUNDS = 7;
const CALLS = 15;
const ROUND_MS = 10_000;

interface Fixture {
  env: Subject;
  client: Client;
  userId: number;
  insertMs: number;
}

/** An agent that signed up through MCP, three more organizations it belongs to, and STACKS stacks spread over the four. */
async function populate(): Promise<Fixture> {
  const env = openSubject("stacks");
  const signup = await callOk(await env.connect(), "agent_signup", { agentName: "Bench stacks" });
  const { accessToken, userInfo } = signup.structuredContent as { accessToken: string; userInfo: { githubLogin: string } };
  const login = userInfo.githubLogin;
  const client = await env.connect(accessToken);
  const sqlite = env.store.sqlite;
  const user = sqlite.prepare("SELECT id, default_org_id AS orgId FROM users WHERE login = ?").get(login) as { id: number; orgId: number };

  const started = now();
  const uidPrefix = randomUUID().slice(0, 29); // stack ids look like the server's UUIDs, in order
  const createdAt = Date.now();
  const addOrg = sqlite.prepare("INSERT INTO organizations (name, created_at) VALUES (?, ?) RETURNING id");
  const join = sqlite.prepare("INSERT INTO memberships (user_id, org_id, role, created_at) VALUES (?, ?, 'member', ?)");
  const addStack = sqlite.prepare(
    "INSERT INTO stacks (uid, org_id, project_name, stack_name, created_at, created_by_user_id) VALUES (?, ?, ?, ?, ?, ?)",
  );
  // Keys in ascending order and a big page cache keep every index append-only, so this takes seconds, not minutes.
  const cacheSize = sqlite.pragma("cache_size", { simple: true });
  sqlite.pragma("cache_size = -262144"); // 256 MiB
  sqlite.transaction(() => {
    const orgIds = [user.orgId];
    for (let i = 1; i < ORGS; i++) {
      const { id } = addOrg.get(`bench-team-${i}-${login}`, createdAt) as { id: number };
      join.run(user.id, id, createdAt);
      orgIds.push(id);
    }
    // Round-robin over the organizations, so that every page mixes them.
    for (let i = 0; i < STACKS; i++) {
      const n = String(i).padStart(7, "0");
      addStack.run(`${uidPrefix}${n}`, orgIds[i % ORGS], "project", `stack-${n}`, createdAt, user.id);
    }
  })();
  sqlite.pragma(`cache_size = ${Number(cacheSize)}`);
  return { env, client, userId: user.id, insertMs: now() - started };
}

/**
 * A continuation token near the end, obtained honestly: walk every page from
 * the start through the service, as a client would, and keep the token that
 * leads to the second-to-last page (a full one).
 */
function walk(fixture: Fixture) {
  const tokens: string[] = [];
  let total = 0;
  let token: string | undefined;
  const started = now();
  for (let page = 0; page < MAX_WALK_PAGES && now() - started < WALK_MS; page++) {
    const result: StacksPage = listStacks(fixture.env.deps, fixture.userId, { maxResults: PAGE, continuationToken: token });
    total += result.stacks.length;
    token = result.continuationToken;
    if (!token) break;
    tokens.push(token);
  }
  if (total !== STACKS) throw new Error(`the walk saw ${total} stacks, expected ${STACKS}`);
  return { nearEnd: tokens.at(-2)!, pages: tokens.length + 1, walkMs: now() - started };
}

/** EXPLAIN QUERY PLAN of the very statement listStacks runs, caught on its way to SQLite. */
function queryPlan(fixture: Fixture, args: Parameters<typeof listStacks>[2]): string {
  const sqlite = fixture.env.store.sqlite;
  const prepare = sqlite.prepare;
  const statements: string[] = [];
  sqlite.prepare = ((source: string) => {
    statements.push(source);
    return prepare.call(sqlite, source);
  }) as typeof sqlite.prepare;
  try {
    listStacks(fixture.env.deps, fixture.userId, args);
  } finally {
    sqlite.prepare = prepare;
  }
  const query = statements.find((source) => /^select .* from "stacks"/i.test(source));
  if (!query) return "(the stacks query was not seen)";
  const placeholders = query.match(/\?/g)?.length ?? 0;
  const plan = sqlite.prepare(`EXPLAIN QUERY PLAN ${query}`).all(...Array.from({ length: placeholders }, () => 1)) as Array<{ detail: string }>;
  return plan.map((row) => row.detail).join("; ");
}

export async function stacksPaging(): Promise<{ rows: Row[]; notes: string[] }> {
  progress(`4: list_stacks with ${STACKS.toLocaleString("en")} stacks (bulk insert)`);
  const fixture = await populate();
  try {
    progress(`4: inserted in ${(fixture.insertMs / 1000).toFixed(1)} s; walking every page for a token near the end`);
    const { nearEnd, pages, walkMs } = walk(fixture);

    const firstArgs = { maxResults: PAGE };
    const nearEndArgs = { maxResults: PAGE, continuationToken: nearEnd };
    const expectFull = (page: StacksPage) => {
      if (page.stacks.length !== PAGE || !page.continuationToken) throw new Error("expected a full page with a continuation token");
    };
    expectFull(listStacks(fixture.env.deps, fixture.userId, firstArgs));
    expectFull(listStacks(fixture.env.deps, fixture.userId, nearEndArgs));

    const plan = queryPlan(fixture, nearEndArgs);
    const viaTool = (args: Record<string, unknown>) => () => callOk(fixture.client, "list_stacks", args);
    const viaService = (args: typeof firstArgs) => async () => listStacks(fixture.env.deps, fixture.userId, args);
    const rows: Row[] = [];
    for (const [figure, where, first, last] of [
      ["4a", "list_stacks tool, in-process (2026-07-28)", viaTool(firstArgs), viaTool(nearEndArgs)],
      ["4b", "listStacks service (the query alone)", viaService(firstArgs), viaService(nearEndArgs)],
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
        target: figure === "4a" ? { op: "<=", value: 1.5 } : undefined,
      });
    }
    return {
      rows,
      notes: [
        `Figure 4: the bulk insert of ${STACKS.toLocaleString("en")} stacks took ${(fixture.insertMs / 1000).toFixed(1)} s; ` +
          `walking all ${pages} pages through the service took ${(walkMs / 1000).toFixed(1)} s (${(walkMs / pages).toFixed(2)} ms a page). Query plan: ${plan} ` +
          "(that temp B-tree is SQLite's top-N sorter with LIMIT: each organization's stacks_org_id range is read in id order " +
          "and left as soon as its ids pass the N-th kept, so a page reads at most organizations × (maxResults + 1) index entries, wherever it starts).",
      ],
    };
  } finally {
    await fixture.env.close();
  }
}
