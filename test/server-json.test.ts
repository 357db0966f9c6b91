/**
 * server.json, the entry for the official MCP Registry, checked against the
 * registry's server.json schema (version 2025-12-11) transcribed here by hand,
 * the way test/seed-shapes.ts transcribes the seed documents, and against what
 * the package really is: its version, its binary, and the environment
 * variables src/config.ts reads.
 *
 * Transcribed from https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json
 * (definitions ServerDetail, Repository, Icon, Package, LocalTransport,
 * RemoteTransport, StdioTransport, StreamableHttpTransport, SseTransport,
 * Argument, PositionalArgument, NamedArgument, Input, InputWithVariables,
 * KeyValueInput). Two deliberate differences, both stricter:
 * - every object is strict: the JSON schema lets unknown properties through,
 *   so a misspelt optional field ("environment_variables") would be silently
 *   ignored by the registry; here it is an error;
 * - registryType is one of the registry types the schema lists as examples and
 *   the official registry accepts (npm, pypi, nuget, oci, mcpb), not any string.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { loadConfig } from "../src/config.js";

const SCHEMA_URL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json";

const repoFile = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));
const readJson = (path: string): any => JSON.parse(readFileSync(repoFile(path), "utf8"));

// --- The registry's schema, transcribed ------------------------------------

/** "Version ranges are rejected (e.g. '^1.2.3', '~1.2.3', '>=1.2.3', '1.x', '1.*')." */
const notARange = (version: string) => !/[\^~<>=*]|(^|\.)[xX](\.|$)/.test(version);

// Input
const inputShape = {
  description: z.string().optional(),
  isRequired: z.boolean().optional(),
  format: z.enum(["string", "number", "boolean", "filepath"]).optional(),
  value: z.string().optional(),
  isSecret: z.boolean().optional(),
  default: z.string().optional(),
  placeholder: z.string().optional(),
  choices: z.array(z.string()).optional(),
};
const input = z.strictObject(inputShape);

// InputWithVariables = Input + variables
const inputWithVariablesShape = {
  ...inputShape,
  variables: z.record(z.string(), input).optional(),
};

// KeyValueInput = InputWithVariables + required name (headers, environment variables)
const keyValueInput = z.strictObject({
  ...inputWithVariablesShape,
  name: z.string(),
});

// PositionalArgument: type "positional"; valueHint or value is required.
const positionalArgument = z
  .strictObject({
    ...inputWithVariablesShape,
    type: z.literal("positional"),
    valueHint: z.string().optional(),
    isRepeated: z.boolean().optional(),
  })
  .refine((arg) => arg.valueHint !== undefined || arg.value !== undefined, "a positional argument needs valueHint or value");

// NamedArgument: type "named" and the flag's name.
const namedArgument = z.strictObject({
  ...inputWithVariablesShape,
  type: z.literal("named"),
  name: z.string(),
  isRepeated: z.boolean().optional(),
});

const argument = z.discriminatedUnion("type", [positionalArgument, namedArgument]);

const httpUrl = z.string().regex(/^https?:\/\/[^\s]+$/);

const stdioTransport = z.strictObject({ type: z.literal("stdio") });
const streamableHttpTransportShape = {
  type: z.literal("streamable-http"),
  url: httpUrl,
  headers: z.array(keyValueInput).optional(),
};
const sseTransportShape = {
  type: z.literal("sse"),
  url: httpUrl,
  headers: z.array(keyValueInput).optional(),
};

// LocalTransport: what a package speaks once started.
const localTransport = z.discriminatedUnion("type", [
  stdioTransport,
  z.strictObject(streamableHttpTransportShape),
  z.strictObject(sseTransportShape),
]);

// RemoteTransport: streamable-http or sse, plus URL template variables.
const remoteVariables = { variables: z.record(z.string(), input).optional() };
const remoteTransport = z.discriminatedUnion("type", [
  z.strictObject({ ...streamableHttpTransportShape, ...remoteVariables }),
  z.strictObject({ ...sseTransportShape, ...remoteVariables }),
]);

const serverPackage = z.strictObject({
  registryType: z.enum(["npm", "pypi", "nuget", "oci", "mcpb"]),
  registryBaseUrl: z.url().optional(),
  identifier: z.string(),
  version: z
    .string()
    .min(1)
    .refine((v) => v !== "latest", "must be a specific version, not \"latest\"")
    .refine(notARange, "must be a specific version, not a range")
    .optional(),
  fileSha256: z.string().regex(/^[a-f0-9]{64}$/).optional(),
  runtimeHint: z.string().optional(),
  transport: localTransport,
  runtimeArguments: z.array(argument).optional(),
  packageArguments: z.array(argument).optional(),
  environmentVariables: z.array(keyValueInput).optional(),
});

