import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { getTableColumns, getTableName, is, SQL } from "drizzle-orm";
import { getTableConfig as getPgTableConfig, PgDialect, PgTable } from "drizzle-orm/pg-core";
import { getTableConfig as getSqliteTableConfig, SQLiteSyncDialect, SQLiteTable } from "drizzle-orm/sqlite-core";
import { describe, expect, test } from "vitest";
import * as pgSchema from "../../db/schema/pg.js";
import * as sqliteSchema from "../../db/schema/sqlite.js";

/*
 * Services run one code path on both engines (db/handle.ts hands them the
 * dialect's own tables under the same names), so the two schema files must
 * declare the same database. Each table is reduced to a dialect-free shape
 * and the shapes are compared; a column, key, constraint or index declared in
 * one file only shows up as a diff.
 */

interface ColumnShape {
  name: string;
  kind: string;
  notNull: boolean;
  primaryKey: boolean;
  hasDefault: boolean;
  /** A plain default value (not SQL, not a function), e.g. 'access token'. */
  defaultValue: unknown;
  enumValues: readonly string[] | undefined;
}

interface IndexShape {
  name: string;
  on: string[];
  unique: boolean;
  where: string | undefined;
}

interface TableShape {
  name: string;
  /** Keyed by the property services use (`tables.users.isAgent`). */
  columns: Record<string, ColumnShape>;
  primaryKeys: string[][];
  foreignKeys: string[];
  /** "unique on (a, b)", whether declared with .unique(), unique() or a uniqueIndex on plain columns. */
  uniques: string[];
  /** Every other index: on expressions, or not unique. */
  indexes: IndexShape[];
  checks: string[];
}

type Dialect = "sqlite" | "pg";
const compilers = { sqlite: new SQLiteSyncDialect(), pg: new PgDialect() };

/** SQL text as drizzle-kit writes it into the migration (columns without their table). */
function render(dialect: Dialect, expression: SQL): string {
  const { sql, params } = compilers[dialect].sqlToQuery(expression, "indexes");
  const text = sql.replace(/\s+/g, " ").trim();
  return params.length ? `${text} ${JSON.stringify(params)}` : text;
}

function sqliteKind(column: { columnType: string; mode?: unknown }): string {
  switch (column.columnType) {
    case "SQLiteInteger":
      return "integer";
    case "SQLiteText":
      return "text";
    case "SQLiteBoolean":
      return "boolean";
    case "SQLiteTimestamp":
      // Seconds would lose the milliseconds PostgreSQL keeps.
      return column.mode === "timestamp_ms" ? "timestamp" : `sqlite timestamp in mode ${String(column.mode)}`;
    default:
      return `sqlite ${column.columnType}`;
  }
}

function pgKind(column: { columnType: string; precision?: unknown; withTimezone?: unknown }): string {
  switch (column.columnType) {
    case "PgInteger":
      return "integer";
    case "PgText":
      return "text";
    case "PgBoolean":
      return "boolean";
    case "PgTimestamp":
      // Milliseconds, as SQLite's timestamp_ms keeps them, and an instant rather than a wall-clock time.
      return column.precision === 3 && column.withTimezone === true
        ? "timestamp"
        : `pg timestamp(${String(column.precision)}) with time zone: ${String(column.withTimezone)}`;
    default:
      return `pg ${column.columnType}`;
  }
}

/**
 * drizzle marks every SQLite INTEGER PRIMARY KEY as having a default, because
 * SQLite fills in the rowid it aliases; what the schema declares is whether the
 * key is drawn (AUTOINCREMENT, like PostgreSQL's identity) or given by the code.
 */
function hasDefault(dialect: Dialect, column: { hasDefault: boolean; primary: boolean; columnType: string }): boolean {
  if (dialect === "sqlite" && column.primary && column.columnType === "SQLiteInteger") {
    return (column as { autoIncrement?: boolean }).autoIncrement === true;
  }
  return column.hasDefault;
}

type AnyConfig = ReturnType<typeof getSqliteTableConfig> | ReturnType<typeof getPgTableConfig>;

