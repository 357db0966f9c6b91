// The baseline every benchmark figure is divided by: a bare SDK v2 McpServer
// with one no-op tool and nothing else (no db, no auth, no logging), served
// through the same SDK entry points as agent-onboard.
//
//   node bench/baseline-server.mjs stdio   MCP over stdin/stdout through serveStdio
//   node bench/baseline-server.mjs http    stateless Streamable HTTP through createMcpHandler +
//                                          toNodeHandler on express, 127.0.0.1, a free port;
//                                          prints "MCP: <url>/mcp" on stdout
//
// bench/env.ts also imports createBaselineHandler() for the in-process figures.
import { pathToFileURL } from "node:url";
import { createMcpHandler, McpServer } from "@modelcontextprotocol/server";
import { z } from "zod";

export const BASELINE_TOOL = "noop";

/** The factory: one fresh instance per HTTP request, one per stdio connection. */
export function createBaselineServer() {
  const server = new McpServer({ name: "bench-baseline", version: "0.0.0" });
  server.registerTool(
    BASELINE_TOOL,
    { title: "No-op", description: "Does nothing.", inputSchema: z.object({}) },
    async () => ({ content: [{ type: "text", text: "ok" }] }),
  );
  return server;
}

/** The stateless HTTP handler, serving 2026-07-28 and 2025-era requests (the SDK's default, as agent-onboard's). */
export const createBaselineHandler = () => createMcpHandler(createBaselineServer);

async function runStdio() {
  const { serveStdio } = await import("@modelcontextprotocol/server/stdio");
  serveStdio(createBaselineServer);
}

/**
 * Stateless Streamable HTTP mounted as agent-onboard mounts it: express,
 * express.json(), then toNodeHandler(handler)(req, res, req.body); with the
 * SDK's localhost Host/Origin guards in front, as its docs ask of a bare server.
 */
async function runHttp() {
  // Loaded only here, so that the stdio cold start does not pay for express.
  const { default: express } = await import("express");
  const { localhostHostValidation, localhostOriginValidation, toNodeHandler } = await import("@modelcontextprotocol/node");
  const handler = createBaselineHandler();
  const serve = toNodeHandler(handler);
  const validateHost = localhostHostValidation();
  const validateOrigin = localhostOriginValidation();
  const app = express();
  app.disable("x-powered-by");
  app.use("/mcp", (req, res, next) => {
    if (validateHost(req, res) && validateOrigin(req, res)) next();
  });
  app.use("/mcp", express.json({ limit: "1mb" }));
  app.all("/mcp", async (req, res) => {
    await serve(req, res, req.body);
  });
  const server = app.listen(0, "127.0.0.1", () => {
    process.stdout.write(`MCP: http://127.0.0.1:${server.address().port}/mcp\n`);
  });
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => {
      server.close();
      server.closeAllConnections();
      void handler.close().finally(() => process.exit(0));
    });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const mode = process.argv[2];
  if (mode === "stdio") await runStdio();
  else if (mode === "http") await runHttp();
  else {
    process.stderr.write("usage: node bench/baseline-server.mjs stdio|http\n");
    process.exitCode = 2;
  }
}
