// Figure 1: get_current_user (on a session that signed up) against the baseline's no-op tool, call by call.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { BASELINE_TOOL } from "./baseline-server.mjs";
import { connectBaseline, openSubject, tempDir } from "./env.js";
import { baselineScript, callOk, cliPath, interleave, median, ms, percentile, progress, projectRoot, type Row, timeSequential } from "./lib.js";

const ROUNDS = 9;
const CALLS = 1000;
const ROUND_MS = 4_000;
const WARMUP = 500;

async function compare(figure: string, where: string, baseline: Client, subject: Client): Promise<Row[]> {
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
      target: p === 50 ? { op: "<=", value: 1.3 } : undefined,
    } satisfies Row;
  });
}

export async function inMemoryLatency(): Promise<Row[]> {
  progress("1a: tool-call latency, in-memory");
  const env = openSubject("latency");
  try {
    const subject = await env.connect();
    await callOk(subject, "agent_signup", { agentName: "Bench latency" });
    const baseline = await connectBaseline();
    const rows = await compare("1a", "in-memory", baseline, subject);
    await Promise.all([subject.close(), baseline.close()]);
    return rows;
  } finally {
    env.close();
  }
}

export function stdioClient(args: string[], env: Record<string, string>) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args,
    cwd: projectRoot,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stderr: "pipe",
  });
  // The subject logs every call at "info"; drained as a host would.
  (transport.stderr as NodeJS.ReadableStream | null)?.resume();
  return { transport, client: new Client({ name: "bench-stdio", version: "1.0.0" }) };
}

/** The subject's stdio environment: a fresh db and credentials file, pages on a free port, default log level. */
export const subjectStdioEnv = (dir: string) => ({
  ONBOARD_DB: join(dir, "onboard.db"),
  ONBOARD_CREDENTIALS: join(dir, "credentials.json"),
  ONBOARD_PORT: "0",
  ONBOARD_MAIL_DIR: join(dir, "mail"),
});

export async function stdioLatency(): Promise<Row[]> {
  progress("1b: tool-call latency, stdio");
  const dir = tempDir("stdio");
  const subject = stdioClient([cliPath, "stdio"], subjectStdioEnv(dir));
  const baseline = stdioClient([baselineScript, "stdio"], {});
  try {
    await Promise.all([subject.client.connect(subject.transport), baseline.client.connect(baseline.transport)]);
    await callOk(subject.client, "agent_signup", { agentName: "Bench stdio" });
    return await compare("1b", "over stdio", baseline.client, subject.client);
  } finally {
    await Promise.allSettled([subject.client.close(), baseline.client.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
}
