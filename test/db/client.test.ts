import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, test } from "vitest";
import { openDb } from "../../db/client.js";

const committedMigrations = readdirSync(new URL("../../db/migrations", import.meta.url)).filter((name) => name.endsWith(".sql")).length;

const tempFile = () => join(mkdtempSync(join(tmpdir(), "onboard-db-")), "nested", "dir", "onboard.db");

describe("openDb", () => {
  test("creates the folder, applies the migrations, and turns on WAL, foreign keys and a busy timeout", () => {
    const { sqlite, close } = openDb(tempFile());
    expect(sqlite.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(sqlite.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(sqlite.pragma("busy_timeout", { simple: true })).toBeGreaterThan(0);
    const tables = sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
    expect(tables).toEqual(expect.arrayContaining(["users", "organizations", "memberships", "access_tokens", "claim_tokens", "invite_links", "invite_link_users", "stacks", "stack_tags"]));
    close();
  });

  test("a new database file, its WAL files and the folder made for it are readable by their owner only", () => {
    const file = tempFile();
    const { sqlite, close } = openDb(file);
    sqlite.exec("CREATE TABLE scratch (x); INSERT INTO scratch VALUES (1)"); // brings the -wal and -shm files
    for (const path of [file, `${file}-wal`, `${file}-shm`]) expect((statSync(path).mode & 0o777).toString(8), path).toBe("600");
    expect((statSync(dirname(file)).mode & 0o777).toString(8)).toBe("700");
    close();
  });

  test("an existing file keeps its mode", () => {
    const file = join(mkdtempSync(join(tmpdir(), "onboard-db-")), "shared.db");
    writeFileSync(file, "");
    chmodSync(file, 0o640);
    openDb(file).close();
    expect((statSync(file).mode & 0o777).toString(8)).toBe("640");
  });

  test("opening again applies nothing twice", () => {
    const file = tempFile();
    openDb(file).close();
    const { sqlite, close } = openDb(file);
    const applied = sqlite.prepare("SELECT count(*) FROM __drizzle_migrations").pluck().get();
    expect(applied).toBe(committedMigrations);
    close();
  });

  test("a row that points nowhere is refused", () => {
    const { sqlite, close } = openDb(":memory:");
    expect(() => sqlite.prepare("INSERT INTO memberships (user_id, org_id, role, created_at) VALUES (99, 99, 'admin', 0)").run()).toThrow(/FOREIGN KEY/);
    close();
  });

  test("several processes migrating one fresh file at once all succeed", async () => {
    const file = tempFile();
    const script = `import("${new URL("../../dist/db/client.js", import.meta.url).href}").then(m => { m.openDb(process.argv[1]).close(); })`;
    const codes = await Promise.all(
      Array.from({ length: 4 }, () => new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, ["-e", script, file], { stdio: "inherit" });
        child.on("close", resolve);
      })),
    );
    expect(codes).toEqual([0, 0, 0, 0]);
    const { sqlite, close } = openDb(file);
    expect(sqlite.prepare("SELECT count(*) FROM __drizzle_migrations").pluck().get()).toBe(committedMigrations);
    expect(sqlite.pragma("integrity_check", { simple: true })).toBe("ok");
    close();
  });
});
