// `npm run bench`: every figure is a ratio against a baseline measured in the
// same run, in alternating rounds; each number is the median over the rounds.
// Progress goes to stderr; the markdown table to stdout.
import { coldStartFigure } from "./cold-start.js";
import { httpThroughput } from "./http.js";
import { instancesBehindNginx } from "./instances.js";
import { inProcessLatency, stdioLatency } from "./latency.js";
import { oauthTokenCost } from "./oauth.js";
import { machine, now, progress, type Row, table } from "./lib.js";
import { hashingBurst, redeemUnderLoad, signupRate } from "./signup.js";
import { stacksPaging } from "./stacks.js";

const started = now();
const rows: Row[] = [];
const notes: string[] = [];
const add = (result: Row[] | { rows: Row[]; notes: string[] }) => {
  if (Array.isArray(result)) rows.push(...result);
  else {
    rows.push(...result.rows);
    notes.push(...result.notes);
  }
};

// `tsx bench/run.ts 2 4` runs only the figures named.
const figures: Array<[string, () => Promise<Row[] | { rows: Row[]; notes: string[] }>]> = [
  ["1", inProcessLatency],
  ["1", stdioLatency],
  ["2", httpThroughput],
  ["3", signupRate],
  ["3", redeemUnderLoad],
  ["3", hashingBurst],
  ["4", stacksPaging],
  ["5", coldStartFigure],
  ["6", instancesBehindNginx],
  ["7", oauthTokenCost],
];
const only = process.argv.slice(2);
for (const [figure, run] of figures) {
  if (only.length === 0 || only.includes(figure)) add(await run());
}

const seconds = ((now() - started) / 1000).toFixed(0);
progress(`done in ${seconds} s`);
process.stdout.write(
  [
    `Machine: ${machine()}. Total bench time ${seconds} s.`,
    "",
    table(rows),
    "",
    ...notes.map((note) => `- ${note}`),
    "",
  ].join("\n"),
);
