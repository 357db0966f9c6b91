import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";
import { type TrustProxySetting, trustProxyFrom } from "./client-address.js";
import type { SigningKeySetting } from "./services/deps.js";

const hostnamePattern = /^[A-Za-z0-9.:[\]-]+$/;

const positiveNumber = (unit: string) =>
  z.coerce.number({ message: `must be a number of ${unit}` }).positive(`must be a positive number of ${unit}`);

/** An optional URL of one of these schemes, with a host. */
const urlWithHost = (protocols: string[], message: string) =>
  z
    .string()
    .refine((value) => {
      try {
        const url = new URL(value);
        return protocols.includes(url.protocol) && url.hostname !== "";
      } catch {
        return false;
      }
    }, message)
    .optional();

const envSchema = z.object({
  ONBOARD_DB: z.string().min(1).default("./data/onboard.db"),
  ONBOARD_DATABASE_URL: urlWithHost(["postgres:", "postgresql:"], "must be a PostgreSQL URL such as postgres://user:password@db.example.com:5432/onboard"),
  ONBOARD_DATABASE_POOL_SIZE: z.coerce
    .number({ message: "must be a number of connections" })
    .int("must be a whole number of connections")
    .min(1, "must be at least 1 connection")
    .max(1000, "must be at most 1000 connections")
    .default(10),
  ONBOARD_HOST: z.string().regex(hostnamePattern, "must be a host name or IP address").default("127.0.0.1"),
  ONBOARD_PORT: z.coerce
    .number({ message: "must be a port number" })
    .int("must be a whole port number")
    .min(0, "must be between 0 and 65535")
    .max(65535, "must be between 0 and 65535")
    .default(8787),
  ONBOARD_PUBLIC_URL: z
    .url({ protocol: /^https?$/, message: "must be an http(s) URL such as https://onboard.example.com" })
    .optional(),
  ONBOARD_TOKEN: z.string().min(1).optional(),
  ONBOARD_MAIL_DIR: z.string().min(1).optional(),
  ONBOARD_MAIL_FROM: z.string().min(3).default("agent-onboard <no-reply@localhost>"),
  ONBOARD_SMTP_URL: urlWithHost(["smtp:", "smtps:"], "must be an SMTP URL such as smtp://user:password@mail.example.com:587 (STARTTLS) or smtps://…:465"),
  ONBOARD_SMTP_TIMEOUT_SECONDS: positiveNumber("seconds").default(10),
  ONBOARD_CREDENTIALS: z.string().min(1).optional(),
  ONBOARD_ALLOWED_ORIGINS: z.string().optional(),
  ONBOARD_SIGNING_KEYS: z
    .string()
    .transform((value, ctx): SigningKeySetting[] => {
      const keys: SigningKeySetting[] = [];
      for (const entry of value.split(",").map((part) => part.trim()).filter(Boolean)) {
        if (entry === "db") {
          keys.push({ id: "db" });
          continue;
        }
        const [id, encoded] = entry.split(/:(.*)/s, 2) as [string, string | undefined];
        const secret = encoded ? Buffer.from(encoded, "base64url") : undefined;
        const problem = !/^[A-Za-z0-9._-]{1,64}$/.test(id) || id === "db"
          ? `key id "${id.slice(0, 20)}" must be 1 to 64 letters, digits, ".", "_" or "-" (and not "db", the database's key)`
          : !secret || secret.length < 32
            ? `key "${id}" needs a secret of at least 32 bytes in base64url after the colon (openssl rand -base64 32)`
            : keys.some((key) => key.id === id)
              ? `key id "${id}" appears twice`
              : undefined;
        if (problem) {
          ctx.addIssue({ code: "custom", message: `must be id:secret entries, the first signing; ${problem}` });
          return z.NEVER;
        }
        keys.push({ id, secret: new Uint8Array(secret!) });
      }
      return keys;
    })
    .optional(),
  ONBOARD_TRUST_PROXY: z
    .string()
    .transform((value, ctx): TrustProxySetting => {
      const trimmed = value.trim();
      if (["false", "none", "0"].includes(trimmed.toLowerCase())) return undefined;
      if (/^\d+$/.test(trimmed)) return { hops: Number(trimmed) };
      const addresses = trimmed.split(",").map((part) => part.trim()).filter(Boolean);
      try {
        trustProxyFrom({ addresses });
      } catch {
        ctx.addIssue({
          code: "custom",
          message: "must be a number of proxies, or a comma-separated list of addresses, CIDR ranges and the names loopback, linklocal, uniquelocal",
        });
        return z.NEVER;
      }
      return { addresses };
    })
    .optional(),
  ONBOARD_ACCESS_TOKEN_TTL_HOURS: positiveNumber("hours").default(72),
  ONBOARD_CLAIM_TOKEN_TTL_DAYS: positiveNumber("days").default(30),
  ONBOARD_SESSION_IDLE_HOURS: positiveNumber("hours").default(12),
  ONBOARD_SESSION_MAX_DAYS: positiveNumber("days").default(7),
  ONBOARD_SIGNUPS_PER_HOUR: z.coerce.number({ message: "must be a number" }).int("must be a whole number").min(0, "must be 0 (no limit) or more").default(30),
  ONBOARD_SIGNUP_CHALLENGE_BITS: z.coerce
    .number({ message: "must be a number" })
    .int("must be a whole number")
    .min(0, "must be 0 (no proof of work) or more")
    .max(32, "must be at most 32: each bit doubles the work")
    .default(16),
  ONBOARD_SIGNUP_CHALLENGE_MINUTES: positiveNumber("minutes").default(10),
  ONBOARD_MAILS_PER_SENDER: z.coerce.number({ message: "must be a number" }).int("must be a whole number").min(0, "must be 0 (no limit) or more").default(20),
  ONBOARD_MAILS_PER_RECIPIENT: z.coerce.number({ message: "must be a number" }).int("must be a whole number").min(0, "must be 0 (no limit) or more").default(5),
  ONBOARD_READ_ONLY: z
    .enum(["1", "0", "true", "false", "yes", "no"], { message: "must be 1 or 0 (true or false)" })
    .default("0"),
  ONBOARD_TOOLS: z
    .string()
    .regex(/^[a-z_]+(\s*,\s*[a-z_]+)*$/, "must be a comma-separated list of tool names such as get_current_user,list_stacks")
    .optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export interface Config {
  dbFile: string;
  /** PostgreSQL instead of the SQLite file. */
  databaseUrl?: string;
  /** PostgreSQL connections per process. */
  poolSize: number;
  host: string;
  port: number;
  /** ONBOARD_PUBLIC_URL when set; otherwise see publicUrlFor(). */
  publicUrl?: string;
  token?: string;
  credentialsFile: string;
  /** Outgoing mail is written here as .eml files. */
  mailDir: string;
  mailFrom: string;
  /** Set: mail goes through this SMTP server instead of into mailDir. */
  smtpUrl?: string;
  /** How long the SMTP server may take to connect, greet or answer. */
  smtpTimeoutMs: number;
  allowedOrigins: string[];
  /** Access-token keys, the first signing; unset, the database's own key. */
  signingKeys?: SigningKeySetting[];
  /** Which proxies in front may name the client (X-Forwarded-For, Forwarded); none unless set. */
  trustProxy: TrustProxySetting;
  accessTokenTtlMs: number;
  claimTokenTtlMs: number;
  /** A browser session ends after this long unused… */
  sessionIdleMs: number;
  /** …and this long after sign-in, however much it is used. */
  sessionMaxMs: number;
  /** Per client address, for agent_signup and redeem_invite; 0 turns the limit off. */
  signupsPerHour: number;
  /** The proof of work a REST agent signup solves (leading zero bits), and how long a challenge lasts; 0 bits turns it off. */
  signupChallengeBits: number;
  signupChallengeTtlMs: number;
  /** Mails an account may cause, and an address may receive, per hour; 0 turns either limit off. */
  mailsPerSender: number;
  mailsPerRecipient: number;
  /** Expose only tools without side effects. */
  readOnly: boolean;
  /** Expose only these tools (checked against the tool list when the server starts). */
  tools?: string[];
  logLevel: z.infer<typeof envSchema>["LOG_LEVEL"];
}

const SECRET_VARIABLES = new Set(["ONBOARD_DATABASE_URL", "ONBOARD_SIGNING_KEYS", "ONBOARD_TOKEN", "ONBOARD_SMTP_URL"]);

/** A bad environment variable; the CLI prints the message alone and exits 2. */
export class ConfigError extends Error {}

const HOUR = 3_600_000;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // Empty variables mean "unset", as in most shells' `VAR= cmd`.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0]);
    // Secrets are never echoed, not even in an error.
    const got = SECRET_VARIABLES.has(name) ? "" : ` (got ${JSON.stringify(env[name])})`;
    throw new ConfigError(`${name}: ${issue.message}${got}`);
  }
  const e = parsed.data;
  return {
    dbFile: e.ONBOARD_DB,
    databaseUrl: e.ONBOARD_DATABASE_URL,
    poolSize: e.ONBOARD_DATABASE_POOL_SIZE,
    host: e.ONBOARD_HOST,
    port: e.ONBOARD_PORT,
    publicUrl: e.ONBOARD_PUBLIC_URL?.replace(/\/+$/, ""),
    token: e.ONBOARD_TOKEN,
    credentialsFile:
      e.ONBOARD_CREDENTIALS ?? join(homedir(), ".config", "agent-onboard", "credentials.json"),
    // Beside the database by default, not in whatever folder an MCP host starts the stdio server in.
    mailDir: e.ONBOARD_MAIL_DIR ?? (e.ONBOARD_DB === ":memory:" ? "./data/mail" : join(dirname(e.ONBOARD_DB), "mail")),
    mailFrom: e.ONBOARD_MAIL_FROM,
    smtpUrl: e.ONBOARD_SMTP_URL,
    smtpTimeoutMs: e.ONBOARD_SMTP_TIMEOUT_SECONDS * 1000,
    trustProxy: e.ONBOARD_TRUST_PROXY,
    signingKeys: e.ONBOARD_SIGNING_KEYS?.length ? e.ONBOARD_SIGNING_KEYS : undefined,
    allowedOrigins: (e.ONBOARD_ALLOWED_ORIGINS ?? "")
      .split(",")
      .map((origin) => origin.trim())
      .filter(Boolean),
    accessTokenTtlMs: e.ONBOARD_ACCESS_TOKEN_TTL_HOURS * HOUR,
    claimTokenTtlMs: e.ONBOARD_CLAIM_TOKEN_TTL_DAYS * 24 * HOUR,
    sessionIdleMs: e.ONBOARD_SESSION_IDLE_HOURS * HOUR,
    sessionMaxMs: e.ONBOARD_SESSION_MAX_DAYS * 24 * HOUR,
    signupsPerHour: e.ONBOARD_SIGNUPS_PER_HOUR,
    signupChallengeBits: e.ONBOARD_SIGNUP_CHALLENGE_BITS,
    signupChallengeTtlMs: e.ONBOARD_SIGNUP_CHALLENGE_MINUTES * 60_000,
    mailsPerSender: e.ONBOARD_MAILS_PER_SENDER,
    mailsPerRecipient: e.ONBOARD_MAILS_PER_RECIPIENT,
    readOnly: ["1", "true", "yes"].includes(e.ONBOARD_READ_ONLY),
    tools: e.ONBOARD_TOOLS?.split(",").map((name) => name.trim()),
    logLevel: e.LOG_LEVEL,
  };
}

/** The base of claim and invite URLs: ONBOARD_PUBLIC_URL, or this server's own address once its port is known. */
export function publicUrlFor(config: Config, port: number): string {
  if (config.publicUrl) return config.publicUrl;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  return `http://${host}:${port}`;
}