const repository = z.strictObject({
  url: z.url(),
  source: z.string(),
  id: z.string().optional(),
  subfolder: z.string().optional(),
});

const icon = z.strictObject({
  src: z.url().max(255),
  mimeType: z.enum(["image/png", "image/jpeg", "image/jpg", "image/svg+xml", "image/webp"]).optional(),
  sizes: z.array(z.string().regex(/^(\d+x\d+|any)$/)).optional(),
  theme: z.enum(["light", "dark"]).optional(),
});

// ServerDetail
const serverJsonSchema = z.strictObject({
  $schema: z.url().optional(),
  name: z
    .string()
    .min(3)
    .max(200)
    .regex(/^[a-zA-Z0-9.-]+\/[a-zA-Z0-9._-]+$/),
  title: z.string().min(1).max(100).optional(),
  description: z.string().min(1).max(100),
  version: z.string().max(255).refine(notARange, "must be a specific version, not a range"),
  repository: repository.optional(),
  websiteUrl: z.url().optional(),
  icons: z.array(icon).optional(),
  packages: z.array(serverPackage).optional(),
  remotes: z.array(remoteTransport).optional(),
  _meta: z
    .looseObject({
      "io.modelcontextprotocol.registry/publisher-provided": z.looseObject({}).optional(),
    })
    .optional(),
});

// --- What the package is ---------------------------------------------------

