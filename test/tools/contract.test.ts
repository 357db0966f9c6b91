import { describe } from "vitest";
import { allTools } from "../../tools/index.js";
import { expect, test } from "../fixture.js";

/**
 * Where a JSON Schema says "or null" in a way some clients reject (the
 * inspector's --strict, several hosts' schema converters): a `type` array such
 * as ["string", "null"], or an anyOf/oneOf with a {type: "null"} branch. Walks
 * the whole tree and returns the JSON-pointer-like paths of each.
 */
function nullableSpots(schema: unknown, path = ""): string[] {
  if (Array.isArray(schema)) return schema.flatMap((item, index) => nullableSpots(item, `${path}/${index}`));
  if (typeof schema !== "object" || schema === null) return [];
  const node = schema as Record<string, unknown>;
  const spots: string[] = [];
  if (Array.isArray(node.type)) spots.push(`${path}/type`);
  for (const combinator of ["anyOf", "oneOf"]) {
    const branches = node[combinator];
    if (Array.isArray(branches) && branches.some((branch) => (branch as { type?: unknown } | null)?.type === "null")) {
      spots.push(`${path}/${combinator}`);
    }
  }
  for (const [key, value] of Object.entries(node)) spots.push(...nullableSpots(value, `${path}/${key}`));
  return spots;
}

describe("every tool", () => {
  test("is listed with a title, all four annotations and an output schema", async ({ env }) => {
    const client = await env.connect();
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(
      [
        "accept_invite",
        "agent_signup",
        "change_email",
        "create_invite_link",
        "create_stack",
        "delete_stack",
        "get_claim_status",
        "get_current_user",
        "get_default_organization",
        "invite_member",
        "list_invite_links",
        "list_pending_invites",
        "list_stacks",
        "redeem_invite",
        "set_default_organization",
        "update_invite_link",
      ],
    );
    for (const tool of tools) {
      expect(tool.title, tool.name).toBeTruthy();
      expect(tool.description!.length, tool.name).toBeGreaterThan(120);
      for (const hint of ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"] as const) {
        expect(typeof tool.annotations?.[hint], `${tool.name}.${hint}`).toBe("boolean");
      }
      expect(tool.outputSchema?.type, tool.name).toBe("object");
      expect(tool.inputSchema.type, tool.name).toBe("object");
      for (const combinator of ["anyOf", "oneOf", "allOf"]) expect(tool.inputSchema, tool.name).not.toHaveProperty(combinator);
    }
  });

  test("follows the 2026-07-28 schema rules: JSON Schema 2020-12, closed argument-less inputs, SEP-986 names, a fixed order", async ({ env }) => {
    const { tools } = await (await env.connect()).listTools();
    expect(tools.map((tool) => tool.name)).toEqual(allTools.map((tool) => tool.name));
    for (const tool of tools) {
      expect(tool.name, tool.name).toMatch(/^[A-Za-z0-9_.-]{1,64}$/);
      for (const schema of [tool.inputSchema, tool.outputSchema!]) {
        expect(schema.$schema, tool.name).toBe("https://json-schema.org/draft/2020-12/schema");
      }
      if (Object.keys(tool.inputSchema.properties ?? {}).length === 0) {
        expect(tool.inputSchema.additionalProperties, tool.name).toBe(false);
      }
    }
  });

  test("has portable input and output schemas: no type arrays and no null branches anywhere in the tree", async ({ env }) => {
    const client = await env.connect();
    const { tools } = await client.listTools();
    for (const tool of tools) {
      expect(nullableSpots(tool.inputSchema), `${tool.name} inputSchema`).toEqual([]);
      expect(nullableSpots(tool.outputSchema), `${tool.name} outputSchema`).toEqual([]);
    }
    // The walk itself finds both forms, at any depth.
    expect(nullableSpots({ properties: { a: { type: ["string", "null"] }, b: { items: { anyOf: [{ type: "string" }, { type: "null" }] } } } })).toEqual([
      "/properties/a/type",
      "/properties/b/items/anyOf",
    ]);
  });

  test("that only reads says so; reads, choosing a default, updating a link and deleting are idempotent; only delete_stack destroys", () => {
    const readers = allTools.filter((tool) => tool.annotations.readOnlyHint).map((tool) => tool.name);
    expect(readers.sort()).toEqual(["get_claim_status", "get_current_user", "get_default_organization", "list_invite_links", "list_pending_invites", "list_stacks"]);
    const idempotent = allTools.filter((tool) => tool.annotations.idempotentHint).map((tool) => tool.name);
    expect(idempotent.sort()).toEqual([...readers, "set_default_organization", "update_invite_link", "delete_stack"].sort());
    for (const tool of allTools) {
      expect(tool.annotations.destructiveHint, tool.name).toBe(tool.name === "delete_stack");
      expect(tool.annotations.openWorldHint, tool.name).toBe(false);
    }
  });

  // A change to a name, description or schema fails here until the snapshot is
  // updated on purpose (`npx vitest run -u`) and the diff reviewed.
  test("matches its committed schema snapshot", async ({ env }) => {
    const client = await env.connect();
    const { tools } = await client.listTools();
    for (const tool of tools) {
      await expect(`${JSON.stringify(tool, null, 2)}\n`).toMatchFileSnapshot(`../__toolsnaps__/${tool.name}.json`);
    }
  });
});
