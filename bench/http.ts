// Figure 2: Streamable HTTP throughput with 32 concurrent SDK clients, each calling in a loop.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { BASELINE_TOOL } from "./baseline-server.mjs";
import { tempDir } from "./env.js";
import { baselineScript, callOk, cliPath, cpuMs, interleave, median, now, perSecond, progress, type Row, spawnHttpServer } from "./lib.js";

const CLIENTS = 32;
const ROUNDS = 8;
const ROUND_MS = 2_000;
const MAX_CALLS_PER_ROUND = 200_000;

async function connectAll(url: string): Promise<Client[]> {
  return Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const client = new Client({ name: "bench-http", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      return client;
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
  progress(`2: Streamable HTTP throughput, ${CLIENTS} clients`);
  const dir = tempDir("http");
  const subject = spawnHttpServer([cliPath, "serve"], {
    ONBOARD_DB: join(dir, "onboard.db"),
    ONBOARD_PORT: "0",
    ONBOARD_SIGNUPS_PER_HOUR: "0",
    ONBOARD_MAIL_DIR: join(dir, "mail"),
  });
  const baseline = spawnHttpServer([baselineScript, "http"], {});
  const clients: Client[] = [];
  try {
    const [subjectUrl, baselineUrl] = await Promise.all([subject.url, baseline.url]);
    const subjectClients = await connectAll(subjectUrl);
    const baselineClients = await connectAll(baselineUrl);
    clients.push(...subjectClients, ...baselineClients);
    // Each subject session signs up, so it is bound to its own account (no Authorization header).
    for (const client of subjectClients) await callOk(client, "agent_signup", { agentName: "Bench HTTP" });

    const base = () => run(baselineClients, BASELINE_TOOL, baseline.child.pid!, ROUND_MS);
    const subj = () => run(subjectClients, "get_current_user", subject.child.pid!, ROUND_MS);
    await base();
    await subj(); // warm-up rounds
    const rounds = await interleave(ROUNDS, base, subj);
    const baseRps = median(rounds.baseline.map((r) => r.rps));
    const subjRps = median(rounds.subject.map((r) => r.rps));
    const baseCpu = median(rounds.baseline.map((r) => r.cpuPerCallMs));
    const subjCpu = median(rounds.subject.map((r) => r.cpuPerCallMs));
    const baseClientCpu = median(rounds.baseline.map((r) => r.clientCpuPerCallMs));
    const subjClientCpu = median(rounds.subject.map((r) => r.clientCpuPerCallMs));
    return {
      rows: [
        {
          figure: "2",
          what: `Streamable HTTP, ${CLIENTS} concurrent clients: get_current_user vs no-op, requests/s`,
          baseline: perSecond(baseRps),
          subject: perSecond(subjRps),
          ratio: subjRps / baseRps,
          target: { op: ">=", value: 0.7 },
        },
        {
          figure: "2",
          what: "the same rounds: server CPU per request (user+system from /proc; ratio = requests per server CPU-second)",
          baseline: `${(baseCpu * 1000).toFixed(0)} µs`,
          subject: `${(subjCpu * 1000).toFixed(0)} µs`,
          ratio: baseCpu / subjCpu,
        },
      ],
      notes: [
        `Figure 2: the ${CLIENTS} clients run in the bench process on the same cores and used ${(baseClientCpu * 1000).toFixed(0)} µs ` +
          `(baseline) and ${(subjClientCpu * 1000).toFixed(0)} µs (agent-onboard) of CPU per request, so requests/s is partly client-bound; ` +
          "server CPU per request is the steadier figure from run to run.",
      ],
    };
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
    await Promise.all([subject.stop(), baseline.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}
