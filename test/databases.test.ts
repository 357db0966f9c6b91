import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { openStore, type Store } from "../db/client.js";
import { type FreshDatabase, engineFrom, freshDatabase, postgresTestRun, testEngine, withAdmin } from "./databases.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fresh(): Promise<FreshDatabase> {
  const database = await freshDatabase();
  cleanups.push(() => database.drop());
  return database;
}

async function open(database: FreshDatabase): Promise<Store> {
  const store = await openStore(database.settings);
  cleanups.push(() => store.close());
  return store;
}

const organizationNames = async (store: Store) =>
  (await store.db.select().from(store.db.tables.organizations)).map((row) => row.name);

/** Whether the database still exists where it lived. */
async function exists(database: FreshDatabase): Promise<boolean> {
  if (database.engine === "sqlite") return existsSync(database.settings.dbFile) || existsSync(dirname(database.settings.dbFile));
  const name = new URL(database.settings.databaseUrl!).pathname.slice(1);
  const { rows } = await withAdmin(postgresTestRun().adminUrl, (client) =>
    client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]),
  );
  return rows.length > 0;
}

describe(`freshDatabase (${testEngine})`, () => {
  test("is of the engine the project names", () => {
    expect(testEngine).toBe(process.env.ONBOARD_TEST_ENGINE ?? "sqlite");
    expect(() => engineFrom("mysql")).toThrow(/ONBOARD_TEST_ENGINE must be "sqlite" or "postgres" \(got "mysql"\)/);
    expect(engineFrom(undefined)).toBe("sqlite");
  });

  test("two fresh databases do not see each other's data", async () => {
    const [a, b] = await Promise.all([fresh(), fresh()]);
    expect(a.engine).toBe(testEngine);
    expect(a.env).not.toEqual(b.env);
    const [storeA, storeB] = [await open(a), await open(b)];
    expect(storeA.engine).toBe(testEngine);

    await storeA.db.transact((tx) => tx.insert(tx.tables.organizations).values({ name: "x", createdAt: new Date() }));
    expect(await organizationNames(storeA)).toEqual(["x"]);
    expect(await organizationNames(storeB)).toEqual([]);

    // The same name again is no conflict there: B is its own database, not A's seen from elsewhere.
    await storeB.db.transact((tx) => tx.insert(tx.tables.organizations).values({ name: "x", createdAt: new Date() }));
    expect(await organizationNames(storeB)).toEqual(["x"]);
  });

  test("the env a server process gets names the same database as the settings", async () => {
    const database = await fresh();
    if (database.engine === "sqlite") expect(database.env).toEqual({ ONBOARD_DB: database.settings.dbFile });
    else {
      expect(database.env.ONBOARD_DATABASE_URL).toBe(database.settings.databaseUrl);
      expect(database.env.ONBOARD_DB).toBe(database.settings.dbFile);
    }
  });

  test("a PostgreSQL database comes already migrated; a SQLite file is made when first opened", async () => {
    const database = await fresh();
    if (database.engine === "postgres") {
      const { rows } = await withAdmin(database.settings.databaseUrl!, (client) =>
        client.query("SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations"),
      );
      expect(rows[0].n).toBeGreaterThan(0);
    } else expect(existsSync(database.settings.dbFile)).toBe(false);
    const store = await open(database);
    expect(await organizationNames(store)).toEqual([]);
  });

  test("drop removes the database, even while a store still has it open", async () => {
    const database = await freshDatabase();
    const store = await openStore(database.settings);
    await store.db.transact((tx) => tx.insert(tx.tables.organizations).values({ name: "x", createdAt: new Date() }));
    expect(await exists(database)).toBe(true);

    await database.drop();
    expect(await exists(database)).toBe(false);
    await database.drop(); // twice is harmless
    await store.close().catch(() => undefined);
    if (database.engine === "postgres") {
      await expect(openStore(database.settings)).rejects.toMatchObject({ code: "3D000" }); // database does not exist
      expect(existsSync(database.settings.dbFile)).toBe(false); // nothing fell back to SQLite
    }
  });
});
