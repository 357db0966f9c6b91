/**
 * Pulumi's stack routes as its CLI calls them (pulumi/pulumi
 * pkg/backend/httpstate/client/client.go): `Accept: application/vnd.pulumi+9`,
 * `Authorization: token …`, and a JSON Content-Type on every request.
 */
import { test as base, expect } from "vitest";
import { jsonOrUndefined } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";

const test = base.extend<{ http: TestHttp }>({
  // biome-ignore lint: vitest fixtures need the destructuring pattern.
  http: async ({}, use) => {
    const http = await startTestHttp();
    await use(http);
    await http.close();
  },
});

async function cli(http: TestHttp, method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = { accept: "application/vnd.pulumi+9", "content-type": "application/json", "user-agent": "pulumi-cli/1 (v3.243.0; linux; cmd=stack-init)" };
  if (token) headers.authorization = `token ${token}`;
  const res = await fetch(`${http.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: jsonOrUndefined(text), text };
}

async function agent(http: TestHttp) {
  const signup = await cli(http, "POST", "/api/agents/signup", undefined, { agentName: "CLI agent" });
  expect(signup.status, signup.text).toBe(200);
  return { token: signup.body.accessToken as string, org: signup.body.userInfo.organizations[0].name as string };
}

test("GET /api/capabilities answers an empty list, which the CLI reads as no capabilities", async ({ http }) => {
  const { token } = await agent(http);
  expect(await cli(http, "GET", "/api/capabilities", token)).toMatchObject({ status: 200, body: { capabilities: [] } });
});

test("stack init, ls, tag set, rm: create answers {}, a second create is 409 'already exists', ls ends without a continuationToken, rm is 204", async ({ http }) => {
  const { token, org } = await agent(http);
  const created = await cli(http, "POST", `/api/stacks/${org}/website`, token, { stackName: "dev", tags: { "pulumi:project": "website" } });
  expect(created).toMatchObject({ status: 200, body: {} });
  const again = await cli(http, "POST", `/api/stacks/${org}/website`, token, { stackName: "dev" });
  expect(again.status).toBe(409);
  // The CLI tells "already exists" from the stack limit by the message, and reads the code from the body.
  expect(again.body).toMatchObject({ code: 409, message: expect.stringContaining("already exists") });

  const stack = await cli(http, "GET", `/api/stacks/${org}/website/dev`, token);
  expect(stack.body).toEqual({ id: expect.any(String), orgName: org, projectName: "website", stackName: "dev", activeUpdate: "", tags: { "pulumi:project": "website" }, version: 0 });
  // `stack tag set` sends the whole map.
  expect((await cli(http, "PATCH", `/api/stacks/${org}/website/dev/tags`, token, { "pulumi:project": "website", owner: "ada" })).status).toBe(204);
  expect((await cli(http, "GET", `/api/stacks/${org}/website/dev`, token)).body.tags).toEqual({ owner: "ada", "pulumi:project": "website" });

  const listed = await cli(http, "GET", "/api/user/stacks?project=website", token);
  expect(listed.body.stacks).toEqual([expect.objectContaining({ orgName: org, projectName: "website", stackName: "dev" })]);
  expect(listed.body).not.toHaveProperty("continuationToken");
  expect((await cli(http, "HEAD", `/api/stacks/${org}/website`, token)).status).toBe(200);

  expect((await cli(http, "DELETE", `/api/stacks/${org}/website/dev?force=false`, token)).status).toBe(204);
  const gone = await cli(http, "GET", `/api/stacks/${org}/website/dev`, token);
  expect(gone).toMatchObject({ status: 404, body: { code: 404 } });
  expect((await cli(http, "HEAD", `/api/stacks/${org}/website`, token)).status).toBe(404);
});

test("a stack with state, config or teams is refused with what this server keeps, and nothing is created", async ({ http }) => {
  const { token, org } = await agent(http);
  for (const extra of [{ state: { version: 3, deployment: {} } }, { config: { environment: "website/dev" } }, { teams: ["ops"] }]) {
    const answer = await cli(http, "POST", `/api/stacks/${org}/website`, token, { stackName: "dev", ...extra });
    expect(answer.status, answer.text).toBe(400);
    expect(answer.body.message).toMatch(/holds stacks' names and tags only/);
  }
  expect((await cli(http, "GET", "/api/user/stacks", token)).body.stacks).toEqual([]);
});

test("an update, preview or export answers 400 saying that updates need another backend", async ({ http }) => {
  const { token, org } = await agent(http);
  await cli(http, "POST", `/api/stacks/${org}/website`, token, { stackName: "dev" });
  for (const [method, tail] of [["POST", "update"], ["POST", "preview"], ["GET", "export"], ["POST", "destroy"]] as const) {
    const answer = await cli(http, method, `/api/stacks/${org}/website/dev/${tail}`, token, method === "POST" ? {} : undefined);
    expect(answer.status, `${method} ${tail}`).toBe(400);
    expect(answer.body).toMatchObject({ code: 400, message: expect.stringMatching(/pulumi up.*need a backend that runs updates/) });
  }
});

test("a viewer can read a stack but neither retag nor delete it; a stranger sees none", async ({ http }) => {
  const { token, org } = await agent(http);
  await cli(http, "POST", `/api/stacks/${org}/website`, token, { stackName: "dev" });
  const link = await cli(http, "POST", "/api/admin/invite-link/tokens", token, { name: "Team", expiresAt: new Date(http.clock.now().getTime() + 86_400_000).toISOString() });
  const viewer = await cli(http, "POST", `/invite/${link.body.secret}/signup`, undefined, { email: "viewer@example.com", name: "Viewer" });
  const viewerToken = viewer.body.accessToken as string;
  expect((await cli(http, "GET", `/api/stacks/${org}/website/dev`, viewerToken)).status).toBe(200);
  expect((await cli(http, "PATCH", `/api/stacks/${org}/website/dev/tags`, viewerToken, { a: "b" })).status).toBe(403);
  expect((await cli(http, "DELETE", `/api/stacks/${org}/website/dev?force=true`, viewerToken)).status).toBe(403);
  const stranger = await agent(http);
  expect((await cli(http, "GET", `/api/stacks/${org}/website/dev`, stranger.token)).status).toBe(404);
  expect((await cli(http, "GET", `/api/stacks/${org}/website/dev`, token)).body.tags).toEqual({});
});
