import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { count, getTableColumns, sql } from "drizzle-orm";
import { getTableConfig } from "drizzle-orm/pg-core";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CopyError, type CopyReport, copySqliteToPostgres, tablesInCopyOrder } from "../../db/copy.js";
import type { Db } from "../../db/handle.js";
import { openPostgres } from "../../db/postgres.js";
import { openSqlite } from "../../db/sqlite.js";
import type { Store } from "../../db/store.js";
import { databaseUrlFor, testPostgresUrl } from "../databases.js";
import { type Finished, projectRoot } from "../processes.js";

/**
 * The copy always goes from SQLite to PostgreSQL, so the file runs once, in
 * the postgres project, on its server (ONBOARD_TEST_PG_URL). Its databases
 * are made empty here, not from the run's migrated template: the copy has to
 * migrate a new one, as after `createdb`.
 */
const adminUrl = testPostgresUrl();
const SERVER = new URL(adminUrl).host;
/** Trust auth ignores it; it is there to be kept out of the output. */
const PASSWORD = decodeURIComponent(new URL(adminUrl).password) || "secret-pw";

const ALL_TABLES = [
  "users",
  "organizations",
  "memberships",
  "access_tokens",
  "claim_tokens",
  "invite_links",
  "invite_link_users",
  "stacks",
  "stack_tags",
  "email_verifications",
  "org_invites",
  "used_request_states",
  "signup_attempts",
  "signing_keys",
  "sessions",
  "login_failures",
  "refresh_tokens",
  "used_signup_challenges",
  "mail_sends",
  "claim_transfers",
  "mail_outbox",
  "oauth_records",
];

const SIGNUP_ATTEMPTS = 2100;
const SIGNING_SECRET = randomBytes(32).toString("base64url");
const PASSWORD_HASH = `scrypt$${randomBytes(16).toString("hex")}`;

let admin: pg.Client;
const created: string[] = [];


beforeAll(async () => {
  admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
});

afterAll(async () => {
  for (const name of created) await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.end();
});

/** A new, empty PostgreSQL database, dropped after the file's tests; its URL carries a password. */
async function freshDatabase() {
  const name = `onboard_copytest_${randomBytes(6).toString("hex")}`;
  await admin.query(`CREATE DATABASE "${name}"`);
  created.push(name);
  const url = new URL(databaseUrlFor(adminUrl, name));
  url.password = PASSWORD;
  return { name, url: url.toString() };
}

const tempDbFile = () => join(mkdtempSync(join(tmpdir(), "onboard-copy-")), "onboard.db");

const at = (iso: string) => new Date(iso);

/**
 * A SQLite database with rows in every table: Dates (to the millisecond, far
 * past and future), both booleans, nulls in every nullable column, ids with
 * gaps, unicode and empty text, and more signup attempts than one batch.
 */
