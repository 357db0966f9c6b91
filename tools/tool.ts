import type { ToolAnnotations } from "@modelcontextprotocol/server";
import type { z } from "zod";
import type { Deps } from "../src/services/deps.js";
import type { Caller } from "../src/services/tokens.js";

/** Who is calling, for tools and resources alike. */
export interface CallerContext {
  deps: Deps;
  /** The signed-in caller; fails with "call agent_signup first" when there is none. */
  requireUser(options?: { allowRevokedByClaim?: boolean }): Promise<Caller>;
  /** The signed-in caller, or undefined when the request carries no valid token. */
  currentUser(): Promise<Caller | undefined>;
}

/** What a tool handler may use: the services' deps and the caller's identity. */
export interface ToolContext extends CallerContext {
  /**
   * Makes the rest of this call (and, over stdio, the connection) act as a
   * new account; returns the sentence that tells the agent how to keep acting
   * as it (send the token over HTTP; over stdio it is saved for the agent).
   */
  signIn(accessToken: string): Promise<string>;
}

type ObjectSchema = z.ZodObject;

export interface ToolDef<Input extends ObjectSchema, Output extends ObjectSchema> {
  name: string;
  title: string;
  description: string;
  inputSchema: Input;
  outputSchema: Output;
  /** Creates a new account, so it counts against the per-address signup limit over HTTP. */
  createsAccount?: true;
  annotations: Required<Pick<ToolAnnotations, "readOnlyHint" | "destructiveHint" | "idempotentHint" | "openWorldHint">>;
  run(args: z.infer<Input>, ctx: ToolContext): Promise<ToolAnswer<z.infer<Output>>> | ToolAnswer<z.infer<Output>>;
}

/** `data` becomes structuredContent; `text` the one human-readable block. */
export interface ToolAnswer<Data> {
  data: Data;
  text: string;
  /** A claim URL of a new account, which the host is asked to open for its human where it can. */
  claimUrl?: string;
}

/** Text someone typed (a name, a description), quoted and kept short for a tool's answer: it reads as data, not as words of this server. */
export const asData = (text: string, max = 80) => JSON.stringify(text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** Over stdio, the sentence on when a claim link opens, to go after it in an answer; empty where the server serves the link itself. */
export const claimLinkNote = (ctx: ToolContext) => (ctx.deps.settings.claimLinkNote ? ` ${ctx.deps.settings.claimLinkNote}` : "");

// biome-ignore lint: the registry holds tools of every input and output type.
export type AnyToolDef = ToolDef<any, any>;
