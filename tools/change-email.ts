import { changeEmailInput, pendingEmailShape, requestEmailChange } from "../src/services/emails.js";
import type { ToolDef } from "./tool.js";

export const changeEmailTool = {
  name: "change_email",
  title: "Change my email address",
  description:
    "Asks to use a new email address for your account. Nothing changes yet: a confirmation link, valid for 3 days, is mailed to that address, " +
    "and it becomes the account's email only when a human opens the link and confirms. You cannot open or confirm it yourself: " +
    "tell your human to look for the mail \"Confirm your email address for agent-onboard\" in that inbox. " +
    "Returns the pending address as Pulumi's {email}; until it is confirmed the account keeps its current email. " +
    "Calling it again sends a fresh link and cancels the earlier one; giving the account's current, unconfirmed address re-sends its confirmation. " +
    "An address another account uses, or the one that is already your confirmed email, is an error saying so.",
  inputSchema: changeEmailInput,
  outputSchema: pendingEmailShape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(args, ctx) {
    const { user } = await ctx.requireUser();
    const change = await requestEmailChange(ctx.deps, user.id, args);
    const keeps = change.currentEmail && change.currentEmail !== change.pending.email
      ? ` Until then the account keeps ${change.currentEmail}.`
      : "";
    return {
      data: change.pending,
      text:
        `A confirmation link was sent to ${change.pending.email}; it works until ${change.validUntil.toISOString()}.${keeps} ` +
        "Ask your human to open it and press Confirm: you cannot confirm the address yourself.",
    };
  },
} satisfies ToolDef<typeof changeEmailInput, typeof pendingEmailShape>;
