import { z } from "zod";
import { listPendingInvites, pendingInvitesShape } from "../src/services/org-invites.js";
import type { ToolDef } from "./tool.js";

// Strict, so tools/list says "no arguments" (additionalProperties: false), as the 2026-07-28 schema rules ask.
const input = z.strictObject({});

export const listPendingInvitesTool = {
  name: "list_pending_invites",
  title: "List invites waiting for me",
  description:
    "Lists the organization invites sent to your verified email address that you can still accept, as Pulumi's {invites: PendingOrganizationInvite[]} " +
    "(id, email, role, sentBy, sentAt, acceptInviteUrl, status). Accept one with accept_invite and its id. " +
    "Invites only reach a verified email: without one the list is empty and the text says to verify an address first. " +
    "Expired invites and organizations you already belong to are left out.",
  inputSchema: input,
  outputSchema: pendingInvitesShape,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(_args, ctx) {
    const { user } = await ctx.requireUser();
    const { body, verifiedEmail, organizations } = await listPendingInvites(ctx.deps, user.id);
    if (!verifiedEmail) {
      return {
        data: body,
        text: "You have no verified email address, so no invite can reach you. Verify an email address first (change_email sends a link to open), then call list_pending_invites again.",
      };
    }
    if (!body.invites.length) return { data: body, text: `No pending invites for ${verifiedEmail}.` };
    const lines = body.invites.map(
      (invite, i) => `- ${organizations[i]} as ${invite.role}, from ${invite.sentBy.githubLogin || invite.sentBy.name} (id ${invite.id})`,
    );
    return {
      data: body,
      text: [`${body.invites.length} pending invite(s) for ${verifiedEmail}; accept one with accept_invite and its id:`, ...lines].join("\n"),
    };
  },
} satisfies ToolDef<typeof input, typeof pendingInvitesShape>;
