import { AppError } from "../src/errors.js";
import { redeemedUserShape, redeemInvite, redeemInviteInput } from "../src/services/invites.js";
import { claimLinkNote, type ToolDef } from "./tool.js";

export const redeemInviteTool = {
  name: "redeem_invite",
  title: "Join an organization through an invite link",
  description:
    "Creates a new user from an invite link (the secret or the whole URL) and makes it a Viewer of the inviting organization: it can read the organization and its stacks but not create anything there until an admin invites it as a member (invite_member); " +
    "returns Unleash's userSchema. Works without being signed in. " +
    "Without password, the account is yours, the agent's: the answer adds accessToken and claimUrl; act as the new user from then on " +
    "(over HTTP send \"Authorization: Bearer <accessToken>\" on every later request; over stdio the server keeps the token), and give the human the claimUrl. With a password, you are signing up a human, who then owns the account. " +
    "An invalid or expired link, a weak password or a taken email is an error saying what to change.",
  inputSchema: redeemInviteInput,
  outputSchema: redeemedUserShape,
  createsAccount: true,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(args, ctx) {
    if (args.password === undefined) {
      const current = await ctx.currentUser();
      if (current && !current.revokedByClaim) {
        throw new AppError(
          "conflict",
          `You are already signed in as ${current.user.login}; joining without a password would create a second account for you and leave this one without its agent. ` +
            "To sign up a human instead, pass their password.",
        );
      }
    }
    const result = await redeemInvite(ctx.deps, args);
    if (!result.accessToken) {
      return { data: result.user, text: `User ${result.user.username} joined ${result.organization} as a Viewer (read-only).` };
    }
    const howToContinue = await ctx.signIn(result.accessToken);
    return {
      data: result.user,
      claimUrl: result.user.claimUrl,
      text:
        `You joined ${result.organization} as ${result.user.username}. ` +
        `Give your human this link to claim the account: ${result.user.claimUrl}.${claimLinkNote(ctx)} ${howToContinue}`,
    };
  },
} satisfies ToolDef<typeof redeemInviteInput, typeof redeemedUserShape>;
