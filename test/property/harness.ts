/**
 * What the property tests of the MCP tools and of the REST routes share: the
 * bounds, the db snapshot a failed call must leave as it was, the property
 * runner with shortened counterexamples, and the well-formed arbitraries.
 */
import { createHash } from "node:crypto";
import { getTableColumns, getTableName, type Table } from "drizzle-orm";
import fc from "fast-check";
import { expect } from "vitest";
import type { Store } from "../../db/client.js";

/** How long one call or request may take before it counts as a hang. */
export const BOUND_MS = 5_000;
export const STACK_TRACE = /\n\s+at /;
export const STRONG_PASSWORD = "Corr3ct-Horse!";
export const MB = 1 << 20;

// ---------------------------------------------------------------- arbitraries

/**
 * Text that has tripped parsers, databases and pages before: blanks, NUL,
 * SQL, bidi and zero-width marks, emoji, combining marks, lone surrogates,
 * number- and JSON-looking words, prototype keys, bad percent-encoding, paths,
 * markup and template syntax.
 */
export const nastyStrings = [
  "",
  " ",
  "\t\n\r",
  "\u0000",
  "a\u0000b",
  "'; DROP TABLE users; --",
  "Robert'); DROP TABLE stacks;--",
  "\" OR 1=1 --",
  "\u202eevil\u202c",
  "\u200f\u200e\u200b\ufeff",
  "😀",
  "👩‍👩‍👧‍👦🏳️‍🌈",
  "e\u0301\u0302\u0303\u0304",
  "\ud800",
  "\udfff",
  "a\ud800b\udc00c",
  "NaN",
  "Infinity",
  "-1",
  "0",
  "1e309",
  "null",
  "true",
  "[]",
  "{}",
  "__proto__",
  "constructor",
  "%00",
  "%",
  "%E0%A4%A",
  "../../etc/passwd",
  "<script>alert(1)</script>",
  "${7*7}{{7*7}}",
  "\\",
  "ＡＢＣ",
];

/**
 * `valid` values (so that successes happen too), valid ones with fields
 * replaced or added (`keys` of `valid` or an `extraKey`, set to a
 * `hostileValue`), wholly random objects, and `nonObject` values.
 */
export function mutationsOf(
  valid: fc.Arbitrary<Record<string, unknown>>,
  keys: string[],
  hostile: { extraKey: fc.Arbitrary<string>; hostileValue: fc.Arbitrary<unknown>; nonObject: fc.Arbitrary<unknown> },
): fc.Arbitrary<unknown> {
  const { extraKey, hostileValue, nonObject } = hostile;
  const fieldKey = keys.length ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...keys) }, { weight: 1, arbitrary: extraKey }) : extraKey;
  const mutated = fc
    .tuple(valid, fc.dictionary(fieldKey, hostileValue, { minKeys: 1, maxKeys: 3 }))
    .map(([base, changes]) => ({ ...base, ...changes }));
  return fc.oneof(
    { weight: 4, arbitrary: valid },
    { weight: 5, arbitrary: mutated },
    { weight: 1, arbitrary: fc.dictionary(extraKey, hostileValue, { maxKeys: 5 }) },
    { weight: 1, arbitrary: nonObject },
  );
}

