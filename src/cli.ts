#!/usr/bin/env node
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./log.js";
import { runHttp } from "./transports/http.js";
import { runStdio } from "./transports/stdio.js";
import { PACKAGE_NAME, VERSION } from "./version.js";

const usage = `Usage: agent-onboard [serve|stdio]
       agent-onboard version

  serve     HTTP server: MCP at /mcp, REST API and web pages (default)
  stdio     MCP over stdin/stdout, for desktop hosts
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
  if (command !== "serve" && command !== "stdio") {
    process.stderr.write(`agent-onboard: unknown command "${command}"\n\n${usage}\n`);
    return 2;
  }
  try {
    const config = loadConfig();
    const log = createLogger(config.logLevel);
    if (command === "stdio") {
      await runStdio(config, log);
    } else {
      await runHttp(config, log);
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
