import { toNodeHandler } from "@modelcontextprotocol/node";
import { createMcpHandler } from "@modelcontextprotocol/server";
import express, { type Request, type Response, Router } from "express";
import type { AnyToolDef } from "../../tools/tool.js";
import { isAppError } from "../errors.js";
import type { Logger } from "../log.js";
import { createServer } from "../server.js";
import type { Deps } from "../services/deps.js";
import { authenticateOAuth, isOAuthAccessToken } from "../services/oauth-tokens.js";
import { authenticate, type Caller } from "../services/tokens.js";
import { html, page } from "../web/html.js";
import { tokenFrom } from "../credentials.js";
import type { SignupLimiter } from "../rate-limit.js";

export interface McpHttpOptions {
  deps: Deps;
  tools: AnyToolDef[];
  log: Logger;
  limiter: SignupLimiter;
  /** The endpoint's own URL, shown to a browser that opens it, and the resource OAuth tokens must be issued for. */
  endpointUrl: string;
  /** The `WWW-Authenticate` value of a 401, naming the resource's OAuth metadata. */
  challenge?: (error?: string, description?: string) => string;
}

/** What the factory needs to build one request's server; carried in the SDK's pass-through authInfo. */
export interface RequestCaller {
  token?: string;
  /** Who `token` is: the router checked it before the SDK saw the request. */
  caller?: Caller;
  address: string;
}

const SIGN_IN_OVER_HTTP =
  'From now on send "Authorization: Bearer <accessToken>" with every request to this server: it keeps no session, and a request without the header is anonymous.';

/** The SDK's per-request handler: each request gets a server built for the caller `authInfo.extra` names. */
export function mcpHandler({ deps, log, tools, limiter }: Omit<McpHttpOptions, "endpointUrl">) {
  const readOnlyTools = tools.filter((tool) => tool.annotations.readOnlyHint);
  return createMcpHandler(
    ({ authInfo }) => {
      const caller = authInfo?.extra as RequestCaller | undefined;
      return createServer(
        deps,
        {
          token: caller?.token,
          checked: caller?.token && caller.caller ? { token: caller.token, caller: caller.caller } : undefined,
          log,
          signIn: () => SIGN_IN_OVER_HTTP,
          admitAccountCreation: () => limiter.take(caller?.address ?? "unknown"),
        },
        caller?.caller?.readOnly ? readOnlyTools : tools,
      );
    },
    { onerror: (error) => log.warn({ reason: error.message }, "MCP request failed in the SDK") },
  );
}

/** The SDK's pass-through authInfo for a caller. */
export const authInfoFor = (caller: RequestCaller) => ({ token: caller.token ?? "", clientId: "", scopes: [], extra: { ...caller } });

/** The tools a caller without an account may call: the two that make one. */
const ACCOUNTLESS_TOOLS = new Set(["agent_signup", "redeem_invite"]);

/** The tool a request calls, if it calls one of ours (a name that is no tool gets the SDK's own answer). */
const toolCalled = (body: unknown, tools: Map<string, AnyToolDef>) => {
  const message = body as { method?: unknown; params?: { name?: unknown } } | undefined;
  return message?.method === "tools/call" ? tools.get(String(message.params?.name)) : undefined;
};

const READ_ONLY_GRANT =
  "This host was given read-only access, and this tool changes things. Ask your human to connect the host again and allow everything: the host opens the page where they choose.";

const SIGN_IN_FIRST =
  "This tool acts as an account, and the request carries none. An MCP host connects with OAuth: it opens a page where your human signs in, or starts a new agent account, and approves. " +
  'An agent on its own calls agent_signup (or redeem_invite with an invite link) and sends "Authorization: Bearer <accessToken>" with every request.';

const rpcError = (res: Response, status: number, code: number, message: string) =>
  res.status(status).json({ jsonrpc: "2.0", error: { code, message }, id: null });

