import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { afterEach, describe, expect, test } from "vitest";
import { type DatabaseSettings, openStore, type Store } from "../../db/client.js";
import { driverCode } from "../../db/errors.js";
import { type FreshDatabase, freshDatabase, testEngine } from "../databases.js";
import { unmigratedDatabase } from "../processes.js";

/** The migrations committed for an engine: what opening a database applies. */
const committedMigrations = (folder: "sqlite" | "pg") =>
  readdirSync(new URL(`../../db/migrations/${folder}`, import.meta.url)).filter((name) => name.endsWith(".sql")).length;

/** drizzle's bookkeeping of applied migrations: its own schema on PostgreSQL, a table beside ours on SQLite. */
const migrationsTable = (store: Store) => (store.engine === "postgres" ? "drizzle.__drizzle_migrations" : "__drizzle_migrations");

const appliedMigrations = async (store: Store) =>
  Number((await store.query(`SELECT count(*) AS n FROM ${migrationsTable(store)}`))[0]!.n);

const databases: FreshDatabase[] = [];
const stores: Store[] = [];

async function open(settings: DatabaseSettings): Promise<Store> {
  const store = await openStore(settings);
  stores.push(store);
  return store;
}

/** A store on a new database of the engine under test. */
async function openFresh(database?: FreshDatabase): Promise<Store> {
  const made = database ?? (await freshDatabase());
  databases.push(made);
  return open(made.settings);
}

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
  await Promise.all(databases.splice(0).map((database) => database.drop()));
});

describe(`openStore (${testEngine})`, () => {
  test("applies the migrations: every table is there, empty", async () => {
    const store = await openFresh();
    for (const table of ["users", "organizations", "memberships", "access_tokens", "claim_tokens", "invite_links", "invite_link_users", "stacks", "stack_tags"]) {
      expect(await store.query(`SELECT count(*) AS n FROM ${table}`), table).toEqual([{ n: 0 }]);
    }
    expect(await appliedMigrations(store)).toBe(committedMigrations(store.engine === "postgres" ? "pg" : "sqlite"));
  });

  test("opening again applies nothing twice", async () => {
    const database = await freshDatabase();
    databases.push(database);
    await (await openStore(database.settings)).close();
    const store = await open(database.settings);
    expect(await appliedMigrations(store)).toBe(committedMigrations(store.engine === "postgres" ? "pg" : "sqlite"));
  });

  test("a row that points nowhere is refused", async () => {
    const store = await openFresh();
    const { memberships } = store.db.tables;
    const refused = await store.db
      .transact((tx) => tx.insert(memberships).values({ userId: 99, orgId: 99, role: "admin", createdAt: new Date() }))
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(driverCode(refused)).toBe(store.engine === "postgres" ? "23503" : "SQLITE_CONSTRAINT_FOREIGNKEY");
    expect(await store.query("SELECT count(*) AS n FROM memberships")).toEqual([{ n: 0 }]);
  });

  test("several processes opening one database nobody has migrated yet all succeed, and apply each migration once", async () => {
    const database = await unmigratedDatabase();
    databases.push(database);
    // In one process SQLite's synchronous opens would take turns: race processes, on either engine.
    const script = `import(${JSON.stringify(new URL("../../dist/db/client.js", import.meta.url).href)})
      .then((m) => m.openStore(JSON.parse(process.argv[1])))
      .then((store) => store.close())`;
    const codes = await Promise.all(
      Array.from({ length: 4 }, () => new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, ["-e", script, JSON.stringify(database.settings)], { stdio: "inherit" });
        child.on("close", resolve);
      })),
    );
    expect(codes).toEqual([0, 0, 0, 0]);
    const store = await open(database.settings);
    expect(await appliedMigrations(store)).toBe(committedMigrations(store.engine === "postgres" ? "pg" : "sqlite"));
    await store.db.transact((tx) => tx.insert(tx.tables.organizations).values({ name: "Acme", createdAt: new Date() }));
    expect(await store.query("SELECT name FROM organizations")).toEqual([{ name: "Acme" }]);
    if (store.engine === "sqlite") expect(await store.query("PRAGMA integrity_check")).toEqual([{ integrity_check: "ok" }]);
  });
});
