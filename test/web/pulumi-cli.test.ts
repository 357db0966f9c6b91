/**
 * The Pulumi CLI's own requests, replayed: a client that sends what
 * pulumi/pulumi's pkg/backend/httpstate/client sends (api.go: headers, query
 * encoding, the one refresh and retry after a 401; client.go: paths, bodies,
 * the proof-of-work solve) in the order pkg/backend/httpstate/backend.go and
 * the commands make the calls, and decodes each answer into the CLI's Go
 * structs, transcribed below with the file each comes from. Every answer is
 * also checked against the schema of Pulumi's OpenAPI document
 * (pulumi/pulumi-pulumiservice provider/pkg/cloud/spec.json) for its operation.
 */
import { test as base, describe, expect } from "vitest";
import { z } from "zod";
import { claimAccount } from "../../src/services/claims.js";
import { HOUR, HUMAN_PASSWORD, jsonOrUndefined } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";
import { solveChallenge, solves } from "../signup-challenge-solver.js";

const CHALLENGE_BITS = 10;

const test = base.extend<{ http: TestHttp }>({
  // biome-ignore lint: vitest fixtures need the destructuring pattern.
  http: async ({}, use) => {
    const http = await startTestHttp({ ONBOARD_SIGNUP_CHALLENGE_BITS: String(CHALLENGE_BITS) });
    await use(http);
    await http.close();
  },
});

// ---- Go's encoding/json, as the CLI decodes: unknown fields ignored, a wrong type is an error. ----

/** time.Time decodes from an RFC 3339 string only. */
const goTime = z.string().refine((text) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(text), "not RFC 3339");
/** A Go slice: null decodes as nil. */
const goSlice = <T extends z.ZodType>(item: T) => z.array(item).nullable();

/** client.go AgentSignupChallenge. */
const AgentSignupChallenge = z.object({ challengeID: z.string(), challengeData: z.string() });
/** client.go AgentSignupResponse. */
const AgentSignupResponse = z.object({
  accessToken: z.string(),
  accessTokenValidUntil: goTime,
  refreshToken: z.string().optional(),
  claimToken: z.string(),
  claimTokenValidUntil: goTime,
});
/** client.go serviceUserInfo and serviceUser ("Copied from pulumi-service pkg/apitype/users.go"), serviceTokenInfo. */
const serviceUserInfo = z.object({ name: z.string(), githubLogin: z.string(), avatarUrl: z.string(), email: z.string().optional() });
const serviceUser = z.object({
  id: z.string(),
  githubLogin: z.string(),
  name: z.string(),
  email: z.string(),
  avatarUrl: z.string(),
  organizations: goSlice(serviceUserInfo),
  identities: goSlice(z.string()),
  siteAdmin: z.boolean().optional(),
  tokenInfo: z.object({ name: z.string(), organization: z.string().optional(), team: z.string().optional() }).optional(),
});
/** sdk/go/common/apitype/organizations.go GetDefaultOrganizationResponse: no JSON tags, so the Go field names. */
const GetDefaultOrganizationResponse = z.object({ GitHubLogin: z.string(), Messages: goSlice(z.object({ message: z.string() })) });
/** sdk/go/common/apitype/service.go CapabilitiesResponse, APICapabilityConfig. */
const CapabilitiesResponse = z.object({ capabilities: goSlice(z.object({ capability: z.string(), version: z.number().int().optional() })) });
/** sdk/go/common/apitype/stacks.go CreateStackResponse. */
const CreateStackResponse = z.object({ messages: goSlice(z.object({ message: z.string() })).optional() });
/** sdk/go/common/apitype/stacks.go StackSummary, ListStacksResponse. */
const StackSummary = z.object({
  id: z.string(),
  orgName: z.string(),
  projectName: z.string(),
  stackName: z.string(),
  lastUpdate: z.number().int().optional(),
  resourceCount: z.number().int().optional(),
  links: z.object({ self: z.string() }).optional(),
});
const ListStacksResponse = z.object({ stacks: goSlice(StackSummary), continuationToken: z.string().nullable().optional() });
/** sdk/go/common/apitype/core.go Stack. */
const Stack = z.object({
  id: z.string(),
  orgName: z.string(),
  projectName: z.string(),
  stackName: z.string(),
  activeUpdate: z.string(),
  tags: z.record(z.string(), z.string()).optional(),
  version: z.number().int(),
});
/** sdk/go/common/apitype/oauth.go TokenExchangeGrantResponse. */
const TokenExchangeGrantResponse = z.object({
  access_token: z.string(),
  issued_token_type: z.string(),
  token_type: z.string(),
  expires_in: z.number().int(),
  scope: z.string(),
  refresh_token: z.string().optional(),
});
/** sdk/go/common/apitype/errors.go ErrorResponse. */
const ErrorResponse = z.object({ code: z.number().int(), message: z.string() });

