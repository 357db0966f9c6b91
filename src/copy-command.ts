// `agent-onboard copy --to <postgres-url>`: moves a SQLite database into an empty PostgreSQL one.
import { CopyError, copySqliteToPostgres } from "../db/copy.js";

/** `copy --to <url>`: every line it prints names the target with its password masked. */
export async function runCopy(args: string[], dbFile: string, { usage, copyUsage }: { usage: string; copyUsage: string }): Promise<number> {
  if (args.length === 1 && (args[0] === "--help" || args[0] === "-h")) {
    process.stderr.write(`${usage}\n`);
    return 0;
  }
  const target = targetOf(args);
  if (typeof target === "string") {
    // The argument itself is never echoed: it may hold a password.
    process.stderr.write(`agent-onboard: copy: ${target} (usage: ${copyUsage})\n`);
    return 2;
  }
  const shown = masked(target.url);
  let report;
  try {
    report = await copySqliteToPostgres(dbFile, target.raw);
  } catch (error) {
    const known = error instanceof CopyError;
    const reason = error instanceof Error && !/params:/.test(error.message) ? error.message : "unexpected error";
    const message = hidePassword(known ? error.message : `nothing was copied (${reason})`, target.url);
    const subject = known && error.kind === "source" ? "ONBOARD_DB" : `copy to ${shown}`;
    process.stderr.write(`agent-onboard: ${subject}: ${message.replace(/\s*\n\s*/g, " ")}\n`);
    return known && (error.kind === "source" || error.kind === "target") ? 2 : 1;
  }
  const width = Math.max(...report.tables.map(({ table }) => table.length));
  const lines = [
    `Copied ${dbFile} into ${shown}: ${report.rows} row${report.rows === 1 ? "" : "s"} in ${report.tables.length} tables.`,
    ...report.tables.map(({ table, rows }) => `  ${table.padEnd(width)}  ${rows}`),
    `Next: start the server with ONBOARD_DATABASE_URL=${shown} (password hidden here),`,
    `and keep ONBOARD_SIGNING_KEYS as it was, if set.`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

/** The --to URL, or what is wrong with the arguments. */
function targetOf(args: string[]): { url: URL; raw: string } | string {
  let value: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--to" && value === undefined && i + 1 < args.length) value = args[++i];
    else if (arg.startsWith("--to=") && value === undefined) value = arg.slice("--to=".length);
    else if (arg === "--to") return "--to needs a PostgreSQL URL";
    else return `unexpected argument${arg.startsWith("-") ? ` ${arg.split("=")[0]}` : ""}`;
  }
  if (!value) return "--to <postgres-url> is required";
  try {
    const url = new URL(value);
    if (["postgres:", "postgresql:"].includes(url.protocol) && url.hostname !== "") return { url, raw: value };
  } catch {
    // falls through
  }
  return "--to must be a PostgreSQL URL such as postgres://user:password@db.example.com:5432/onboard";
}

function masked(url: URL): string {
  if (!url.password) return url.href;
  const copy = new URL(url.href);
  copy.password = "***";
  return copy.href;
}

/** Belt and braces: no error line carries the password, whatever a driver message quoted. */
function hidePassword(text: string, url: URL): string {
  if (!url.password) return text;
  let hidden = text;
  for (const secret of new Set([url.password, safeDecode(url.password)])) {
    if (secret) hidden = hidden.split(secret).join("***");
  }
  return hidden;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

