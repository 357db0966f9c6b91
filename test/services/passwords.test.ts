import { describe, expect, test } from "vitest";
import { hashPassword, passwordProblem, verifyPassword } from "../../src/services/passwords.js";

const GOOD_PASSWORD = "Correct-Horse-9";

describe("hashPassword and verifyPassword", () => {
  test("a hashed password verifies", async () => {
    const hash = await hashPassword(GOOD_PASSWORD);

    expect(await verifyPassword(GOOD_PASSWORD, hash)).toBe(true);
  });

  test("a wrong password does not verify", async () => {
    const hash = await hashPassword(GOOD_PASSWORD);

    expect(await verifyPassword("Correct-Horse-8", hash)).toBe(false);
    expect(await verifyPassword("correct-horse-9", hash)).toBe(false);
    expect(await verifyPassword("", hash)).toBe(false);
  });

  test("hashing the same password twice gives different hashes (a fresh salt each time), both of which verify", async () => {
    const [first, second] = await Promise.all([hashPassword(GOOD_PASSWORD), hashPassword(GOOD_PASSWORD)]);

    expect(first).not.toBe(second);
    expect(await verifyPassword(GOOD_PASSWORD, first)).toBe(true);
    expect(await verifyPassword(GOOD_PASSWORD, second)).toBe(true);
  });

  test("the hash never contains the password", async () => {
    const hash = await hashPassword(GOOD_PASSWORD);

    expect(hash).not.toContain(GOOD_PASSWORD);
    expect(hash).not.toContain(Buffer.from(GOOD_PASSWORD).toString("base64url"));
    expect(hash).not.toContain(Buffer.from(GOOD_PASSWORD).toString("hex"));
  });

  test("a stored value that is not one of our hashes never verifies", async () => {
    expect(await verifyPassword(GOOD_PASSWORD, GOOD_PASSWORD)).toBe(false);
    expect(await verifyPassword(GOOD_PASSWORD, "")).toBe(false);
    expect(await verifyPassword(GOOD_PASSWORD, "md5$abc")).toBe(false);
  });

  test("hashing runs off the main thread: the event loop keeps ticking while four passwords hash", async () => {
    let ticks = 0;
    const timer = setInterval(() => {
      ticks += 1;
    }, 1);
    try {
      const hashes = await Promise.all(["Pass-word-1", "Pass-word-2", "Pass-word-3", "Pass-word-4"].map(hashPassword));
      expect(hashes).toHaveLength(4);
    } finally {
      clearInterval(timer);
    }
    // A hash computed on the event loop would block it for the whole batch: no tick at all.
    expect(ticks).toBeGreaterThanOrEqual(3);
  });

  test("a burst of hashes leaves libuv's pool free: a WebCrypto HMAC beside twenty of them answers at once", async () => {
    const key = await crypto.subtle.importKey("raw", new Uint8Array(32), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const sign = () => crypto.subtle.sign("HMAC", key, new TextEncoder().encode("token"));
    await sign();
    const alone = performance.now();
    await sign();
    const aloneMs = performance.now() - alone;

    const burst = Promise.all(Array.from({ length: 20 }, (_, i) => hashPassword(`Pass-word-${i}!`)));
    const started = performance.now();
    await sign();
    const besideMs = performance.now() - started;
    const burstStarted = performance.now();
    await burst;
    const burstMs = performance.now() - burstStarted;
    // On libuv's four threads the HMAC waited behind the queued hashes (seconds); now it does not wait for them.
    expect(besideMs).toBeLessThan(Math.max(50, aloneMs * 20));
    expect(besideMs).toBeLessThan(burstMs / 4);
  });
});

describe("passwordProblem", () => {
  test("a password that follows every rule has no problem", () => {
    expect(passwordProblem(GOOD_PASSWORD)).toBeUndefined();
    expect(passwordProblem("Ab1!efghij")).toBeUndefined(); // exactly 10
    expect(passwordProblem(`Ab1!${"xy".repeat(62)}`)).toBeUndefined(); // exactly 128
    expect(passwordProblem("Grüße-Straße-42")).toBeUndefined(); // non-ASCII letters count
  });

  test.for([
    ["shorter than 10 characters", "Ab1!efghi", /at least 10/],
    ["longer than 128 characters", `Ab1!${"xy".repeat(63)}`, /at most 128/],
    ["a character three times in a row", "Paaassword-1", /three repeating/],
    ["a digit three times in a row", "Password-111", /three repeating/],
    ["no uppercase letter", "lowercase-only-1", /uppercase/],
    ["no lowercase letter", "UPPERCASE-ONLY-1", /lowercase/],
    ["no digit", "No-Digits-Here", /number/],
    ["no symbol", "NoSymbolsHere1", /symbol/],
    ["only spaces as symbols", "No Symbols Here 1", /symbol/],
  ] as const)("a password with %s is refused by naming that rule", ([, password, rule]) => {
    expect(passwordProblem(password)).toMatch(rule);
  });
});