// ---- The OpenAPI document's response schemas for the same operations (required fields required). ----

const dateTime = z.iso.datetime({ offset: true });
const openapi = {
  /** SignupChallenge → AgentSignupChallenge. */
  SignupChallenge: z.object({ challengeID: z.string(), challengeData: z.string() }),
  /** GetCurrentUser → User; organizations are OrganizationSummaryWithRole. */
  User: z.object({
    id: z.string(),
    githubLogin: z.string(),
    name: z.string(),
    email: z.string(),
    avatarUrl: z.string(),
    hasMFA: z.boolean(),
    identities: z.array(z.string()),
    isManagedByMultiOrg: z.boolean(),
    isOrgManaged: z.boolean(),
    organizations: z.array(
      z.object({ avatarUrl: z.string(), githubLogin: z.string(), name: z.string(), role: z.enum(["none", "member", "admin", "potential-member", "stack-collaborator", "billing-manager"]) }),
    ),
    siteAdmin: z.boolean().optional(),
    tokenInfo: z.object({ name: z.string(), organization: z.string(), team: z.string() }).optional(),
  }),
  /** Signup → AgentSignupResponse. */
  get Signup() {
    return z.object({ accessToken: z.string(), accessTokenValidUntil: dateTime, claimToken: z.string(), claimTokenValidUntil: dateTime, userInfo: this.User });
  },
  /** Token → TokenExchangeGrantResponse. */
  Token: z.object({ access_token: z.string(), expires_in: z.number().int(), issued_token_type: z.string(), refresh_token: z.string().optional(), scope: z.string(), token_type: z.string() }),
  /** GetDefaultOrganization → AppGetDefaultOrganizationResponse. */
  GetDefaultOrganization: z.object({ GitHubLogin: z.string(), Messages: z.array(z.object({ message: z.string(), severity: z.string().optional() })) }),
  /** Capabilities → AppCapabilitiesResponse. */
  Capabilities: z.object({ capabilities: z.array(z.object({ capability: z.string(), configuration: z.object({}).optional(), version: z.number().int().optional() })) }),
  /** CreateStack → AppCreateStackResponse. */
  CreateStack: z.object({ messages: z.array(z.object({ message: z.string(), severity: z.string().optional() })).optional() }),
  /** ListUserStacks → AppListStacksResponse. */
  ListUserStacks: z.object({
    continuationToken: z.string().optional(),
    stacks: z.array(
      z.object({ id: z.string(), orgName: z.string(), projectName: z.string(), stackName: z.string(), lastUpdate: z.number().int().optional(), resourceCount: z.number().int().optional(), links: z.object({ self: z.string() }).optional() }),
    ),
  }),
  /** GetStack → AppStack. */
  GetStack: z.object({ activeUpdate: z.string(), id: z.string(), orgName: z.string(), projectName: z.string(), stackName: z.string(), tags: z.record(z.string(), z.string()).optional(), version: z.number().int() }),
  /** SignupValidate → AgentClaimResponse. */
  SignupValidate: z.object({
    agent: z.object({ createdAt: dateTime, login: z.string(), orgName: z.string() }),
    claimExpiresAt: dateTime,
    conflicts: z.array(z.object({ kind: z.string() })),
    entities: z.array(z.object({ kind: z.string() })),
    failures: z.array(z.object({ entity: z.object({ kind: z.string() }), failureDetails: z.string() })),
  }),
};

// ---- The CLI's HTTP client. ----

