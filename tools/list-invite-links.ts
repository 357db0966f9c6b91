import { z } from "zod";
import { createInviteLinkInput, inviteTokenShape, listInviteTokens } from "../src/services/invites.js";
import { asData, type ToolDef } from "./tool.js";

const input = z.object({ organization: createInviteLinkInput.shape.organization.describe("The organization whose links to list, by name. Defaults to your default organization. You must be its admin.") });
/** Unleash's publicSignupTokensSchema. */
const output = z.object({ tokens: z.array(inviteTokenShape) });

export const listInviteLinksTool = {
  name: "list_invite_links",
  title: "List invite links",
  description:
    "Lists the invite links of an organization you are admin of, newest first, as Unleash's GET /api/admin/invite-link/tokens does: " +
    "each with its url, name, enabled (false once expired or disabled), expiresAt and the users who joined through it. " +
    "Use it to find a link to share again, or one to disable or extend with update_invite_link.",
  inputSchema: input,
  outputSchema: output,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(args, ctx) {
    const { user } = await ctx.requireUser();
    const tokens = await listInviteTokens(ctx.deps, user.id, args.organization);
    const lines = tokens.map((t) => `- ${asData(t.name)}: ${t.enabled ? `works until ${t.expiresAt}` : "does not work (disabled or expired)"}, ${t.users?.length ?? 0} joined: ${t.url}`);
    return { data: { tokens }, text: tokens.length ? `${tokens.length} invite link${tokens.length === 1 ? "" : "s"}:\n${lines.join("\n")}` : "No invite links yet; create one with create_invite_link." };
  },
} satisfies ToolDef<typeof input, typeof output>;
