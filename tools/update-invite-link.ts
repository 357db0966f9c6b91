import { z } from "zod";
import { inviteSecretFrom, inviteTokenShape, updateInviteLink, updateInviteLinkInput } from "../src/services/invites.js";
import { AppError } from "../src/errors.js";
import { asData, type ToolDef } from "./tool.js";

const input = z.object({
  token: z.string().min(1, "token is required: pass the link's url or secret from list_invite_links.").max(2048).describe("The invite link's url or secret, as list_invite_links or create_invite_link gave it."),
  enabled: updateInviteLinkInput.shape.enabled.describe("false disables the link at once; true enables it again."),
  expiresAt: updateInviteLinkInput.shape.expiresAt.describe("A new expiry, ISO 8601; at most one month ahead (later dates are moved back)."),
});

export const updateInviteLinkTool = {
  name: "update_invite_link",
  title: "Disable, enable or extend an invite link",
  description:
    "Changes an invite link of an organization you are admin of, as Unleash's PUT /api/admin/invite-link/tokens/{token} does: " +
    "enabled false disables it (nobody can join through it until it is enabled again), enabled true re-enables it, expiresAt extends or shortens it. " +
    "Give at least one of enabled and expiresAt. The link comes back as it now is.",
  inputSchema: input,
  outputSchema: inviteTokenShape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(args, ctx) {
    const { user } = await ctx.requireUser();
    if (args.enabled === undefined && args.expiresAt === undefined) {
      throw new AppError("validation", "Give enabled, expiresAt or both: an update without either changes nothing.");
    }
    const token = await updateInviteLink(ctx.deps, user.id, inviteSecretFrom(args.token), { enabled: args.enabled, expiresAt: args.expiresAt });
    return {
      data: token,
      text: `Invite link ${asData(token.name)} ${token.enabled ? `works until ${token.expiresAt}` : "does not work now (disabled or expired)"}: ${token.url}`,
    };
  },
} satisfies ToolDef<typeof input, typeof inviteTokenShape>;
