import { AppError } from "../src/errors.js";
import { agentSignup, agentSignupInput, agentSignupResponseShape } from "../src/services/accounts.js";
import type { ToolDef } from "./tool.js";

export const agentSignupTool = {
  name: "agent_signup",
  title: "Sign up as an agent",
  description:
    "Creates an account for you, the agent, with no human needed: a user with isAgent true, a personal organization where you are admin, " +
    "an access token (valid 72 hours by default) and a claim URL (valid 30 days by default, single use). Call it once, first, when get_current_user says you are not signed in. " +
    "Afterwards this session acts as the new account. Give the human the claimUrl and tell them to open it in a browser to take ownership of the account; " +
    "until then you keep working with your access token. Keep accessToken secret; never show it to anyone.",
  inputSchema: agentSignupInput,
  outputSchema: agentSignupResponseShape,
  createsAccount: true,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(args, ctx) {
    const current = await ctx.currentUser();
    if (current && !current.revokedByClaim) {
      throw new AppError(
        "conflict",
        `You are already signed in as ${current.user.login}. Keep using that account (get_current_user shows it); ` +
          "a second signup would leave the first account without its agent.",
      );
    }
    const signup = await agentSignup(ctx.deps, args);
    await ctx.signIn(signup.accessToken);
    const offered = await ctx.offerClaimUrl(signup.claimUrl);
    return {
      data: signup,
      text:
        `Signed up as ${signup.userInfo.githubLogin} (organization ${signup.userInfo.organizations[0]?.name}). ` +
        (offered ? "Your host was asked to open the claim page for your human; if it did not, give them this link: " : "Give your human this link to claim the account: ") +
        `${signup.claimUrl} (valid until ${signup.claimTokenValidUntil}). Your access token is valid until ${signup.accessTokenValidUntil}.`,
    };
  },
} satisfies ToolDef<typeof agentSignupInput, typeof agentSignupResponseShape>;
