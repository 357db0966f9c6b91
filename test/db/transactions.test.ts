import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { eq } from "drizzle-orm";
import { type MigrationMeta, readMigrationFiles } from "drizzle-orm/migrator";
import pg from "pg";
import { afterAll, afterEach, describe, expect, test } from "vitest";
import { type DatabaseSettings, type Db, type Engine, openStore, type Store } from "../../db/client.js";
import { driverCode, isUniqueViolation } from "../../db/errors.js";
import { testEngine } from "../databases.js";

/*
 * What `transact` promises services (db/handle.ts), on both engines: all of
 * the callback's writes or none, however long it awaits; nobody sees them
 * before the commit; concurrent transactions behave as if one ran after the
 * other; and writes exist only inside a transaction.
 */

const SERVER = "postgres://postgres@127.0.0.1:5432";
const ADMIN_URL = `${SERVER}/test`;

const databasesMade: string[] = [];
const foldersMade: string[] = [];
const storesOpen: Store[] = [];

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  client.on("error", () => undefined);
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** A new, empty database nobody else uses; not migrated yet (openStore does that). */
async function freshDatabase(engine: Engine): Promise<DatabaseSettings> {
  if (engine === "sqlite") {
    const folder = mkdtempSync(join(tmpdir(), "onboard-dbtest-"));
    foldersMade.push(folder);
    return { dbFile: join(folder, "onboard.db") };
  }
  const name = `onboard_dbtest_${randomBytes(6).toString("hex")}`;
  await admin(`CREATE DATABASE ${name}`);
  databasesMade.push(name);
  return { databaseUrl: `${SERVER}/${name}`, dbFile: "" };
}

async function open(settings: DatabaseSettings): Promise<Store> {
  const store = await openStore(settings);
  storesOpen.push(store);
  return store;
}

const openFresh = async (engine: Engine) => open(await freshDatabase(engine));

afterEach(async () => {
  await Promise.all(storesOpen.splice(0).map((store) => store.close()));
});

afterAll(async () => {
  for (const name of databasesMade.splice(0)) await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  for (const folder of foldersMade.splice(0)) rmSync(folder, { recursive: true, force: true });
});

/** A real macrotask: the callback gives the event loop away, as a service awaiting anything would. */
const pause = (ms = 20) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const addOrganization = async (tx: Db, name: string) => {
  const [row] = await tx.insert(tx.tables.organizations).values({ name, createdAt: new Date() }).returning();
  return row!;
};

/** The organizations committed, as a reader outside any transaction sees them. */
const organizationNames = async (store: Store) =>
  (await store.db.select({ name: store.db.tables.organizations.name }).from(store.db.tables.organizations))
    .map((row) => row.name)
    .sort();

