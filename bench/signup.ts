// Figure 3: account creation. agent_signup per second (in process, 2026-07-28), and how much
// password hashing (a loop of redeems, a burst of sign-ins and claims) slows get_current_user beside it.
import { setImmediate as nextTurn } from "node:timers/promises";
import type { CallToolResult } from "@modelcontextprotocol/client";
import { agentSignup } from "../src/services/accounts.js";
import { claimAccount } from "../src/services/claims.js";
import { signIn } from "../src/services/sessions.js";
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
          `(scrypt N=2^15, r=8 on the hashing workers); get_current_user calls per ${PROBE_MS} ms round: ${idleCalls} idle, ${loadedCalls} loaded.`,
      ],
    };
  } finally {
    await env.close();
  }
}

const BURST_SIGNINS = 50;
const BURST_CLAIMS = 50;
const BURST_ROUNDS = 5;

/**
 * Figure 3c: get_current_user p99 while 50 sign-ins and 50 claims hash their
 * passwords at once, against idle p99 in the same run. Each loaded round
 * starts a fresh burst (50 claimable agents, one human signing in 50 times).
 */
export async function hashingBurst(): Promise<{ rows: Row[]; notes: string[] }> {
  progress(`3c: get_current_user p99 while ${BURST_SIGNINS} sign-ins and ${BURST_CLAIMS} claims hash at once`);
  const env = await openSubject("hashing");
  const password = "Bench-pass-7!";
  try {
    const human = await agentSignup(env.deps, { agentName: "Bench human" });
    await claimAccount(env.deps, { claimToken: human.claimToken, username: "bench-human", email: "human@bench.example", password, keepAgentAccess: true });
    const signup = await callOk(await env.connect(), "agent_signup", { agentName: "Bench probe" });
    const probe = await env.connect((signup.structuredContent as { accessToken: string }).accessToken);
    const me = () => callOk(probe, "get_current_user");
    const probeRound = () => timeSequential(PROBE_MAX_CALLS, PROBE_MS, me, () => nextTurn());

    let bursts = 0;
    let burstMs = 0;
    const loaded = async (round: number) => {
      const agents = await Promise.all(Array.from({ length: BURST_CLAIMS }, (_, i) => agentSignup(env.deps, { agentName: `Claimed ${round} ${i}` })));
      const started = now();
      const burst = Promise.all([
        ...Array.from({ length: BURST_SIGNINS }, (_, i) => signIn(env.deps, { identifier: "bench-human", password, addressBucket: `198.51.100.${i}` })),
        ...agents.map((agent, i) =>
          claimAccount(env.deps, { claimToken: agent.claimToken, username: `claimed-${round + 1}-${i}`, email: `c${round + 1}-${i}@bench.example`, password, keepAgentAccess: true }),
        ),
      ]).then(() => {
        burstMs += now() - started;
        bursts++;
      });
      try {
        return await probeRound();
      } finally {
        await burst;
      }
    };
    await probeRound();
    await loaded(-1); // warm-up
    bursts = 0;
    burstMs = 0;
    const rounds = await interleave(BURST_ROUNDS, probeRound, loaded);
    const rows: Row[] = [50, 99].map((p) => {
      const base = median(rounds.baseline.map((samples) => percentile(samples, p)));
      const subj = median(rounds.subject.map((samples) => percentile(samples, p)));
      return {
        figure: "3c",
        what: `get_current_user p${p}, in-process (2026-07-28): while ${BURST_SIGNINS} sign-ins and ${BURST_CLAIMS} claims hash at once vs idle`,
        baseline: ms(base),
        subject: ms(subj),
        ratio: subj / base,
        target: p === 99 ? { op: "<=", value: 3 } : undefined,
      } satisfies Row;
    });
    return {
      rows,
      notes: [
        `Figure 3c: each burst of ${BURST_SIGNINS + BURST_CLAIMS} password hashes took ${(burstMs / Math.max(1, bursts) / 1000).toFixed(1)} s to drain ` +
          "on the hashing workers (one fewer than the cores), while get_current_user kept answering beside it.",
      ],
    };
  } finally {
    await env.close();
  }
}
