import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { type DatabaseSettings, openStore, type Store } from "../../db/client.js";

const folders: string[] = [];
const tempFolder = () => {
  const folder = mkdtempSync(join(tmpdir(), "onboard-db-"));
  folders.push(folder);
  return folder;
};
const tempFile = () => join(tempFolder(), "nested", "dir", "onboard.db");

const stores: Store[] = [];
async function open(settings: DatabaseSettings): Promise<Store> {
  const store = await openStore(settings);
  stores.push(store);
  return store;
}

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

// What these check is the SQLite file itself (its folder, its modes, its journal); a PostgreSQL database has no file of ours.
describe("openStore on a SQLite file", () => {
  test("creates the folder, and turns on WAL, foreign keys and a busy timeout", async () => {
    const file = tempFile();
    const store = await open({ dbFile: file });
    expect(statSync(dirname(file)).isDirectory()).toBe(true);
    expect(await store.query("PRAGMA journal_mode")).toEqual([{ journal_mode: "wal" }]);
    expect(await store.query("PRAGMA foreign_keys")).toEqual([{ foreign_keys: 1 }]);
    const [{ timeout }] = (await store.query("PRAGMA busy_timeout")) as [{ timeout: number }];
    expect(timeout).toBeGreaterThan(0);
  });

  test("a new database file, its WAL files and the folder made for it are readable by their owner only", async () => {
    const file = tempFile();
    const store = await open({ dbFile: file });
    // A write brings the -wal and -shm files.
    await store.db.transact((tx) => tx.insert(tx.tables.organizations).values({ name: "Acme", createdAt: new Date() }));
    for (const path of [file, `${file}-wal`, `${file}-shm`]) expect((statSync(path).mode & 0o777).toString(8), path).toBe("600");
    expect((statSync(dirname(file)).mode & 0o777).toString(8)).toBe("700");
  });

  test("an existing file keeps its mode", async () => {
    const file = join(tempFolder(), "shared.db");
    writeFileSync(file, "");
    chmodSync(file, 0o640);
    await (await openStore({ dbFile: file })).close();
    expect((statSync(file).mode & 0o777).toString(8)).toBe("640");
  });
});
