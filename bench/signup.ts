// Figure 3: account creation. agent_signup per second (in process, 2026-07-28), and how much
// a loop of password redeems (scrypt) slows get_current_user running beside it.
import { setImmediate as nextTurn } from "node:timers/promises";
import type { CallToolResult } from "@modelcontextprotocol/client";
import { BASELINE_TOOL } from "./baseline-server.mjs";
import { openBaseline, openSubject } from "./env.js";
import { callOk, interleave, median, ms, now, percentile, perSecond, progress, type Row, timeSequential } from "./lib.js";

const SIGNUP_ROUNDS = 7;
const SIGNUPS_PER_ROUND = 150;
const SIGNUP_ROUND_MS = 10_000;

const LOAD_ROUNDS = 9;
const PROBE_MS = 1_500;
const PROBE_MAX_CALLS = 50_000;
const MAX_REDEEMS_PER_ROUND = 200;

export async function signupRate(): Promise<Row[]> {
  progress("3a: agent_signup per second, in-process handler.fetch (2026-07-28)");
  const env = await openSubject("signup");
  const baselineEnv = openBaseline();
  try {
    const baseline = await baselineEnv.connect();
    // Stateless: an anonymous client may sign up again and again, each call a new account.
    const anonymous = await env.connect();
    const noop = () => callOk(baseline, BASELINE_TOOL);
    let signups = 0;
    const signup = () => callOk(anonymous, "agent_signup", { agentName: `Bench signup ${signups++}` });
    const rate = (durations: number[]) => (durations.length * 1000) / durations.reduce((a, b) => a + b, 0);
    await timeSequential(300, SIGNUP_ROUND_MS, noop);
    await timeSequential(SIGNUPS_PER_ROUND, SIGNUP_ROUND_MS, signup);
    const rounds = await interleave(
      SIGNUP_ROUNDS,
      async () => rate(await timeSequential(SIGNUPS_PER_ROUND, SIGNUP_ROUND_MS, noop)),
      async () => rate(await timeSequential(SIGNUPS_PER_ROUND, SIGNUP_ROUND_MS, signup)),
    );
    const base = median(rounds.baseline);
    const subj = median(rounds.subject);
    return [
      {
        figure: "3a",
        what: "agent_signup per second, in-process (handler.fetch, 2026-07-28), sequential (baseline: no-op calls per second)",
        baseline: perSecond(base),
        subject: perSecond(subj),
        ratio: subj / base,
      },
    ];
  } finally {
    await baselineEnv.close();
    await env.close();
  }
}

export async function redeemUnderLoad(): Promise<{ rows: Row[]; notes: string[] }> {
  progress("3b: get_current_user p99 while redeem_invite with a password runs in a loop");
  const env = await openSubject("redeem");
  const signUp = async (agentName: string) => {
    const signup = await callOk(await env.connect(), "agent_signup", { agentName });
    return env.connect((signup.structuredContent as { accessToken: string }).accessToken);
  };
  try {
    const admin = await signUp("Bench inviter");
    const invite = await callOk(admin, "create_invite_link", {
      name: "bench",
      expiresAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    });
    const inviteUrl = (invite.structuredContent as { url: string }).url;
    const redeemer = await env.connect(); // anonymous: redeeming with a password returns no token
    const probe = await signUp("Bench probe");
    const me = () => callOk(probe, "get_current_user");

    // In process a call hardly leaves the microtask queue, so a back-to-back loop would starve the event
    // loop (and the redeems' scrypt callbacks) until it ends; a real transport yields between messages.
    const probeRound = () => timeSequential(PROBE_MAX_CALLS, PROBE_MS, me, () => nextTurn());

    let redeemed = 0;
    let redeemMs = 0;
    const idle = probeRound;
    const loaded = async (round: number) => {
      let stop = false;
      const loop = (async () => {
        for (let i = 0; i < MAX_REDEEMS_PER_ROUND && !stop; i++) {
          const started = now();
          const result: CallToolResult = await callOk(redeemer, "redeem_invite", {
            token: inviteUrl,
            email: `person-${round}-${i}@bench.example`,
            name: "Bench Person",
            password: "Bench-pass-7!",
          });
          if ((result.structuredContent as { accessToken?: string } | undefined)?.accessToken) throw new Error("a password redeem must not return a token");
          redeemMs += now() - started;
          redeemed++;
        }
      })();
      try {
        return await probeRound();
      } finally {
        stop = true;
        await loop;
      }
    };
    await idle();
    await loaded(-1); // warm-up
    redeemed = 0;
    redeemMs = 0;
    const rounds = await interleave(LOAD_ROUNDS, idle, loaded);
    const rows: Row[] = [50, 99].map((p) => {
      const base = median(rounds.baseline.map((samples) => percentile(samples, p)));
      const subj = median(rounds.subject.map((samples) => percentile(samples, p)));
      return {
        figure: "3b",
        what: `get_current_user p${p}, in-process (2026-07-28): beside a redeem_invite (password) loop vs idle`,
        baseline: ms(base),
        subject: ms(subj),
        ratio: subj / base,
        target: p === 99 ? { op: "<=", value: 3 } : undefined,
      } satisfies Row;
    });
    const idleCalls = median(rounds.baseline.map((s) => s.length));
    const loadedCalls = median(rounds.subject.map((s) => s.length));
    return {
      rows,
      notes: [
        `Figure 3b: ${redeemed} password redeems ran during the loaded rounds, ${(redeemMs / Math.max(1, redeemed)).toFixed(0)} ms each ` +
          `(scrypt N=2^15, r=8 on libuv's pool); get_current_user calls per ${PROBE_MS} ms round: ${idleCalls} idle, ${loadedCalls} loaded.`,
      ],
    };
  } finally {
    await env.close();
  }
}
