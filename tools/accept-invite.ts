import { acceptedInviteShape, acceptInvite, acceptInviteInput } from "../src/services/org-invites.js";
import type { ToolDef } from "./tool.js";

export const acceptInviteTool = {
  name: "accept_invite",
  title: "Accept an organization invite",
  description:
    "Accepts an invite sent to your verified email address (its id from list_pending_invites) and joins that organization with the invite's role; " +
    "returns {organization} as Pulumi's OrganizationSummaryWithRole. The organization then appears in get_current_user and can be named in create_stack. " +
    "An expired invite is an error: ask an admin of the organization to send a new one with invite_member. " +
    "An id that is not addressed to you is not found; an invite accepted before is a conflict.",
  inputSchema: acceptInviteInput,
  outputSchema: acceptedInviteShape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(args, ctx) {
    const { user } = await ctx.requireUser();
    const { organization } = await acceptInvite(ctx.deps, user.id, args.id);
    return {
      data: { organization },
      text: `You joined ${organization.name} as ${organization.role}. It now shows in get_current_user; name it as organization in create_stack or list_stacks.`,
    };
  },
} satisfies ToolDef<typeof acceptInviteInput, typeof acceptedInviteShape>;
