import type { StandardSchemaWithJSON } from "@modelcontextprotocol/server";

type Convert = StandardSchemaWithJSON["~standard"]["jsonSchema"]["input"];

const deepFreeze = <T>(value: T): T => {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
};

/**
 * The same schema, with its JSON Schema worked out once per process and
 * target. zod converts afresh on every call, and the SDK keeps the result
 * only on its McpServer, which stateless HTTP builds for every request:
 * without this, each tools/list converted every tool's schemas again.
 */
export function withLastingJsonSchema<S extends StandardSchemaWithJSON>(schema: S): S {
  const standard = schema["~standard"];
  const lasting = (convert: Convert): Convert => {
    const byTarget = new Map<string, Record<string, unknown>>();
    return (options) => {
      if (options.libraryOptions !== undefined) return convert(options);
      let json = byTarget.get(options.target);
      if (!json) byTarget.set(options.target, (json = deepFreeze(convert(options))));
      return json;
    };
  };
  const jsonSchema = { input: lasting(standard.jsonSchema.input), output: lasting(standard.jsonSchema.output) };
  return { "~standard": { ...standard, jsonSchema } } as S;
}