/** A promise and the function that settles it, to hold a transaction open until the test lets it go. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

// Compiled, never run: `npx tsc --noEmit` fails if the read handle grows a write.
function writesOutsideATransactionDoNotTypecheck(store: Store) {
  const { organizations } = store.db.tables;
  // @ts-expect-error ReadDb has no insert: writes go through store.db.transact
  void store.db.insert(organizations);
  // @ts-expect-error ReadDb has no update
  void store.db.update(organizations);
  // @ts-expect-error ReadDb has no delete
  void store.db.delete(organizations);
}
void writesOutsideATransactionDoNotTypecheck;

const engine = testEngine;

describe(`transactions on ${engine}`, () => {
  test("a failure midway leaves nothing, and the caller gets the error as thrown", async () => {
    const store = await openFresh(engine);
    const failure = new Error("gave up midway");

    const outcome = store.db.transact(async (tx) => {
      await addOrganization(tx, "First");
      await pause();
      await addOrganization(tx, "Second");
      throw failure;
    });

    await expect(outcome).rejects.toBe(failure);
    expect(await organizationNames(store)).toEqual([]);
  });

  test("what the callback does after an await is still inside the transaction", async () => {
    const store = await openFresh(engine);
    let seenInside: string[] = [];

    const error = await store.db
      .transact(async (tx) => {
        await addOrganization(tx, "Acme");
        await pause();
        seenInside = (await tx.select().from(tx.tables.organizations)).map((row) => row.name);
        await addOrganization(tx, "ACME"); // organizations_name_unique is on lower(name)
      })
      .then(
        () => undefined,
        (reason: unknown) => reason,
      );

    expect(seenInside).toEqual(["Acme"]);
    expect(isUniqueViolation(error)).toBe(true);
    // The violation rolled back the insert made before the await too.
    expect(await organizationNames(store)).toEqual([]);
  });

  test("isUniqueViolation tells a unique violation from other refusals", async () => {
    const store = await openFresh(engine);
    const { memberships } = store.db.tables;
    const missingReference = await store.db
      .transact((tx) => tx.insert(memberships).values({ userId: 999, orgId: 999, role: "admin", createdAt: new Date() }))
      .then(
        () => undefined,
        (reason: unknown) => reason,
      );

    expect(driverCode(missingReference)).toBe(engine === "postgres" ? "23503" : "SQLITE_CONSTRAINT_FOREIGNKEY");
    expect(isUniqueViolation(missingReference)).toBe(false);
    expect(isUniqueViolation(new Error("not from the database"))).toBe(false);
  });

  test("uncommitted rows are invisible to readers, and a concurrent transaction survives another's failure", async () => {
    const store = await openFresh(engine);
    await store.db.transact((tx) => addOrganization(tx, "Committed before"));

    const aInserted = gate();
    const aMayFinish = gate();
    const failure = new Error("A fails");
    let aSawItsOwnRow = false;
    const a = store.db.transact(async (tx) => {
      const row = await addOrganization(tx, "From A");
      aSawItsOwnRow = (await tx.select().from(tx.tables.organizations).where(eq(tx.tables.organizations.id, row.id))).length === 1;
      aInserted.open();
      await aMayFinish.opened;
      throw failure;
    });
    a.catch(() => undefined); // awaited below; this only keeps an early failure from also being reported as unhandled

    let b: Promise<string> | undefined;
    try {
      await aInserted.opened;
      // A is open, waiting: a reader sees what was committed, not A's row.
      expect(await organizationNames(store)).toEqual(["Committed before"]);

      b = store.db.transact(async (tx) => {
        await addOrganization(tx, "From B");
        return "B committed";
      });
      await pause(); // B gets going (on PostgreSQL it commits; SQLite queues it behind A)
      expect(await organizationNames(store)).not.toContain("From A");
    } finally {
      aMayFinish.open(); // also when an expectation failed, so that closing the store does not wait on A forever
    }

    await expect(a).rejects.toBe(failure);
    await expect(b).resolves.toBe("B committed");
    expect(aSawItsOwnRow).toBe(true);
    expect(await organizationNames(store)).toEqual(["Committed before", "From B"]);
  });

  test("a nested transact joins the outer transaction and goes down with it", async () => {
    const store = await openFresh(engine);
    const failure = new Error("outer fails after inner returned");
    let innerResult: string | undefined;
    let seenByOuter: string[] = [];

    const outcome = store.db.transact(async (tx) => {
      await addOrganization(tx, "Outer");
      innerResult = await tx.transact(async (inner) => {
        await pause();
        await addOrganization(inner, "Inner");
        return "inner done";
      });
      seenByOuter = (await tx.select().from(tx.tables.organizations)).map((row) => row.name).sort();
      throw failure;
    });

    await expect(outcome).rejects.toBe(failure);
    expect(innerResult).toBe("inner done");
    expect(seenByOuter).toEqual(["Inner", "Outer"]);
    expect(await organizationNames(store)).toEqual([]);
  });

  test("a successful transaction returns the callback's value, and its rows are there afterwards", async () => {
    const store = await openFresh(engine);

    const created = await store.db.transact(async (tx) => {
      const first = await addOrganization(tx, "Acme");
      await pause();
      const second = await addOrganization(tx, "Globex");
      return { first, second };
    });

    expect(created.first).toMatchObject({ name: "Acme", id: expect.any(Number) });
    expect(created.first.createdAt).toBeInstanceOf(Date);
    expect(created.second.id).not.toBe(created.first.id);
    const { organizations } = store.db.tables;
    const [stored] = await store.db.select().from(organizations).where(eq(organizations.id, created.second.id));
    expect(stored).toEqual(created.second);
    expect(await organizationNames(store)).toEqual(["Acme", "Globex"]);
  });

  test("20 concurrent read-count-then-insert transactions each see a different count", async () => {
    const store = await openFresh(engine);
    const { organizations } = store.db.tables;
    let runs = 0;

    const counts = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.db.transact(async (tx) => {
          runs++;
          const before = await tx.$count(organizations);
          await pause(1); // the others get to read in between
          await addOrganization(tx, `Organization ${i}`);
          return before;
        }),
      ),
    );

    expect([...counts].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(await store.db.$count(organizations)).toBe(20);
    if (engine === "postgres") {
      // Overlapping transactions read what the others then wrote: PostgreSQL aborted some, and they were replayed.
      expect(runs).toBeGreaterThan(20);
    } else {
      // SQLite runs them one after the other: nothing to replay.
      expect(runs).toBe(20);
    }
  });

  test("the handle outside a transaction has no way to write, not even untyped", async () => {
    const store = await openFresh(engine);
    // The types keep writes off store.db; a cast or plain JavaScript finds nothing there either.
    const readPath = store.db as unknown as Partial<Db>;

    expect([readPath.insert, readPath.update, readPath.delete]).toEqual([undefined, undefined, undefined]);
    await store.db.transact((tx) => addOrganization(tx, "Written inside"));
    expect(await organizationNames(store)).toEqual(["Written inside"]);
  });

  const startingPoints = engine === "postgres" ? (["a fresh database"] as const) : (["a fresh database", "a database one release behind"] as const);

  test.each(startingPoints)(
    "stores opening %s at once apply each pending migration exactly once",
    async (startingPoint) => {
      const settings = await freshDatabase(engine);
      const migrations = readMigrationFiles({
        migrationsFolder: fileURLToPath(new URL(`../../db/migrations/${engine === "postgres" ? "pg" : "sqlite"}`, import.meta.url)),
      });
      if (startingPoint === "a database one release behind") {
        expect(migrations.length).toBeGreaterThan(1);
        applyFirstMigrationOnly(settings.dbFile, migrations[0]!);
      }

      if (engine === "postgres") {
        await Promise.all(Array.from({ length: 4 }, () => open({ ...settings, poolSize: 2 })));
      } else {
        // openSqlite is synchronous, so in one process the opens would take turns: race four processes instead.
        expect(await openInChildProcesses(4, settings.dbFile)).toEqual([0, 0, 0, 0]);
      }

      const store = await open(settings);
      const table = engine === "postgres" ? "drizzle.__drizzle_migrations" : "__drizzle_migrations";
      const recorded = (await store.query(`SELECT hash FROM ${table}`)).map((row) => row.hash);
      expect(recorded.sort()).toEqual(migrations.map((migration) => migration.hash).sort());
      // And the schema they made works.
      await store.db.transact((tx) => addOrganization(tx, "Acme"));
      expect(await organizationNames(store)).toEqual(["Acme"]);
    },
    120_000,
  );
});

/**
 * An SQLite file as the first release left it: its first migration applied
 * and recorded the way openSqlite records it, the others pending. On a fresh
 * file the migrator's first statement creates the bookkeeping table, a write
 * that queues the processes behind each other anyway; here it finds the table,
 * reads, and only then writes, which is where two migrators could interleave.
 */