async function populate(file: string, signupAttempts = SIGNUP_ATTEMPTS) {
  const store = openSqlite(file);
  await store.db.transact(async (tx) => {
    const t = tx.tables;
    await tx.insert(t.signingKeys).values({ id: 1, secret: SIGNING_SECRET, createdAt: at("2025-01-02T03:04:05.678Z") });
    await tx.insert(t.organizations).values([
      { id: 1, name: "Acme ☃ Ünïcode", createdAt: at("1999-12-31T23:59:59.999Z") },
      { id: 2, name: "zeta-org", createdAt: at("2025-06-01T00:00:00.001Z") },
      { id: 5, name: "日本語の組織 🚀", createdAt: at("2100-01-01T00:00:00.000Z") },
    ]);
    await tx.insert(t.users).values([
      {
        id: 1,
        uid: "usr_äöü",
        login: "Ada",
        name: "Ada Lövelace",
        email: "ada@example.com",
        emailVerifiedAt: at("2025-02-03T04:05:06.007Z"),
        passwordHash: PASSWORD_HASH,
        isAgent: false,
        agentModel: null,
        defaultOrgId: 1,
        createdAt: at("2025-02-01T00:00:00.000Z"),
        claimedAt: null,
        lockedAt: null,
        loginAttempts: 3,
        seenAt: at("2025-02-09T10:11:12.013Z"),
        avatarUrl: "https://example.com/ädä.png",
      },
      {
        id: 2,
        uid: "usr_agent",
        login: "agent-7f",
        name: "Agent 🤖",
        email: null,
        emailVerifiedAt: null,
        passwordHash: null,
        isAgent: true,
        agentModel: "claude-ü",
        defaultOrgId: null,
        createdAt: at("2025-02-01T00:00:00.123Z"),
        claimedAt: at("2025-02-02T00:00:00.456Z"),
        lockedAt: at("2025-03-02T00:00:00.789Z"),
      },
      {
        id: 7,
        uid: "usr_seven",
        login: "bob",
        name: "",
        email: "bob@example.com",
        emailVerifiedAt: null,
        passwordHash: null,
        isAgent: false,
        agentModel: null,
        defaultOrgId: 5,
        createdAt: at("2025-04-01T10:00:00.000Z"),
        claimedAt: null,
        lockedAt: null,
      },
    ]);
    await tx.insert(t.memberships).values([
      { userId: 1, orgId: 1, role: "admin", createdAt: at("2025-02-01T00:00:01.000Z") },
      { userId: 1, orgId: 2, role: "member", createdAt: at("2025-02-01T00:00:02.000Z") },
      { userId: 1, orgId: 5, role: "member", createdAt: at("2025-02-01T00:00:03.000Z") },
      { userId: 2, orgId: 1, role: "member", createdAt: at("2025-02-01T00:00:04.000Z") },
      { userId: 7, orgId: 2, role: "admin", createdAt: at("2025-02-01T00:00:05.000Z") },
      { userId: 7, orgId: 5, role: "admin", createdAt: at("2025-02-01T00:00:06.000Z") },
    ]);
    await tx.insert(t.accessTokens).values([
      { jti: "jti-ä-1", userId: 2, createdAt: at("2025-02-01T01:00:00.000Z"), expiresAt: at("2025-02-04T01:00:00.000Z"), revokedAt: at("2025-02-02T00:00:00.456Z"), revokedReason: "claimed", name: "CLI 🚀" },
      { jti: "jti-2", userId: 1, createdAt: at("2025-02-01T02:00:00.000Z"), expiresAt: at("2025-02-04T02:00:00.000Z"), revokedAt: null, revokedReason: null, kind: "personal", description: "laptop ✨", lastUsedAt: at("2025-02-02T02:00:00.999Z") },
      { jti: "JTI-3", userId: 1, createdAt: at("2025-02-01T03:00:00.000Z"), expiresAt: at("2025-02-04T03:00:00.000Z"), revokedAt: null, revokedReason: null, name: "" },
    ]);
    await tx.insert(t.claimTokens).values([
      { id: 3, userId: 2, tokenHash: "hash-claim-a", createdAt: at("2025-02-01T00:00:00.123Z"), expiresAt: at("2025-03-01T00:00:00.123Z"), consumedAt: at("2025-02-02T00:00:00.456Z"), agentAccessKept: true, claimedByUserId: 1 },
      { id: 4, userId: 1, tokenHash: "hash-claim-b", createdAt: at("2025-02-01T00:00:00.000Z"), expiresAt: at("2025-03-01T00:00:00.000Z"), consumedAt: null, agentAccessKept: null, claimingUntil: at("2025-02-01T00:00:30.000Z") },
      { id: 9, userId: 7, tokenHash: "hash-claim-ç", createdAt: at("2025-02-01T00:00:00.000Z"), expiresAt: at("2025-03-01T00:00:00.000Z"), consumedAt: at("2025-02-05T00:00:00.000Z"), agentAccessKept: false },
    ]);
    await tx.insert(t.claimTransfers).values([
      { id: 2, uid: "transfer-ü", claimTokenId: 3, orgId: 5, agentOrgName: "agent-ä", entities: '[{"kind":"TransferEntityStack","projectName":"wéb","stackName":"dev"}]', createdAt: at("2025-02-02T00:00:00.456Z") },
    ]);
    await tx.insert(t.mailOutbox).values([
      { id: 4, sealed: "c2VhbGVkLW1haWw", attempts: 2, nextAttemptAt: at("2025-02-01T00:03:00.001Z"), createdAt: at("2025-02-01T00:00:00.001Z") },
    ]);
    await tx.insert(t.oauthRecords).values([
      { model: "Grant", id: "grant-ö", payload: '{"kind":"Grant","accountId":"usr_1","jti":"grant-ö"}', grantId: null, accountId: "usr_1", uid: null, consumedAt: null, expiresAt: at("2025-05-01T00:00:00.000Z"), lastUsedAt: at("2025-02-03T00:01:00.000Z") },
      { model: "RefreshToken", id: "aGFzaGVk", payload: '{"kind":"RefreshToken","jti":null}', grantId: "grant-ö", accountId: null, uid: "uid-1", consumedAt: at("2025-02-03T00:00:00.001Z"), expiresAt: null, lastUsedAt: null },
    ]);
    await tx.insert(t.inviteLinks).values([
      { id: 1, orgId: 1, secretHash: "link-1", secretSealed: "c2VhbGVk", name: "Team 🎉", enabled: true, expiresAt: at("2026-01-01T00:00:00.000Z"), createdAt: at("2025-02-10T00:00:00.000Z"), createdByUserId: 1 },
      { id: 2, orgId: 5, secretHash: "link-2", name: "", enabled: false, expiresAt: at("2026-01-01T00:00:00.001Z"), createdAt: at("2025-02-11T00:00:00.000Z"), createdByUserId: null },
    ]);
    await tx.insert(t.inviteLinkUsers).values([
      { inviteLinkId: 1, userId: 2, joinedAt: at("2025-02-12T00:00:00.000Z") },
      { inviteLinkId: 1, userId: 7, joinedAt: at("2025-02-12T00:00:00.001Z") },
      { inviteLinkId: 2, userId: 1, joinedAt: at("2025-02-13T00:00:00.000Z") },
    ]);
    await tx.insert(t.stacks).values([
      { id: 1, uid: "stk_1", orgId: 1, projectName: "infra", stackName: "prod", createdAt: at("2025-03-01T00:00:00.000Z"), createdByUserId: 2 },
      { id: 4, uid: "stk_ü", orgId: 1, projectName: "Infra", stackName: "dev-ünï", createdAt: at("2025-03-01T00:00:00.001Z"), createdByUserId: null },
      { id: 6, uid: "stk_6", orgId: 5, projectName: "ウェブ", stackName: "staging", createdAt: at("2025-03-02T00:00:00.000Z"), createdByUserId: 7 },
    ]);
    await tx.insert(t.stackTags).values([
      { stackId: 1, name: "env", value: "prod" },
      { stackId: 1, name: "owner", value: "Ada Lövelace" },
      { stackId: 1, name: "Ω", value: "" },
      { stackId: 4, name: "env", value: "dev 🧪" },
      { stackId: 6, name: "env", value: "staging" },
    ]);
    await tx.insert(t.emailVerifications).values([
      { id: 1, userId: 1, email: "ada@example.com", tokenHash: "ev-1", createdAt: at("2025-02-01T00:00:00.000Z"), expiresAt: at("2025-02-02T00:00:00.000Z"), verifiedAt: at("2025-02-03T04:05:06.007Z"), canceledAt: null },
      { id: 2, userId: 1, email: "ada+new@example.com", tokenHash: "ev-2", createdAt: at("2025-02-05T00:00:00.000Z"), expiresAt: at("2025-02-06T00:00:00.000Z"), verifiedAt: null, canceledAt: at("2025-02-05T12:00:00.000Z") },
      { id: 8, userId: 7, email: "bøb@example.com", tokenHash: "ev-8", createdAt: at("2025-04-01T00:00:00.000Z"), expiresAt: at("2025-04-02T00:00:00.000Z"), verifiedAt: null, canceledAt: null },
    ]);
    await tx.insert(t.orgInvites).values([
      { id: 1, uid: "inv_1", orgId: 1, email: "bob@example.com", role: "member", sentByUserId: 1, sentAt: at("2025-03-01T00:00:00.000Z"), expiresAt: at("2025-03-08T00:00:00.000Z"), acceptedAt: at("2025-03-02T00:00:00.000Z"), acceptedByUserId: 7, canceledAt: null, acceptError: null },
      { id: 2, uid: "inv_2", orgId: 5, email: "zoë@example.com", role: "admin", sentByUserId: null, sentAt: at("2025-03-01T00:00:00.000Z"), expiresAt: at("2025-03-08T00:00:00.000Z"), acceptedAt: null, acceptedByUserId: null, canceledAt: at("2025-03-03T00:00:00.000Z"), acceptError: "this invitation is for another address — «zoë»" },
    ]);
    await tx.insert(t.usedRequestStates).values([
      { jti: "rs-1", userId: 2, expiresAt: at("2025-02-01T00:10:00.000Z"), usedAt: at("2025-02-01T00:05:00.000Z") },
      { jti: "rs-ü", userId: 1, expiresAt: at("2025-02-01T00:10:00.001Z"), usedAt: at("2025-02-01T00:05:00.001Z") },
    ]);
    await tx.insert(t.sessions).values([
      { idHash: "session-1", userId: 1, createdAt: at("2025-02-09T10:11:12.013Z"), lastSeenAt: at("2025-02-09T11:00:00.001Z"), idleExpiresAt: at("2025-02-09T23:00:00.001Z"), expiresAt: at("2025-02-16T10:11:12.013Z") },
      { idHash: "session-ü", userId: 7, createdAt: at("2025-02-10T00:00:00.000Z"), lastSeenAt: at("2025-02-10T00:00:00.000Z"), idleExpiresAt: at("2025-02-10T12:00:00.000Z"), expiresAt: at("2025-02-17T00:00:00.000Z") },
    ]);
    await tx.insert(t.loginFailures).values([
      { id: 1, bucket: "user:1", at: at("2025-02-09T10:00:00.000Z") },
      { id: 4, bucket: "address:2001:db8:ä::/64", at: at("2025-02-09T10:00:00.001Z") },
    ]);
    await tx.insert(t.refreshTokens).values([
      { idHash: "refresh-1", family: "fam-ä", userId: 2, createdAt: at("2025-02-01T00:00:00.123Z"), expiresAt: at("2025-03-01T00:00:00.123Z"), usedAt: at("2025-02-04T00:00:00.000Z"), revokedAt: at("2025-02-05T00:00:00.000Z") },
      { idHash: "refresh-2", family: "fam-ä", userId: 2, createdAt: at("2025-02-04T00:00:00.000Z"), expiresAt: at("2025-03-04T00:00:00.000Z"), usedAt: null, revokedAt: null },
    ]);
    await tx.insert(t.usedSignupChallenges).values([{ idHash: "challenge-ü", expiresAt: at("2025-02-01T00:10:00.000Z") }]);
    await tx.insert(t.mailSends).values([
      { id: 2, bucket: "sender:1", at: at("2025-02-01T00:00:00.001Z") },
      { id: 3, bucket: "recipient:bob@example.com", at: at("2025-02-01T00:00:00.001Z") },
    ]);
    const attempts = Array.from({ length: signupAttempts }, (_, i) => ({
      id: i + 1,
      bucket: i % 3 === 0 ? "2001:db8:ä::/64" : `198.51.100.${i % 250}`,
      at: new Date(Date.UTC(2025, 1, 1) + i * 1_237),
    }));
    for (let i = 0; i < attempts.length; i += 500) await tx.insert(t.signupAttempts).values(attempts.slice(i, i + 500));
  });
  return store;
}

