import { createInviteLink, createInviteLinkInput, inviteTokenShape } from "../src/services/invites.js";
import { asData, type ToolDef } from "./tool.js";

export const createInviteLinkTool = {
  name: "create_invite_link",
  title: "Create an invite link",
  description:
    "Creates a shareable invite link (Unleash's invite token: secret, url, name, enabled, expiresAt, createdAt, createdBy, users, role) " +
    "for an organization you are admin of; leave organization out for your default one. " +
    "Anyone who opens url can sign up and join as a Viewer (read-only: they see the organization and its stacks; invite_member makes someone a member who can create stacks), as many people as like until expiresAt (at most one month ahead; later dates are moved back). " +
    "Give the url to the people to invite, or to another agent, which joins with redeem_invite. Treat it like a password.",
  inputSchema: createInviteLinkInput,
  outputSchema: inviteTokenShape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(args, ctx) {
    const { user } = await ctx.requireUser();
    const token = await createInviteLink(ctx.deps, user.id, args);
    const state = token.enabled ? `works until ${token.expiresAt}` : `is already past its expiry (${token.expiresAt}) and cannot be used`;
    return {
      data: token,
      text: `Invite link ${asData(token.name)} created; it ${state}. Share this URL with the people to invite: ${token.url}`,
    };
  },
} satisfies ToolDef<typeof createInviteLinkInput, typeof inviteTokenShape>;
