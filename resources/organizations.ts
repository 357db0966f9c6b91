import { getOrganization, listMemberships } from "../src/services/orgs.js";
import type { TemplateResourceDef } from "./resource.js";

export const organizationsResource = {
  name: "organization",
  uriTemplate: "onboard://organizations/{name}",
  title: "One of my organizations",
  description:
    "An organization you belong to: your role, whether it is your default, its members (login, role, agent or not) and how many stacks it has. Listed for each of your organizations.",
  async list(ctx) {
    const caller = await ctx.currentUser();
    if (!caller || caller.revokedByClaim) return [];
    return (await listMemberships(ctx.deps.db, caller.user.id)).map((org) => ({
      uri: `onboard://organizations/${encodeURIComponent(org.name)}`,
      name: org.name,
      title: `${org.name} (${org.role})`,
    }));
  },
  async read(ctx, variables) {
    const { user } = await ctx.requireUser();
    const name = decodeURIComponent(String(variables.name));
    return await getOrganization(ctx.deps.db, user.id, name);
  },
} satisfies TemplateResourceDef;
