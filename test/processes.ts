import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Client, type ClientCapabilities } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import {
  type FreshDatabase,
  freshDatabase,
  postgresDatabase,
  postgresTestRun,
  quoteIdentifier,
  testEngine,
  uniqueId,
  withAdmin,
} from "./databases.js";

/** Mail from server processes goes to a temporary folder, never into the project's data/. */
const scratchMailDir = () => join(mkdtempSync(join(tmpdir(), "onboard-mail-")), "mail");

/** The project root, where `npm run …` works. */
export const projectRoot = fileURLToPath(new URL("..", import.meta.url));
export const cliPath = fileURLToPath(new URL("../dist/src/cli.js", import.meta.url));

/**
 * A database of the engine under test that nobody has migrated yet, for
 * processes that are to race on the migrations as they start: on SQLite a
 * file that does not exist yet (as freshDatabase gives it); on PostgreSQL an
 * empty database rather than a copy of the migrated template, named with the
 * run's prefix so that the run's teardown drops it if the test does not.
 */
export async function unmigratedDatabase(): Promise<FreshDatabase> {
  if (testEngine === "sqlite") return freshDatabase();
  const run = postgresTestRun();
  const name = `${run.prefix}unmigrated_${uniqueId()}`;
  await withAdmin(run.adminUrl, (client) => client.query(`CREATE DATABASE ${quoteIdentifier(name)}`));
  return postgresDatabase(run, name);
}

export interface StdioSession {
  client: Client;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  close(): Promise<void>;
}

export interface LaunchOptions {
  /** The revision the host speaks: 2026-07-28 (the default) or a 2025-era host's initialize. */
  era?: "modern" | "legacy";
  capabilities?: ClientCapabilities;
}

/** Launches `npm run stdio` as a desktop host would and connects the SDK v2 client to it. */
export async function launchStdio(env: Record<string, string>, { era = "modern", capabilities = {} }: LaunchOptions = {}): Promise<StdioSession> {
  const transport = new StdioClientTransport({
    command: "npm",
    args: ["run", "stdio"],
    cwd: projectRoot,
    env: { LOG_LEVEL: "info", ONBOARD_MAIL_DIR: scratchMailDir(), ...env },
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const client = new Client(
    { name: "stdio-test", version: "1.0.0" },
    { capabilities, ...(era === "modern" ? { versionNegotiation: { mode: { pin: "2026-07-28" } } } : {}) },
  );
  await client.connect(transport);
  return { client, stderr: () => stderr, close: () => client.close() };
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI with the given environment and stdin, and waits for it to exit. */
export function runCli(args: string[], env: Record<string, string>, input = ""): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ONBOARD_MAIL_DIR: scratchMailDir(), ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

export interface Serving {
  child: ChildProcess;
  /** The origin the server printed, e.g. http://127.0.0.1:41234 */
  url: string;
  /** The MCP endpoint it printed: `${url}/mcp`. */
  mcpUrl: string;
  /** Everything the server wrote to stdout (the banner) so far. */
  stdout(): string;
  /** Everything the server wrote to stderr (JSON log lines) so far. */
  stderr(): string;
  /** Error-level (and worse) log lines: an unexpected failure (SQLITE_BUSY, a PostgreSQL serialization failure) escaping as a 500. */
  errorLines(): string[];
  /** Resolves with the exit code (null when a signal ended it) once the process has exited. */
  exited: Promise<number | null>;
  /**
   * Sends `signal` (SIGTERM unless told), then SIGKILL if the process has not
   * exited within 5 s, and resolves with the exit code as `exited` does.
   */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** How long `serve` may take to print its URL before it is killed. */
const SERVE_START_MS = 15_000;
/** How long `stop` waits after its signal before it sends SIGKILL. */
const STOP_GRACE_MS = 5_000;

/**
 * Starts the built `agent-onboard serve` on a free port (ONBOARD_PORT=0) and
 * waits for the "MCP: <url>/mcp" line it prints. `env` adds to (or overrides)
 * PATH, HOME, ONBOARD_PORT=0 and LOG_LEVEL=info; pass a database's `env`
 * (freshDatabase) for a database of the test's own. A server that prints no
 * URL in time is killed and rejects.
 */
export function startServe(env: Record<string, string>, command: "serve" | "pages" = "serve"): Promise<Serving> {
  const child = spawn(process.execPath, [cliPath, command], {
    cwd: projectRoot,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      ONBOARD_PORT: "0",
      // REST signups here skip the proof of work, and mail goes unlimited: both have tests of their own.
      ONBOARD_SIGNUP_CHALLENGE_BITS: "0",
      ONBOARD_MAILS_PER_SENDER: "0",
      ONBOARD_MAILS_PER_RECIPIENT: "0",
      LOG_LEVEL: "info",
      ONBOARD_MAIL_DIR: scratchMailDir(),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill(signal);
    const killer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    try {
      return await exited;
    } finally {
      clearTimeout(killer);
    }
  };
  const errorLines = () =>
    stderr.split("\n").filter((line) => {
      try {
        return (JSON.parse(line) as { level?: number }).level! >= 50;
      } catch {
        // Not a log line: a crash trace counts, Node's own "(node:…) Warning" lines do not.
        return line.trim() !== "" && !/^\(node:\d+\)|^\(Use `node --trace/.test(line);
      }
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`serve printed no URL within ${SERVE_START_MS / 1000} s.\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, SERVE_START_MS);
    const look = () => {
      // `pages` prints no MCP line: its web address is the URL then.
      const found = /Web: (http:\/\/\S+?)\/\s/.exec(stdout);
      if (!found) return;
      clearTimeout(timer);
      child.stdout!.off("data", look);
      const url = found[1]!;
      resolve({ child, url, mcpUrl: `${url}/mcp`, stdout: () => stdout, stderr: () => stderr, errorLines, exited, stop });
    };
    child.stdout!.on("data", look);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${child.exitCode ?? child.signalCode}) before printing its URL.\nstderr: ${stderr}`));
    });
  });
}
