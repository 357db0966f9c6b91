import { randomUUID } from "node:crypto";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { allTools } from "../tools/index.js";
import type { AnyToolDef, ToolContext } from "../tools/tool.js";
import { AppError, isAppError } from "./errors.js";
import type { Logger } from "./log.js";
import type { Deps } from "./services/deps.js";
import { authenticate, type Caller, claimEndedAccess } from "./services/tokens.js";

export const SERVER_NAME = "agent-onboard";
export const SERVER_VERSION = "0.1.0";

export interface SessionOptions {
  /** The access token this session starts with, if any. */
  token?: string;
  /** Called when a tool binds the session to a new account. */
  onSignIn?: (accessToken: string) => void | Promise<void>;
  log: Logger;
}

const notSignedIn = () =>
  new AppError(
    "unauthenticated",
    "You are not signed in. Call agent_signup to create your own account (or redeem_invite to join an organization through an invite link), then call this tool again.",
  );

/** An MCP server for one session: every tool, acting as whoever the session's token names. */
export function createServer(deps: Deps, options: SessionOptions): McpServer {
  const server = new McpServer({ name: SERVER_NAME, version: SERVER_VERSION });
  let token = options.token;

  const ctx: ToolContext = {
    deps,
    async requireUser({ allowRevokedByClaim = false } = {}): Promise<Caller> {
      if (!token) throw notSignedIn();
      const caller = await authenticate(deps, token);
      if (caller.revokedByClaim && !allowRevokedByClaim) throw claimEndedAccess(caller.user.claimedAt);
      return caller;
    },
    async currentUser() {
      if (!token) return undefined;
      try {
        return await authenticate(deps, token);
      } catch (error) {
        if (isAppError(error)) return undefined;
        throw error;
      }
    },
    async signIn(accessToken) {
      token = accessToken;
      await options.onSignIn?.(accessToken);
    },
  };

  for (const tool of allTools) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: tool.inputSchema,
        outputSchema: tool.outputSchema,
        annotations: { title: tool.title, ...tool.annotations },
      },
      (args: unknown) => callTool(tool, args, ctx, options.log),
    );
  }
  return server;
}

async function callTool(tool: AnyToolDef, args: unknown, ctx: ToolContext, log: Logger): Promise<CallToolResult> {
  const started = performance.now();
  try {
    const { data, text } = await tool.run(args, ctx);
    log.info({ tool: tool.name, ms: Math.round(performance.now() - started) }, "tool call");
    return { structuredContent: data, content: [{ type: "text", text }] };
  } catch (error) {
    if (isAppError(error)) {
      log.info({ tool: tool.name, code: error.code, ms: Math.round(performance.now() - started) }, "tool call refused");
      return { isError: true, content: [{ type: "text", text: error.message }] };
    }
    const reference = randomUUID().slice(0, 8);
    log.error({ tool: tool.name, reference, err: error }, "tool call failed");
    return {
      isError: true,
      content: [
        {
          type: "text",
          text: `Internal error (reference ${reference}). Nothing was changed. Try again; if it keeps failing, report the reference.`,
        },
      ],
    };
  }
}
