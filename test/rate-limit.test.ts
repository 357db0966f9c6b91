import { describe } from "vitest";
import { openStore } from "../db/client.js";
import { AppError } from "../src/errors.js";
import { SignupLimiter } from "../src/rate-limit.js";
import { forgetOldSignupAttempts } from "../src/services/signup-limits.js";
import { countRows, expect, test, type TestEnv } from "./fixture.js";

const HOUR = 3_600_000;
const MINUTE = 60_000;
const T0 = Date.parse("2026-03-01T12:00:00.000Z");

/** A limiter on the test's db, whose clock only moves when the test moves it (it starts at T0). */
function limiter(env: TestEnv, perHour: number) {
  const limit = new SignupLimiter(env.deps, perHour);
  return {
    limit,
    at(ms: number) {
      env.clock.advance(T0 + ms - env.clock.now().getTime());
    },
  };
}

/** The AppError that `take` throws, or a failed assertion when it does not throw. */
async function refusal(limit: SignupLimiter, address: string): Promise<AppError> {
  try {
    await limit.take(address);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error(`take(${address}) should have been refused`);
}

describe("SignupLimiter", () => {
  test("lets an address create as many accounts as the hourly limit, and refuses the next one", async ({ env }) => {
    const { limit, at } = limiter(env, 3);
    await limit.take("10.0.0.1");
    at(MINUTE);
    await limit.take("10.0.0.1");
    at(2 * MINUTE);
    await limit.take("10.0.0.1");
    at(3 * MINUTE);
    const error = await refusal(limit, "10.0.0.1");
    expect(error.code).toBe("rate_limited");
    expect(error.message).toContain("limit 3");
  });

  test("the refusal says when to retry: one hour after the oldest creation in the window", async ({ env }) => {
    const { limit, at } = limiter(env, 2);
    at(10 * MINUTE);
    await limit.take("10.0.0.1");
    at(20 * MINUTE);
    await limit.take("10.0.0.1");
    at(30 * MINUTE);
    const error = await refusal(limit, "10.0.0.1");
    const retryAt = new Date(T0 + 10 * MINUTE + HOUR).toISOString();
    expect(error.message).toContain(`Retry after ${retryAt}`);
    expect(error.message).toContain("in 2400 s");
    expect(error.details).toEqual({ retryAfterSeconds: 2400 });
  });

  test("the seconds to wait are rounded up, never zero while still refused", async ({ env }) => {
    const { limit, at } = limiter(env, 1);
    await limit.take("10.0.0.1");
    at(HOUR - 1);
    const error = await refusal(limit, "10.0.0.1");
    expect(error.details).toEqual({ retryAfterSeconds: 1 });
    expect(error.message).toContain("in 1 s");
  });

  test("the window slides: a creation older than one hour no longer counts", async ({ env }) => {
    const { limit, at } = limiter(env, 2);
    await limit.take("10.0.0.1");
    at(30 * MINUTE);
    await limit.take("10.0.0.1");
    at(HOUR - 1);
    await refusal(limit, "10.0.0.1");
    at(HOUR);
    await limit.take("10.0.0.1"); // the creation at T0 has left the window
    at(HOUR + MINUTE);
    // the one at 30 min and the one just made still count
    const error = await refusal(limit, "10.0.0.1");
    expect(error.message).toContain(`Retry after ${new Date(T0 + 30 * MINUTE + HOUR).toISOString()}`);
  });

  test("at the announced retry time the address is admitted again", async ({ env }) => {
    const { limit, at } = limiter(env, 1);
    at(5 * MINUTE);
    await limit.take("10.0.0.1");
    at(40 * MINUTE);
    const retryAfter = (await refusal(limit, "10.0.0.1")).details!.retryAfterSeconds as number;
    at(40 * MINUTE + retryAfter * 1000);
    await expect(limit.take("10.0.0.1")).resolves.toBeUndefined();
  });

  test("refused attempts do not count, so hammering does not push the retry time back", async ({ env }) => {
    const { limit, at } = limiter(env, 1);
    await limit.take("10.0.0.1");
    for (let minute = 1; minute < 60; minute += 1) {
      at(minute * MINUTE);
      await refusal(limit, "10.0.0.1");
    }
    at(HOUR);
    await expect(limit.take("10.0.0.1")).resolves.toBeUndefined();
  });

  test("each address has its own share", async ({ env }) => {
    const { limit } = limiter(env, 1);
    await limit.take("10.0.0.1");
    await refusal(limit, "10.0.0.1");
    await expect(limit.take("10.0.0.2")).resolves.toBeUndefined();
    await expect(limit.take("::1")).resolves.toBeUndefined();
    await refusal(limit, "10.0.0.2");
  });

  test("a limit of 0 turns limiting off", async ({ env }) => {
    const { limit } = limiter(env, 0);
    for (let i = 0; i < 1000; i += 1) await limit.take("10.0.0.1");
  });

  test("attempts past the window are forgotten by the sweep; recent ones still count", async ({ env }) => {
    const { limit, at } = limiter(env, 1);
    await limit.take("10.0.0.1");
    at(30 * MINUTE);
    await limit.take("10.0.0.2");
    at(HOUR + MINUTE);
    expect(await forgetOldSignupAttempts(env.deps)).toBe(1);
    expect(await countRows(env, "signup_attempts")).toBe(1);
    await refusal(limit, "10.0.0.2");
    await expect(limit.take("10.0.0.1")).resolves.toBeUndefined();
  });

  test("every process on the database counts the same attempts, and a refusal writes nothing", async ({ env }) => {
    const second = await openStore(env.database.settings); // another connection, as another process or instance has
    try {
      const here = new SignupLimiter(env.deps, 2);
      const there = new SignupLimiter({ ...env.deps, db: second.db }, 2);
      await here.take("10.0.0.1");
      await there.take("10.0.0.1");
      await refusal(here, "10.0.0.1");
      await refusal(there, "10.0.0.1");
      expect(await countRows(env, "signup_attempts")).toBe(2);
    } finally {
      await second.close();
    }
  });
});

describe("IPv6 clients", () => {
  test("count per /64, so one host cannot take a share per address; IPv4-mapped addresses count as IPv4", async ({ env }) => {
    const { limit } = limiter(env, 1);
    await limit.take("2001:db8:1:2::1");
    await refusal(limit, "2001:db8:1:2:ffff:ffff:ffff:fffe");
    await expect(limit.take("2001:db8:1:3::1")).resolves.toBeUndefined();
    await limit.take("::ffff:192.0.2.7");
    await refusal(limit, "192.0.2.7");
  });
});