type Row = Record<string, unknown>;

/** Every row of every table, through drizzle's tables of the store's own dialect, in a fixed order. */
async function dump(store: Store): Promise<Record<string, Row[]>> {
  const tables: Record<string, Row[]> = {};
  for (const pair of tablesInCopyOrder()) {
    const table = store.engine === "sqlite" ? pair.sqlite : pair.pg;
    const rows = (await store.db.select().from(table as never)) as Row[];
    tables[pair.name] = rows.map((row) => ({ ...row })).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  }
  return tables;
}

async function rowCounts(store: Store): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const pair of tablesInCopyOrder()) {
    const [row] = await store.db.select({ rows: count() }).from(pair.pg);
    counts[pair.name] = row!.rows;
  }
  return counts;
}

const nothing = Object.fromEntries(ALL_TABLES.map((name) => [name, 0]));

async function withTarget<T>(url: string, work: (target: Store) => Promise<T>): Promise<T> {
  const target = await openPostgres({ url, poolSize: 2 });
  try {
    return await work(target);
  } finally {
    await target.close();
  }
}

/** The CLI from source: the build is broken by other work under way, so it runs through tsx rather than runCli's dist. */
function runCopyCli(args: string[], env: Record<string, string>): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("the tables copied", () => {
  test("are every table of both schemas, each after the tables its foreign keys point to", () => {
    const order = tablesInCopyOrder();
    expect(order.map((pair) => pair.name).sort()).toEqual([...ALL_TABLES].sort());
    const position = new Map(order.map((pair, i) => [pair.pg, i]));
    for (const [i, pair] of order.entries()) {
      for (const foreignKey of getTableConfig(pair.pg).foreignKeys) {
        expect(position.get(foreignKey.reference().foreignTable), `${pair.name} after what it references`).toBeLessThan(i);
      }
    }
  });

  test("the fixture has rows in every table, and in every column both a value and (where allowed) a null", async () => {
    const store = await populate(tempDbFile());
    try {
      const tables = await dump(store);
      for (const pair of tablesInCopyOrder()) {
        const rows = tables[pair.name]!;
        expect(rows.length, pair.name).toBeGreaterThan(0);
        for (const [key, column] of Object.entries(getTableColumns(pair.pg))) {
          expect(rows.some((row) => row[key] !== null), `${pair.name}.${key} has a value`).toBe(true);
          if (!column.notNull) expect(rows.some((row) => row[key] === null), `${pair.name}.${key} has a null`).toBe(true);
          if (column.dataType === "boolean" && column.notNull) {
            expect(new Set(rows.map((row) => row[key])), `${pair.name}.${key} both ways`).toEqual(new Set([true, false]));
          }
        }
      }
      expect(tables.claim_tokens!.map((row) => row.agentAccessKept).sort()).toEqual([false, null, true].sort());
    } finally {
      await store.close();
    }
  });
});

