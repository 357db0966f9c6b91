import { describe, expect, test } from "vitest";
import { AppError } from "../src/errors.js";
import { SignupLimiter } from "../src/rate-limit.js";

const HOUR = 3_600_000;
const MINUTE = 60_000;
const T0 = Date.parse("2026-03-01T12:00:00.000Z");

/** A limiter on a clock that only moves when the test moves it. */
function limiter(perHour: number) {
  let now = T0;
  const limit = new SignupLimiter(perHour, undefined, () => now);
  return {
    limit,
    at(ms: number) {
      now = T0 + ms;
    },
  };
}

/** The AppError that `take` throws, or a failed assertion when it does not throw. */
function refusal(limit: SignupLimiter, address: string): AppError {
  try {
    limit.take(address);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error(`take(${address}) should have been refused`);
}

describe("SignupLimiter", () => {
  test("lets an address create as many accounts as the hourly limit, and refuses the next one", () => {
    const { limit, at } = limiter(3);
    limit.take("10.0.0.1");
    at(MINUTE);
    limit.take("10.0.0.1");
    at(2 * MINUTE);
    limit.take("10.0.0.1");
    at(3 * MINUTE);
    const error = refusal(limit, "10.0.0.1");
    expect(error.code).toBe("rate_limited");
    expect(error.message).toContain("limit 3");
  });

  test("the refusal says when to retry: one hour after the oldest creation in the window", () => {
    const { limit, at } = limiter(2);
    at(10 * MINUTE);
    limit.take("10.0.0.1");
    at(20 * MINUTE);
    limit.take("10.0.0.1");
    at(30 * MINUTE);
    const error = refusal(limit, "10.0.0.1");
    const retryAt = new Date(T0 + 10 * MINUTE + HOUR).toISOString();
    expect(error.message).toContain(`Retry after ${retryAt}`);
    expect(error.message).toContain("in 2400 s");
    expect(error.details).toEqual({ retryAfterSeconds: 2400 });
  });

  test("the seconds to wait are rounded up, never zero while still refused", () => {
    const { limit, at } = limiter(1);
    limit.take("10.0.0.1");
    at(HOUR - 1);
    const error = refusal(limit, "10.0.0.1");
    expect(error.details).toEqual({ retryAfterSeconds: 1 });
    expect(error.message).toContain("in 1 s");
  });

  test("the window slides: a creation older than one hour no longer counts", () => {
    const { limit, at } = limiter(2);
    limit.take("10.0.0.1");
    at(30 * MINUTE);
    limit.take("10.0.0.1");
    at(HOUR - 1);
    refusal(limit, "10.0.0.1");
    at(HOUR);
    limit.take("10.0.0.1"); // the creation at T0 has left the window
    at(HOUR + MINUTE);
    // the one at 30 min and the one just made still count
    const error = refusal(limit, "10.0.0.1");
    expect(error.message).toContain(`Retry after ${new Date(T0 + 30 * MINUTE + HOUR).toISOString()}`);
  });

  test("at the announced retry time the address is admitted again", () => {
    const { limit, at } = limiter(1);
    at(5 * MINUTE);
    limit.take("10.0.0.1");
    at(40 * MINUTE);
    const retryAfter = refusal(limit, "10.0.0.1").details!.retryAfterSeconds as number;
    at(40 * MINUTE + retryAfter * 1000);
    expect(() => limit.take("10.0.0.1")).not.toThrow();
  });

  test("refused attempts do not count, so hammering does not push the retry time back", () => {
    const { limit, at } = limiter(1);
    limit.take("10.0.0.1");
    for (let minute = 1; minute < 60; minute += 1) {
      at(minute * MINUTE);
      refusal(limit, "10.0.0.1");
    }
    at(HOUR);
    expect(() => limit.take("10.0.0.1")).not.toThrow();
  });

  test("each address has its own share", () => {
    const { limit } = limiter(1);
    limit.take("10.0.0.1");
    refusal(limit, "10.0.0.1");
    expect(() => limit.take("10.0.0.2")).not.toThrow();
    expect(() => limit.take("::1")).not.toThrow();
    refusal(limit, "10.0.0.2");
  });

  test("a limit of 0 turns limiting off", () => {
    const { limit } = limiter(0);
    for (let i = 0; i < 1000; i += 1) limit.take("10.0.0.1");
  });

  test("forgetting idle addresses when the table grows large keeps the recent ones limited", () => {
    const { limit, at } = limiter(1);
    limit.take("old");
    at(10 * MINUTE);
    limit.take("recent");
    at(HOUR + MINUTE);
    // more than 10 000 addresses in the table makes the limiter forget idle ones
    for (let i = 0; i < 10_001; i += 1) limit.take(`10.1.${i >> 8}.${i & 255}`);
    refusal(limit, "recent");
    refusal(limit, "10.1.0.0");
    expect(() => limit.take("old")).not.toThrow();
    refusal(limit, "old");
  });

  test("by default the limiter reads the real clock", () => {
    const limit = new SignupLimiter(1);
    const before = Date.now();
    limit.take("10.0.0.1");
    const error = refusal(limit, "10.0.0.1");
    const seconds = error.details!.retryAfterSeconds as number;
    expect(seconds).toBeGreaterThan(3590);
    expect(seconds).toBeLessThanOrEqual(3600);
    const retryAt = Date.parse(/Retry after (\S+) /.exec(error.message)![1]!);
    expect(retryAt).toBeGreaterThanOrEqual(before + HOUR);
    expect(retryAt).toBeLessThanOrEqual(Date.now() + HOUR);
  });
});

describe("IPv6 clients", () => {
  test("count per /64, so one host cannot take a share per address; IPv4-mapped addresses count as IPv4", () => {
    const { limit } = limiter(1);
    limit.take("2001:db8:1:2::1");
    refusal(limit, "2001:db8:1:2:ffff:ffff:ffff:fffe");
    expect(() => limit.take("2001:db8:1:3::1")).not.toThrow();
    limit.take("::ffff:192.0.2.7");
    refusal(limit, "192.0.2.7");
  });
});
