import { type Request, type Response, Router } from "express";
import express from "express";
import { z } from "zod";
import { AppError } from "../errors.js";
import { createPersonalTokenUntil, listAccessTokens, revokeAccessToken } from "../services/access-tokens.js";
import { agentSignup, agentSignupInput, getCurrentUser } from "../services/accounts.js";
import { agentClaimRequestShape, claimIntoOrganization, recentClaims, validateClaimToken } from "../services/claim-into-account.js";
import type { Deps } from "../services/deps.js";
import { deletePendingEmail, getPendingEmail, requireVerifiedEmail } from "../services/emails.js";
import {
  createInviteLink,
  createInviteLinkInput,
  getInviteLink,
  type InviteToken,
  listInviteTokens,
  redeemInvite,
  redeemInviteInput,
  updateInviteLink,
  updateInviteLinkInput,
  validateInvite,
} from "../services/invites.js";
import { acceptInvite, listPendingInvites } from "../services/org-invites.js";
import {
  deleteIdentityProvider,
  listGitHubTeams,
  listGitLabAppOrganizations,
  listIdentityProviderOrganizations,
  syncWithIdentityProvider,
} from "../services/identities.js";
import { getDefaultOrganization, setDefaultOrganization } from "../services/orgs.js";
import { refreshAccessToken } from "../services/refresh-tokens.js";
import { issueSignupChallenge, redeemSignupChallenge } from "../services/signup-challenges.js";
import { deleteStack, getStack, projectExists, replaceStackTags } from "../services/stack-management.js";
import { createStack, createStackInput, listStacks, listStacksInput } from "../services/stacks.js";
import { authenticate, type Caller, claimEndedAccess } from "../services/tokens.js";
import { tokenFrom } from "../credentials.js";
import type { SignupLimiter } from "../rate-limit.js";

/** Parses with the same zod schema the MCP tool uses; the first problem becomes a 400 ValidationError naming its field. */
function parse<Schema extends z.ZodType>(schema: Schema, value: unknown): z.infer<Schema> {
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    const issue = result.error.issues[0]!;
    if (issue.code === "unrecognized_keys") {
      const allowed = "shape" in schema ? Object.keys(schema.shape as object).join(", ") : "the documented fields";
      throw new AppError("validation", `Unknown property "${issue.keys[0]}": remove it. This request takes only ${allowed}.`, { field: issue.keys[0] });
    }
    const field = issue.path.join(".");
    throw new AppError("validation", `${issue.message}${field ? ` (at ${field})` : ""}`, field ? { field } : undefined);
  }
  return result.data;
}

// Unleash's request schemas allow no other properties (additionalProperties: false): our own
// `organization` travels in the query string on its paths, and unknown properties are refused.
const unleashTokenCreateBody = createInviteLinkInput.omit({ organization: true }).strict();
const unleashSignupBody = redeemInviteInput.omit({ token: true }).strict();
function organizationQuery(req: Request): string | undefined {
  const organization = queryText(req, "organization");
  return organization === undefined ? undefined : parse(createInviteLinkInput.shape.organization.unwrap(), organization);
}

async function requireCaller(deps: Deps, req: Request): Promise<Caller> {
  const token = tokenFrom(req);
  if (token === undefined) {
    throw new AppError(
      "unauthenticated",
      "Authentication required: send `Authorization: token <accessToken>` (or Bearer). Get a token from POST /api/agents/signup.",
    );
  }
  const caller = await authenticate(deps, token);
  if (caller.revokedByClaim) throw claimEndedAccess(caller.user.claimedAt);
  return caller;
}

/** Seed 002 requires createdBy, null when there is no creator; the shared shape (an MCP output schema too) leaves it out then. */
const unleashInviteToken = (token: InviteToken) => ({ ...token, createdBy: token.createdBy ?? null });

const callerId = async (deps: Deps, req: Request): Promise<number> => (await requireCaller(deps, req)).user.id;

/**
 * Routes open to anyone still refuse a token that is present but not valid,
 * as /mcp does: a bad token is never taken as anonymous (401).
 */
async function refuseInvalidToken(deps: Deps, req: Request): Promise<void> {
  const token = tokenFrom(req);
  if (token !== undefined) await authenticate(deps, token);
}

