import { z } from "zod";
import { getCurrentUser, userShape } from "../src/services/accounts.js";
import { asData, type ToolDef } from "./tool.js";

// Strict, so tools/list says "no arguments" (additionalProperties: false), as the 2026-07-28 schema rules ask.
const input = z.strictObject({});

export const getCurrentUserTool = {
  name: "get_current_user",
  title: "Show my account",
  description:
    "Returns the account you act as (Pulumi's User): id, githubLogin, name, email, isAgent, and your role in each organization. " +
    "Use it to check whether you are signed in, whether your human has claimed you (isAgent false), and which organization to use for create_stack or create_invite_link. " +
    "If it says you are not signed in, call agent_signup.",
  inputSchema: input,
  outputSchema: userShape,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(_args, ctx) {
    const caller = await ctx.requireUser();
    const user = await getCurrentUser(ctx.deps, caller.user.id, { row: caller.user });
    const orgs = user.organizations.map((org) => `${org.name} (${org.role})`).join(", ") || "none";
    return {
      data: user,
      text: `You are ${user.githubLogin} (display name ${asData(user.name)}), ${user.isAgent ? "an unclaimed agent account" : "a claimed account"}. Organizations: ${orgs}.`,
    };
  },
} satisfies ToolDef<typeof input, typeof userShape>;
