import { z } from "zod";

const args = z.object({
  agentName: z.string().max(100).optional().describe("The name the agent should sign up with; shown to the human on the claim page."),
});

export const onboardPrompt = {
  name: "onboard",
  title: "Onboard yourself",
  description:
    "Walks you, the agent, through getting your own account: sign up, create a first stack, and hand the claim URL to your human.",
  argsSchema: args,
  messages({ agentName }: { agentName?: string }) {
    const signup = agentName ? `agent_signup with agentName "${agentName}"` : "agent_signup (give yourself an agentName the human will recognise)";
    return [
      {
        role: "user" as const,
        content: {
          type: "text" as const,
          text: [
            "Set yourself up on this platform with the agent-onboard tools:",
            `1. Call get_current_user. If it says you are not signed in, call ${signup}. Call agent_signup only once and act as the new account from then on (over HTTP, send its accessToken as your Authorization header).`,
            "2. Tell me (your human) the claimUrl from the answer, in plain words: I should open it in a browser to take ownership of the account before claimTokenValidUntil. Never show the accessToken.",
            '3. Create a first stack with create_stack (projectName and stackName, for example "getting-started" and "dev"), then call list_stacks to confirm it is there.',
            "4. Until I claim the account you keep working as before. Later, call get_claim_status to see whether I claimed it and whether you may keep working; if I ended your access, it is the only tool that still answers.",
            "Report what you did in a few lines, with the claim URL on a line of its own.",
          ].join("\n"),
        },
      },
    ];
  },
};