function shapeOf(dialect: Dialect, table: SQLiteTable | PgTable): TableShape {
  const config: AnyConfig =
    dialect === "sqlite" ? getSqliteTableConfig(table as SQLiteTable) : getPgTableConfig(table as PgTable);
  const kind = dialect === "sqlite" ? sqliteKind : pgKind;

  const columns: Record<string, ColumnShape> = {};
  for (const [key, column] of Object.entries(getTableColumns(table))) {
    columns[key] = {
      name: column.name,
      kind: kind(column as never),
      notNull: column.notNull,
      primaryKey: column.primary,
      hasDefault: hasDefault(dialect, column),
      defaultValue: is(column.default, SQL) ? render(dialect, column.default) : column.default,
      enumValues: column.enumValues,
    };
  }

  const primaryKeys = [
    ...config.columns.filter((column) => column.primary).map((column) => [column.name]),
    ...config.primaryKeys.map((key) => key.columns.map((column) => column.name)),
  ];

  const foreignKeys = config.foreignKeys
    .map((key) => {
      const reference = key.reference();
      const from = reference.columns.map((column) => column.name).join(", ");
      const to = reference.foreignColumns.map((column) => column.name).join(", ");
      // Unset means the SQL default, NO ACTION, on both engines.
      const onDelete = key.onDelete ?? "no action";
      const onUpdate = key.onUpdate ?? "no action";
      return `(${from}) -> ${getTableName(reference.foreignTable)} (${to}) on delete ${onDelete} on update ${onUpdate}`;
    })
    .sort();

  const uniqueOn = (names: string[]) => `unique on (${names.join(", ")})`;
  const uniques = [
    ...config.columns.filter((column) => column.isUnique).map((column) => uniqueOn([column.name])),
    ...config.uniqueConstraints.map((constraint) => uniqueOn(constraint.columns.map((column) => column.name))),
  ];

  const indexes: IndexShape[] = [];
  for (const { config: index } of config.indexes) {
    const on = index.columns.map((part: unknown) => {
      if (is(part, SQL)) return render(dialect, part);
      const column = part as { name: string; indexConfig?: { order?: string; nulls?: string; opClass?: string } };
      // PostgreSQL can say more about an indexed column than SQLite can; anything but the default is a difference.
      const extra = column.indexConfig;
      const suffix = [
        extra?.order && extra.order !== "asc" ? extra.order : "",
        extra?.nulls && extra.nulls !== "last" ? `nulls ${extra.nulls}` : "",
        extra?.opClass ?? "",
      ]
        .filter(Boolean)
        .join(" ");
      return suffix ? `"${column.name}" ${suffix}` : `"${column.name}"`;
    });
    const where = index.where ? render(dialect, index.where) : undefined;
    const method = (index as { method?: string }).method;
    const plainColumns = index.columns.every((part: unknown) => !is(part, SQL));
    if (index.unique && plainColumns && !where && (method === undefined || method === "btree")) {
      uniques.push(uniqueOn(on.map((name: string) => name.replace(/^"|"$/g, ""))));
      continue;
    }
    if (method !== undefined && method !== "btree") on.push(`using ${method}`);
    indexes.push({ name: index.name ?? "(unnamed)", on, unique: index.unique, where });
  }
  indexes.sort((a, b) => a.name.localeCompare(b.name));

  const checks = config.checks.map((check) => `${check.name}: ${render(dialect, check.value)}`).sort();

  return { name: config.name, columns, primaryKeys, foreignKeys, uniques: uniques.sort(), indexes, checks };
}

/** The exports that are tables, by export name (the name services use: `tables.users`). */
const sqliteTables = new Map<string, SQLiteTable>();
for (const [key, value] of Object.entries(sqliteSchema) as [string, unknown][]) {
  if (is(value, SQLiteTable)) sqliteTables.set(key, value);
}
const pgTables = new Map<string, PgTable>();
for (const [key, value] of Object.entries(pgSchema) as [string, unknown][]) {
  if (is(value, PgTable)) pgTables.set(key, value);
}
const sqliteTableNames = [...sqliteTables.keys()].sort();

