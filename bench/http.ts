// Figure 2: stateless Streamable HTTP throughput with 32 concurrent SDK clients, each calling in a loop.
// Each subject client signed up first and sends its accessToken as "Authorization: Bearer" on every request.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { type Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { BASELINE_TOOL } from "./baseline-server.mjs";
import { tempDir } from "./env.js";
import {
  baselineScript,
  callOk,
  cliPath,
  cpuMs,
  type Era,
  expectEra,
  interleave,
  median,
  newClient,
  now,
  perSecond,
  progress,
  type Row,
  spawnHttpServer,
} from "./lib.js";

const CLIENTS = 32;
const MAX_CALLS_PER_ROUND = 200_000;
/** Rounds per era: the 2026-07-28 figure is the main one; the 2025-era one is a second, shorter look. */
const PLAN: Array<{ era: Era; rounds: number; roundMs: number }> = [
  { era: "modern", rounds: 8, roundMs: 2_000 },
  { era: "legacy", rounds: 4, roundMs: 2_000 },
];

async function connectAll(url: string, era: Era, tokens: Array<string | undefined>): Promise<Client[]> {
  return Promise.all(
    tokens.map(async (token) => {
      const client = newClient("bench-http", era);
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url), {
          requestInit: token ? { headers: { Authorization: `Bearer ${token}` } } : undefined,
        }),
      );
      return expectEra(client, era);
    }),
  );
}

/** All clients call `tool` back to back for `durationMs`; returns requests/s and the server's CPU time per request. */
async function run(clients: Client[], tool: string, serverPid: number, durationMs: number) {
  let calls = 0;
  const cpuBefore = cpuMs(serverPid);
  const clientBefore = process.cpuUsage();
  const started = now();
  const deadline = started + durationMs;
  await Promise.all(
    clients.map(async (client) => {
      while (now() < deadline && calls < MAX_CALLS_PER_ROUND) {
        await callOk(client, tool);
        calls++;
      }
    }),
  );
  const elapsed = now() - started;
  const client = process.cpuUsage(clientBefore);
  return {
    rps: (calls * 1000) / elapsed,
    cpuPerCallMs: (cpuMs(serverPid) - cpuBefore) / calls,
    clientCpuPerCallMs: (client.user + client.system) / 1000 / calls,
  };
}

export async function httpThroughput(): Promise<{ rows: Row[]; notes: string[] }> {
  progress(`2: stateless Streamable HTTP throughput, ${CLIENTS} clients`);
  const dir = tempDir("http");
  const subject = spawnHttpServer([cliPath, "serve"], {
    ONBOARD_DB: join(dir, "onboard.db"),
    ONBOARD_PORT: "0",
    ONBOARD_SIGNUPS_PER_HOUR: "0",
    ONBOARD_MAIL_DIR: join(dir, "mail"),
  });
  const baseline = spawnHttpServer([baselineScript, "http"], {});
  const clients: Client[] = [];
  const rows: Row[] = [];
  const notes: string[] = [];
  try {
    const [subjectUrl, baselineUrl] = await Promise.all([subject.url, baseline.url]);
    // One account per client: signed up anonymously, then every request carries its token.
    const [anonymous] = await connectAll(subjectUrl, "modern", [undefined]);
    clients.push(anonymous!);
    const tokens: string[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const signup = await callOk(anonymous!, "agent_signup", { agentName: `Bench HTTP ${i}` });
      tokens.push((signup.structuredContent as { accessToken: string }).accessToken);
    }

    for (const { era, rounds: roundCount, roundMs } of PLAN) {
      progress(`2: ${era === "modern" ? "2026-07-28" : "2025-era"} clients, ${roundCount} rounds of ${roundMs} ms a side`);
      const subjectClients = await connectAll(subjectUrl, era, tokens);
      const baselineClients = await connectAll(baselineUrl, era, Array.from({ length: CLIENTS }, () => undefined));
      clients.push(...subjectClients, ...baselineClients);
      const base = () => run(baselineClients, BASELINE_TOOL, baseline.child.pid!, roundMs);
      const subj = () => run(subjectClients, "get_current_user", subject.child.pid!, roundMs);
      await base();
      await subj(); // warm-up rounds
      const rounds = await interleave(roundCount, base, subj);
      const baseRps = median(rounds.baseline.map((r) => r.rps));
      const subjRps = median(rounds.subject.map((r) => r.rps));
      const baseCpu = median(rounds.baseline.map((r) => r.cpuPerCallMs));
      const subjCpu = median(rounds.subject.map((r) => r.cpuPerCallMs));
      const baseClientCpu = median(rounds.baseline.map((r) => r.clientCpuPerCallMs));
      const subjClientCpu = median(rounds.subject.map((r) => r.clientCpuPerCallMs));
      const label = era === "modern" ? "2026-07-28" : "2025-era clients (stateless legacy serving)";
      const figure = era === "modern" ? "2" : "2L";
      rows.push(
        {
          figure,
          what: `stateless Streamable HTTP, ${CLIENTS} concurrent clients, ${label}: get_current_user vs no-op, requests/s`,
          baseline: perSecond(baseRps),
          subject: perSecond(subjRps),
          ratio: subjRps / baseRps,
          target: era === "modern" ? { op: ">=", value: 0.8 } : undefined,
        },
        {
          figure,
          what: "the same rounds: server CPU per request (user+system from /proc; ratio = requests per server CPU-second)",
          baseline: `${(baseCpu * 1000).toFixed(0)} µs`,
          subject: `${(subjCpu * 1000).toFixed(0)} µs`,
          ratio: baseCpu / subjCpu,
        },
      );
      notes.push(
        `Figure ${figure}: the ${CLIENTS} clients run in the bench process on the same cores and used ${(baseClientCpu * 1000).toFixed(0)} µs ` +
          `(baseline) and ${(subjClientCpu * 1000).toFixed(0)} µs (agent-onboard) of CPU per request, so requests/s is partly client-bound; ` +
          "server CPU per request is the steadier figure from run to run.",
      );
      await Promise.allSettled([...subjectClients, ...baselineClients].map((client) => client.close()));
    }
    return { rows, notes };
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
    await Promise.all([subject.stop(), baseline.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}
