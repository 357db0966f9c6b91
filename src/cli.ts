#!/usr/bin/env node
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./log.js";
import { PACKAGE_NAME, VERSION } from "./version.js";

const copyUsage = "agent-onboard copy --to postgres://user:password@host:5432/database";

const usage = `Usage: agent-onboard [serve|stdio|pages]
       ${copyUsage}
       agent-onboard version

  serve     HTTP server: MCP at /mcp, REST API and web pages (default)
  stdio     MCP over stdin/stdout, for desktop hosts
  pages     only the web pages (claim and invite links, sign-in, console) for
            the database at ONBOARD_DB or ONBOARD_DATABASE_URL: opens a claim
            link a stdio server handed out after its host has quit
  copy      copy the SQLite database at ONBOARD_DB into an empty PostgreSQL
            database, all of it or nothing, ids and signing key included (so
            issued tokens keep working). Stop the server first: what it writes
            after the copy starts is not copied. Exits 0 when copied; 1 when
            nothing was copied because the target already holds data or
            refused a row; 2 on a usage error, no SQLite file, or a target
            that cannot be reached
  version   print the version and exit (also --version, -v)

Configuration comes from environment variables (ONBOARD_DB, ONBOARD_PORT, ...); see README.md.`;

async function main(argv: string[]): Promise<number | undefined> {
  const command = argv[0] ?? "serve";
  if (command === "help" || command === "--help" || command === "-h") {
    process.stderr.write(`${usage}\n`);
    return 0;
  }
  if (command === "version" || command === "--version" || command === "-v") {
    process.stdout.write(`${PACKAGE_NAME} ${VERSION}\n`);
    return 0;
  }
  if (command !== "serve" && command !== "stdio" && command !== "pages" && command !== "copy") {
    process.stderr.write(`agent-onboard: unknown command "${command}"\n\n${usage}\n`);
    return 2;
  }
  try {
    const config = loadConfig();
    if (command === "copy") {
      const { runCopy } = await import("./copy-command.js");
      return await runCopy(argv.slice(1), config.dbFile, { usage, copyUsage });
    }
    const log = createLogger(config.logLevel);
    // Loaded here, so that `copy` and `version` do not load the whole server.
    if (command === "stdio") {
      const { runStdio } = await import("./transports/stdio.js");
      await runStdio(config, log);
    } else {
      const { runHttp } = await import("./transports/http.js");
      await runHttp(config, log, command === "serve");
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`agent-onboard: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  return undefined;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`agent-onboard: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
