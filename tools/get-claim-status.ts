import { z } from "zod";
import { claimStatusShape, getClaimStatus } from "../src/services/claims.js";
import { claimLinkNote, type ToolDef } from "./tool.js";

// Strict, so tools/list says "no arguments" (additionalProperties: false), as the 2026-07-28 schema rules ask.
const input = z.strictObject({});

export const getClaimStatusTool = {
  name: "get_claim_status",
  title: "Check whether my human claimed the account",
  description:
    "Tells whether a human has opened your claim URL and taken ownership of your account: claimed, claimedAt, claimedBy (their username), " +
    "claimTokenValidUntil (until when the claim URL works), and agentAccessKept (whether the human let you keep working). " +
    "It still answers after a claim that ended your access, so call it when other tools say your access ended. " +
    "If claimed is false and the claim URL expires soon, remind your human to open it.",
  inputSchema: input,
  outputSchema: claimStatusShape,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(_args, ctx) {
    const { user } = await ctx.requireUser({ allowRevokedByClaim: true });
    const status = await getClaimStatus(ctx.deps, user.id);
    let text: string;
    if (!status.claimed) {
      text = `Not claimed yet. The claim URL works until ${status.claimTokenValidUntil}; remind your human to open it.${claimLinkNote(ctx)}`;
    } else if (status.agentAccessKept) {
      text = `Claimed by ${status.claimedBy} at ${status.claimedAt}. You may keep working until your access token expires.`;
    } else {
      text = `Claimed by ${status.claimedBy} at ${status.claimedAt}. Your human ended your access; ask them for a new token to keep working.`;
    }
    return { data: status, text };
  },
} satisfies ToolDef<typeof input, typeof claimStatusShape>;