describe("the SQLite and PostgreSQL schemas", () => {
  test("export the same tables under the same names", () => {
    expect(sqliteTableNames.length).toBeGreaterThan(0);
    expect([...pgTables.keys()].sort()).toEqual(sqliteTableNames);
    const sqlNames = (tables: Map<string, SQLiteTable | PgTable>) =>
      Object.fromEntries([...tables].map(([key, table]) => [key, getTableName(table)]));
    expect(sqlNames(pgTables)).toEqual(sqlNames(sqliteTables));
  });

  test("reduce to shapes that tell declarations apart", () => {
    // Guards the comparison below against a shape that erases what it should compare.
    const users = shapeOf("sqlite", sqliteSchema.users);
    expect(users.columns.isAgent).toMatchObject({ name: "is_agent", kind: "boolean", notNull: true });
    expect(users.columns.createdAt).toMatchObject({ kind: "timestamp", notNull: true, hasDefault: false });
    expect(users.columns.id).toMatchObject({ kind: "integer", primaryKey: true, hasDefault: true });
    expect(users.uniques).toEqual(["unique on (email)", "unique on (uid)"]);
    expect(users.foreignKeys).toEqual(["(default_org_id) -> organizations (id) on delete set null on update no action"]);
    expect(users.indexes).toEqual([{ name: "users_login_unique", on: ['lower("login")'], unique: true, where: undefined }]);
    expect(shapeOf("pg", pgSchema.memberships).primaryKeys).toEqual([["user_id", "org_id"]]);
    expect(shapeOf("pg", pgSchema.stacks).indexes.map((index) => index.on)).toEqual([
      ['"org_id"', '"id"'],
      ['"org_id"', 'lower("project_name")', 'lower("stack_name")'],
    ]);
  });

  describe.each(sqliteTableNames)("table %s", (key) => {
    const sqlite = shapeOf("sqlite", sqliteTables.get(key)!);
    const pg = shapeOf("pg", pgTables.get(key)!);

    test("has the same columns: name, type, nullability, primary key, default", () => {
      expect(Object.keys(sqlite.columns).length).toBeGreaterThan(0);
      expect(pg.columns).toEqual(sqlite.columns);
    });

    test("has the same primary key", () => {
      expect(sqlite.primaryKeys).toHaveLength(1);
      expect(pg.primaryKeys).toEqual(sqlite.primaryKeys);
    });

    test("has the same foreign keys", () => {
      expect(pg.foreignKeys).toEqual(sqlite.foreignKeys);
    });

    test("is unique on the same columns", () => {
      expect(pg.uniques).toEqual(sqlite.uniques);
    });

    test("has the same indexes", () => {
      expect(pg.indexes).toEqual(sqlite.indexes);
    });

    test("has the same checks", () => {
      expect(pg.checks).toEqual(sqlite.checks);
    });
  });
});

const migrationsRoot = fileURLToPath(new URL("../../db/migrations/", import.meta.url));
const migrationFolders = readdirSync(migrationsRoot, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

interface Journal {
  dialect: string;
  entries: { idx: number; when: number; tag: string }[];
}

describe("the committed migrations", () => {
  test("are in one folder per engine", () => {
    expect(migrationFolders).toEqual(["pg", "sqlite"]);
  });

  describe.each(migrationFolders)("in %s", (folder) => {
    const dir = `${migrationsRoot}${folder}/`;
    const journal = JSON.parse(readFileSync(`${dir}meta/_journal.json`, "utf8")) as Journal;
    const sqlFiles = readdirSync(dir).filter((name) => name.endsWith(".sql"));

    test("are for that folder's engine", () => {
      expect(journal.dialect).toBe({ pg: "postgresql", sqlite: "sqlite" }[folder]);
    });

    test("have one journal entry per .sql file, and a file per entry", () => {
      // The migrator reads the journal only: a file without an entry is never applied.
      expect(sqlFiles.length).toBeGreaterThan(0);
      expect(journal.entries.map((entry) => `${entry.tag}.sql`).sort()).toEqual(sqlFiles.sort());
    });

    test("are journalled in order, each later than the one before", () => {
      // A migration dated no later than the last one applied is skipped as already applied.
      expect(journal.entries.map((entry) => entry.idx)).toEqual(journal.entries.map((_, i) => i));
      for (let i = 1; i < journal.entries.length; i++) {
        expect(journal.entries[i]!.when, journal.entries[i]!.tag).toBeGreaterThan(journal.entries[i - 1]!.when);
      }
    });

    test("keep drizzle-kit's snapshot of every entry, so that the next generate diffs against the latest", () => {
      for (const entry of journal.entries) {
        const snapshot = `${dir}meta/${String(entry.idx).padStart(4, "0")}_snapshot.json`;
        expect(existsSync(snapshot), snapshot).toBe(true);
      }
    });
  });
});
