import { createPrivateKey, createPublicKey, hkdfSync } from "node:crypto";
import express, { type NextFunction, type Request, type Response, Router } from "express";
import type { Adapter, AdapterPayload, KoaContextWithOIDC } from "oidc-provider";
import { eq } from "drizzle-orm";
import { isAppError } from "../errors.js";
import type { Logger } from "../log.js";
import type { SignupLimiter } from "../rate-limit.js";
import { agentSignup } from "../services/accounts.js";
import type { Deps } from "../services/deps.js";
import {
  consumeOAuthRecord,
  destroyOAuthRecord,
  findOAuthRecord,
  findOAuthRecordByUid,
  type OAuthPayload,
  revokeOAuthGrant,
  saveOAuthRecord,
} from "../services/oauth-records.js";
import { OAUTH_SCOPES } from "../services/oauth-tokens.js";
import { sealingSecret } from "../services/tokens.js";
import { type BrowserSession, sessionOf } from "./browser-session.js";
import { page } from "./html.js";
import { errorBox, formText, html, pageHeaders, send, staleForm } from "./page-parts.js";

const { full: MCP_SCOPE, read: READ_SCOPE } = OAUTH_SCOPES;

/** `mcp` includes `mcp:read`: a client that may ask for everything may be granted less. */
const withRead = (scope: string) => {
  const scopes = new Set(scope.split(" ").filter(Boolean));
  if (scopes.has(MCP_SCOPE)) scopes.add(READ_SCOPE);
  return [...scopes].join(" ");
};

const HOUR = 3600;
const DAY = 24 * HOUR;

/**
 * oidc-provider warns on stderr, when first imported, about any Node.js before
 * 22. This server runs on Node.js 20 on purpose, and its stderr carries JSON
 * log lines only, so that one line is left out.
 */
async function importOidcProvider() {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (!String(args[0]).startsWith("oidc-provider WARNING: Unsupported runtime")) warn(...args);
  };
  try {
    return await import("oidc-provider");
  } finally {
    console.warn = warn;
  }
}

/** oidc-provider's storage, on our database: one adapter per model name, all in oauth_records. */
function adapterOn(deps: Deps) {
  return class DatabaseAdapter implements Adapter {
    constructor(private readonly model: string) {}
    upsert(id: string, payload: AdapterPayload, expiresIn: number) {
      // A host registered for `mcp` may also be granted `mcp:read` alone, should its human choose so.
      const kept = this.model === "Client" && typeof payload.scope === "string" ? { ...payload, scope: withRead(payload.scope) } : payload;
      return saveOAuthRecord(deps.db, this.model, id, kept as OAuthPayload, expiresIn, deps.clock());
    }
    find(id: string) {
      return findOAuthRecord(deps.db, this.model, id, deps.clock()) as Promise<AdapterPayload | undefined>;
    }
    findByUid(uid: string) {
      return findOAuthRecordByUid(deps.db, this.model, uid, deps.clock()) as Promise<AdapterPayload | undefined>;
    }
    // Only the device flow finds records by user code, and it is off.
    async findByUserCode() {
      return undefined;
    }
    consume(id: string) {
      return consumeOAuthRecord(deps.db, this.model, id, deps.clock());
    }
    destroy(id: string) {
      return destroyOAuthRecord(deps.db, this.model, id);
    }
    revokeByGrantId(grantId: string) {
      return revokeOAuthGrant(deps.db, grantId);
    }
  };
}

/** Keys derived from the server's own secret, so that every instance signs and checks the same cookies and tokens. */
async function keysFor(deps: Deps) {
  const secret = await sealingSecret(deps);
  const derive = (use: string) => Buffer.from(hkdfSync("sha256", secret, new Uint8Array(0), `agent-onboard oauth ${use} v1`, 32));
  // An Ed25519 private key is its 32-byte seed behind a fixed PKCS #8 prefix.
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), derive("signing key")]);
  const privateKey = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  const jwk = { ...privateKey.export({ format: "jwk" }), alg: "EdDSA", use: "sig", kid: createPublicKey(privateKey).export({ format: "jwk" }).x!.slice(0, 16) };
  return { cookieKey: derive("cookies").toString("base64url"), jwk };
}