export const name = (max: number) => fc.stringMatching(new RegExp(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,${max - 1}}$`));
export const isoDate = (from: number, to: number) => fc.integer({ min: from, max: to }).map((ms) => new Date(ms).toISOString());
export const strongPassword = fc
  .tuple(fc.constantFrom("Aa1!", "Zq9$", "Mx5#", "Ü7ß%"), fc.stringMatching(/^[A-Za-z0-9!#%&*+-]{6,20}$/))
  .map(([head, tail]) => head + tail);
export const simpleEmail = fc
  .tuple(fc.stringMatching(/^[a-z][a-z0-9]{2,10}$/), fc.nat(1_000_000), fc.constantFrom("example.com", "EXAMPLE.org", "mail.test"))
  .map(([local, n, domain]) => `${local}.${n}@${domain}`);

// ------------------------------------------------------------------- harness

/** A column left out of `dbState`'s hash (its values hashed as null); row counts and every other column still count. */
export interface MaskedColumn {
  table: string;
  column: string;
}

/** When a token was last used: every authenticated call, refused or not, may move it, and it is no data of the caller's. */
const BOOKKEEPING = new Set(["access_tokens.last_used_at"]);

/** Every row of every table, as the engine's driver reads them, by table name in order. */
type Snapshot = Array<{ name: string; columns: string[]; rows: Record<string, unknown>[] }>;

async function snapshotOf(store: Store): Promise<Snapshot> {
  const tables = (Object.values(store.db.tables) as Table[])
    .map((table) => ({ name: getTableName(table), columns: Object.values(getTableColumns(table)).map((column) => column.name) }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const rows = await Promise.all(tables.map(({ name }) => store.query(`SELECT * FROM "${name}"`)));
  return tables.map((table, at) => ({ ...table, rows: rows[at]! }));
}

/**
 * Row counts and a hash of every row: any write shows up here (but in a
 * `masked` column). Rows are hashed in the sorted order of their text, so
 * that the order an engine happens to return them in cannot make two equal
 * states differ.
 */
function stateOf(snapshot: Snapshot, masked?: MaskedColumn): { counts: Record<string, number>; hash: string } {
  if (masked && !snapshot.some(({ name, columns }) => name === masked.table && columns.includes(masked.column))) {
    throw new Error(`no column ${masked.column} in ${masked.table}`);
  }
  const hash = createHash("sha256");
  const counts: Record<string, number> = {};
  for (const { name, rows } of snapshot) {
    const maskHere = masked?.table === name ? masked.column : undefined;
    const left = (column: string) => column === maskHere || BOOKKEEPING.has(`${name}.${column}`);
    const texts = rows.map((row) => JSON.stringify(Object.entries(row).map(([column, value]) => (left(column) ? null : value))));
    hash.update(`\u0000${name}\u0000`);
    for (const text of texts.sort()) hash.update(text);
    counts[name] = rows.length;
  }
  return { counts, hash: hash.digest("hex") };
}

/** Row counts and a hash of every row of every table: any write shows up here (but in a `masked` column). */
export async function dbState(store: Store, masked?: MaskedColumn): Promise<{ counts: Record<string, number>; hash: string }> {
  return stateOf(await snapshotOf(store), masked);
}

const ACCEPT_ERROR: MaskedColumn = { table: "org_invites", column: "accept_error" };

/** Refusals of accept that the invite keeps as its acceptError (README, "Email invites"); any other refusal records nothing. */
export const RECORDED_REFUSAL = /expired at|was canceled|already a member of/;

const acceptErrors = (snapshot: Snapshot) =>
  new Map(snapshot.find(({ name }) => name === "org_invites")!.rows.map((row) => [row.uid as string, row.accept_error as string | null]));

/**
 * The db before an accept of an org invite: the one write a refused accept may
 * make is the acceptError of the invite it named, set to the refusal's own
 * message, when that refusal is for an expired or canceled invite or a caller
 * who is already a member. `expectRefusalKept` checks exactly that.
 */
export async function acceptSnapshot(store: Store) {
  const before = await snapshotOf(store);
  const full = stateOf(before);
  const masked = stateOf(before, ACCEPT_ERROR);
  const errors = acceptErrors(before);
  return {
    full,
    async expectRefusalKept(message: string, requested: string, what: string) {
      const now = await snapshotOf(store);
      if (stateOf(now).hash === full.hash) return;
      expect(stateOf(now, ACCEPT_ERROR), `${what} changed more than an invite's acceptError`).toEqual(masked);
      const after = acceptErrors(now);
      const changed = [...after].filter(([uid, error]) => errors.get(uid) !== error);
      expect(changed.length, `${what} changed the acceptError of ${changed.length} invites`).toBe(1);
      const [uid, recorded] = changed[0]!;
      expect(message, `${what} recorded an acceptError for a refusal that keeps none`).toMatch(RECORDED_REFUSAL);
      expect(recorded, `${what} recorded an acceptError other than its own message`).toBe(message);
      expect(requested, `${what} recorded an acceptError on invite ${uid}, which it did not name`).toContain(uid);
    },
  };
}

/** Cuts every long line (a counterexample may hold 1 MB strings) and every long run of one kind of text. */
export const shorten = (text: string) =>
  text
    .split("\n")
    .map((line) => (line.length > 1_500 ? `${line.slice(0, 1_500)}…(${line.length} chars)` : line))
    .join("\n")
    .replace(/[^\s"]{300,}/g, (s) => `${s.slice(0, 60)}…(${s.length} chars)`);

/** fc.check, with counterexamples shortened; `examples` run first, so that an outcome a test insists on always happens. */
export async function holds<Ts extends [unknown, ...unknown[]]>(property: fc.IAsyncProperty<Ts>, numRuns: number, examples: Ts[] = []): Promise<void> {
  const details = await fc.check(property, { numRuns, examples, markInterruptAsFailure: true });
  if (details.failed) {
    const report = `${fc.defaultReportMessage(details) ?? "property failed"}\n${String((details.errorInstance as Error | undefined)?.message ?? details.errorInstance)}`;
    throw new Error(shorten(report).slice(0, 6_000));
  }
}
