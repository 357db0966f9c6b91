import { randomUUID } from "node:crypto";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import express, { type Request, type Response, Router } from "express";
import { isAppError } from "../errors.js";
import type { Logger } from "../log.js";
import type { AnyToolDef } from "../../tools/tool.js";
import { createServer, type Session } from "../server.js";
import type { Deps } from "../services/deps.js";
import { authenticate } from "../services/tokens.js";
import { clientAddress, tokenFrom } from "./guards.js";
import type { SignupLimiter } from "./rate-limit.js";

export interface McpHttpOptions {
  deps: Deps;
  tools: AnyToolDef[];
  log: Logger;
  limiter: SignupLimiter;
  sessionIdleMs: number;
  maxSessions: number;
  /** Where clients find how to authenticate, sent with every 401. */
  resourceMetadataUrl: string;
}

interface OpenSession {
  transport: StreamableHTTPServerTransport;
  session: Session;
  address: string;
  lastSeen: number;
}

const rpcError = (res: Response, status: number, code: number, message: string) =>
  res.status(status).json({ jsonrpc: "2.0", error: { code, message }, id: null });

/** Streamable HTTP at /mcp: one McpServer per session, bound to the header's token or to the account it signed up. */
export function mcpRouter(options: McpHttpOptions) {
  const { deps, log } = options;
  const sessions = new Map<string, OpenSession>();
  const router = Router();
  // POSTs and DELETEs not yet answered; close() lets them finish before it closes the sessions.
  let inFlight = 0;
  let onDrained: (() => void) | undefined;
  router.use((req, res, next) => {
    if (req.method === "GET") return next(); // a server-to-client stream never ends by itself
    inFlight += 1;
    res.once("close", () => {
      inFlight -= 1;
      if (inFlight === 0) onDrained?.();
    });
    next();
  });
  router.use(express.json({ limit: "1mb" }));

  const sweep = setInterval(() => {
    const idleSince = Date.now() - options.sessionIdleMs;
    for (const [id, open] of sessions) {
      if (open.lastSeen < idleSince) {
        log.info({ session: id }, "closing idle MCP session");
        void open.transport.close();
      }
    }
  }, Math.max(50, Math.min(options.sessionIdleMs / 2, 60_000)));
  sweep.unref();

  /** A present token must be valid: it is never taken as anonymous. */
  async function checkToken(req: Request, res: Response): Promise<{ ok: boolean; token?: string }> {
    const token = tokenFrom(req);
    if (token === undefined) return { ok: true };
    try {
      await authenticate(deps, token);
      return { ok: true, token };
    } catch (error) {
      if (!isAppError(error)) throw error;
      res.setHeader(
        "WWW-Authenticate",
        `Bearer error="invalid_token", error_description="${error.message.replace(/["\\]/g, "'")}", resource_metadata="${options.resourceMetadataUrl}"`,
      );
      rpcError(res, 401, -32001, error.message);
      return { ok: false };
    }
  }

  function existing(req: Request, res: Response, token: string | undefined): OpenSession | undefined {
    const id = req.headers["mcp-session-id"];
    const open = typeof id === "string" ? sessions.get(id) : undefined;
    if (!open) {
      rpcError(res, 404, -32001, "Session not found: it expired or was closed. Start a new session with initialize.");
      return undefined;
    }
    open.lastSeen = Date.now();
    open.address = clientAddress(req);
    if (token) open.session.token = token;
    return open;
  }

  router.post("/", async (req, res) => {
    const auth = await checkToken(req, res);
    if (!auth.ok) return;
    if (req.headers["mcp-session-id"] !== undefined) {
      const open = existing(req, res, auth.token);
      if (open) await open.transport.handleRequest(req, res, req.body);
      return;
    }
    if (!isInitializeRequest(req.body)) {
      rpcError(res, 400, -32000, "No Mcp-Session-Id header: send initialize first to open a session.");
      return;
    }
    if (sessions.size >= options.maxSessions) {
      res.setHeader("Retry-After", "60");
      rpcError(res, 503, -32000, "Too many open sessions on this server; retry in a minute.");
      return;
    }
    const open: OpenSession = {
      session: { token: auth.token, log },
      address: clientAddress(req),
      lastSeen: Date.now(),
      transport: new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        onsessioninitialized: (id) => {
          sessions.set(id, open);
        },
      }),
    };
    open.session.admitAccountCreation = () => options.limiter.take(open.address);
    open.transport.onclose = () => {
      if (open.transport.sessionId) sessions.delete(open.transport.sessionId);
    };
    await createServer(deps, open.session, options.tools).connect(open.transport);
    await open.transport.handleRequest(req, res, req.body);
  });

  const followUp = async (req: Request, res: Response) => {
    const auth = await checkToken(req, res);
    if (!auth.ok) return;
    const open = existing(req, res, auth.token);
    if (open) await open.transport.handleRequest(req, res);
  };
  router.get("/", followUp);
  router.delete("/", followUp);

  return {
    router,
    sessionCount: () => sessions.size,
    /** Ends the server-to-client streams, gives requests in flight up to `graceMs` to be answered, then closes every session. */
    async close(graceMs = 4_000) {
      clearInterval(sweep);
      for (const open of sessions.values()) open.transport.closeStandaloneSSEStream();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          onDrained = resolve;
          setTimeout(resolve, graceMs).unref();
        });
      }
      await Promise.all([...sessions.values()].map((open) => open.transport.close()));
    },
  };
}
