import { describe } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { INSTRUCTIONS, selectTools } from "../src/server.js";
import { expect, ok, signUp, test, type TestEnv } from "./fixture.js";

const jsonOf = (read: { contents: object[] }) => JSON.parse(String((read.contents[0] as { text: string }).text));

const connectWith = (env: TestEnv, tools: ReturnType<typeof selectTools>) => env.connect(undefined, { tools });

describe("discovery", () => {
  test.each(["modern", "legacy"] as const)("sends instructions that walk an agent through the onboarding flow (%s era)", async (era) => {
    const { createTestEnv } = await import("./fixture.js");
    const env = await createTestEnv();
    try {
      const client = await env.connect(undefined, { era });
      expect(client.getProtocolEra()).toBe(era);
      const instructions = client.getInstructions();
      expect(instructions).toBe(INSTRUCTIONS);
      for (const step of ["agent_signup", "claimUrl", "get_claim_status", "create_stack", "redeem_invite", "Authorization: Bearer"]) {
        expect(instructions).toContain(step);
      }
      expect(client.getServerCapabilities()).toMatchObject({ tools: {}, prompts: {}, resources: {}, logging: {} });
    } finally {
      await env.close();
    }
  });
});

describe("caching hints (2026-07-28)", () => {
  test("the lists every caller shares may be cached for five minutes; what is the caller's own, not at all", async ({ env }) => {
    const { client } = await signUp(env);
    for (const list of [await client.listTools(), await client.listPrompts(), await client.listResourceTemplates()]) {
      expect(list).toMatchObject({ ttlMs: 300_000, cacheScope: "public" });
    }
    expect(await client.listResources()).toMatchObject({ ttlMs: 0, cacheScope: "private" });
    expect(await client.readResource({ uri: "onboard://user" })).toMatchObject({ ttlMs: 0, cacheScope: "private" });
  });
});

describe("the onboard prompt", () => {
  test("walks through signup, a first stack and handing over the claim URL, with the agent's name when given", async ({ env }) => {
    const client = await env.connect();
    const { prompts } = await client.listPrompts();
    expect(prompts).toEqual([
      expect.objectContaining({ name: "onboard", title: "Onboard yourself", arguments: [expect.objectContaining({ name: "agentName", required: false })] }),
    ]);
    const named = await client.getPrompt({ name: "onboard", arguments: { agentName: "Release helper" } });
    const text = named.messages.map((message) => (message.content.type === "text" ? message.content.text : "")).join("\n");
    expect(text).toContain('agent_signup with agentName "Release helper"');
    for (const step of ["get_current_user", "claimUrl", "create_stack", "list_stacks", "get_claim_status"]) expect(text).toContain(step);
    const plain = await client.getPrompt({ name: "onboard" });
    expect(JSON.stringify(plain.messages)).not.toContain("Release helper");
  });
});

