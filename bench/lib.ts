// Small helpers shared by the benchmarks: timing, statistics, child processes, the table.
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { type CallToolResult, Client } from "@modelcontextprotocol/client";

export const projectRoot = fileURLToPath(new URL("..", import.meta.url));
export const cliPath = fileURLToPath(new URL("../dist/src/cli.js", import.meta.url));
export const baselineScript = fileURLToPath(new URL("./baseline-server.mjs", import.meta.url));

export const now = () => performance.now();

export const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

// ---------------------------------------------------------------- statistics

/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export const median = (values: number[]) => percentile(values, 50);

/**
 * Runs `rounds` rounds of each side, alternating which goes first (ABBA…), so
 * that drift in the machine's speed falls on both sides alike.
 */
export async function interleave<T>(rounds: number, baseline: (round: number) => Promise<T>, subject: (round: number) => Promise<T>) {
  const result = { baseline: [] as T[], subject: [] as T[] };
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      result.baseline.push(await baseline(round));
      result.subject.push(await subject(round));
    } else {
      result.subject.push(await subject(round));
      result.baseline.push(await baseline(round));
    }
  }
  return result;
}

/**
 * Times `count` sequential calls (stopping early at `maxMs`); returns each call's duration in ms.
 * `between` runs untimed after each call (e.g. a turn of the event loop).
 */
export async function timeSequential(
  count: number,
  maxMs: number,
  call: (i: number) => Promise<unknown>,
  between?: () => Promise<unknown>,
): Promise<number[]> {
  const durations: number[] = [];
  const deadline = now() + maxMs;
  for (let i = 0; i < count && now() < deadline; i++) {
    const started = now();
    await call(i);
    durations.push(now() - started);
    await between?.();
  }
  return durations;
}

// ---------------------------------------------------------------- MCP calls

/** "modern": the 2026-07-28 revision (server/discover, per-request envelope); "legacy": the 2025 initialize handshake. */
export type Era = "modern" | "legacy";
export const MODERN_VERSION = "2026-07-28";

/** An SDK v2 client pinned to 2026-07-28 (modern), or the SDK's default 2025-era client (legacy). */
export const newClient = (name: string, era: Era = "modern") =>
  new Client({ name, version: "1.0.0" }, era === "modern" ? { versionNegotiation: { mode: { pin: MODERN_VERSION } } } : {});

/** Fails loudly when a connection did not land on the era a figure names. */
export function expectEra(client: Client, era: Era): Client {
  const actual = client.getProtocolEra();
  if (actual !== era) throw new Error(`expected a ${era}-era connection, got ${actual ?? "none"}`);
  return client;
}

export const textOf = (result: CallToolResult) =>
  (result.content ?? []).map((block) => (block.type === "text" ? block.text : "")).join("\n");

/** Calls a tool and fails loudly on an error result, so a broken setup never passes as a fast one. */
export async function callOk(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (result.isError) throw new Error(`${name} failed: ${textOf(result)}`);
  return result;
}

// ---------------------------------------------------------------- processes

export interface Spawned {
  child: ChildProcess;
  /** The first stdout line matching "MCP: <url>". */
  url: Promise<string>;
  stop(): Promise<void>;
}

/** Starts an HTTP server process and waits for nothing; `url` resolves once it prints its MCP URL. */
export function spawnHttpServer(args: string[], env: Record<string, string>): Spawned {
  const child = spawn(process.execPath, args, {
    cwd: projectRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr!.resume(); // logs are drained, not kept
  const url = new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${args.join(" ")}: no MCP URL within 20 s`)), 20_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = out.match(/MCP: (http:\/\/\S+\/mcp)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${args.join(" ")} exited with ${code} before printing its MCP URL`));
    });
  });
  url.catch(() => {});
  return {
    child,
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const force = setTimeout(() => child.kill("SIGKILL"), 5_000);
        child.once("exit", () => {
          clearTimeout(force);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}

/** User + system CPU time of a process so far, in ms (Linux /proc). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 of stat(5); after the ")" the list starts at field 3.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/** CPU ms so far of every process on the machine, by pid, with its command name (a process gone meanwhile is skipped). */
export function cpuOfAllProcesses(): Map<number, { name: string; ms: number }> {
  const all = new Map<number, { name: string; ms: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      all.set(Number(entry), { name, ms: cpuMs(Number(entry)) });
    } catch {
      // exited between the listing and the read
    }
  }
  return all;
}

// ---------------------------------------------------------------- output

export interface Row {
  figure: string;
  what: string;
  baseline: string;
  subject: string;
  ratio: number;
  target?: { op: "<=" | ">="; value: number };
}

export const ms = (value: number) => (value >= 100 ? `${value.toFixed(0)} ms` : value >= 10 ? `${value.toFixed(1)} ms` : `${value.toFixed(3)} ms`);
export const perSecond = (value: number, unit = "/s") => `${value >= 100 ? value.toFixed(0) : value.toFixed(1)}${unit}`;

export function verdict(row: Row): string {
  if (!row.target) return "—";
  const ok = row.target.op === "<=" ? row.ratio <= row.target.value : row.ratio >= row.target.value;
  return `${row.target.op === "<=" ? "≤" : "≥"} ${row.target.value}x ${ok ? "met" : "**missed**"}`;
}

export function table(rows: Row[]): string {
  const lines = [
    "| # | figure | baseline | agent-onboard | ratio | target |",
    "|---|---|---:|---:|---:|---|",
    ...rows.map((r) => `| ${r.figure} | ${r.what} | ${r.baseline} | ${r.subject} | ${r.ratio.toFixed(2)}x | ${verdict(r)} |`),
  ];
  return lines.join("\n");
}

export function machine(): string {
  let cpu = "unknown CPU";
  try {
    cpu = readFileSync("/proc/cpuinfo", "utf8").match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux
  }
  return `${availableParallelism()} cores (nproc), ${cpu}, Node ${process.version}`;
}
