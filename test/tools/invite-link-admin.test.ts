import { DAY, expect, fails, ok, signUp, test, type TestEnv } from "../fixture.js";

async function adminWithLinks(env: TestEnv) {
  const admin = await signUp(env, { agentName: "Admin" });
  const inADay = new Date(env.clock.now().getTime() + DAY).toISOString();
  const first = await ok(admin.client, "create_invite_link", { name: "First", expiresAt: inADay });
  env.clock.advance(1000);
  const second = await ok(admin.client, "create_invite_link", { name: "Second", expiresAt: inADay });
  return { admin: admin.client, first, second };
}

test("list_invite_links answers Unleash's {tokens}, newest first, with each link's url and who joined", async ({ env }) => {
  const { admin, first, second } = await adminWithLinks(env);
  await ok(await env.connect(), "redeem_invite", { token: first.url, email: "joiner@example.com", name: "Joiner" });
  const listed = await ok(admin, "list_invite_links");
  expect(listed.tokens.map((t: { name: string; url: string }) => [t.name, t.url])).toEqual([
    ["Second", second.url],
    ["First", first.url],
  ]);
  expect(listed.tokens[1].users).toEqual([expect.objectContaining({ email: "joiner@example.com" })]);
});

test("update_invite_link disables a link (nobody joins), re-enables it and extends it, given its url", async ({ env }) => {
  const { admin, first } = await adminWithLinks(env);
  expect(await ok(admin, "update_invite_link", { token: first.url, enabled: false })).toMatchObject({ name: "First", enabled: false });
  expect(await fails(await env.connect(), "redeem_invite", { token: first.url, email: "late@example.com", name: "Late" })).toMatch(/not valid/);
  expect(await ok(admin, "update_invite_link", { token: first.secret, enabled: true })).toMatchObject({ enabled: true });
  const later = new Date(env.clock.now().getTime() + 20 * DAY).toISOString();
  expect(await ok(admin, "update_invite_link", { token: first.url, expiresAt: later })).toMatchObject({ expiresAt: later });
  await ok(await env.connect(), "redeem_invite", { token: first.url, email: "on-time@example.com", name: "On time" });
});

test("update_invite_link without a change, or by someone who is not the organization's admin, changes nothing", async ({ env }) => {
  const { admin, first } = await adminWithLinks(env);
  expect(await fails(admin, "update_invite_link", { token: first.url })).toMatch(/Give enabled, expiresAt or both/);
  const viewer = await ok(await env.connect(), "redeem_invite", { token: first.url, email: "viewer@example.com", name: "Viewer" });
  const client = await env.connect(viewer.accessToken);
  expect(await fails(client, "update_invite_link", { token: first.url, enabled: false })).toMatch(/No invite link with that secret/);
  expect(await fails(client, "list_invite_links")).toMatch(/Only an admin/);
  expect((await ok(admin, "list_invite_links")).tokens.every((t: { enabled: boolean }) => t.enabled)).toBe(true);
});
