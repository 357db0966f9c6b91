// Figure 6: several instances on one database behind nginx. get_current_user
// requests per second from 32 clients through the same nginx configuration,
// with two instances behind it against one, on PostgreSQL and on SQLite; and
// one instance on PostgreSQL against one on SQLite. All four setups run side
// by side, and the rounds go through them in turn (the order rotating), so
// that they share the machine's drift.
import { cpus } from "node:os";
import { Worker } from "node:worker_threads";
import type { Engine } from "../db/client.js";
import { freePort, type LoadBalancer, loadBalancer } from "../test/nginx.js";
import { type BenchDatabase, benchDatabase } from "./databases.js";
import { tempDir } from "./env.js";
import { cliPath, cpuOfAllProcesses, median, perSecond, progress, type Row, type Spawned, spawnHttpServer } from "./lib.js";

const CLIENTS = 32;
const ROUNDS = 6;
const ROUND_MS = 3_000;
/** The Host every request names, the instances' public URL: the same behind every nginx. */
const PUBLIC_HOST = "onboard.bench";
const PROTOCOL_VERSION = "2026-07-28";

interface PreparedRequest {
  headers: Record<string, string>;
  body: string;
}

function mcpRequest(name: string, args: Record<string, unknown>, token?: string): PreparedRequest {
  return {
    headers: {
      accept: "application/json, text/event-stream",
      "content-type": "application/json",
      "mcp-protocol-version": PROTOCOL_VERSION,
      "mcp-method": "tools/call",
      "mcp-name": name,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: {
        name,
        arguments: args,
        _meta: {
          "io.modelcontextprotocol/protocolVersion": PROTOCOL_VERSION,
          "io.modelcontextprotocol/clientInfo": { name: "bench-instances", version: "1.0.0" },
          "io.modelcontextprotocol/clientCapabilities": {},
        },
      },
    }),
  };
}

