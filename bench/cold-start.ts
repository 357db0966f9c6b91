// Figure 5: cold start over stdio, from spawning the process to its first answer.
//
// 2026-07-28: a pinned stdio client first probes on a short-lived sibling
// process, then spawns the one it keeps, which never sees server/discover; so
// here the client adopts a discover result from an earlier connection
// (connect({ prior }), zero round trips, one spawn), and the time runs from the
// spawn to the answer to its first request (server/discover again, which both
// servers answer from their registrations). 2025 era: spawn to finished initialize.
import { rmSync } from "node:fs";
import type { DiscoverResult } from "@modelcontextprotocol/client";
import { openStore } from "../db/client.js";
import { tempDir } from "./env.js";
import { baselineScript, cliPath, type Era, expectEra, interleave, median, ms, now, progress, type Row } from "./lib.js";
import { stdioClient, subjectStdioEnv } from "./latency.js";

const ROUNDS = 8;

/** The discover result a host would have cached from an earlier connection. */
async function discoverOnce(args: string[], env: Record<string, string>): Promise<DiscoverResult> {
  const { client, transport } = stdioClient(args, env, "modern");
  await client.connect(transport);
  const discover = client.getDiscoverResult();
  await client.close();
  if (!discover) throw new Error(`${args.join(" ")}: no discover result`);
  return discover;
}

/** Spawns, gets the first answer, and closes (waiting for the exit, so that rounds never overlap). */
async function coldStart(args: string[], env: Record<string, string>, era: Era, prior?: DiscoverResult): Promise<number> {
  const started = now();
  const { client, transport } = stdioClient(args, env, era);
  if (era === "modern") {
    await client.connect(transport, { prior: { kind: "modern", discover: prior! } });
    await client.discover();
  } else {
    await client.connect(transport);
  }
  const elapsed = now() - started;
  expectEra(client, era);
  await client.close();
  return elapsed;
}

export async function coldStartFigure(): Promise<Row[]> {
  progress("5: cold start over stdio");
  const dir = tempDir("cold");
  try {
    // An existing, migrated db, as on every start after the first; no saved credentials.
    const env = subjectStdioEnv(dir);
    await (await openStore({ dbFile: env.ONBOARD_DB! })).close();
    const subjectArgs = [cliPath, "stdio"];
    const baselineArgs = [baselineScript, "stdio"];
    const rows: Row[] = [];
    const priors = { subject: await discoverOnce(subjectArgs, env), baseline: await discoverOnce(baselineArgs, {}) };
    for (const era of ["modern", "legacy"] as const) {
      const subject = () => coldStart(subjectArgs, env, era, priors.subject);
      const baseline = () => coldStart(baselineArgs, {}, era, priors.baseline);
      await baseline();
      await subject(); // warm the file cache
      const rounds = await interleave(ROUNDS, baseline, subject);
      const base = median(rounds.baseline);
      const subj = median(rounds.subject);
      rows.push({
        figure: era === "modern" ? "5" : "5L",
        what:
          era === "modern"
            ? "cold start over stdio, 2026-07-28 (cached discover result), spawn to first answer, p50: `node dist/src/cli.js stdio` vs baseline process"
            : "cold start over stdio, 2025 era, spawn to finished initialize, p50: the same two processes",
        baseline: ms(base),
        subject: ms(subj),
        ratio: subj / base,
      });
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
