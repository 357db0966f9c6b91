import { homedir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { ConfigError, loadConfig, publicUrlFor } from "../src/config.js";

describe("loadConfig", () => {
  test("defaults match the documented ones", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      dbFile: "./data/onboard.db",
      host: "127.0.0.1",
      port: 8787,
      credentialsFile: join(homedir(), ".config", "agent-onboard", "credentials.json"),
      allowedOrigins: [],
      accessTokenTtlMs: 72 * 3_600_000,
      claimTokenTtlMs: 30 * 86_400_000,
      sessionIdleMs: 12 * 3_600_000,
      sessionMaxMs: 7 * 86_400_000,
      signupChallengeBits: 16,
      signupChallengeTtlMs: 10 * 60_000,
      mailsPerSender: 20,
      mailsPerRecipient: 5,
      logLevel: "info",
    });
  });

  test("outgoing mail goes beside the database unless ONBOARD_MAIL_DIR says where, not into the folder a host starts in", () => {
    expect(loadConfig({}).mailDir).toBe(join("data", "mail"));
    expect(loadConfig({ ONBOARD_DB: "/srv/onboard/main.db" }).mailDir).toBe("/srv/onboard/mail");
    expect(loadConfig({ ONBOARD_DB: "/srv/onboard/main.db", ONBOARD_MAIL_DIR: "/var/mail/onboard" }).mailDir).toBe("/var/mail/onboard");
  });

  test("the public URL follows host and port unless set, without a trailing slash", () => {
    expect(publicUrlFor(loadConfig({}), 8787)).toBe("http://127.0.0.1:8787");
    expect(publicUrlFor(loadConfig({ ONBOARD_HOST: "::1" }), 9000)).toBe("http://[::1]:9000");
    expect(publicUrlFor(loadConfig({ ONBOARD_PUBLIC_URL: "https://onboard.example.com/" }), 9000)).toBe("https://onboard.example.com");
  });

  test("lifetimes and allowed origins are configurable", () => {
    const config = loadConfig({
      ONBOARD_ACCESS_TOKEN_TTL_HOURS: "1",
      ONBOARD_CLAIM_TOKEN_TTL_DAYS: "2",
      ONBOARD_ALLOWED_ORIGINS: "https://a.example, https://b.example",
    });
    expect(config.accessTokenTtlMs).toBe(3_600_000);
    expect(config.claimTokenTtlMs).toBe(2 * 86_400_000);
    expect(config.allowedOrigins).toEqual(["https://a.example", "https://b.example"]);
  });

  test.each([
    ["ONBOARD_PORT", "eighty"],
    ["ONBOARD_PORT", "70000"],
    ["ONBOARD_PUBLIC_URL", "ftp://x"],
    ["ONBOARD_ACCESS_TOKEN_TTL_HOURS", "-1"],
    ["LOG_LEVEL", "loud"],
  ])("a bad %s (%s) is an error naming the variable", (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^${name}: `));
  });
});

describe("ONBOARD_SIGNING_KEYS", () => {
  const secret = Buffer.alloc(32, 7).toString("base64url");

  test("reads id:secret entries in order, and db for the database's key", () => {
    const { signingKeys } = loadConfig({ ONBOARD_SIGNING_KEYS: `new:${secret}, db` });
    expect(signingKeys?.map((key) => key.id)).toEqual(["new", "db"]);
    expect(Buffer.from(signingKeys![0]!.secret!).toString("base64url")).toBe(secret);
    expect(signingKeys![1]!.secret).toBeUndefined();
    expect(loadConfig({}).signingKeys).toBeUndefined();
  });

  test("a short, missing or repeated key is a one-line error that never shows the secret", () => {
    const short = Buffer.alloc(16, 7).toString("base64url");
    for (const [value, says] of [
      [`k:${short}`, /at least 32 bytes/],
      ["k", /at least 32 bytes/],
      [`k:${secret},k:${secret}`, /appears twice/],
      [`bad id:${secret}`, /must be 1 to 64 letters/],
      [`db:${secret}`, /not "db"/],
    ] as const) {
      let message = "";
      try {
        loadConfig({ ONBOARD_SIGNING_KEYS: value });
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        message = (error as Error).message;
      }
      expect(message, value).toMatch(/^ONBOARD_SIGNING_KEYS: /);
      expect(message, value).toMatch(says);
      expect(message, value).not.toContain(secret);
      expect(message, value).not.toContain(short);
    }
  });
});


describe("ONBOARD_DATABASE_URL", () => {
  test("unset (or empty), the SQLite file; set, that PostgreSQL database", () => {
    expect(loadConfig({}).databaseUrl).toBeUndefined();
    expect(loadConfig({ ONBOARD_DATABASE_URL: "" }).databaseUrl).toBeUndefined();
    for (const url of ["postgres://onboard:s3cret@db.example.com:5432/onboard", "postgresql://db.example.com/onboard?sslmode=require"]) {
      expect(loadConfig({ ONBOARD_DATABASE_URL: url }).databaseUrl).toBe(url);
    }
  });

  test("a value that is not a PostgreSQL URL is a one-line error naming the variable, never showing the value", () => {
    const password = "hunter2-in-the-url";
    for (const value of [
      `mysql://onboard:${password}@pg.internal.example/onboard`,
      `postgres//onboard:${password}@pg.internal.example/onboard`,
      `postgres://onboard:${password}@/onboard`,
      `onboard:${password}`,
    ]) {
      let message = "";
      try {
        loadConfig({ ONBOARD_DATABASE_URL: value });
      } catch (error) {
        expect(error, value).toBeInstanceOf(ConfigError);
        message = (error as Error).message;
      }
      expect(message, value).toMatch(/^ONBOARD_DATABASE_URL: must be a PostgreSQL URL/);
      expect(message.split("\n"), value).toHaveLength(1);
      expect(message, value).not.toContain(password);
      expect(message, value).not.toContain("pg.internal.example");
    }
  });
});

describe("ONBOARD_DATABASE_POOL_SIZE", () => {
  test("is 10 connections per process unless set", () => {
    expect(loadConfig({}).poolSize).toBe(10);
    expect(loadConfig({ ONBOARD_DATABASE_POOL_SIZE: "4" }).poolSize).toBe(4);
    expect(loadConfig({ ONBOARD_DATABASE_POOL_SIZE: "1" }).poolSize).toBe(1);
  });

  test.each([
    ["0", "at least 1"],
    ["-3", "at least 1"],
    ["2.5", "whole number"],
    ["ten", "number of connections"],
    ["100000", "at most 1000"],
  ])("%s is an error naming the variable and the value (%s)", (value, says) => {
    expect(() => loadConfig({ ONBOARD_DATABASE_POOL_SIZE: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ONBOARD_DATABASE_POOL_SIZE: value })).toThrow(
      new RegExp(`^ONBOARD_DATABASE_POOL_SIZE: .*${says}.*\\(got "${value.replace(".", "\\.")}"\\)$`),
    );
  });
});