export interface OAuthServer {
  /** The routes: the authorization server's own, its metadata, the resource's metadata, and the sign-in and consent pages. */
  router: Router;
  /** The `WWW-Authenticate` value of a 401 on /mcp, pointing the host at the resource's metadata. */
  challenge(error?: string, description?: string): string;
}

export interface OAuthServerOptions {
  deps: Deps;
  browser: BrowserSession;
  limiter: SignupLimiter;
  log: Logger;
  /** The resource tokens are issued for: the /mcp endpoint's URL. */
  mcpUrl: string;
  /**
   * How client metadata documents are fetched; unset, oidc-provider's own
   * fetch, which refuses loopback and private addresses. Tests serve theirs
   * from a local server through this.
   */
  clientMetadataFetch?: typeof fetch;
}

/** A client id that is a URL must name a document, not a site (MCP's Client ID Metadata Documents). */
const namesADocument = (clientId: string) => new URL(clientId).pathname.length > 1;

/**
 * The OAuth 2.1 authorization server for MCP hosts (oidc-provider): the
 * authorization code flow with PKCE (S256), tokens bound to /mcp (RFC 8707),
 * dynamic registration (RFC 7591) and Client ID Metadata Documents, rotating
 * refresh tokens whose reuse ends the grant, and revocation. Sign-in and
 * consent are our own pages, on the human's browser session.
 */