/**
 * Streamable HTTP at /mcp, stateless: every request builds its own server for
 * the caller its Authorization header names, so any process can serve any
 * request, and nothing a client sends can fill a table here. 2026-07-28
 * requests and 2025-era ones (served per request by the SDK) share it.
 */
export function mcpRouter(options: McpHttpOptions) {
  const { deps, log } = options;
  const handler = mcpHandler(options);
  const toolsByName = new Map(options.tools.map((tool) => [tool.name, tool]));
  const serve = toNodeHandler(handler, { onerror: (error) => log.error({ err: error }, "MCP request could not be served") });

  const router = Router();
  // Requests not yet answered; close() lets them finish first.
  let inFlight = 0;
  let onDrained: (() => void) | undefined;
  router.use((_req, res, next) => {
    inFlight += 1;
    res.once("close", () => {
      inFlight -= 1;
      if (inFlight === 0) onDrained?.();
    });
    next();
  });

  // A person who opens the printed URL in a browser gets a page, not a JSON-RPC error.
  router.get("/", (req, res, next) => {
    if (!req.accepts("html") || req.accepts(["text/event-stream", "html"]) === "text/event-stream") return next();
    res.type("html").send(
      page(
        "MCP endpoint",
        html`<h1>This is an MCP endpoint</h1>
<p><code>${options.endpointUrl}</code> is where MCP hosts (Claude, VS Code, Cursor and others) connect to agent-onboard over Streamable HTTP. Add it to your host as a remote MCP server; there is nothing to see here in a browser.</p>
<p>An agent without an account calls <code>agent_signup</code> and then sends its access token as <code>Authorization: Bearer …</code>.</p>
<p><a href="/">agent-onboard home</a></p>`,
      ),
    );
  });

  router.use(express.json({ limit: "1mb" }));
  router.all("/", async (req, res) => {
    const caller = await callerOf(req, res);
    if (!caller) return;
    // Connecting and discovery stay open to everyone; the first call that needs an account is where an OAuth host signs in.
    const tool = toolCalled(req.body, toolsByName);
    if (!caller.caller && tool && !ACCOUNTLESS_TOOLS.has(tool.name)) {
      // RFC 9728: the challenge sends an OAuth-capable host to sign in; an agent reads the body.
      if (options.challenge) res.setHeader("WWW-Authenticate", options.challenge());
      return rpcError(res, 401, -32001, SIGN_IN_FIRST);
    }
    if (caller.caller?.readOnly && tool && !tool.annotations.readOnlyHint) {
      // MCP's step-up: a 403 naming the scope needed, which the host may ask its human for.
      if (options.challenge) res.setHeader("WWW-Authenticate", options.challenge("insufficient_scope", READ_ONLY_GRANT));
      return rpcError(res, 403, -32001, READ_ONLY_GRANT);
    }
    (req as Request & { auth?: unknown }).auth = authInfoFor(caller);
    await serve(req, res, req.body);
  });

  /** A present token must be valid: it is never taken as anonymous. */
  async function callerOf(req: Request, res: Response): Promise<RequestCaller | undefined> {
    const address = options.limiter.addressOf(req);
    const token = tokenFrom(req);
    if (token === undefined) return { address };
    try {
      const caller = isOAuthAccessToken(token) ? await authenticateOAuth(deps, token, options.endpointUrl) : await authenticate(deps, token);
      return { token, address, caller };
    } catch (error) {
      if (!isAppError(error)) throw error;
      const reason = error.message.replace(/["\\]/g, "'");
      res.setHeader("WWW-Authenticate", options.challenge?.("invalid_token", reason) ?? `Bearer error="invalid_token", error_description="${reason}"`);
      rpcError(res, 401, -32001, `${error.message} (HTTP 401: the Authorization header of your MCP host's configuration holds this token.)`);
      return undefined;
    }
  }

  return {
    router,
    /** Gives requests in flight up to `graceMs` to be answered, then closes the handler. */
    async close(graceMs = 4_000) {
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          onDrained = resolve;
          setTimeout(resolve, graceMs).unref();
        });
      }
      await handler.close();
    },
  };
}