function applyFirstMigrationOnly(dbFile: string, first: MigrationMeta) {
  const sqlite = new Database(dbFile);
  try {
    sqlite.pragma("journal_mode = WAL");
    sqlite.exec("CREATE TABLE __drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)");
    for (const statement of first.sql) sqlite.exec(statement);
    sqlite.prepare("INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)").run(first.hash, first.folderMillis);
  } finally {
    sqlite.close();
  }
}

/**
 * Starts `count` processes that each load db/client.ts and then, all at the
 * same moment, open `dbFile`; resolves with their exit codes.
 */
async function openInChildProcesses(count: number, dbFile: string): Promise<(number | null)[]> {
  const client = fileURLToPath(new URL("../../db/client.ts", import.meta.url));
  const script = `
    const { openStore } = await import(process.argv[1]);
    process.stdout.write("ready\\n");
    process.stdin.once("data", async (data) => {
      const at = Number(String(data));
      while (Date.now() < at); // spin rather than sleep: timers would spread the start out again
      const store = await openStore({ dbFile: process.argv[2] });
      await store.close();
      process.exit(0);
    });
  `;
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, client, dbFile], {
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      stdio: ["pipe", "pipe", "inherit"],
    }),
  );
  try {
    const exited = children.map((child) => new Promise<number | null>((resolve) => child.on("close", resolve)));
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve, reject) => {
            child.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
            child.on("close", () => reject(new Error("a child process exited before it was ready")));
          }),
      ),
    );
    const at = Date.now() + 300;
    for (const child of children) child.stdin.write(`${at}\n`);
    return await Promise.all(exited);
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
  }
}
