import { createHash } from "node:crypto";

/** Whether sha256(challengeData + ":" + nonce) starts with the challenge's number of zero bits. */
export function solves(challengeData: string, nonce: string): boolean {
  const parts = challengeData.split(":");
  if (parts.length !== 3 || parts[0] !== "v1") throw new Error(`not a v1 challenge: ${challengeData}`);
  const bits = Number(parts[2]);
  const digest = createHash("sha256").update(`${challengeData}:${nonce}`).digest();
  let zeros = 0;
  for (const byte of digest) {
    if (byte === 0) {
      zeros += 8;
      continue;
    }
    zeros += Math.clz32(byte) - 24;
    break;
  }
  return zeros >= bits;
}

/**
 * Solves a proof-of-work challenge the way Pulumi's CLI does
 * (pkg/backend/httpstate/client/client.go): count a nonce up from 0 until
 * sha256(challengeData + ":" + nonce) starts with `bits` zero bits, and send
 * the nonce as a decimal string.
 */
export function solveChallenge(challengeData: string): string {
  for (let nonce = 0; ; nonce++) if (solves(challengeData, String(nonce))) return String(nonce);
}
