import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { lt } from "drizzle-orm";
import { z } from "zod";
import { AppError } from "../errors.js";
import type { Deps } from "./deps.js";
import { hashSecret } from "./secrets.js";
import { signingKey } from "./tokens.js";

/**
 * Pulumi's proof of work for REST agent signups (its CLI's
 * pkg/backend/httpstate/client: `v1:<random>:<bits>`, solved by counting a
 * nonce up until sha256(challengeData + ":" + nonce) has `bits` leading zero
 * bits). A challenge is issued without a write: its id carries the data and
 * expiry under an HMAC, so only what this server issued verifies; redeeming
 * one records it, so each works once across every process.
 */
export const signupChallengeShape = z.object({ challengeID: z.string(), challengeData: z.string() });
export type SignupChallenge = z.infer<typeof signupChallengeShape>;

/** Off, a challenge still answers (Pulumi's CLI always asks for one), of one bit. */
const bitsOf = (deps: Deps) => deps.settings.signupChallenge?.bits ?? 1;

const mac = async (deps: Deps, payload: string) =>
  createHmac("sha256", await signingKey(deps.db)).update(`signup-challenge|${payload}`).digest().subarray(0, 16).toString("base64url");

export async function issueSignupChallenge(deps: Deps): Promise<SignupChallenge> {
  const ttlMs = deps.settings.signupChallenge?.ttlMs ?? 10 * 60_000;
  const challengeData = `v1:${randomBytes(16).toString("base64url")}:${bitsOf(deps)}`;
  const expires = Math.floor((deps.clock().getTime() + ttlMs) / 1000);
  const payload = Buffer.from(`${challengeData}|${expires}`).toString("base64url");
  return { challengeID: `${payload}.${await mac(deps, payload)}`, challengeData };
}

/** How many zero bits the digest starts with. */
function leadingZeroBits(digest: Buffer): number {
  let bits = 0;
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

const refused = (why: string) =>
  new AppError("bad_request", `${why} Get a new challenge with GET /api/agents/signup, solve it, and send its challengeID and challengeResult with the signup.`);

export const signupChallengeAnswer = z.object({
  challengeID: z.string({ message: "challengeID is required: the id GET /api/agents/signup gave." }).max(512, "challengeID is at most 512 characters."),
  challengeResult: z.string({ message: "challengeResult is required: the nonce that solves the challenge." }).max(128, "challengeResult is at most 128 characters."),
});

/**
 * Checks a solved challenge and marks it used, or refuses with 400 and
 * changes nothing. Without a configured proof of work nothing is asked.
 */
export async function redeemSignupChallenge(deps: Deps, answer: unknown): Promise<void> {
  if (!deps.settings.signupChallenge) return;
  const parsed = signupChallengeAnswer.safeParse(answer ?? {});
  if (!parsed.success) throw refused(parsed.error.issues[0]!.message);
  const { challengeID, challengeResult } = parsed.data;
  const [payload = "", tag = ""] = challengeID.split(".");
  const expected = Buffer.from(await mac(deps, payload));
  const given = Buffer.from(tag);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refused("This challenge was not issued by this server.");
  const [challengeData = "", expiresText = ""] = Buffer.from(payload, "base64url").toString().split("|");
  const expiresAt = new Date(Number(expiresText) * 1000);
  if (!(expiresAt > deps.clock())) throw refused("This challenge has expired.");
  const bits = Number(challengeData.split(":")[2]);
  const digest = createHash("sha256").update(`${challengeData}:${challengeResult}`).digest();
  if (leadingZeroBits(digest) < bits) throw refused(`This challengeResult does not solve the challenge: sha256(challengeData + ":" + challengeResult) must start with ${bits} zero bits.`);
  const recorded = await deps.db.transact((tx) =>
    tx.insert(tx.tables.usedSignupChallenges).values({ idHash: hashSecret(challengeID), expiresAt }).onConflictDoNothing().returning({ idHash: tx.tables.usedSignupChallenges.idHash }),
  );
  if (recorded.length !== 1) throw refused("This challenge has already been used: each works once.");
}

/** The sweeper's part: a used challenge past its expiry could not be replayed anyway. */
export async function forgetExpiredSignupChallenges(deps: Deps): Promise<number> {
  return deps.db.transact(async (tx) => {
    const gone = await tx.delete(tx.tables.usedSignupChallenges).where(lt(tx.tables.usedSignupChallenges.expiresAt, deps.clock())).returning({ idHash: tx.tables.usedSignupChallenges.idHash });
    return gone.length;
  });
}
