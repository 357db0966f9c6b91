// Figure 1: get_current_user (as a signed-up agent) against the baseline's no-op tool, call by call, 2026-07-28 era.
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { BASELINE_TOOL } from "./baseline-server.mjs";
import { openBaseline, openSubject, tempDir } from "./env.js";
import {
  baselineScript,
  callOk,
  cliPath,
  type Era,
  expectEra,
  interleave,
  median,
  ms,
  newClient,
  percentile,
  progress,
  projectRoot,
  type Row,
  timeSequential,
} from "./lib.js";

const ROUNDS = 9;
const CALLS = 1000;
const ROUND_MS = 4_000;
const WARMUP = 500;

async function compare(figure: string, where: string, baseline: Client, subject: Client, target: boolean): Promise<Row[]> {
  const noop = () => callOk(baseline, BASELINE_TOOL);
  const me = () => callOk(subject, "get_current_user");
  await timeSequential(WARMUP, ROUND_MS, noop);
  await timeSequential(WARMUP, ROUND_MS, me);
  const rounds = await interleave(
    ROUNDS,
    () => timeSequential(CALLS, ROUND_MS, noop),
    () => timeSequential(CALLS, ROUND_MS, me),
  );
  return [50, 99].map((p) => {
    const base = median(rounds.baseline.map((samples) => percentile(samples, p)));
    const subj = median(rounds.subject.map((samples) => percentile(samples, p)));
    return {
      figure,
      what: `tool-call latency ${where}, p${p}: get_current_user vs no-op`,
      baseline: ms(base),
      subject: ms(subj),
      ratio: subj / base,
      target: target && p === 50 ? { op: "<=", value: 1.3 } : undefined,
    } satisfies Row;
  });
}

/** In process through handler.fetch: each call is one request, and builds one server on each side. */
export async function inProcessLatency(): Promise<Row[]> {
  progress("1a: tool-call latency, in-process handler.fetch (2026-07-28)");
  const env = await openSubject("latency");
  const baseline = openBaseline();
  try {
    const signup = await callOk(await env.connect(), "agent_signup", { agentName: "Bench latency" });
    const subject = await env.connect((signup.structuredContent as { accessToken: string }).accessToken);
    return await compare("1a", "in-process (handler.fetch, 2026-07-28)", await baseline.connect(), subject, false);
  } finally {
    await baseline.close();
    await env.close();
  }
}

export function stdioClient(args: string[], env: Record<string, string>, era: Era = "modern") {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args,
    cwd: projectRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stderr: "pipe",
  });
  // The subject logs every call at "info"; drained as a host would.
  (transport.stderr as NodeJS.ReadableStream | null)?.resume();
  return { transport, client: newClient("bench-stdio", era) };
}

/** The subject's stdio environment: a fresh db and credentials file, pages on a free port, default log level. */
export const subjectStdioEnv = (dir: string) => ({
  ONBOARD_DB: join(dir, "onboard.db"),
  ONBOARD_CREDENTIALS: join(dir, "credentials.json"),
  ONBOARD_PORT: "0",
  ONBOARD_MAIL_DIR: join(dir, "mail"),
});

/** Over stdio the connection keeps one server instance (serveStdio), signed in by agent_signup. */
export async function stdioLatency(): Promise<Row[]> {
  progress("1b: tool-call latency, stdio (2026-07-28)");
  const dir = tempDir("stdio");
  const subject = stdioClient([cliPath, "stdio"], subjectStdioEnv(dir));
  const baseline = stdioClient([baselineScript, "stdio"], {});
  try {
    // A pinned stdio client probes on a short-lived sibling process first, then spawns the one it keeps.
    await Promise.all([subject.client.connect(subject.transport), baseline.client.connect(baseline.transport)]);
    expectEra(subject.client, "modern");
    expectEra(baseline.client, "modern");
    await callOk(subject.client, "agent_signup", { agentName: "Bench stdio" });
    return await compare("1b", "over stdio (serveStdio, 2026-07-28)", baseline.client, subject.client, true);
  } finally {
    await Promise.allSettled([subject.client.close(), baseline.client.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
}