export async function oauthServer({ deps, browser, limiter, log, mcpUrl, clientMetadataFetch }: OAuthServerOptions): Promise<OAuthServer> {
  const issuer = deps.settings.publicUrl;
  const { default: Provider, errors } = await importOidcProvider();
  const { cookieKey, jwk } = await keysFor(deps);
  const resourceMetadataUrl = `${issuer}/.well-known/oauth-protected-resource/mcp`;
  const provider = new Provider(issuer, {
    adapter: adapterOn(deps),
    clients: [],
    responseTypes: ["code"],
    jwks: { keys: [jwk as never] },
    cookies: { keys: [cookieKey] },
    scopes: [MCP_SCOPE, READ_SCOPE, "offline_access"],
    claims: { openid: ["sub"] },
    clientDefaults: { grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none", id_token_signed_response_alg: "EdDSA" },
    enabledJWA: { idTokenSigningAlgValues: ["EdDSA"] },
    routes: {
      authorization: "/oauth/authorize",
      token: "/oauth/token",
      registration: "/oauth/register",
      revocation: "/oauth/revoke",
      jwks: "/oauth/jwks",
      end_session: "/oauth/logout",
      userinfo: "/oauth/userinfo",
      pushed_authorization_request: "/oauth/par",
      code_verification: "/oauth/device",
      device_authorization: "/oauth/device/auth",
      backchannel_authentication: "/oauth/backchannel",
      introspection: "/oauth/introspect",
      challenge: "/oauth/challenge",
    },
    interactions: { url: (_ctx: KoaContextWithOIDC, interaction) => `/oauth/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: false },
      // What MCP hosts do not use stays off: fewer endpoints to defend.
      pushedAuthorizationRequests: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      clientIdMetadataDocument: {
        enabled: true,
        ack: "draft-02",
        allowFetch: async (_ctx, clientId) => namesADocument(clientId),
        // MCP asks every document for a name: the consent page shows it.
        allowClient: async (_ctx, client) => Boolean(client.clientName),
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => mcpUrl,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== mcpUrl) throw new errors.InvalidTarget(`Tokens here are for ${mcpUrl} only.`);
          return { scope: `${MCP_SCOPE} ${READ_SCOPE}`, accessTokenFormat: "opaque", accessTokenTTL: HOUR };
        },
      },
    },
    pkce: { required: () => true },
    // oidc-provider's own dispatcher (its guard against private addresses) goes only with its own fetch.
    ...(clientMetadataFetch ? { fetch: (url: Parameters<typeof fetch>[0], init?: RequestInit) => clientMetadataFetch(url, { ...init, dispatcher: undefined } as RequestInit) } : {}),
    // Hosts keep working past the hour: a refresh token with every grant, rotated at each use.
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    rotateRefreshToken: true,
    ttl: { AccessToken: HOUR, AuthorizationCode: 60, Interaction: HOUR, Session: 14 * DAY, Grant: 90 * DAY, RefreshToken: 30 * DAY, IdToken: HOUR },
    findAccount: async (_ctx, sub) => {
      const { users } = deps.db.tables;
      const [user] = await deps.db.select({ uid: users.uid }).from(users).where(eq(users.uid, sub));
      return user ? { accountId: user.uid, claims: () => ({ sub: user.uid }) } : undefined;
    },
    // A request the server will not redirect back (a wrong redirect_uri, an unknown client) ends on a page of ours.
    renderError: async (ctx, out) => {
      ctx.type = "html";
      ctx.body = page(
        "Cannot connect this host",
        html`<h1>Cannot connect this host</h1>${errorBox(String(out.error_description ?? out.error))}
<p>Nothing was connected. Start again from your MCP host; if this keeps happening, remove this server from the host and add its URL again.</p>`,
      );
    },
  });
  // Its own failures are logged without the request: codes and tokens travel in it.
  provider.on("server_error", (_ctx, error) => log.error({ err: error }, "OAuth request could not be served"));
  const handle = provider.callback();
  const issuerUrl = new URL(issuer);
  provider.proxy = true;
  // The server's URLs come from the request; pin them to the issuer, whatever Host the request named.
  const callback = (req: Request, res: Response) => {
    req.headers.host = issuerUrl.host;
    req.headers["x-forwarded-proto"] = issuerUrl.protocol.slice(0, -1);
    delete req.headers["x-forwarded-host"];
    handle(req, res);
  };

  const router = Router();
  // RFC 9728: the resource names its authorization server; RFC 8414: the server describes itself.
  const resourceMetadata = { resource: mcpUrl, authorization_servers: [issuer], scopes_supported: [MCP_SCOPE, READ_SCOPE], bearer_methods_supported: ["header"], resource_name: "agent-onboard" };
  router.get(["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"], (_req, res) => {
    res.json(resourceMetadata);
  });
  router.get("/.well-known/oauth-authorization-server", (req, res) => {
    req.url = "/.well-known/openid-configuration";
    callback(req, res);
  });

  const interactionPaths = "/oauth/interaction/:uid";
  router.use(["/oauth/interaction"], pageHeaders, express.urlencoded({ extended: false, limit: "16kb" }), browser.cookies, browser.loadSession);

  async function clientName(clientId: string) {
    const client = await provider.Client.find(clientId);
    return client?.clientName ?? client?.clientId ?? clientId;
  }

  /**
   * Where the host's answer goes, and, for a host identified by its metadata
   * document, who published it and whether the redirect stays on this
   * machine: any program here could name that document (MCP's security
   * considerations), so the human is told to expect the host itself.
   */
  async function hostFacts(clientId: string, redirectUri: string) {
    const client = await provider.Client.find(clientId);
    const published = client && (client as { clientIdMetadataDocument?: boolean }).clientIdMetadataDocument ? new URL(clientId).host : undefined;
    const redirectHost = new URL(redirectUri).hostname;
    const loopbackOnly = (client?.redirectUris ?? [redirectUri]).every((uri) => ["localhost", "127.0.0.1", "[::1]"].includes(new URL(uri).hostname));
    return { published, redirectHost, warnLoopback: Boolean(published) && loopbackOnly };
  }

  router.get(interactionPaths, async (req, res, next) => {
    try {
      const details = await provider.interactionDetails(req, res);
      const host = await clientName(String(details.params.client_id));
      const facts = await hostFacts(String(details.params.client_id), String(details.params.redirect_uri));
      const asked = String(details.params.scope ?? "").split(" ");
      const session = sessionOf(res);
      // The answer to these forms ends at the host's redirect URI, which a form-action of 'self' alone would block.
      const redirect = new URL(String(details.params.redirect_uri));
      const target = redirect.protocol === "http:" || redirect.protocol === "https:" ? redirect.origin : redirect.protocol;
      res.setHeader("Content-Security-Policy", `default-src 'none'; style-src 'unsafe-inline'; form-action 'self' ${target}; frame-ancestors 'none'`);
      const csrf = browser.csrfToken(req, res);
      const uid = details.uid;
      send(
        res,
        200,
        "Connect a host",
        html`<h1>Connect ${host}</h1>
<p><strong>${host}</strong> asks to use agent-onboard on your behalf, as the account you choose, until you disconnect it in your console.</p>
<p class="hint">${facts.published ? html`Its description is published by <strong>${facts.published}</strong>. ` : ""}After you answer, your browser goes back to <strong>${facts.redirectHost}</strong>.</p>
${facts.warnLoopback ? html`<p class="error" role="note">This host returns to a program on this computer. Continue only if you just started connecting ${host} yourself.</p>` : ""}
${
  session
    ? html`<form method="post" action="/oauth/interaction/${uid}/allow"><input type="hidden" name="csrf" value="${csrf}">
<p>It will act as <strong>${session.user.login}</strong>.</p>
${
  !asked.includes(MCP_SCOPE)
    ? html`<p>It asks to read only: it can look at your account, organizations and stacks, and change nothing.</p><input type="hidden" name="access" value="read">`
    : asked.includes(READ_SCOPE)
      ? html`<fieldset><legend>What it may do</legend>
<label class="check"><input type="radio" name="access" value="full" checked> Everything your account may do</label>
<label class="check"><input type="radio" name="access" value="read"> Read only: look at your account, organizations and stacks, and change nothing</label>
</fieldset>`
      : ""
}
<button type="submit">Allow ${host}</button></form>
<form method="post" action="/logout?next=${encodeURIComponent(req.originalUrl)}"><input type="hidden" name="csrf" value="${csrf}"><button type="submit" class="secondary">Not ${session.user.login}? Sign out and use another account</button></form>`
    : html`<p><a class="button" href="/login?next=${encodeURIComponent(req.originalUrl)}">Sign in</a> to connect it to your account.</p>`
}
<form method="post" action="/oauth/interaction/${uid}/new-agent"><input type="hidden" name="csrf" value="${csrf}">
<p>Or give it an agent account of its own, which you can claim later:</p>
<button type="submit" class="secondary">Start a new agent account for ${host}</button></form>
<form method="post" action="/oauth/interaction/${uid}/deny"><input type="hidden" name="csrf" value="${csrf}"><button type="submit" class="secondary">Deny</button></form>`,
      );
    } catch (error) {
      next(error);
    }
  });

  /** Grants the host the resource for the account, and hands back the address that resumes the authorization. */
  async function approve(req: Request, res: Response, accountId: string, readOnly = false): Promise<string> {
    const details = await provider.interactionDetails(req, res);
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId, clientId: String(details.params.client_id) });
    if (!grant) throw new errors.AccessDenied("The grant of this sign-in is gone; start again from the host.");
    // Login and consent in one step: the grant covers what the host asked for, whichever prompt came first,
    // less everything but reading if the human said so (rejected, so that the host is not asked again for it).
    const asked = String(details.params.scope ?? "").split(" ");
    const granted = asked.filter((scope) => scope === "offline_access" || scope === READ_SCOPE || (scope === MCP_SCOPE && !readOnly));
    (grant as { rejected?: unknown }).rejected = undefined;
    if (granted.length) grant.addOIDCScope(granted.join(" "));
    const resourceScopes = granted.filter((scope) => scope !== "offline_access");
    if (resourceScopes.length) grant.addResourceScope(mcpUrl, resourceScopes.join(" "));
    if (readOnly && asked.includes(MCP_SCOPE)) {
      grant.rejectOIDCScope(MCP_SCOPE);
      grant.rejectResourceScope(mcpUrl, MCP_SCOPE);
    }
    const grantId = await grant.save();
    return provider.interactionResult(req, res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
  }

  router.post(`${interactionPaths}/allow`, async (req, res, next) => {
    try {
      if (!browser.csrfValid(req)) return staleForm(res);
      const session = sessionOf(res);
      if (!session) return res.redirect(303, `/login?next=${encodeURIComponent(`/oauth/interaction/${req.params.uid}`)}`);
      res.redirect(303, await approve(req, res, session.user.uid, formText(req.body.access) === "read"));
    } catch (error) {
      next(error);
    }
  });

  router.post(`${interactionPaths}/new-agent`, async (req, res, next) => {
    try {
      if (!browser.csrfValid(req)) return staleForm(res);
      const details = await provider.interactionDetails(req, res);
      const host = await clientName(String(details.params.client_id));
      await limiter.take(limiter.addressOf(req));
      const signup = await agentSignup(deps, { agentName: host.slice(0, 100) });
      const resume = await approve(req, res, signup.userInfo.id);
      send(
        res,
        200,
        "Agent account created",
        html`<h1>${host} has an agent account</h1>
<p>It will act as <strong>${signup.userInfo.githubLogin}</strong>, an account of its own.</p>
<p>Keep this claim link to take the account over later (it works once, until ${signup.claimTokenValidUntil}):</p>
<p><a href="${signup.claimUrl}">${signup.claimUrl}</a></p>
<p><a class="button" href="${resume}">Continue to ${host}</a></p>`,
      );
    } catch (error) {
      if (isAppError(error)) return send(res, 429, "Try again later", html`<h1>Try again later</h1>${errorBox(error.message)}`);
      next(error);
    }
  });

  router.post(`${interactionPaths}/deny`, async (req, res, next) => {
    try {
      if (!browser.csrfValid(req)) return staleForm(res);
      await provider.interactionFinished(req, res, { error: "access_denied", error_description: "The human declined to connect this host." }, { mergeWithLastSubmission: false });
    } catch (error) {
      next(error);
    }
  });

  // A registration is a row kept for good: counted per address, as signups are.
  router.post("/oauth/register", async (req, res, next) => {
    try {
      await limiter.takeClientRegistration(limiter.addressOf(req));
      next();
    } catch (error) {
      if (!isAppError(error)) return next(error);
      const retryAfter = error.details?.retryAfterSeconds;
      if (typeof retryAfter === "number") res.setHeader("Retry-After", String(retryAfter));
      res.status(429).json({ error: "temporarily_unavailable", error_description: error.message });
    }
  });

  // RFC 6749 section 3.3: a request without a scope gets the default, everything. And `mcp` includes
  // `mcp:read`, for the human to grant only that, where the client may hold it.
  router.get("/oauth/authorize", async (req, _res, next) => {
    try {
      const url = new URL(req.url, issuer);
      const asked = url.searchParams.get("scope") || MCP_SCOPE;
      const client = await provider.Client.find(url.searchParams.get("client_id") ?? "").catch(() => undefined);
      const allowed = client?.scope?.split(" ");
      url.searchParams.set("scope", !allowed || allowed.includes(READ_SCOPE) ? withRead(asked) : asked);
      req.url = `${url.pathname}${url.search}`;
      next();
    } catch (error) {
      next(error);
    }
  });

  // Everything else under /oauth is the authorization server's own.
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (!req.path.startsWith("/oauth/") || req.path.startsWith("/oauth/interaction/")) return next();
    callback(req, res);
  });
  router.get("/.well-known/openid-configuration", (req, res) => callback(req, res));

  return {
    router,
    // The scope names what a token needs here (MCP asks for it in every challenge).
    challenge: (error, description) =>
      `Bearer resource_metadata="${resourceMetadataUrl}", scope="${MCP_SCOPE}"${error ? `, error="${error}"` : ""}${description ? `, error_description="${description.replace(/["\\]/g, "'")}"` : ""}`,
  };
}