describe("copySqliteToPostgres", () => {
  let file: string;
  let source: Store;
  let target: { name: string; url: string };
  let report: CopyReport;

  // One copy, which the tests below look at, add to and try to repeat.
  beforeAll(async () => {
      file = tempDbFile();
    source = await populate(file);
    target = await freshDatabase();
    report = await copySqliteToPostgres(file, target.url);
  });

  afterAll(async () => {
    await source?.close();
  });

  test("copies every row of every table, field by field, and reports the rows of each", async () => {

    const expected = await dump(source);
    expect(report.tables.map((entry) => entry.table)).toEqual(tablesInCopyOrder().map((pair) => pair.name));
    for (const { table, rows } of report.tables) expect(rows, table).toBe(expected[table]!.length);
    expect(report.rows).toBe(Object.values(expected).reduce((sum, rows) => sum + rows.length, 0));
    expect(report.tables.find((entry) => entry.table === "signup_attempts")!.rows).toBe(SIGNUP_ATTEMPTS);

    await withTarget(target.url, async (copy) => {
      const copied = await dump(copy);
      for (const name of ALL_TABLES) expect(copied[name], name).toEqual(expected[name]);
      // And the values are what went in, not merely the same on both sides.
      const [ada] = await copy.db.select().from(copy.db.tables.users).where(sql`${copy.db.tables.users.id} = 1`);
      expect(ada).toMatchObject({ name: "Ada Lövelace", isAgent: false, emailVerifiedAt: at("2025-02-03T04:05:06.007Z"), passwordHash: PASSWORD_HASH });
      const [key] = await copy.db.select().from(copy.db.tables.signingKeys);
      expect(key).toEqual({ id: 1, secret: SIGNING_SECRET, createdAt: at("2025-01-02T03:04:05.678Z") });
      // Nothing but the schema's tables, and drizzle's bookkeeping only as the pg migrations wrote it.
      const tables = await copy.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
      expect(tables.map((row) => row.table_name).sort()).toEqual([...ALL_TABLES].sort());
    });
  });

  test("a row inserted after the copy draws an id above the copied ones, in every table with drawn ids", async () => {
    await withTarget(target.url, async (copy) => {
      const inserted = await copy.db.transact(async (tx: Db) => {
        const { organizations, users, signupAttempts } = tx.tables;
        const [org] = await tx.insert(organizations).values({ name: "after the copy", createdAt: new Date() }).returning();
        const [user] = await tx
          .insert(users)
          .values({ uid: "usr_new", login: "newcomer", name: "New", isAgent: true, createdAt: new Date() })
          .returning();
        const [attempt] = await tx.insert(signupAttempts).values({ bucket: "new", at: new Date() }).returning();
        return { org: org!.id, user: user!.id, attempt: attempt!.id };
      });
      expect(inserted).toEqual({ org: 6, user: 8, attempt: SIGNUP_ATTEMPTS + 1 });

      for (const pair of tablesInCopyOrder()) {
        if (!getTableConfig(pair.pg).columns.some((column) => column.generatedIdentity)) continue;
        const [row] = await copy.query(
          `SELECT nextval(pg_get_serial_sequence('"${pair.name}"', 'id')) AS next, (SELECT max(id) FROM "${pair.name}") AS max`,
        );
        expect(Number(row!.next), pair.name).toBeGreaterThan(Number(row!.max));
      }
    });
  });

  test("a second copy into the same, now non-empty, database is refused and changes nothing", async () => {
    const before = await withTarget(target.url, dump);
    const refusal = await copySqliteToPostgres(file, target.url).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(CopyError);
    expect((refusal as CopyError).kind).toBe("not-empty");
    // Every table with rows, in the order copied.
    const counts = await withTarget(target.url, rowCounts);
    const held = tablesInCopyOrder().map(({ name }) => `${counts[name]} ${name}`).join(", ");
    expect((refusal as CopyError).message).toBe(
      `the target database already holds data (${held}); copy only into an empty database, e.g. createdb onboard_new`,
    );
    expect(held).toMatch(/^\d+ organizations, \d+ users, .*\b1 signing_keys, \d+ signup_attempts\b/);
    expect(await withTarget(target.url, dump)).toEqual(before);
  });

  test("batches of any size copy the same rows, composite keys included", async () => {
    const smallFile = tempDbFile();
    const small = await populate(smallFile, 7);
    const target = await freshDatabase();
    await copySqliteToPostgres(smallFile, target.url, { batchSize: 2 });
    const expected = await dump(small);
    const copied = await withTarget(target.url, dump);
    for (const name of ALL_TABLES) expect(copied[name], name).toEqual(expected[name]);
    await small.close();
  });
});

