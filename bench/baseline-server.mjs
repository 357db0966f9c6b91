// The baseline every benchmark figure is divided by: a bare SDK McpServer
// with one no-op tool and nothing else (no db, no auth, no logging).
//
//   node bench/baseline-server.mjs stdio   MCP over stdin/stdout
//   node bench/baseline-server.mjs http    Streamable HTTP on 127.0.0.1, a free port;
//                                          prints "MCP: <url>/mcp" on stdout
//
// bench/run.ts also imports createBaselineServer() for the in-memory figures.
import { randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

export const BASELINE_TOOL = "noop";

export function createBaselineServer() {
  const server = new McpServer({ name: "bench-baseline", version: "0.0.0" });
  server.registerTool(
    BASELINE_TOOL,
    { title: "No-op", description: "Does nothing.", inputSchema: z.object({}) },
    async () => ({ content: [{ type: "text", text: "ok" }] }),
  );
  return server;
}

async function serveStdio() {
  await createBaselineServer().connect(new StdioServerTransport());
}

/** Stateful Streamable HTTP, one McpServer per session, on the SDK's own express pairing. */
async function serveHttp() {
  // Loaded only here, so that the stdio cold start does not pay for express.
  const { createMcpExpressApp } = await import("@modelcontextprotocol/sdk/server/express.js");
  const { StreamableHTTPServerTransport } = await import("@modelcontextprotocol/sdk/server/streamableHttp.js");
  const app = createMcpExpressApp({ host: "127.0.0.1" });
  const sessions = new Map();
  app.post("/mcp", async (req, res) => {
    const id = req.headers["mcp-session-id"];
    if (typeof id === "string") {
      const transport = sessions.get(id);
      if (!transport) {
        res.status(404).json({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null });
        return;
      }
      await transport.handleRequest(req, res, req.body);
      return;
    }
    if (!isInitializeRequest(req.body)) {
      res.status(400).json({ jsonrpc: "2.0", error: { code: -32000, message: "No session" }, id: null });
      return;
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (sessionId) => sessions.set(sessionId, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await createBaselineServer().connect(transport);
    await transport.handleRequest(req, res, req.body);
  });
  const followUp = async (req, res) => {
    const transport = sessions.get(req.headers["mcp-session-id"]);
    if (!transport) {
      res.status(404).end();
      return;
    }
    await transport.handleRequest(req, res);
  };
  app.get("/mcp", followUp);
  app.delete("/mcp", followUp);
  const server = app.listen(0, "127.0.0.1", () => {
    process.stdout.write(`MCP: http://127.0.0.1:${server.address().port}/mcp\n`);
  });
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => {
      server.close();
      server.closeAllConnections();
      process.exit(0);
    });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const mode = process.argv[2];
  if (mode === "stdio") await serveStdio();
  else if (mode === "http") await serveHttp();
  else {
    process.stderr.write("usage: node bench/baseline-server.mjs stdio|http\n");
    process.exitCode = 2;
  }
}
