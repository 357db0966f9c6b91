import { listStacks, listStacksInput, MAX_RESULTS_CAP, MAX_RESULTS_DEFAULT, stacksPageShape } from "../src/services/stacks.js";
import type { ToolDef } from "./tool.js";

export const listStacksTool = {
  name: "list_stacks",
  title: "List my stacks",
  description:
    "Lists the stacks of every organization you belong to, oldest first, as Pulumi's stacks page: {stacks, continuationToken}. " +
    "Filter by organization, project, and tagName (plus tagValue for an exact value). " +
    `Pages hold maxResults stacks (default ${MAX_RESULTS_DEFAULT}, at most ${MAX_RESULTS_CAP}). ` +
    "When continuationToken is present there are more: call again with the same filters and that token. When it is absent you have them all.",
  inputSchema: listStacksInput,
  outputSchema: stacksPageShape,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async run(args, ctx) {
    const { user } = await ctx.requireUser();
    const page = await listStacks(ctx.deps, user.id, args);
    const names = page.stacks.map((s) => `${s.orgName}/${s.projectName}/${s.stackName}`);
    const more = page.continuationToken ? " More stacks follow: pass continuationToken to get them." : "";
    return {
      data: page,
      text: names.length ? `${names.length} stack(s): ${names.join(", ")}.${more}` : "No stacks match. Create one with create_stack.",
    };
  },
} satisfies ToolDef<typeof listStacksInput, typeof stacksPageShape>;
