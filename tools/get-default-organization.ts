import { z } from "zod";
import { defaultOrganizationShape, getDefaultOrganization } from "../src/services/orgs.js";
import type { ToolDef } from "./tool.js";

// Strict, so tools/list says "no arguments" (additionalProperties: false), as the 2026-07-28 schema rules ask.
const input = z.strictObject({});

export const getDefaultOrganizationTool = {
  name: "get_default_organization",
  title: "Show my default organization",
  description:
    "Returns the organization that create_stack and create_invite_link use when you name none, as Pulumi's {GitHubLogin, Messages}. " +
    "Messages explain when no default was chosen. If you belong to no organization it says so; join one with redeem_invite.",
  inputSchema: input,
  outputSchema: defaultOrganizationShape,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(_args, ctx) {
    const { user } = await ctx.requireUser();
    const found = await getDefaultOrganization(ctx.deps.db, user.id);
    return { data: found, text: [`Your default organization is ${found.GitHubLogin}.`, ...found.Messages.map((m) => m.message)].join(" ") };
  },
} satisfies ToolDef<typeof input, typeof defaultOrganizationShape>;
