import { type Request, type Response, Router } from "express";
import express from "express";
import type { z } from "zod";
import { AppError } from "../errors.js";
import { agentSignup, agentSignupInput, getCurrentUser } from "../services/accounts.js";
import { validateClaimToken } from "../services/claims.js";
import type { Deps } from "../services/deps.js";
import {
  createInviteLink,
  createInviteLinkInput,
  getInviteLink,
  redeemInvite,
  redeemInviteInput,
  updateInviteLink,
  updateInviteLinkInput,
  validateInvite,
} from "../services/invites.js";
import { getDefaultOrganization, setDefaultOrganization } from "../services/orgs.js";
import { listStacks, listStacksInput } from "../services/stacks.js";
import { authenticate, claimEndedAccess } from "../services/tokens.js";
import { clientAddress, tokenFrom } from "../transports/guards.js";
import type { SignupLimiter } from "../transports/rate-limit.js";

/** Parses with the same zod schema the MCP tool uses; the first problem becomes a 400 ValidationError. */
function parse<Schema extends z.ZodType>(schema: Schema, value: unknown): z.infer<Schema> {
  const result = schema.safeParse(value ?? {});
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const where = issue.path.length ? ` (at ${issue.path.join(".")})` : "";
    throw new AppError("validation", `${issue.message}${where}`);
  }
  return result.data;
}

async function callerId(deps: Deps, req: Request): Promise<number> {
  const token = tokenFrom(req);
  if (token === undefined) {
    throw new AppError(
      "unauthenticated",
      "Authentication required: send `Authorization: token <accessToken>` (or Bearer). Get a token from POST /api/agents/signup.",
    );
  }
  const caller = await authenticate(deps, token);
  if (caller.revokedByClaim) throw claimEndedAccess(caller.user.claimedAt);
  return caller.user.id;
}

/**
 * Routes open to anyone still refuse a token that is present but not valid,
 * as /mcp does: a bad token is never taken as anonymous (401).
 */
async function refuseInvalidToken(deps: Deps, req: Request): Promise<void> {
  const token = tokenFrom(req);
  if (token !== undefined) await authenticate(deps, token);
}

/** One optional query parameter as a string; repeated parameters are refused. */
function queryText(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined || typeof value === "string") return value;
  throw new AppError("validation", `Give the query parameter ${name} once, as text.`);
}

/** The seeds' REST paths, over the same services as the MCP tools. */
export function apiRouter(deps: Deps, limiter: SignupLimiter) {
  const router = Router();
  router.use(express.json({ limit: "64kb" }));
  const send = (res: Response, body: unknown, status = 200) => res.status(status).json(body);

  // Pulumi (seeds 000, 001)
  router.post("/api/agents/signup", async (req, res) => {
    await refuseInvalidToken(deps, req);
    const input = parse(agentSignupInput, req.body);
    limiter.take(clientAddress(req));
    send(res, await agentSignup(deps, input));
  });

  router.get("/api/agents/signup/validate/:claimToken", (req, res) => {
    send(res, validateClaimToken(deps, req.params.claimToken));
  });

  router.get("/api/user", async (req, res) => {
    send(res, getCurrentUser(deps, await callerId(deps, req)));
  });

  router.get("/api/user/organizations/default", async (req, res) => {
    send(res, getDefaultOrganization(deps.db, await callerId(deps, req)));
  });

  router.post("/api/user/organizations/:orgName/default", async (req, res) => {
    setDefaultOrganization(deps.db, await callerId(deps, req), req.params.orgName);
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
    send(res, listStacks(deps, userId, input));
  });

  // Unleash (seeds 002, 003)
  router.post("/api/admin/invite-link/tokens", async (req, res) => {
    const userId = await callerId(deps, req);
    const token = createInviteLink(deps, userId, parse(createInviteLinkInput, req.body));
    res.setHeader("Location", `/api/admin/invite-link/tokens/${encodeURIComponent(token.secret)}`);
    send(res, token, 201);
  });

  router.get("/api/admin/invite-link/tokens/:secret", async (req, res) => {
    send(res, getInviteLink(deps, await callerId(deps, req), req.params.secret));
  });

  router.put("/api/admin/invite-link/tokens/:secret", async (req, res) => {
    const userId = await callerId(deps, req);
    send(res, updateInviteLink(deps, userId, req.params.secret, parse(updateInviteLinkInput, req.body)));
  });

  router.get("/invite/:token/validate", (req, res) => {
    send(res, validateInvite(deps, req.params.token));
  });

  router.post("/invite/:token/signup", async (req, res) => {
    await refuseInvalidToken(deps, req);
    const body = parse(redeemInviteInput.omit({ token: true }), req.body);
    limiter.take(clientAddress(req));
    const result = await redeemInvite(deps, { ...body, token: req.params.token });
    send(res, result.user);
  });

  return router;
}
