// Figure 5: cold start over stdio, from spawning the process to a finished initialize.
import { rmSync } from "node:fs";
import { openDb } from "../db/client.js";
import { tempDir } from "./env.js";
import { baselineScript, cliPath, interleave, median, ms, now, progress, type Row } from "./lib.js";
import { stdioClient, subjectStdioEnv } from "./latency.js";

const ROUNDS = 8;

/** Spawns, initializes, and closes (waiting for the exit, so that rounds never overlap). */
async function coldStart(args: string[], env: Record<string, string>): Promise<number> {
  const started = now();
  const { client, transport } = stdioClient(args, env);
  await client.connect(transport);
  const elapsed = now() - started;
  await client.close();
  return elapsed;
}

export async function coldStartFigure(): Promise<Row[]> {
  progress("5: cold start over stdio");
  const dir = tempDir("cold");
  try {
    // An existing, migrated db, as on every start after the first; no saved credentials.
    const env = subjectStdioEnv(dir);
    openDb(env.ONBOARD_DB).close();
    const subject = () => coldStart([cliPath, "stdio"], env);
    const baseline = () => coldStart([baselineScript, "stdio"], {});
    await baseline();
    await subject(); // warm the file cache
    const rounds = await interleave(ROUNDS, baseline, subject);
    const base = median(rounds.baseline);
    const subj = median(rounds.subject);
    return [
      {
        figure: "5",
        what: "cold start over stdio, spawn to finished initialize, p50: `node dist/src/cli.js stdio` vs baseline process",
        baseline: ms(base),
        subject: ms(subj),
        ratio: subj / base,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

