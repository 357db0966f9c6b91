import { appStackSummaryShape, createStack, createStackInput } from "../src/services/stacks.js";
import type { ToolDef } from "./tool.js";

export const createStackTool = {
  name: "create_stack",
  title: "Create a stack",
  description:
    "Creates an empty stack (Pulumi's AppStackSummary comes back) in an organization you belong to, named organization/projectName/stackName. " +
    "Leave organization out to use your default organization; get_current_user lists yours. " +
    "Stack names are unique within a project: if it already exists you get an error, and list_stacks shows the existing one.",
  inputSchema: createStackInput,
  outputSchema: appStackSummaryShape,
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  async run(args, ctx) {
    const { user } = await ctx.requireUser();
    const stack = await createStack(ctx.deps, user.id, args);
    return { data: stack, text: `Created stack ${stack.orgName}/${stack.projectName}/${stack.stackName}.` };
  },
} satisfies ToolDef<typeof createStackInput, typeof appStackSummaryShape>;
