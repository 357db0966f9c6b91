import { getCurrentUser } from "../src/services/accounts.js";
import type { FixedResourceDef } from "./resource.js";

export const userResource = {
  name: "current-user",
  uri: "onboard://user",
  title: "My account",
  description: "The account this session acts as, as Pulumi's User (the same as get_current_user). Reading it before signing up tells you to call agent_signup.",
  async read(ctx) {
    const caller = await ctx.requireUser();
    return await getCurrentUser(ctx.deps, caller.user.id, { row: caller.user });
  },
} satisfies FixedResourceDef;