describe("resources", () => {
  test("onboard://user reads like get_current_user once signed in, and says to sign up before", async ({ env }) => {
    const anonymous = await env.connect();
    await expect(anonymous.readResource({ uri: "onboard://user" })).rejects.toThrow(/agent_signup/);

    const { client } = await signUp(env, { agentName: "Reader" });
    const read = await client.readResource({ uri: "onboard://user" });
    expect(read.contents[0]).toMatchObject({ uri: "onboard://user", mimeType: "application/json" });
    expect(jsonOf(read)).toEqual(await ok(client, "get_current_user"));
  });

  test("lists the caller's organizations and reads one with its members and stack count", async ({ env }) => {
    const admin = await signUp(env, { agentName: "Admin" });
    const org = admin.signup.userInfo.githubLogin as string;
    await ok(admin.client, "create_stack", { projectName: "p", stackName: "s" });
    const invite = await ok(admin.client, "create_invite_link", { name: "n", expiresAt: "2026-03-10T00:00:00Z" });
    const joined = await ok(await env.connect(), "redeem_invite", { token: invite.secret, email: "m@example.com", name: "Member" });
    const member = await env.connect(joined.accessToken);

    expect((await (await env.connect()).listResources()).resources.map((r) => r.uri)).toEqual(["onboard://user"]);
    const listed = await member.listResources();
    expect(listed.resources.map((r) => r.uri)).toEqual(["onboard://user", `onboard://organizations/${org}`]);
    const { resourceTemplates } = await member.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(["onboard://organizations/{name}"]);

    const read = await member.readResource({ uri: `onboard://organizations/${org}` });
    expect(jsonOf(read)).toMatchObject({
      name: org,
      role: "viewer",
      isDefault: true,
      stackCount: 1,
      members: expect.arrayContaining([
        expect.objectContaining({ githubLogin: org, role: "admin", isAgent: true }),
        expect.objectContaining({ name: "Member", role: "viewer" }),
      ]),
    });
  });

  test("an organization the caller is not in reads exactly like one that does not exist", async ({ env }) => {
    const owner = await signUp(env);
    const stranger = await signUp(env);
    const org = owner.signup.userInfo.githubLogin as string;
    const real = await stranger.client.readResource({ uri: `onboard://organizations/${org}` }).catch((error: Error) => error.message);
    const made = await stranger.client.readResource({ uri: "onboard://organizations/no-such-org" }).catch((error: Error) => error.message);
    expect(String(real)).toContain("not a member");
    expect(String(real).replace(org, "X")).toBe(String(made).replace("no-such-org", "X"));
  });
});

describe("choosing tools", () => {
  test("read-only mode exposes only the tools without side effects", async ({ env }) => {
    const client = await connectWith(env, selectTools({ readOnly: true }));
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual([
      "get_claim_status",
      "get_current_user",
      "get_default_organization",
      "list_invite_links",
      "list_pending_invites",
      "list_stacks",
    ]);
    // A tool that is not exposed is unknown: the SDK refuses the call as invalid params.
    await expect(client.callTool({ name: "agent_signup", arguments: {} })).rejects.toMatchObject({ code: -32602 });
  });

  test("ONBOARD_TOOLS exposes exactly the named tools, and an unknown name is a configuration error naming it", async ({ env }) => {
    const config = loadConfig({ ONBOARD_TOOLS: "agent_signup, get_current_user" });
    const client = await connectWith(env, selectTools({ names: config.tools }));
    expect((await client.listTools()).tools.map((tool) => tool.name)).toEqual(["agent_signup", "get_current_user"]);
    expect(() => selectTools({ names: ["get_current_user", "drop_tables"] })).toThrow(ConfigError);
    expect(() => selectTools({ names: ["drop_tables"] })).toThrow(/ONBOARD_TOOLS: unknown tool drop_tables/);
  });

  test("both together keep only read-only tools among those named", () => {
    const config = loadConfig({ ONBOARD_READ_ONLY: "1", ONBOARD_TOOLS: "agent_signup,list_stacks" });
    expect(selectTools({ readOnly: config.readOnly, names: config.tools }).map((tool) => tool.name)).toEqual(["list_stacks"]);
  });
});

describe("snapshots", () => {
  // Changing a prompt or resource shows up as a reviewed diff (`npx vitest run -u`).
  test("prompts/list, resources/list and resources/templates/list match their committed snapshots", async ({ env }) => {
    const client = await env.connect();
    await expect(`${JSON.stringify(await client.listPrompts(), null, 2)}\n`).toMatchFileSnapshot("__toolsnaps__/prompts-list.json");
    await expect(`${JSON.stringify(await client.listResources(), null, 2)}\n`).toMatchFileSnapshot("__toolsnaps__/resources-list.json");
    await expect(`${JSON.stringify(await client.listResourceTemplates(), null, 2)}\n`).toMatchFileSnapshot(
      "__toolsnaps__/resource-templates-list.json",
    );
  });
});
