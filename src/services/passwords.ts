import { randomBytes, timingSafeEqual } from "node:crypto";
import { scryptInPool as scrypt } from "./hashing-pool.js";

// scrypt is memory-hard (32 MiB at these settings) and runs on worker threads
// of its own, so hashing never blocks other callers on the event loop, nor
// queues their work on libuv's pool.
const params = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_LENGTH = 32;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEY_LENGTH, params);
  return ["scrypt", params.N, params.r, params.p, salt.toString("base64url"), key.toString("base64url")].join("$");
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split("$");
  if (scheme !== "scrypt" || !salt || !key) return false;
  const expected = Buffer.from(key, "base64url");
  const actual = await scrypt(password, Buffer.from(salt, "base64url"), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: params.maxmem,
  });
  return timingSafeEqual(actual, expected);
}

const rules: Array<[test: (password: string) => boolean, message: string]> = [
  [(pw) => pw.length >= 10, "The password must be at least 10 characters long."],
  [(pw) => pw.length <= 128, "The password must be at most 128 characters long."],
  [(pw) => !/(.)\1\1/u.test(pw), "The password may not contain three repeating characters in a row."],
  [(pw) => /\p{Lu}/u.test(pw), "The password must contain at least one uppercase letter."],
  [(pw) => /\p{Ll}/u.test(pw), "The password must contain at least one lowercase letter."],
  [(pw) => /\p{Nd}/u.test(pw), "The password must contain at least one number."],
  [(pw) => /[^\p{L}\p{Nd}\s]/u.test(pw), "The password must contain at least one symbol."],
];

/** The first rule the password breaks, as a sentence for the caller, or undefined when it is acceptable. */
export const passwordProblem = (password: string): string | undefined =>
  rules.find(([test]) => !test(password))?.[1];

export const PASSWORD_POLICY =
  "10–128 characters, with an uppercase letter, a lowercase letter, a number and a symbol, and no character three times in a row";
