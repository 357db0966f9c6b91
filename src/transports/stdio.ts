import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import type { Store } from "../../db/client.js";
import { describeDatabase, openConfiguredStore } from "../database.js";
import { type Config, publicUrlFor } from "../config.js";
import type { Logger } from "../log.js";
import { createServer, type Session, selectTools } from "../server.js";
import { depsFrom } from "./deps.js";
import { DrainingStdioTransport } from "./draining-stdio.js";
import { databaseIdentity } from "../services/database-identity.js";
import { IDENTITY_PATH, startHttp } from "./http.js";
import { startSweeper } from "./sweeper.js";

/** The token saved by an earlier agent_signup, so a restarted host is still the same agent. */
export function readCredentials(file: string, log: Logger): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
  try {
    const saved = JSON.parse(text) as { accessToken?: unknown };
    if (typeof saved.accessToken === "string" && saved.accessToken) return saved.accessToken;
  } catch {
    // Reported below.
  }
  log.warn({ file }, "credentials file is not valid JSON with an accessToken; starting signed out");
  return undefined;
}

/** Written to a temporary file and renamed, so a crash never leaves half a file; readable by the owner only. */
export function writeCredentials(file: string, accessToken: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ accessToken }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}

/** How a human can serve the pages for this database later: the same command line, with `pages` for `stdio`. */
function pagesCommand(config: Config, port: number): string {
  const database = config.databaseUrl ? "ONBOARD_DATABASE_URL=<the same as this server's>" : `ONBOARD_DB=${resolve(config.dbFile)}`;
  return `${database} ONBOARD_PORT=${port} node ${process.argv[1] ?? "dist/src/cli.js"} pages`;
}

/** Whether an agent-onboard server on this database already answers at the URL (an `npm start` beside this host). */
async function servesThisDatabase(url: string, store: Store): Promise<boolean> {
  try {
    const response = await fetch(`${url}${IDENTITY_PATH}`, { signal: AbortSignal.timeout(1_000) });
    const body = (await response.json()) as { database?: unknown };
    return body.database === (await databaseIdentity(store.db));
  } catch {
    return false;
  }
}

/**
 * Serves the claim and invite pages beside stdio, so a claim URL handed out
 * here opens; or, when an agent-onboard server on the same database already
 * holds the port, points the links at it. Either way the agent is told, with
 * each link, when it opens.
 */
async function servePages(config: Config, log: Logger, store: Store): Promise<{ publicUrl: string; claimLinkNote?: string }> {
  try {
    const pages = await startHttp(config, log, { full: false, store });
    // The pages live as long as the host keeps stdin open, not longer.
    pages.server.unref();
    process.stdin.once("end", () => {
      pages.server.close();
      pages.server.closeIdleConnections();
    });
    log.info({ web: pages.publicUrl }, "claim and invite pages served");
    if (config.publicUrl) return { publicUrl: pages.publicUrl };
    return {
      publicUrl: pages.publicUrl,
      claimLinkNote:
        "The link opens while this MCP server runs, that is while your host is open. If your human opens it after the host has quit, tell them to serve it first with: " +
        `${pagesCommand(config, pages.port)}`,
    };
  } catch (error) {
    const publicUrl = publicUrlFor(config, config.port);
    if (config.publicUrl) return { publicUrl };
    if (await servesThisDatabase(publicUrl, store)) {
      log.info({ web: publicUrl }, "claim and invite pages are served by the server already running on this database");
      return { publicUrl, claimLinkNote: `The link is served by the agent-onboard server already running at ${publicUrl} on the same database: it opens whenever that server runs.` };
    }
    log.warn(
      { port: config.port, reason: (error as Error).message },
      `cannot serve the claim and invite pages here; claim URLs (${publicUrl}/claim/…) open only once a server on this database runs there`,
    );
    return {
      publicUrl,
      claimLinkNote: `Nothing serves the link yet: port ${config.port} is taken by another program. Once it is free, your human serves the link with: ${pagesCommand(config, config.port)}`,
    };
  }
}

export async function runStdio(config: Config, log: Logger): Promise<void> {
  const tools = selectTools({ readOnly: config.readOnly, names: config.tools });
  const store = await openConfiguredStore(config);
  const { publicUrl, claimLinkNote } = await servePages(config, log, store);
  const deps = depsFrom(config, store.db, publicUrl, log, claimLinkNote);
  startSweeper(deps, log);
  const token = config.token ?? readCredentials(config.credentialsFile, log);
  // One connection, one caller: the token can change only through agent_signup or redeem_invite.
  const session: Session = {
    token,
    log,
    signIn: (accessToken) => {
      writeCredentials(config.credentialsFile, accessToken);
      log.info({ file: config.credentialsFile }, "saved the new account's access token");
      return "This server saved the token and acts as the new account from now on, also after a restart.";
    },
  };
  const connection = serveStdio(() => createServer(deps, session, tools), {
    transport: new DrainingStdioTransport(),
    onerror: (error) => log.warn({ reason: error.message }, "stdio transport error"),
  });

  // When the host closes stdin, requests already read still finish and answer;
  // the process then runs out of work and the db is closed on the way out.
  process.once("exit", () => {
    void store.close();
    log.info("stdio server stopped");
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      void connection.close().finally(() => process.exit(0));
    });
  }
  log.info(
    { database: describeDatabase(config), signedIn: Boolean(token), tokenFrom: config.token ? "ONBOARD_TOKEN" : token ? "credentials file" : "none" },
    "agent-onboard ready on stdio",
  );
}