describe("a copy that fails midway leaves the target empty", () => {
  test("a text PostgreSQL refuses (a NUL character, which SQLite keeps) in the very last row", async () => {
    const file = tempDbFile();
    const store = await populate(file);
    await store.db.transact((tx) =>
      tx.update(tx.tables.signupAttempts).set({ bucket: "nul\u0000byte" }).where(sql`${tx.tables.signupAttempts.id} = ${SIGNUP_ATTEMPTS}`),
    );
    const target = await freshDatabase();

    const failure = await copySqliteToPostgres(file, target.url).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(CopyError);
    expect((failure as CopyError).kind).toBe("failed");
    // Every other table, and two batches of this one, went in before the refusal.
    expect((failure as CopyError).message).toMatch(/nothing was written \(signup_attempts, after 2000 rows: invalid byte sequence .*\[22021\]\)/);
    // The driver's message only: drizzle's would quote the parameters, secrets among them.
    expect((failure as CopyError).message).not.toContain("params");
    expect(await withTarget(target.url, rowCounts)).toEqual(nothing);

    // Once the row is mended, the same target takes the copy: it was left truly empty.
    await store.db.transact((tx) =>
      tx.update(tx.tables.signupAttempts).set({ bucket: "mended" }).where(sql`${tx.tables.signupAttempts.id} = ${SIGNUP_ATTEMPTS}`),
    );
    const report = await copySqliteToPostgres(file, target.url);
    expect(report.tables.find((entry) => entry.table === "signup_attempts")!.rows).toBe(SIGNUP_ATTEMPTS);
    expect(await withTarget(target.url, dump)).toEqual(await dump(store));
    await store.close();
  });

  test("a row pointing nowhere (written while SQLite's foreign keys were off), which PostgreSQL's foreign keys refuse", async () => {
    const file = tempDbFile();
    await (await populate(file)).close();
    const raw = new Database(file);
    raw.pragma("foreign_keys = OFF");
    raw.prepare("INSERT INTO stack_tags (stack_id, name, value) VALUES (999, 'orphan', 'x')").run();
    raw.close();
    const target = await freshDatabase();

    const failure = await copySqliteToPostgres(file, target.url).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(CopyError);
    expect((failure as CopyError).kind).toBe("failed");
    expect((failure as CopyError).message).toMatch(/stack_tags, after 0 rows: .*foreign key.*\[23503\]/);
    expect(await withTarget(target.url, rowCounts)).toEqual(nothing);
  });
});

