import { AppError } from "../src/errors.js";
import { agentSignup, agentSignupInput, agentSignupResponseShape } from "../src/services/accounts.js";
import { claimLinkNote, type ToolDef } from "./tool.js";

/** The signup answer without the refresh token, which only REST clients use. */
const output = agentSignupResponseShape.omit({ refreshToken: true });

export const agentSignupTool = {
  name: "agent_signup",
  title: "Sign up as an agent",
  description:
    "Creates an account for you, the agent, with no human needed: a user with isAgent true, a personal organization where you are admin, " +
    "an access token (valid 72 hours by default) and a claim URL (valid 30 days by default, single use). Call it once, first, when get_current_user says you are not signed in. " +
    "Afterwards act as the new account: over HTTP send \"Authorization: Bearer <accessToken>\" on every later request (the server keeps no session); over stdio the server keeps the token for you. " +
    "If your host can open links, it is asked to open the claim page for your human. Either way give the human the claimUrl and tell them to open it in a browser to take ownership of the account; " +
    "until then you keep working with your access token. Keep accessToken secret; never show it to anyone.",
  inputSchema: agentSignupInput,
  outputSchema: output,
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
    // The refresh token is for REST clients that refresh on their own; over MCP it would only sit in the model's context.
    const { refreshToken: _refreshToken, ...signup } = await agentSignup(ctx.deps, args);
    const howToContinue = await ctx.signIn(signup.accessToken);
    return {
      data: signup,
      claimUrl: signup.claimUrl,
      text:
        `Signed up as ${signup.userInfo.githubLogin} (organization ${signup.userInfo.organizations[0]?.name}). ` +
        `Give your human this link to claim the account: ${signup.claimUrl} (valid until ${signup.claimTokenValidUntil}).${claimLinkNote(ctx)} ` +
        `Your access token is valid until ${signup.accessTokenValidUntil}. ${howToContinue}`,
    };
  },
} satisfies ToolDef<typeof agentSignupInput, typeof output>;