/** The keys of the zod object `envSchema` in src/config.ts: every variable the server reads. */
function configVariableNames(): string[] {
  const path = repoFile("src/config.ts");
  const source = ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.Latest, true);
  let names: string[] | undefined;
  const visit = (node: ts.Node): void => {
    if (
      ts.isVariableDeclaration(node) &&
      ts.isIdentifier(node.name) &&
      node.name.text === "envSchema" &&
      node.initializer &&
      ts.isCallExpression(node.initializer)
    ) {
      const shape = node.initializer.arguments[0];
      if (shape && ts.isObjectLiteralExpression(shape)) {
        names = shape.properties.map((property) => {
          if (!property.name || !(ts.isIdentifier(property.name) || ts.isStringLiteral(property.name))) {
            throw new Error(`src/config.ts: envSchema has a key this test cannot read: ${property.getText()}`);
          }
          return property.name.text;
        });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (!names) throw new Error("src/config.ts: no `const envSchema = z.object({...})` found; update this test with it");
  return names;
}

const serverJson = readJson("server.json");
const packageJson = readJson("package.json");

const npmPackage = () => {
  const packages = (serverJson.packages ?? []).filter((p: any) => p.registryType === "npm");
  expect(packages).toHaveLength(1);
  return packages[0];
};

describe("server.json", () => {
  it("conforms to the MCP Registry's server.json schema", () => {
    const result = serverJsonSchema.safeParse(serverJson);
    expect(result.success, result.success ? "" : z.prettifyError(result.error)).toBe(true);
    expect(serverJson.$schema).toBe(SCHEMA_URL);
  });

  it("has the version of package.json, and so has its npm package", () => {
    expect(serverJson.version).toBe(packageJson.version);
    expect(npmPackage().version).toBe(packageJson.version);
  });

  it("describes this npm package, started as `agent-onboard stdio` and speaking stdio", () => {
    const pkg = npmPackage();
    expect(pkg.identifier).toBe(packageJson.name);
    expect(pkg.transport).toEqual({ type: "stdio" });
    expect(Object.keys(packageJson.bin)).toEqual(["agent-onboard"]);
    expect(pkg.packageArguments.map((arg: any) => [arg.type, arg.value])).toEqual([["positional", "stdio"]]);
    expect(packageJson.scripts.stdio).toMatch(/ stdio$/);
  });

  it("lists every environment variable src/config.ts reads, and no other", () => {
    const fromConfig = configVariableNames();
    // Guard against the parse silently finding a different object.
    expect(fromConfig).toEqual(expect.arrayContaining(["ONBOARD_DB", "ONBOARD_TOKEN", "LOG_LEVEL"]));
    const listed = npmPackage().environmentVariables.map((variable: any) => variable.name);
    expect(new Set(listed).size, "a variable is listed twice").toBe(listed.length);
    expect([...listed].sort()).toEqual([...fromConfig].sort());
  });

  it("marks every variable optional and described, and only the token, the signing keys and the database and SMTP URLs (they may hold a password) secret", () => {
    for (const variable of npmPackage().environmentVariables) {
      expect(variable.isRequired, variable.name).toBe(false);
      expect(variable.isSecret, variable.name).toBe(["ONBOARD_TOKEN", "ONBOARD_SIGNING_KEYS", "ONBOARD_DATABASE_URL", "ONBOARD_SMTP_URL"].includes(variable.name));
      expect(variable.description?.trim(), variable.name).toBeTruthy();
    }
  });

  it("gives the defaults the server really uses", () => {
    const defaults = loadConfig({});
    for (const variable of npmPackage().environmentVariables) {
      if (variable.default === undefined) continue;
      // Setting a variable to its advertised default must change nothing.
      expect(loadConfig({ [variable.name]: variable.default }), variable.name).toEqual(defaults);
      for (const choice of variable.choices ?? []) {
        expect(() => loadConfig({ [variable.name]: choice }), `${variable.name}=${choice}`).not.toThrow();
      }
    }
  });
});

describe("the transcribed schema", () => {
  // Each mutation breaks one rule of the registry's schema; the schema must notice.
  const broken: Array<[string, (doc: any) => void]> = [
    ["name removed", (doc) => delete doc.name],
    ["description removed", (doc) => delete doc.description],
    ["version removed", (doc) => delete doc.version],
    ["name renamed", (doc) => ((doc.serverName = doc.name), delete doc.name)],
    ["name without a namespace", (doc) => (doc.name = "agent-onboard")],
    ["name with two slashes", (doc) => (doc.name = "io.github.a/b/c")],
    ["description over 100 characters", (doc) => (doc.description = "x".repeat(101))],
    ["empty description", (doc) => (doc.description = "")],
    ["version range", (doc) => (doc.version = "^0.1.0")],
    ["repository without source", (doc) => delete doc.repository.source],
    ["repository url not a URL", (doc) => (doc.repository.url = "agent-onboard")],
    ["package registryType removed", (doc) => delete doc.packages[0].registryType],
    ["package registryType unknown", (doc) => (doc.packages[0].registryType = "npmjs")],
    ["package identifier removed", (doc) => delete doc.packages[0].identifier],
    ["package transport removed", (doc) => delete doc.packages[0].transport],
    ["package transport type unknown", (doc) => (doc.packages[0].transport = { type: "http" })],
    ["streamable-http transport without url", (doc) => (doc.packages[0].transport = { type: "streamable-http" })],
    ["package version latest", (doc) => (doc.packages[0].version = "latest")],
    ["package version empty", (doc) => (doc.packages[0].version = "")],
    ["environmentVariables renamed to snake_case", (doc) => {
      doc.packages[0].environment_variables = doc.packages[0].environmentVariables;
      delete doc.packages[0].environmentVariables;
    }],
    ["environment variable without name", (doc) => delete doc.packages[0].environmentVariables[0].name],
    ["environment variable isSecret as a string", (doc) => (doc.packages[0].environmentVariables[0].isSecret = "true")],
    ["environment variable format unknown", (doc) => (doc.packages[0].environmentVariables[0].format = "path")],
    ["positional argument without value or valueHint", (doc) => (doc.packages[0].packageArguments = [{ type: "positional" }])],
    ["named argument without name", (doc) => (doc.packages[0].packageArguments = [{ type: "named", value: "x" }])],
    ["argument of unknown type", (doc) => (doc.packages[0].packageArguments = [{ type: "flag", value: "stdio" }])],
    ["remote with an unknown transport", (doc) => (doc.remotes = [{ type: "stdio", url: "https://example.com/mcp" }])],
    ["remote url not http(s)", (doc) => (doc.remotes = [{ type: "streamable-http", url: "ftp://example.com/mcp" }])],
  ];

  it.each(broken)("rejects server.json with %s", (_label, breakIt) => {
    const doc = structuredClone(serverJson);
    breakIt(doc);
    expect(serverJsonSchema.safeParse(doc).success).toBe(false);
  });

  it("accepts what the registry's schema allows beyond this file", () => {
    const doc = structuredClone(serverJson);
    doc.websiteUrl = "https://example.com/agent-onboard";
    doc.icons = [{ src: "https://example.com/icon.png", mimeType: "image/png", sizes: ["48x48"], theme: "light" }];
    doc.remotes = [
      {
        type: "streamable-http",
        url: "https://{host}/mcp",
        headers: [{ name: "Authorization", value: "Bearer {token}", isSecret: true, variables: { token: { isSecret: true } } }],
        variables: { host: { default: "onboard.example.com" } },
      },
    ];
    doc.packages[0].packageArguments.push({ type: "named", name: "--verbose", isRepeated: false });
    doc._meta = { "io.modelcontextprotocol.registry/publisher-provided": { tool: "ci" } };
    const result = serverJsonSchema.safeParse(doc);
    expect(result.success, result.success ? "" : z.prettifyError(result.error)).toBe(true);
  });
});
