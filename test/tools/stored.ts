/**
 * Scans of everything stored, for "this secret is kept nowhere in clear"
 * checks, on either engine.
 */
import type { Store } from "../../db/client.js";

/**
 * Every table of the database, as its own catalog lists them, so that a table
 * no schema module names is scanned too. There is no catalog both engines
 * share; each is asked for the same thing.
 */
export async function tableNames(store: Store): Promise<string[]> {
  const rows =
    store.engine === "postgres"
      ? await store.query(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
      : await store.query("SELECT name FROM sqlite_master WHERE type = 'table'");
  const names = rows.map((row) => String(row.name));
  if (!names.includes("users")) throw new Error(`the table listing missed the users table: ${JSON.stringify(names)}`);
  return names;
}

/** Every row of `table`, as the driver reads it. */
const rowsOf = (store: Store, table: string) => store.query(`SELECT * FROM "${table.replace(/"/g, '""')}"`);

/** The tables with a row whose JSON contains `needle`. */
export async function tablesContaining(store: Store, needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const table of await tableNames(store)) {
    if (JSON.stringify(await rowsOf(store, table)).includes(needle)) hits.push(table);
  }
  return hits;
}

/** Every `table.column` with a stored value that contains `needle` as text. */
export async function columnsContaining(store: Store, needle: string): Promise<string[]> {
  const hits = new Set<string>();
  for (const table of await tableNames(store)) {
    for (const row of await rowsOf(store, table)) {
      for (const [column, value] of Object.entries(row)) {
        if (value !== null && value !== undefined && String(value).includes(needle)) hits.add(`${table}.${column}`);
      }
    }
  }
  return [...hits];
}
