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

/** One MCP session's identity; adapters may change `token` between requests (HTTP headers). */
export interface Session {
  token?: string;
  /** Called when a tool binds the session to a new account. */
  onSignIn?: (accessToken: string) => void | Promise<void>;
  /** Called before a tool that creates an account runs; throws to refuse (rate limits). */
  admitAccountCreation?: () => void;
  log: Logger;
}

const notSignedIn = () =>
  new AppError(
    "unauthenticated",
    "You are not signed in. Call agent_signup to create your own account (or redeem_invite to join an organization through an invite link), then call this tool again.",
  );

/** An MCP server for one session: every tool, acting as whoever the session's token names. */
export function createServer(deps: Deps, session: Session): McpServer {
  const server = new McpServer({ name: SERVER_NAME, version: SERVER_VERSION });

  const ctx: ToolContext = {
    deps,
    async requireUser({ allowRevokedByClaim = false } = {}): Promise<Caller> {
      if (!session.token) throw notSignedIn();
      const caller = await authenticate(deps, session.token);
      if (caller.revokedByClaim && !allowRevokedByClaim) throw claimEndedAccess(caller.user.claimedAt);
      return caller;
    },
    async currentUser() {
      if (!session.token) return undefined;
      try {
        return await authenticate(deps, session.token);
      } catch (error) {
        if (isAppError(error)) return undefined;
        throw error;
      }
    },
    async signIn(accessToken) {
      session.token = accessToken;
      await session.onSignIn?.(accessToken);
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
      (args: unknown) => callTool(tool, args, ctx, session),
    );
  }
  return server;
}

async function callTool(tool: AnyToolDef, args: unknown, ctx: ToolContext, session: Session): Promise<CallToolResult> {
  const { log } = session;
  const started = performance.now();
  try {
    if (tool.createsAccount) session.admitAccountCreation?.();
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
