import { z } from "zod";
import { defaultOrganizationShape, organizationNameShape, setDefaultOrganization } from "../src/services/orgs.js";
import type { ToolDef } from "./tool.js";

const input = z.object({
  organization: organizationNameShape.describe("The organization to use by default, by name; get_current_user lists yours."),
});

export const setDefaultOrganizationTool = {
  name: "set_default_organization",
  title: "Choose my default organization",
  description:
    "Makes one of your organizations the default that create_stack and create_invite_link use when you name none; returns it as Pulumi's {GitHubLogin, Messages}. " +
    "Setting the same one again changes nothing. An organization you are not in is an error; get_current_user lists yours.",
  inputSchema: input,
  outputSchema: defaultOrganizationShape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(args, ctx) {
    const { user } = await ctx.requireUser();
    const chosen = await setDefaultOrganization(ctx.deps.db, user.id, args.organization);
    return { data: chosen, text: `Your default organization is now ${chosen.GitHubLogin}.` };
  },
} satisfies ToolDef<typeof input, typeof defaultOrganizationShape>;
