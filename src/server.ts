import { randomUUID } from "node:crypto";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { type CallToolResult, ErrorCode, McpError, type ReadResourceResult } from "@modelcontextprotocol/sdk/types.js";
import { allPrompts } from "../prompts/index.js";
import { fixedResources, templateResources } from "../resources/index.js";
import { allTools } from "../tools/index.js";
import type { AnyToolDef, ToolContext } from "../tools/tool.js";
import { ConfigError } from "./config.js";
import { AppError, isAppError } from "./errors.js";
import type { Logger } from "./log.js";
import { getClaimStatus } from "./services/claims.js";
import type { Deps } from "./services/deps.js";
import { authenticate, type Caller, claimEndedAccess } from "./services/tokens.js";

export const SERVER_NAME = "agent-onboard";
export const SERVER_VERSION = "0.1.0";

/** Sent at initialize: the whole flow in a few lines, so an agent knows where to start. */
export const INSTRUCTIONS = `agent-onboard lets you, an AI agent, get your own account on this platform without waiting for a human.
1. Call get_current_user. If you are not signed in, call agent_signup once; this session then acts as your new account.
2. Give your human the claimUrl from agent_signup and ask them to open it in a browser to take ownership of the account. Never show your accessToken.
3. Until they claim it, and afterwards if they let you, keep working: create_stack and list_stacks for stacks, create_invite_link to invite teammates (admins only), redeem_invite to join an organization through someone else's invite link.
4. Call get_claim_status to learn whether your human claimed the account and whether you may keep working; if they ended your access it is the one tool that still answers.
Read onboard://user and onboard://organizations/{name} for your account and organizations.`;

/** One MCP session's identity; adapters may change `token` between requests (HTTP headers). */
export interface Session {
  token?: string;
  /** Called when a tool binds the session to a new account. */
  onSignIn?: (accessToken: string) => void | Promise<void>;
  /** Called before a tool that creates an account runs; throws to refuse (rate limits). */
  admitAccountCreation?: () => void;
  log: Logger;
}

export interface ToolSelection {
  /** ONBOARD_READ_ONLY: only tools without side effects. */
  readOnly?: boolean;
  /** ONBOARD_TOOLS: only these tools, by name. */
  names?: string[];
}

/** The tools a server exposes; an unknown name is a configuration error naming it. */
export function selectTools({ readOnly = false, names }: ToolSelection = {}): AnyToolDef[] {
  const unknown = names?.filter((name) => !allTools.some((tool) => tool.name === name)) ?? [];
  if (unknown.length) {
    throw new ConfigError(`ONBOARD_TOOLS: unknown tool ${unknown.join(", ")} (known: ${allTools.map((tool) => tool.name).join(", ")})`);
  }
  return allTools.filter((tool) => (!readOnly || tool.annotations.readOnlyHint) && (!names || names.includes(tool.name)));
}

/** How often a session that offered a claim URL looks for the claim; any process may record it. */
const CLAIM_POLL_MS = 1_000;

const notSignedIn = () =>
  new AppError(
    "unauthenticated",
    "You are not signed in. Call agent_signup to create your own account (or redeem_invite to join an organization through an invite link), then call this tool again.",
  );

/** An MCP server for one session: the selected tools, the onboard prompt and the account resources. */
export function createServer(deps: Deps, session: Session, tools: AnyToolDef[] = allTools): McpServer {
  const server = new McpServer(
    { name: SERVER_NAME, version: SERVER_VERSION },
    { instructions: INSTRUCTIONS, capabilities: { logging: {} } },
  );
  const claimWatches = new Set<NodeJS.Timeout>();
  server.server.onclose = () => {
    for (const watch of claimWatches) clearInterval(watch);
    claimWatches.clear();
  };

  const baseContext: Omit<ToolContext, "offerClaimUrl"> = {
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

  /** URL-mode elicitation: the client opens the claim page for its human, and hears when the claim is done. */
  const contextFor = (requestId: string | number): ToolContext => ({
    ...baseContext,
    async offerClaimUrl(claimUrl) {
      if (!server.server.getClientCapabilities()?.elicitation?.url) return false;
      const { user } = await baseContext.requireUser();
      const elicitationId = randomUUID();
      server.server
        .elicitInput(
          {
            mode: "url",
            elicitationId,
            url: claimUrl,
            message: "Your agent created an account and asks you to claim it: open this page to take ownership.",
          },
          { relatedRequestId: requestId, timeout: 10 * 60_000 },
        )
        .then(
          (answer) => session.log.info({ action: answer.action }, "claim URL offered to the human"),
          (error: Error) => session.log.info({ reason: error.message }, "claim URL offer went unanswered"),
        );
      const complete = server.server.createElicitationCompletionNotifier(elicitationId);
      const watch = setInterval(() => {
        const status = getClaimStatus(deps, user.id);
        if (!status.claimed && new Date(status.claimTokenValidUntil) > deps.clock()) return;
        clearInterval(watch);
        claimWatches.delete(watch);
        if (status.claimed) complete().catch((error: Error) => session.log.info({ reason: error.message }, "claim completion not delivered"));
      }, CLAIM_POLL_MS);
      watch.unref();
      claimWatches.add(watch);
      return true;
    },
  });

  for (const tool of tools) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: tool.inputSchema,
        outputSchema: tool.outputSchema,
        annotations: { title: tool.title, ...tool.annotations },
      },
      (args: unknown, extra: { requestId: string | number }) => callTool(tool, args, contextFor(extra.requestId), session),
    );
  }

  for (const prompt of allPrompts) {
    server.registerPrompt(
      prompt.name,
      { title: prompt.title, description: prompt.description, argsSchema: prompt.argsSchema },
      (args) => ({ description: prompt.description, messages: prompt.messages(args) }),
    );
  }

  const asJson = (uri: URL, data: unknown): ReadResourceResult => ({
    contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify(data, null, 2) }],
  });
  const readOrRefuse = async (read: () => Promise<unknown>, uri: URL) => {
    try {
      return asJson(uri, await read());
    } catch (error) {
      if (isAppError(error)) throw new McpError(ErrorCode.InvalidRequest, error.message);
      throw error;
    }
  };
  const resourceContext = contextFor("resource");
  for (const resource of fixedResources) {
    server.registerResource(
      resource.name,
      resource.uri,
      { title: resource.title, description: resource.description, mimeType: "application/json" },
      (uri) => readOrRefuse(() => resource.read(resourceContext), uri),
    );
  }
  for (const resource of templateResources) {
    server.registerResource(
      resource.name,
      new ResourceTemplate(resource.uriTemplate, {
        list: async () => ({
          resources: (await resource.list(resourceContext)).map((entry) => ({ ...entry, mimeType: "application/json" })),
        }),
      }),
      { title: resource.title, description: resource.description, mimeType: "application/json" },
      (uri, variables) => readOrRefuse(() => resource.read(resourceContext, variables), uri),
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
