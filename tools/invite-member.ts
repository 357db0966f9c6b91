import { inviteMember, inviteMemberInput, pendingOrganizationInviteShape } from "../src/services/org-invites.js";
import type { ToolDef } from "./tool.js";

export const inviteMemberTool = {
  name: "invite_member",
  title: "Invite someone by email",
  description:
    "Invites one email address into an organization you are admin of (leave organization out for your default one), as member (default) or admin; " +
    "mails the address and returns Pulumi's PendingOrganizationInvite (id, email, role, sentBy, sentAt, acceptInviteUrl, status). " +
    "The invite can be accepted for 7 days, only by an account whose verified email is that address, with accept_invite or by POSTing to acceptInviteUrl. " +
    "Inviting the same address again refreshes and re-sends the invite. An address that already belongs to a member is an error; " +
    "to let people join without an email, use create_invite_link instead.",
  inputSchema: inviteMemberInput,
  outputSchema: pendingOrganizationInviteShape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(args, ctx) {
    const { user } = await ctx.requireUser();
    const result = await inviteMember(ctx.deps, user.id, args);
    const what = result.resent ? "Refreshed and re-sent the invite of" : "Invited";
    return {
      data: result.invite,
      text:
        `${what} ${result.invite.email} to join ${result.organization} as ${result.invite.role} (invite id ${result.invite.id}); ` +
        `an email was sent there. It can be accepted until ${result.expiresAt} by an account with that address verified, ` +
        `with accept_invite or by POSTing to ${result.invite.acceptInviteUrl}.`,
    };
  },
} satisfies ToolDef<typeof inviteMemberInput, typeof pendingOrganizationInviteShape>;
