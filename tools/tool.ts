import type { ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import type { Deps } from "../src/services/deps.js";
import type { Caller } from "../src/services/tokens.js";

/** What a tool handler may use: the services' deps and the caller's identity. */
export interface ToolContext {
  deps: Deps;
  /** The signed-in caller; fails with "call agent_signup first" when there is none. */
  requireUser(options?: { allowRevokedByClaim?: boolean }): Promise<Caller>;
  /** The signed-in caller, or undefined when the session has no token. */
  currentUser(): Promise<Caller | undefined>;
  /** Binds this session to a new account (and, over stdio, saves its token). */
  signIn(accessToken: string): Promise<void>;
  /**
   * Asks the client to open the signed-in account's claim URL for its human
   * (URL-mode elicitation) and tells it when the claim happens. False when the
   * client cannot.
   */
  offerClaimUrl(claimUrl: string): Promise<boolean>;
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
}

// biome-ignore lint: the registry holds tools of every input and output type.
export type AnyToolDef = ToolDef<any, any>;