/** One call through the load balancer, answered as JSON or as one SSE event. */
async function callThrough(lbUrl: string, request: PreparedRequest): Promise<Record<string, any>> {
  const { request: send } = await import("node:http");
  const target = new URL(`${lbUrl}/mcp`);
  const text = await new Promise<string>((resolve, reject) => {
    const req = send(
      { hostname: target.hostname, port: target.port, path: target.pathname, method: "POST", headers: { ...request.headers, host: PUBLIC_HOST } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}: ${body}`))));
      },
    );
    req.on("error", reject);
    req.end(request.body);
  });
  const json = text.trimStart().startsWith("{") ? text : (text.match(/^data: (.*)$/m)?.[1] ?? "");
  const message = JSON.parse(json);
  if (message.error || message.result?.isError) throw new Error(`the call failed: ${json}`);
  return message.result.structuredContent;
}

function load(lbUrl: string, requests: PreparedRequest[]) {
  return new Promise<{ rps: number; calls: number; failures: number; elapsedMs: number }>((resolve, reject) => {
    const worker = new Worker(new URL("./http-load.mjs", import.meta.url), {
      workerData: { url: `${lbUrl}/mcp`, host: PUBLIC_HOST, requests, clients: CLIENTS, durationMs: ROUND_MS },
    });
    worker.once("message", ({ calls, failures, elapsedMs }) => resolve({ rps: (calls * 1000) / elapsedMs, calls, failures, elapsedMs }));
    worker.once("error", reject);
  });
}

interface Setup {
  label: string;
  lb: LoadBalancer;
  requests: PreparedRequest[];
  instancePids: number[];
}

/** Where the machine's CPU went during a setup's rounds, in ms, by kind of process. */
type CpuShares = Record<"instances" | "nginx" | "PostgreSQL" | "load generator" | "other", number>;

const noShares = (): CpuShares => ({ instances: 0, nginx: 0, PostgreSQL: 0, "load generator": 0, other: 0 });

function cpuSharesBetween(before: ReturnType<typeof cpuOfAllProcesses>, after: ReturnType<typeof cpuOfAllProcesses>, instancePids: number[]): CpuShares {
  const shares = noShares();
  for (const [pid, { name, ms }] of after) {
    const spent = ms - (before.get(pid)?.ms ?? 0);
    if (spent <= 0) continue;
    const kind: keyof CpuShares = instancePids.includes(pid)
      ? "instances"
      : pid === process.pid
        ? "load generator"
        : name === "nginx"
          ? "nginx"
          : name === "postgres"
            ? "PostgreSQL"
            : "other";
    shares[kind] += spent;
  }
  return shares;
}

interface EngineSetups {
  database: BenchDatabase;
  servers: Spawned[];
  one: Setup;
  two: Setup;
}

async function setUp(engine: Engine): Promise<EngineSetups> {
  const dir = tempDir(`instances-${engine}`);
  const database = await benchDatabase(engine, "instances");
  const env = {
    ...database.env,
    ONBOARD_PUBLIC_URL: `http://${PUBLIC_HOST}`,
    ONBOARD_SIGNUPS_PER_HOUR: "0",
    ONBOARD_TRUST_PROXY: "loopback",
    ONBOARD_MAIL_DIR: `${dir}/mail`,
  };
  // One after the other: the first creates the schema, as a deployment's first start does.
  const ports = [await freePort(), await freePort()];
  const servers: Spawned[] = [];
  for (const port of ports) {
    const server = spawnHttpServer([cliPath, "serve"], { ...env, ONBOARD_PORT: String(port) });
    servers.push(server);
    await server.url;
  }
  const [lbOne, lbTwo] = [await loadBalancer(), await loadBalancer()];
  await lbOne.start([`http://127.0.0.1:${ports[0]}`]);
  await lbTwo.start(ports.map((port) => `http://127.0.0.1:${port}`));
  // One account per client, signed up through the balancer; each client then sends its own token.
  const requests: PreparedRequest[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const signup = await callThrough(lbTwo.url, mcpRequest("agent_signup", { agentName: `Bench instances ${i}` }));
    requests.push(mcpRequest("get_current_user", {}, signup.accessToken));
  }
  const name = engine === "postgres" ? "PostgreSQL" : "SQLite";
  return {
    database,
    servers,
    one: { label: `${name}, 1 instance`, lb: lbOne, requests, instancePids: [servers[0]!.child.pid!] },
    two: { label: `${name}, 2 instances`, lb: lbTwo, requests, instancePids: servers.map((server) => server.child.pid!) },
  };
}

export async function instancesBehindNginx(): Promise<{ rows: Row[]; notes: string[] }> {
  progress(`6: get_current_user through nginx, ${CLIENTS} clients: 2 instances vs 1, PostgreSQL and SQLite`);
  const engines: EngineSetups[] = [];
  try {
    engines.push(await setUp("postgres"), await setUp("sqlite"));
    const [pg, lite] = engines as [EngineSetups, EngineSetups];
    const setups = [pg.one, pg.two, lite.one, lite.two];
    const rps = new Map<Setup, number[]>(setups.map((setup) => [setup, []]));
    const spent = new Map<Setup, { shares: CpuShares; calls: number; elapsedMs: number }>();
    let failures = 0;
    for (const setup of setups) await load(setup.lb.url, setup.requests); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      progress(`6: round ${round + 1} of ${ROUNDS}`);
      for (let i = 0; i < setups.length; i++) {
        const setup = setups[(i + round) % setups.length]!;
        const before = cpuOfAllProcesses();
        const result = await load(setup.lb.url, setup.requests);
        const shares = cpuSharesBetween(before, cpuOfAllProcesses(), setup.instancePids);
        rps.get(setup)!.push(result.rps);
        failures += result.failures;
        const sum = spent.get(setup) ?? { shares: noShares(), calls: 0, elapsedMs: 0 };
        for (const kind of Object.keys(shares) as (keyof CpuShares)[]) sum.shares[kind] += shares[kind];
        sum.calls += result.calls;
        sum.elapsedMs += result.elapsedMs;
        spent.set(setup, sum);
      }
    }
    const p50 = (setup: Setup) => median(rps.get(setup)!);
    const row = (figure: string, what: string, baseline: Setup, subject: Setup, target?: Row["target"]): Row => ({
      figure,
      what,
      baseline: perSecond(p50(baseline)),
      subject: perSecond(p50(subject)),
      ratio: p50(subject) / p50(baseline),
      target,
    });
    return {
      rows: [
        row("6a", `PostgreSQL: 2 instances vs 1 behind the same nginx, ${CLIENTS} clients, get_current_user requests/s`, pg.one, pg.two, { op: ">=", value: 1.6 }),
        row("6b", `SQLite (one file): 2 instances vs 1 behind the same nginx, ${CLIENTS} clients, get_current_user requests/s`, lite.one, lite.two, { op: ">=", value: 1.6 }),
        row("6c", "one instance: PostgreSQL vs SQLite, the same load (report)", lite.one, pg.one),
      ],
      notes: [
        `Figure 6: nginx (1 worker), the instances, PostgreSQL and the load generator (${CLIENTS} keep-alive connections in a worker thread) ` +
          `share this machine's cores; ${failures} of the requests failed. A second instance can add at most what the cores it gets back from the rest allow.`,
        ...setups.map((setup) => {
          const { shares, calls, elapsedMs } = spent.get(setup)!;
          const total = Object.values(shares).reduce((a, b) => a + b, 0);
          const perCall = (Object.entries(shares) as [string, number][])
            .filter(([, ms]) => Math.round((ms * 1000) / calls) > 0)
            .map(([kind, ms]) => `${kind} ${Math.round((ms * 1000) / calls)} µs`)
            .join(", ");
          const ceiling = (cpus().length * 1e6) / ((total * 1000) / calls);
          return (
            `Figure 6, ${setup.label}: CPU per request ${perCall}; the machine was busy ${(total / elapsedMs).toFixed(2)} of its ${cpus().length} cores. ` +
            `At ${Math.round((total * 1000) / calls)} µs a request in all, the cores allow at most ${Math.round(ceiling)}/s; this setup reached ${Math.round((100 * p50(setup)) / ceiling)}% of that.`
          );
        }),
      ],
    };
  } finally {
    for (const setup of engines) {
      await Promise.allSettled([setup.one.lb.stop(), setup.two.lb.stop()]);
      await Promise.allSettled(setup.servers.map((server) => server.stop()));
      await setup.database.drop();
    }
  }
}
