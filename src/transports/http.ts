import { createServer as createHttpServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import type { Store } from "../../db/client.js";
import { type Config, ConfigError, publicUrlFor } from "../config.js";
import { describeDatabase, openConfiguredStore } from "../database.js";
import type { Logger } from "../log.js";
import { selectTools } from "../server.js";
import type { Clock, Deps } from "../services/deps.js";
import { apiRouter } from "../web/api.js";
import { oauthServer } from "../web/oauth-server.js";
import { browserSession } from "../web/browser-session.js";
import { consoleRouter } from "../web/console.js";
import { errorHandler, notFound } from "../web/errors.js";
import { html, page } from "../web/html.js";
import { foreignOriginPage } from "../web/page-parts.js";
import { pagesRouter } from "../web/pages.js";
import { depsFrom } from "./deps.js";
import { allowedHosts, allowedOrigins, rebindingGuard } from "./guards.js";
import { mcpRouter } from "./mcp-http.js";
import { SignupLimiter } from "../rate-limit.js";
import { trustProxyFrom } from "../client-address.js";
import { startSweeper } from "./sweeper.js";
import { databaseIdentity } from "../services/database-identity.js";
import { PACKAGE_NAME, VERSION } from "../version.js";

/** Where a server says which database it serves. */
export const IDENTITY_PATH = "/.well-known/agent-onboard";

export interface HttpOptions {
  /** Serve /mcp and the REST API too (the `serve` command), or only the human pages (beside stdio). */
  full: boolean;
  /** An open database to use instead of the configured one (it is then not closed here). */
  store?: Store;
  clock?: Clock;
  /** How the authorization server fetches client metadata documents (tests); unset, from the network, never from private addresses. */
  clientMetadataFetch?: typeof fetch;
}

export interface HttpHandle {
  server: Server;
  port: number;
  /** This server's own base URL, e.g. http://127.0.0.1:8787. */
  url: string;
  publicUrl: string;
  deps: Deps;
  close(): Promise<void>;
}

const listen = (server: Server, port: number, host: string) =>
  new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });

/** Starts the HTTP server: MCP at /mcp, the seeds' REST paths, and the claim and invite pages. */
export async function startHttp(config: Config, log: Logger, options: HttpOptions): Promise<HttpHandle> {
  const tools = selectTools({ readOnly: config.readOnly, names: config.tools });
  const store = options.store ?? (await openConfiguredStore(config));
  const app = express();
  const server = createHttpServer(app);
  let port: number;
  try {
    port = await listen(server, config.port, config.host);
  } catch (error) {
    if (!options.store) await store.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") {
      throw new ConfigError(
        `ONBOARD_PORT: port ${config.port} on ${config.host} is already in use; stop what runs there, or pick another port (ONBOARD_PORT=0 picks a free one)`,
      );
    }
    if (code === "EADDRNOTAVAIL" || code === "EACCES") {
      throw new ConfigError(`ONBOARD_HOST/ONBOARD_PORT: cannot listen on ${config.host}:${config.port} (${code})`);
    }
    throw error;
  }

  const publicUrl = publicUrlFor(config, port);
  const deps = depsFrom(config, store.db, publicUrl, log);
  if (options.clock) deps.clock = options.clock;
  const limiter = new SignupLimiter(deps, config.signupsPerHour, trustProxyFrom(config.trustProxy));
  const hosts = allowedHosts(config, publicUrl, port);

  app.disable("x-powered-by");
  app.set("trust proxy", false);
  app.use(rebindingGuard(hosts, allowedOrigins(config, publicUrl, hosts), foreignOriginPage));
  app.get("/", (_req, res) => {
    res.type("html").send(
      page(
        "MCP server",
        html`<h1>agent-onboard</h1><p>An MCP server through which AI agents sign themselves up and hand their humans a claim link.</p>
${options.full ? html`<p>MCP endpoint: <code>${publicUrl}/mcp</code></p>` : html`<p>This server serves the claim and invite pages for an agent connected over stdio.</p>`}
<p><a class="button" href="/login">Sign in</a> to the console of an account you claimed or joined.</p>`,
      ),
    );
  });
  // Which database this server uses, as a keyed hash: a stdio server on the same one points its claim links here.
  const identity = await databaseIdentity(store.db);
  app.get(IDENTITY_PATH, (_req, res) => {
    res.json({ name: PACKAGE_NAME, version: VERSION, database: identity });
  });
  const browser = await browserSession(deps);
  app.use(pagesRouter(deps, limiter, browser));
  app.use(consoleRouter(deps, limiter, browser));

  const endpointUrl = `${publicUrl}/mcp`;
  const oauth = options.full ? await oauthServer({ deps, browser, limiter, log, mcpUrl: endpointUrl, clientMetadataFetch: options.clientMetadataFetch }) : undefined;
  const mcp = oauth ? mcpRouter({ deps, tools, log, limiter, endpointUrl, challenge: oauth.challenge }) : undefined;
  if (oauth && mcp) {
    app.use(oauth.router);
    app.use("/mcp", mcp.router);
    app.use(apiRouter(deps, limiter));
  }
  app.use(notFound);
  app.use(errorHandler(log));

  let closing: Promise<void> | undefined;
  return {
    server,
    port,
    url: `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`,
    publicUrl,
    deps,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        // Requests in flight get a few seconds to finish; then the rest are cut.
        const force = setTimeout(() => server.closeAllConnections(), 5_000);
        await mcp?.close();
        server.closeIdleConnections();
        await stopped;
        clearTimeout(force);
        if (!options.store) await store.close();
      })();
      return closing;
    },
  };
}

/** The `serve` command (or `pages`, the human pages alone): runs until SIGINT or SIGTERM, then drains and exits 0. */
export async function runHttp(config: Config, log: Logger, full = true): Promise<void> {
  const handle = await startHttp(config, log, { full });
  startSweeper(handle.deps, log);
  // Before the banner: whoever waits for it may signal at once, and must get a drain, not a kill.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log.info({ signal }, "shutting down");
      void handle.close().then(() => process.exit(0));
    });
  }
  log.info({ ...(full ? { mcp: `${handle.publicUrl}/mcp` } : {}), web: handle.publicUrl, database: describeDatabase(config) }, "agent-onboard listening");
  process.stdout.write(`agent-onboard is listening\n${full ? `  MCP: ${handle.publicUrl}/mcp\n` : ""}  Web: ${handle.publicUrl}/\n`);
}