describe("what the copy reads and where it writes", () => {
  test("the source is read from one snapshot while a server keeps writing to it", async () => {
    const file = tempDbFile();
    const store = openSqlite(file);
    await store.db.transact(async (tx) => {
      const rows = Array.from({ length: 300 }, (_, i) => ({ id: i + 1, bucket: "before", at: new Date(Date.UTC(2025, 0, 1) + i) }));
      await tx.insert(tx.tables.signupAttempts).values(rows);
    });
    const before = await dump(store);
    const target = await freshDatabase();

    let done = false;
    let writesDuring = 0;
    const copying = copySqliteToPostgres(file, target.url, { batchSize: 5 }).finally(() => (done = true));
    // Every write lands between the copy's batches: new rows after its position, old ones gone before it gets there.
    while (!done) {
      await store.db.transact(async (tx) => {
        const { signupAttempts } = tx.tables;
        await tx.insert(signupAttempts).values({ bucket: "during", at: new Date() });
        await tx.delete(signupAttempts).where(sql`${signupAttempts.id} = (SELECT max(id) FROM signup_attempts WHERE bucket = 'before')`);
        await tx.update(signupAttempts).set({ bucket: "changed" }).where(sql`${signupAttempts.id} = (SELECT min(id) FROM signup_attempts WHERE bucket = 'before')`);
      });
      if (!done) writesDuring++;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await copying;

    expect(writesDuring).toBeGreaterThan(3);
    expect((await dump(store)).signup_attempts).not.toEqual(before.signup_attempts);
    expect((await withTarget(target.url, dump)).signup_attempts).toEqual(before.signup_attempts);
    await store.close();
  });

  test("a database holding tables that are not agent-onboard's is refused before anything is created in it", async () => {
    const file = tempDbFile();
    await (await populate(file)).close();
    const target = await freshDatabase();
    const other = new pg.Client({ connectionString: target.url });
    await other.connect();
    await other.query("CREATE TABLE invoices (id int)");

    const refusal = await copySqliteToPostgres(file, target.url).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(CopyError);
    expect((refusal as CopyError).kind).toBe("not-empty");
    expect((refusal as CopyError).message).toMatch(/tables that are not agent-onboard's \(invoices\)/);
    const { rows } = await other.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
    expect(rows).toEqual([{ table_name: "invoices" }]);
    await other.end();
  });

  test("an empty SQLite database copies as no rows, and the first rows drawn afterwards start at 1", async () => {
    const file = tempDbFile();
    await openSqlite(file).close();
    const target = await freshDatabase();
    const report = await copySqliteToPostgres(file, target.url);
    expect(report.rows).toBe(0);
    expect(report.tables).toHaveLength(ALL_TABLES.length);
    await withTarget(target.url, async (copy) => {
      const [org] = await copy.db.transact((tx) =>
        tx.insert(tx.tables.organizations).values({ name: "first", createdAt: new Date() }).returning(),
      );
      expect(org!.id).toBe(1);
    });
  });

  test("no SQLite file there is refused, and none is created", async () => {
    const file = tempDbFile();
    const target = await freshDatabase();
    await expect(copySqliteToPostgres(file, target.url)).rejects.toMatchObject({ kind: "source", message: `there is no SQLite database at ${file}` });
    expect(existsSync(file)).toBe(false);
  });
});

describe("agent-onboard copy (the CLI, from source)", { timeout: 90_000 }, () => {
  const oneLine = (run: Finished) => {
    expect(run.stderr.trimEnd().split("\n"), run.stderr).toHaveLength(1);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  };
  const noPassword = (run: Finished) => expect(run.stdout + run.stderr).not.toContain(PASSWORD);

  test("copies, prints the tables and the next step without the password; a second run is refused with exit 1", async () => {
    const file = tempDbFile();
    await (await populate(file)).close();
    const target = await freshDatabase();

    const run = await runCopyCli(["copy", "--to", target.url], { ONBOARD_DB: file });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    noPassword(run);
    expect(run.stdout).toContain(`Copied ${file} into postgres://postgres:***@${SERVER}/${target.name}:`);
    expect(run.stdout).toMatch(/^ {2}signup_attempts +2100$/m);
    expect(run.stdout).toMatch(/^ {2}signing_keys +1$/m);
    expect(run.stdout).toContain(`start the server with ONBOARD_DATABASE_URL=postgres://postgres:***@${SERVER}/${target.name}`);
    for (const name of ALL_TABLES) expect(run.stdout).toMatch(new RegExp(`^  ${name} +\\d+$`, "m"));
    expect((await withTarget(target.url, rowCounts)).signup_attempts).toBe(SIGNUP_ATTEMPTS);

    const again = await runCopyCli(["copy", `--to=${target.url}`], { ONBOARD_DB: file });
    expect(again.code).toBe(1);
    expect(again.stdout).toBe("");
    oneLine(again);
    noPassword(again);
    expect(again.stderr).toMatch(/^agent-onboard: copy to postgres:\/\/postgres:\*\*\*@.*: the target database already holds data \(.*\); copy only into an empty database/);
  });

  test.each([
    ["no --to", ["copy"], /--to <postgres-url> is required \(usage: agent-onboard copy --to postgres:/],
    ["--to without a URL", ["copy", "--to"], /--to needs a PostgreSQL URL \(usage: /],
    ["a URL of another kind", ["copy", "--to", `mysql://root:${PASSWORD}@${SERVER}/onboard`], /--to must be a PostgreSQL URL such as .* \(usage: /],
    ["something else", ["copy", "--to", `postgres://postgres:${PASSWORD}@${SERVER}/x`, "--force"], /unexpected argument --force \(usage: /],
  ])("%s: a one-line usage error, exit 2", async (_, args, message) => {
    const run = await runCopyCli(args, { ONBOARD_DB: tempDbFile() });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    oneLine(run);
    noPassword(run);
    expect(run.stderr).toMatch(message);
  });

  test("a target that cannot be reached, or does not exist, or no SQLite file: one line without the password, exit 2", async () => {
    const file = tempDbFile();
    await (await populate(file)).close();
    const [refused, missing, noFile] = await Promise.all([
      runCopyCli(["copy", "--to", `postgres://postgres:${PASSWORD}@127.0.0.1:1/onboard`], { ONBOARD_DB: file }),
      runCopyCli(["copy", "--to", `postgres://postgres:${PASSWORD}@${SERVER}/onboard_copytest_absent`], { ONBOARD_DB: file }),
      runCopyCli(["copy", "--to", `postgres://postgres:${PASSWORD}@${SERVER}/x`], { ONBOARD_DB: tempDbFile() }),
    ]);
    for (const run of [refused, missing, noFile]) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stdout).toBe("");
      oneLine(run);
      noPassword(run);
    }
    expect(refused.stderr).toMatch(/^agent-onboard: copy to postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/onboard: cannot reach the PostgreSQL database \(connection refused/);
    expect(missing.stderr).toMatch(/cannot reach the PostgreSQL database \(the database does not exist; create it first \(createdb\)\)/);
    expect(noFile.stderr).toMatch(/^agent-onboard: ONBOARD_DB: there is no SQLite database at /);
  });

  test("--help documents copy and its exit codes", async () => {
    const run = await runCopyCli(["--help"], {});
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("agent-onboard copy --to postgres://");
    expect(run.stderr).toMatch(/Exits 0 when copied; 1 when\s+nothing was copied/);
  });
});