/** Pulumi's CreateStackRequest (sdk/go/common/apitype/stacks.go). */
const createStackRequest = z.object({
  stackName: createStackInput.shape.stackName,
  tags: createStackInput.shape.tags,
  teams: z.unknown().optional(),
  state: z.unknown().optional(),
  config: z.unknown().optional(),
});

const stateKeptElsewhere = (what: string) =>
  `${what} is not kept here: this server holds stacks' names and tags only, so \`pulumi up\`, \`preview\`, \`refresh\`, \`destroy\`, \`import\` and \`export\` need a backend that runs updates (Pulumi Cloud, or \`pulumi login --local\`).`;

/** One optional query parameter as a string; repeated parameters are refused. */
function queryText(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined || typeof value === "string") return value;
  throw new AppError("validation", `Give the query parameter ${name} once, as text.`);
}

/** A boolean query parameter as Pulumi's Go service reads one (strconv.ParseBool). */
function goBool(value: string, name: string): boolean {
  if (["1", "t", "T", "true", "TRUE", "True"].includes(value)) return true;
  if (["0", "f", "F", "false", "FALSE", "False"].includes(value)) return false;
  throw new AppError("validation", `The query parameter ${name} is true or false, not "${value}".`);
}

/** The seeds' REST paths, over the same services as the MCP tools. */
export function apiRouter(deps: Deps, limiter: SignupLimiter) {
  const router = Router();
  router.use(express.json({ limit: "64kb" }));
  const send = (res: Response, body: unknown, status = 200) => res.status(status).json(body);

  // Pulumi (seeds 000, 001)
  router.get("/api/agents/signup", async (req, res) => {
    await refuseInvalidToken(deps, req);
    send(res, await issueSignupChallenge(deps));
  });

  router.post("/api/agents/signup", async (req, res) => {
    await refuseInvalidToken(deps, req);
    const input = parse(agentSignupInput, req.body);
    await redeemSignupChallenge(deps, req.body);
    await limiter.take(limiter.addressOf(req));
    send(res, await agentSignup(deps, input));
  });

  // RFC 6749's refresh grant, as Pulumi's CLI sends it: a form body, no Authorization header; errors in OAuth's own shape.
  router.post("/api/oauth/token", express.urlencoded({ extended: false, limit: "16kb" }), async (req, res) => {
    res.setHeader("Cache-Control", "no-store");
    const grantType = req.body?.grant_type;
    const refreshToken = req.body?.refresh_token;
    if (grantType !== "refresh_token") {
      return res.status(400).json({ error: "unsupported_grant_type", error_description: 'Only grant_type "refresh_token" is served here, with the refreshToken the agent signup answered.' });
    }
    if (typeof refreshToken !== "string" || !refreshToken || refreshToken.length > 512) {
      return res.status(400).json({ error: "invalid_request", error_description: "refresh_token is required: the refreshToken the agent signup answered, or the one the last refresh did." });
    }
    try {
      const refreshed = await refreshAccessToken(deps, refreshToken);
      // Pulumi's TokenExchangeGrantResponse requires issued_token_type and scope as well (RFC 8693's names).
      res.json({
        access_token: refreshed.accessToken,
        issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
        token_type: "Bearer",
        expires_in: refreshed.expiresInSeconds,
        scope: "",
        refresh_token: refreshed.refreshToken,
      });
    } catch (error) {
      if (!(error instanceof AppError) || error.details?.oauthError !== "invalid_grant") throw error;
      res.status(400).json({ error: "invalid_grant", error_description: error.message });
    }
  });

  router.get("/api/agents/signup/validate/:claimToken", async (req, res) => {
    send(res, await validateClaimToken(deps, req.params.claimToken));
  });

  // Pulumi's claim API for the human, with a personal access token.
  router.post("/api/agents/:orgName/claim", async (req, res) => {
    const { user } = await requireCaller(deps, req);
    const dryRun = goBool(queryText(req, "dryRun") ?? "false", "dryRun");
    const request = parse(agentClaimRequestShape, req.body);
    send(res, await claimIntoOrganization(deps, { caller: user, orgName: req.params.orgName, request, dryRun }));
  });

  router.get("/api/agents/:orgName/claim/status", async (req, res) => {
    const { user } = await requireCaller(deps, req);
    send(res, await recentClaims(deps, user, req.params.orgName));
  });

  router.get("/api/user", async (req, res) => {
    const caller = await requireCaller(deps, req);
    send(res, await getCurrentUser(deps, caller.user.id, { row: caller.user }));
  });

  router.get("/api/user/organizations/default", async (req, res) => {
    send(res, await getDefaultOrganization(deps.db, await callerId(deps, req)));
  });

  router.post("/api/user/organizations/:orgName/default", async (req, res) => {
    await setDefaultOrganization(deps.db, await callerId(deps, req), req.params.orgName);
    res.status(204).end();
  });

  // Pulumi's verified and pending emails (seed 001); the change itself is the change_email tool.
  router.get("/api/user/verified-email", async (req, res) => {
    await requireVerifiedEmail(deps, await callerId(deps, req));
    send(res, {});
  });

  router.get("/api/user/pending-emails", async (req, res) => {
    const pending = await getPendingEmail(deps, await callerId(deps, req));
    if (pending) send(res, pending);
    else res.status(204).end();
  });

  router.delete("/api/user/pending-emails", async (req, res) => {
    await deletePendingEmail(deps, await callerId(deps, req));
    res.status(204).end();
  });

  // Pulumi's personal access tokens: the value only in the answer to POST, times in Unix seconds.
  router.get("/api/user/tokens", async (req, res) => {
    const userId = await callerId(deps, req);
    const tokens = (await listAccessTokens(deps, userId, "personal")).filter((token) => token.state === "active");
    res.json({
      tokens: tokens.map((token) => ({
        id: token.id,
        description: token.description ?? "",
        lastUsed: token.lastUsedAt ? Math.floor(token.lastUsedAt.getTime() / 1000) : 0,
        expires: Math.floor(token.expiresAt.getTime() / 1000),
        created: token.createdAt.toISOString(),
      })),
    });
  });

  router.post("/api/user/tokens", async (req, res) => {
    const { user } = await requireCaller(deps, req);
    const created = await createPersonalTokenUntil(deps, user, req.body?.description, req.body?.expires);
    res.json({ id: created.id, tokenValue: created.token });
  });

  router.delete("/api/user/tokens/:tokenId", async (req, res) => {
    const userId = await callerId(deps, req);
    await revokeAccessToken(deps, userId, req.params.tokenId, "personal");
    res.status(204).end();
  });

  router.get("/api/user/stacks", async (req, res) => {
    const userId = await callerId(deps, req);
    const maxResults = queryText(req, "maxResults");
    const input = parse(listStacksInput, {
      organization: queryText(req, "organization"),
      project: queryText(req, "project"),
      tagName: queryText(req, "tagName"),
      tagValue: queryText(req, "tagValue"),
      continuationToken: queryText(req, "continuationToken"),
      maxResults: maxResults === undefined ? undefined : Number(maxResults),
    });
    send(res, await listStacks(deps, userId, input));
  });

  // Pulumi's stack routes as its CLI calls them (pkg/backend/httpstate/client/client.go), on the same services as the tools.
  router.get("/api/capabilities", async (req, res) => {
    await refuseInvalidToken(deps, req);
    send(res, { capabilities: [] });
  });

  router.post("/api/stacks/:org/:project", async (req, res) => {
    const userId = await callerId(deps, req);
    const body = parse(createStackRequest, req.body);
    for (const field of ["state", "config", "teams"] as const) {
      if (body[field] !== undefined) throw new AppError("validation", stateKeptElsewhere(`A stack's ${field}`), { field });
    }
    const input = parse(createStackInput, { organization: req.params.org, projectName: req.params.project, stackName: body.stackName, tags: body.tags });
    await createStack(deps, userId, input);
    send(res, {});
  });

  router.head("/api/stacks/:org/:project", async (req, res) => {
    const found = await projectExists(deps, await callerId(deps, req), req.params.org, req.params.project);
    res.status(found ? 200 : 404).end();
  });

  const stackRef = (req: Request<{ org: string; project: string; stack: string }>) => ({
    organization: req.params.org,
    projectName: req.params.project,
    stackName: req.params.stack,
  });

  router.get("/api/stacks/:org/:project/:stack", async (req, res) => {
    send(res, await getStack(deps, await callerId(deps, req), stackRef(req)));
  });

  router.delete("/api/stacks/:org/:project/:stack", async (req, res) => {
    await deleteStack(deps, await callerId(deps, req), stackRef(req));
    res.status(204).end();
  });

  router.patch("/api/stacks/:org/:project/:stack/tags", async (req, res) => {
    await replaceStackTags(deps, await callerId(deps, req), stackRef(req), req.body);
    res.status(204).end();
  });

  // Updates, previews, refreshes, imports and exports need a stack's state, which is not kept here.
  router.all("/api/stacks/:org/:project/:stack/*rest", async (req) => {
    await callerId(deps, req);
    throw new AppError("bad_request", stateKeptElsewhere("Running or reading an update"));
  });

  // Pulumi's pending organization invites (seed 001), addressed to the caller's verified email.
  router.get("/api/user/pending-invites", async (req, res) => {
    send(res, (await listPendingInvites(deps, await callerId(deps, req))).body);
  });

  router.post("/api/user/pending-invites/:id/accept", async (req, res) => {
    send(res, await acceptInvite(deps, await callerId(deps, req), req.params.id));
  });

  // Pulumi's VCS identity routes (seed 001). No account here is linked to a VCS,
  // so each answers as Pulumi does for a user without that identity.
  router.get("/api/user/github/:ghOrgName/teams", async (req, res) => {
    send(res, listGitHubTeams(deps, await callerId(deps, req), req.params.ghOrgName));
  });

  router.get("/api/user/gitlab-app/organizations", async (req, res) => {
    // Deprecated in the seed: every answer says so, refusals included.
    res.setHeader("Deprecation", "true");
    res.setHeader("Link", '</api/user/vcs/organizations>; rel="successor-version"');
    send(res, listGitLabAppOrganizations(deps, await callerId(deps, req)));
  });

  router.get("/api/user/vcs/organizations", async (req, res) => {
    send(res, listIdentityProviderOrganizations(deps, await callerId(deps, req)));
  });

  router.post("/api/user/vcs/sync", async (req, res) => {
    send(res, await syncWithIdentityProvider(deps, await callerId(deps, req), req.query.identity));
  });

  router.delete("/api/user/vcs", async (req, res) => {
    send(res, await deleteIdentityProvider(deps, await callerId(deps, req), queryText(req, "identity")));
  });

  // Unleash (seeds 002, 003)
  router.get("/api/admin/invite-link/tokens", async (req, res) => {
    const userId = await callerId(deps, req);
    send(res, { tokens: (await listInviteTokens(deps, userId, organizationQuery(req))).map(unleashInviteToken) });
  });

  router.post("/api/admin/invite-link/tokens", async (req, res) => {
    const userId = await callerId(deps, req);
    const body = parse(unleashTokenCreateBody, req.body);
    const token = await createInviteLink(deps, userId, { ...body, organization: organizationQuery(req) });
    res.setHeader("Location", `/api/admin/invite-link/tokens/${encodeURIComponent(token.secret)}`);
    send(res, unleashInviteToken(token), 201);
  });

  router.get("/api/admin/invite-link/tokens/:secret", async (req, res) => {
    send(res, unleashInviteToken(await getInviteLink(deps, await callerId(deps, req), req.params.secret)));
  });

  router.put("/api/admin/invite-link/tokens/:secret", async (req, res) => {
    const userId = await callerId(deps, req);
    const changes = parse(updateInviteLinkInput, req.body);
    if (changes.expiresAt === undefined && changes.enabled === undefined) {
      throw new AppError("validation", "Give expiresAt, enabled or both: an update without either changes nothing.");
    }
    send(res, unleashInviteToken(await updateInviteLink(deps, userId, req.params.secret, changes)));
  });

  router.get("/invite/:token/validate", async (req, res) => {
    send(res, await validateInvite(deps, req.params.token));
  });

  router.post("/invite/:token/signup", async (req, res) => {
    await refuseInvalidToken(deps, req);
    const body = parse(unleashSignupBody, req.body);
    // Unleash refuses an address with spaces around it rather than trimming it.
    if (body.email !== body.email.trim()) throw new AppError("validation", "email has spaces around it: send the address alone.", { field: "email" });
    await limiter.take(limiter.addressOf(req));
    const result = await redeemInvite(deps, { ...body, token: req.params.token });
    send(res, result.user);
  });

  return router;
}