/** go-querystring's Values(...).Encode(): omitempty fields left out, keys sorted, url.QueryEscape (a space is "+"). */
function goQuery(fields: Record<string, string | boolean | undefined>): string {
  const escape = (text: string) =>
    encodeURIComponent(text)
      .replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`)
      .replace(/%20/g, "+");
  const encoded = Object.entries(fields)
    .filter((entry): entry is [string, string | boolean] => entry[1] !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, value]) => `${escape(key)}=${escape(String(value))}`)
    .join("&");
  return encoded ? `?${encoded}` : "";
}

interface SentRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  status: number;
}

class CliError extends Error {
  constructor(readonly status: number, readonly response: z.infer<typeof ErrorResponse>) {
    super(`[${response.code}] ${response.message}`);
  }
}

/** pkg/backend/httpstate/client: restCall through pulumiAPICall, and RefreshAccessToken. */
class PulumiCliClient {
  readonly sent: SentRequest[] = [];
  constructor(
    private readonly apiUrl: string,
    public accessToken = "",
    public refreshToken = "",
  ) {}

  private async send(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    // api.go: Content-Type always JSON, the versioned Accept, `token` credentials, gzip accepted.
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/vnd.pulumi+9",
      "accept-encoding": "gzip",
      "user-agent": "pulumi-cli/1 (v3.247.0; linux)",
    };
    if (this.accessToken) headers.authorization = `token ${this.accessToken}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const res = await fetch(`${this.apiUrl}${path}`, { method, headers, body: payload });
    const text = await res.text();
    this.sent.push({ method, path, headers, body: payload, status: res.status });
    return { status: res.status, text };
  }

  /** One call; on a 401 with a refresh token in hand, refresh once and send it again (api.go defaultRESTClient.Call). */
  async restCall<T extends z.ZodType>(method: string, path: string, options: { query?: Record<string, string | boolean | undefined>; body?: unknown; decode?: T } = {}) {
    const fullPath = path + (options.query ? goQuery(options.query) : "");
    let answer = await this.send(method, fullPath, options.body);
    if (answer.status === 401 && this.refreshToken) {
      await this.refresh();
      answer = await this.send(method, fullPath, options.body);
    }
    const parsed = jsonOrUndefined(answer.text);
    if (answer.status >= 400) throw new CliError(answer.status, ErrorResponse.parse(parsed));
    return { status: answer.status, raw: parsed, value: (options.decode ? options.decode.parse(parsed) : undefined) as T extends z.ZodType ? z.infer<T> : undefined };
  }

  /** client.go RefreshAccessToken: a form body, no Authorization header. */
  async refresh() {
    const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: this.refreshToken }).toString();
    const res = await fetch(`${this.apiUrl}/api/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form });
    const raw = await res.json();
    this.sent.push({ method: "POST", path: "/api/oauth/token", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form, status: res.status });
    expect(res.status, JSON.stringify(raw)).toBe(200);
    openapi.Token.parse(raw);
    const grant = TokenExchangeGrantResponse.parse(raw);
    expect(grant.access_token).not.toBe("");
    this.accessToken = grant.access_token;
    if (grant.refresh_token) this.refreshToken = grant.refresh_token;
    return grant;
  }

  /** client.go SignupAgent, with its checks on the answer. */
  async signupAgent(metadata: { name: string; model: string }) {
    const challenge = await this.restCall("GET", "/api/agents/signup", { decode: AgentSignupChallenge });
    openapi.SignupChallenge.parse(challenge.raw);
    expect(challenge.value.challengeID).not.toBe("");
    expect(challenge.value.challengeData).toMatch(new RegExp(`^v1:[^:]+:${CHALLENGE_BITS}$`));
    const started = Date.now();
    const challengeResult = solveChallenge(challenge.value.challengeData);
    const signup = await this.restCall("POST", "/api/agents/signup", {
      body: { challengeID: challenge.value.challengeID, challengeResult, agentName: metadata.name, agentModel: metadata.model, challengeSolveDurationMs: Date.now() - started },
      decode: AgentSignupResponse,
    });
    openapi.Signup.parse(signup.raw);
    for (const field of ["accessToken", "claimToken"] as const) expect(signup.value[field]).not.toBe("");
    return signup.value;
  }

  /** client.go GetPulumiAccountDetails: the login, the organizations' githubLogins, and tokenInfo if any. */
  async getPulumiAccountDetails() {
    const { raw, value } = await this.restCall("GET", "/api/user", { decode: serviceUser });
    openapi.User.parse(raw);
    expect(value.githubLogin).not.toBe("");
    return { username: value.githubLogin, organizations: (value.organizations ?? []).map((org) => org.githubLogin), tokenInfo: value.tokenInfo };
  }

  /** client.go ValidateAgentClaim: 200 is claimable, an ErrorResponse with code 404 is not. */
  async validateAgentClaim(claimToken: string): Promise<boolean> {
    try {
      const { raw } = await this.restCall("GET", `/api/agents/signup/validate/${encodeURIComponent(claimToken)}`);
      openapi.SignupValidate.parse(raw);
      return true;
    } catch (error) {
      if (error instanceof CliError && error.response.code === 404) return false;
      throw error;
    }
  }
}

/** console.go CloudConsoleURL with PULUMI_CONSOLE_DOMAIN set, and AgentClaimURL. */
function agentClaimUrl(cloudUrl: string, consoleDomain: string, claimToken: string) {
  const url = new URL(cloudUrl);
  url.host = consoleDomain;
  url.pathname = `/claim/${claimToken}`;
  return url.toString();
}

/** backend.go currentOrSignupAgentAccount: sign up, then read the account details with the new token. */
async function agentLogin(http: TestHttp) {
  const cli = new PulumiCliClient(http.url);
  const signup = await cli.signupAgent({ name: "claude-code", model: "claude-opus" });
  cli.accessToken = signup.accessToken;
  cli.refreshToken = signup.refreshToken ?? "";
  const account = await cli.getPulumiAccountDetails();
  return { cli, signup, account };
}

describe("the Pulumi CLI against this server", () => {
  test("agent login: challenge, proof of work, signup, account details; the claim URL it builds is this server's claim page", async ({ http }) => {
    const { cli, signup, account } = await agentLogin(http);
    expect(cli.sent.map((request) => `${request.method} ${request.path} ${request.status}`)).toEqual(["GET /api/agents/signup 200", "POST /api/agents/signup 200", "GET /api/user 200"]);
    // Unauthenticated until the signup answers, then `token <accessToken>`, with the versioned Accept throughout.
    expect(cli.sent.map((request) => request.headers.authorization)).toEqual([undefined, undefined, `token ${signup.accessToken}`]);
    for (const request of cli.sent) expect(request.headers).toMatchObject({ accept: "application/vnd.pulumi+9", "content-type": "application/json" });
    expect(signup.refreshToken).toMatch(/.+/);
    expect(account.organizations).toHaveLength(1);
    expect(Date.parse(signup.claimTokenValidUntil)).toBeGreaterThan(Date.parse(signup.accessTokenValidUntil));

    const claimUrl = agentClaimUrl(http.url, new URL(http.url).host, signup.claimToken);
    const page = await fetch(claimUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(account.username);
  });

  test("a signup whose proof of work is wrong gets an ErrorResponse with code 400, and no account", async ({ http }) => {
    const cli = new PulumiCliClient(http.url);
    const challenge = await cli.restCall("GET", "/api/agents/signup", { decode: AgentSignupChallenge });
    let nonce = 0;
    while (solves(challenge.value.challengeData, String(nonce))) nonce++;
    const wrong = String(nonce);
    const refused = await cli.restCall("POST", "/api/agents/signup", { body: { challengeID: challenge.value.challengeID, challengeResult: wrong, agentName: "claude-code" } }).catch((error) => error);
    expect(refused).toBeInstanceOf(CliError);
    expect(refused.response.code).toBe(400);
  });

  test("whoami -v: the user and organizations, no tokenInfo (so `Token type: personal`), capabilities and the default organization", async ({ http }) => {
    const { cli, account } = await agentLogin(http);
    expect(account.tokenInfo).toBeUndefined();
    const capabilities = await cli.restCall("GET", "/api/capabilities", { decode: CapabilitiesResponse });
    openapi.Capabilities.parse(capabilities.raw);
    expect(capabilities.value.capabilities).toEqual([]);
    const defaultOrg = await cli.restCall("GET", "/api/user/organizations/default", { decode: GetDefaultOrganizationResponse });
    openapi.GetDefaultOrganization.parse(defaultOrg.raw);
    expect(defaultOrg.value.GitHubLogin).toBe(account.organizations[0]);
  });

  test("stack init, ls (with the CLI's query encoding), tag set, rm", async ({ http }) => {
    const { cli, account } = await agentLogin(http);
    const org = account.organizations[0]!;
    // `pulumi stack init dev` in project "web", with the tags the CLI adds from Pulumi.yaml.
    const created = await cli.restCall("POST", `/api/stacks/${org}/web`, { body: { stackName: "dev", tags: { "pulumi:project": "web", "pulumi:description": "the web site" } }, decode: CreateStackResponse });
    openapi.CreateStack.parse(created.raw);
    const twice = await cli.restCall("POST", `/api/stacks/${org}/web`, { body: { stackName: "dev" } }).catch((error) => error);
    expect(twice).toBeInstanceOf(CliError);
    expect(twice.response).toMatchObject({ code: 409, message: expect.stringContaining("already exists") });

    // `pulumi stack ls` filters by the current project; a tag value with a space travels as "+".
    const listed = await cli.restCall("GET", "/api/user/stacks", { query: { project: "web", tagName: "pulumi:description", tagValue: "the web site" }, decode: ListStacksResponse });
    openapi.ListUserStacks.parse(listed.raw);
    expect(cli.sent.at(-1)!.path).toBe("/api/user/stacks?project=web&tagName=pulumi%3Adescription&tagValue=the+web+site");
    expect(listed.value.stacks).toEqual([expect.objectContaining({ orgName: org, projectName: "web", stackName: "dev" })]);
    expect(listed.value.continuationToken ?? undefined).toBeUndefined();

    const stack = await cli.restCall("GET", `/api/stacks/${org}/web/dev`, { decode: Stack });
    openapi.GetStack.parse(stack.raw);
    expect(stack.value.tags).toEqual({ "pulumi:description": "the web site", "pulumi:project": "web" });
    // `pulumi stack tag set owner ada`: the whole map, then 204 with no body.
    expect((await cli.restCall("PATCH", `/api/stacks/${org}/web/dev/tags`, { body: { ...stack.value.tags, owner: "ada" } })).status).toBe(204);
    expect((await cli.restCall("GET", `/api/stacks/${org}/web/dev`, { decode: Stack })).value.tags).toMatchObject({ owner: "ada" });
    expect((await cli.restCall("HEAD", `/api/stacks/${org}/web`)).status).toBe(200);

    // `pulumi stack rm dev --yes`: force false, 204.
    expect((await cli.restCall("DELETE", `/api/stacks/${org}/web/dev`, { query: { force: false } })).status).toBe(204);
    expect(cli.sent.at(-1)!.path).toBe(`/api/stacks/${org}/web/dev?force=false`);
    const gone = await cli.restCall("GET", `/api/stacks/${org}/web/dev`).catch((error) => error);
    expect(gone.response.code).toBe(404);
  });

  test("an expired access token: 401, one refresh through /api/oauth/token, the same request again, and it succeeds", async ({ http }) => {
    const { cli, signup } = await agentLogin(http);
    http.clock.advance(73 * HOUR);
    const before = cli.sent.length;
    const account = await cli.getPulumiAccountDetails();
    expect(account.username).toMatch(/.+/);
    expect(cli.sent.slice(before).map((request) => `${request.method} ${request.path} ${request.status}`)).toEqual(["GET /api/user 401", "POST /api/oauth/token 200", "GET /api/user 200"]);
    const [, refresh, retried] = cli.sent.slice(before);
    expect(refresh!.body).toBe(`grant_type=refresh_token&refresh_token=${encodeURIComponent(signup.refreshToken!)}`);
    expect(refresh!.headers).not.toHaveProperty("authorization");
    expect(retried!.headers.authorization).toBe(`token ${cli.accessToken}`);
    expect(cli.accessToken).not.toBe(signup.accessToken);
    expect(cli.refreshToken).not.toBe(signup.refreshToken);
  });

  test("claim validation: claimable while open, then not (a 404 ErrorResponse) once the human claimed the account", async ({ http }) => {
    const { cli, signup } = await agentLogin(http);
    const anonymous = new PulumiCliClient(http.url);
    expect(await anonymous.validateAgentClaim(signup.claimToken)).toBe(true);
    await claimAccount(http.handle.deps, { claimToken: signup.claimToken, username: "grace", email: "grace@example.com", password: HUMAN_PASSWORD, keepAgentAccess: true });
    expect(await anonymous.validateAgentClaim(signup.claimToken)).toBe(false);
    expect(anonymous.sent.at(-1)).toMatchObject({ status: 404 });
    // The agent's token was kept: whoami now shows the human's login.
    expect((await cli.getPulumiAccountDetails()).username).toBe("grace");
  });
});
