import { deletedStackShape, deleteStack, deleteStackInput } from "../src/services/stack-management.js";
import type { ToolDef } from "./tool.js";

export const deleteStackTool = {
  name: "delete_stack",
  title: "Delete a stack",
  description:
    "Deletes a stack and its tags for good, as Pulumi's DELETE /api/stacks/{org}/{project}/{stack} does; it cannot be undone. " +
    "An admin of the organization may delete any of its stacks, a member only one they created, a viewer none. " +
    "Leave organization out for your default one. Ask your human before deleting a stack you did not create in this conversation.",
  inputSchema: deleteStackInput,
  outputSchema: deletedStackShape,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
  async run(args, ctx) {
    const { user } = await ctx.requireUser();
    const deleted = await deleteStack(ctx.deps, user.id, args);
    return { data: deleted, text: `Deleted stack ${deleted.orgName}/${deleted.projectName}/${deleted.stackName}.` };
  },
} satisfies ToolDef<typeof deleteStackInput, typeof deletedStackShape>;
