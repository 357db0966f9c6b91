import express, { type Request, type Response, Router } from "express";
import { AppError, errorKinds, isAppError } from "../errors.js";
import type { SignupLimiter } from "../rate-limit.js";
import {
  type AccessTokenSummary,
  createPersonalToken,
  endAgentAccess,
  listAccessTokens,
  restoreAgentAccess,
  revokeAccessToken,
} from "../services/access-tokens.js";
import type { Deps } from "../services/deps.js";
import { getPendingEmail } from "../services/emails.js";
import { getOrganization, listMemberships } from "../services/orgs.js";
import { signIn, signOut } from "../services/sessions.js";
import { listStacks } from "../services/stacks.js";
import { addressBucket } from "../client-address.js";
import { type BrowserSession, sessionOf } from "./browser-session.js";
import { errorBox, formText, Html, html, okBox, pageHeaders, send, staleForm, when } from "./page-parts.js";

const STACKS_PER_PAGE = 25;

/** Only a path on this server: never `//elsewhere` or an absolute URL, so a sign-in link cannot send anyone away. */
const safeNext = (value: unknown) => {
  const next = formText(value);
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/console";
};

/** Sign-in, sign-out and the console a human uses after the claim, on the same services as the tools. */
export function consoleRouter(deps: Deps, limiter: SignupLimiter, browser: BrowserSession) {
  const router = Router();
  const { csrfToken, csrfValid } = browser;
  const paths = ["/login", "/logout", "/console"];
  router.use(paths, pageHeaders, express.urlencoded({ extended: false, limit: "16kb" }), browser.cookies, browser.loadSession);

  function loginPage(req: Request, res: Response, status = 200, values: { identifier?: string; message?: string; notice?: string } = {}) {
    const next = safeNext(req.query.next);
    send(
      res,
      status,
      "Sign in",
      html`<h1>Sign in</h1>
${okBox(values.notice)}${errorBox(values.message)}
<form method="post" action="/login?next=${encodeURIComponent(next)}" novalidate>
<input type="hidden" name="csrf" value="${csrfToken(req, res)}">
<label for="identifier">Username or email</label>
<input id="identifier" name="identifier" type="text" value="${values.identifier ?? ""}" autocomplete="username" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p class="hint">No account yet? Open the claim link your agent gave you, or an invite link from your team.</p>`,
    );
  }

  router.get("/login", (req, res) => {
    if (sessionOf(res)) return res.redirect(303, safeNext(req.query.next));
    loginPage(req, res, 200, { notice: req.query.signedOut ? "You are signed out." : undefined });
  });

  router.post("/login", async (req, res) => {
    if (!csrfValid(req)) return staleForm(res);
    const identifier = formText(req.body.identifier).trim();
    try {
      const signedIn = await signIn(deps, {
        identifier,
        password: formText(req.body.password),
        addressBucket: addressBucket(limiter.addressOf(req)),
      });
      browser.setSessionCookie(res, signedIn.sessionId, signedIn.expiresAt);
      res.redirect(303, safeNext(req.query.next));
    } catch (error) {
      if (!isAppError(error)) throw error;
      loginPage(req, res, errorKinds[error.code].status, { identifier, message: error.message });
    }
  });

  router.post("/logout", async (req, res) => {
    if (!csrfValid(req)) return staleForm(res);
    await signOut(deps, browser.sessionIdOf(req));
    browser.setSessionCookie(res, undefined);
    res.redirect(303, "/login?signedOut=1");
  });

  // Everything under /console needs a session; without one, sign in and come back.
  router.use("/console", (req, res, next) => {
    if (sessionOf(res)) return next();
    res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
  });

  function frame(req: Request, res: Response, current: string, title: string, body: Html, status = 200) {
    const session = sessionOf(res)!;
    const link = (href: string, label: string) => html`<a href="${href}"${new Html(href === current ? ' aria-current="page"' : "")}>${label}</a>`;
    send(
      res,
      status,
      title,
      html`<nav aria-label="Console">
${link("/console", "Overview")} ${link("/console/agent", "Agent access")} ${link("/console/tokens", "Access tokens")}
<form method="post" action="/logout"><input type="hidden" name="csrf" value="${csrfToken(req, res)}"><button type="submit">Sign out ${session.user.login}</button></form>
</nav>
${body}`,
      { wide: true },
    );
  }

  router.get("/console", async (req, res) => {
    const { user } = sessionOf(res)!;
    const [memberships, pending] = await Promise.all([listMemberships(deps.db, user.id), getPendingEmail(deps, user.id)]);
    const filters = { organization: formText(req.query.organization) || undefined, project: formText(req.query.project) || undefined };
    let stacksError: string | undefined;
    let stacks: Awaited<ReturnType<typeof listStacks>> = { stacks: [] };
    try {
      stacks = await listStacks(deps, user.id, { ...filters, maxResults: STACKS_PER_PAGE, continuationToken: formText(req.query.continuationToken) || undefined });
    } catch (error) {
      if (!isAppError(error)) throw error;
      stacksError = error.message;
    }
    const nextPage = stacks.continuationToken
      ? `/console?${new URLSearchParams({ ...(filters.organization ? { organization: filters.organization } : {}), ...(filters.project ? { project: filters.project } : {}), continuationToken: stacks.continuationToken })}`
      : undefined;
    frame(
      req,
      res,
      "/console",
      "Console",
      html`<h1>${user.name}</h1>
<section aria-labelledby="account"><h2 id="account">Account</h2>
<dl>
<dt>Username</dt><dd>${user.login}</dd>
<dt>Email</dt><dd>${user.email ?? "none"}${user.email ? (user.emailVerifiedAt ? " (confirmed)" : " (not confirmed yet: open the link we mailed you)") : ""}</dd>
${pending && pending.email !== user.email ? html`<dt>Pending email</dt><dd>${pending.email} (waiting for its confirmation link)</dd>` : ""}
<dt>Last sign-in</dt><dd>${when(user.seenAt)}</dd>
</dl></section>
<section aria-labelledby="orgs"><h2 id="orgs">Organizations</h2>
${memberships.length === 0
  ? html`<p class="empty">You are in no organization yet. Ask a teammate for an invite link.</p>`
  : html`<div class="table"><table><thead><tr><th scope="col">Organization</th><th scope="col">Your role</th></tr></thead><tbody>
${memberships.map((m) => html`<tr><td><a href="/console/orgs/${encodeURIComponent(m.name)}">${m.name}</a></td><td>${m.role}</td></tr>`)}
</tbody></table></div>`}
</section>
<section aria-labelledby="stacks"><h2 id="stacks">Stacks</h2>
<form method="get" action="/console" class="inline" role="search">
<label for="organization">Organization <input id="organization" name="organization" type="text" value="${filters.organization ?? ""}"></label>
<label for="project">Project <input id="project" name="project" type="text" value="${filters.project ?? ""}"></label>
<button type="submit">Filter</button>
</form>
${errorBox(stacksError)}
${stacks.stacks.length === 0
  ? html`<p class="empty">${filters.organization || filters.project ? "No stack matches these filters." : "No stacks yet. Your agent creates them with create_stack."}</p>`
  : html`<div class="table"><table><thead><tr><th scope="col">Organization</th><th scope="col">Project</th><th scope="col">Stack</th></tr></thead><tbody>
${stacks.stacks.map((s) => html`<tr><td>${s.orgName}</td><td>${s.projectName}</td><td>${s.stackName}</td></tr>`)}
</tbody></table></div>`}
${nextPage ? html`<p><a href="${nextPage}" rel="next">Next page</a></p>` : ""}
</section>`,
    );
  });

  router.get("/console/orgs/:name", async (req, res) => {
    const { user } = sessionOf(res)!;
    try {
      const org = await getOrganization(deps.db, user.id, req.params.name);
      frame(
        req,
        res,
        "",
        org.name,
        html`<h1>${org.name}</h1>
<p>Your role: <strong>${org.role}</strong>${org.isDefault ? " · your default organization" : ""} · ${org.stackCount} stack${org.stackCount === 1 ? "" : "s"} (<a href="/console?organization=${encodeURIComponent(org.name)}">list them</a>)</p>
<h2>Members</h2>
<div class="table"><table><thead><tr><th scope="col">Username</th><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Kind</th></tr></thead><tbody>
${org.members.map((m) => html`<tr><td>${m.githubLogin}</td><td>${m.name}</td><td>${m.role}</td><td>${m.isAgent ? "agent" : "person"}</td></tr>`)}
</tbody></table></div>`,
      );
    } catch (error) {
      if (!isAppError(error)) throw error;
      frame(req, res, "", "Organization not found", html`<h1>Organization not found</h1><p>${error.message}</p><p><a href="/console">Back to the overview</a></p>`, errorKinds[error.code].status);
    }
  });

  const tokenRows = (req: Request, res: Response, tokens: AccessTokenSummary[], revokeLabel: string) =>
    html`<div class="table"><table><thead><tr><th scope="col">Token</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">State</th><th scope="col"><span class="hint">Action</span></th></tr></thead><tbody>
${tokens.map(
  (t) => html`<tr><td>${t.description ?? t.name}</td><td>${when(t.createdAt)}</td><td>${when(t.expiresAt)}</td><td>${when(t.lastUsedAt)}</td><td>${t.state}</td>
<td>${t.state === "active" ? html`<form method="post" action="/console/tokens/${encodeURIComponent(t.id)}/revoke"><input type="hidden" name="csrf" value="${csrfToken(req, res)}"><button type="submit" class="danger" aria-label="${revokeLabel} ${t.description ?? t.name}">${revokeLabel}</button></form>` : ""}</td></tr>`,
)}
</tbody></table></div>`;

  async function agentPage(req: Request, res: Response, notice?: Html | string, status = 200) {
    const { user } = sessionOf(res)!;
    const tokens = await listAccessTokens(deps, user.id, "agent");
    const active = tokens.filter((t) => t.state === "active").length;
    frame(
      req,
      res,
      "/console/agent",
      "Agent access",
      html`<h1>Agent access</h1>
${notice instanceof Html ? notice : okBox(notice)}
<p>${active > 0
  ? html`The agent that created this account can act on it: <strong>${active} access token${active === 1 ? "" : "s"}</strong> still work.`
  : "The agent cannot act on this account now: none of its access tokens work."}</p>
${tokens.length === 0 ? html`<p class="empty">This account has had no agent tokens.</p>` : tokenRows(req, res, tokens, "Revoke")}
<form method="post" action="/console/agent/end"><input type="hidden" name="csrf" value="${csrfToken(req, res)}"><button type="submit" class="danger"${new Html(active === 0 ? " disabled" : "")}>End the agent's access</button></form>
<form method="post" action="/console/agent/restore"><input type="hidden" name="csrf" value="${csrfToken(req, res)}"><button type="submit">Give the agent a new access token</button></form>
<p class="hint">A new token is shown once. Give it to the agent (for example as ONBOARD_TOKEN, or its host's Authorization header); it lasts ${Math.round(deps.settings.accessTokenTtlMs / 3_600_000)} hours.</p>`,
      status,
    );
  }

  router.get("/console/agent", (req, res) => agentPage(req, res));

  router.post("/console/agent/end", async (req, res) => {
    if (!csrfValid(req)) return staleForm(res);
    const ended = await endAgentAccess(deps, sessionOf(res)!.user.id);
    await agentPage(req, res, ended > 0 ? `The agent's access has ended: ${ended} token${ended === 1 ? " was" : "s were"} revoked.` : "The agent had no working token; nothing changed.");
  });

  router.post("/console/agent/restore", async (req, res) => {
    if (!csrfValid(req)) return staleForm(res);
    const { user } = sessionOf(res)!;
    const issued = await restoreAgentAccess(deps, user);
    await agentPage(
      req,
      res,
      html`<div class="ok" role="status"><p>A new access token for the agent, valid until ${when(issued.expiresAt)}. Copy it now: it is not shown again.</p>
<code class="secret" id="new-token">${issued.token}</code></div>`,
    );
  });

  async function tokensPage(req: Request, res: Response, notice?: Html | string, status = 200, values: { description?: string; message?: string } = {}) {
    const { user } = sessionOf(res)!;
    const tokens = await listAccessTokens(deps, user.id, "personal");
    frame(
      req,
      res,
      "/console/tokens",
      "Access tokens",
      html`<h1>Personal access tokens</h1>
${notice instanceof Html ? notice : okBox(notice)}
<p>A personal access token lets your own tools act as <strong>${user.login}</strong>: send it as <code>Authorization: Bearer …</code> to the REST API or to <code>/mcp</code>.</p>
${tokens.length === 0 ? html`<p class="empty">No personal access tokens yet. Create one below for a script or an MCP host of your own.</p>` : tokenRows(req, res, tokens, "Revoke")}
<h2>Create a token</h2>
${errorBox(values.message)}
<form method="post" action="/console/tokens" class="inline" novalidate>
<input type="hidden" name="csrf" value="${csrfToken(req, res)}">
<label for="description">What it is for <input id="description" name="description" type="text" value="${values.description ?? ""}" required></label>
<label for="expiresInDays">Expires after <select id="expiresInDays" name="expiresInDays">
<option value="7">7 days</option><option value="30" selected>30 days</option><option value="90">90 days</option><option value="365">one year</option>
</select></label>
<button type="submit">Create token</button>
</form>`,
      status,
    );
  }

  router.get("/console/tokens", (req, res) => tokensPage(req, res));

  router.post("/console/tokens", async (req, res) => {
    if (!csrfValid(req)) return staleForm(res);
    const description = formText(req.body.description);
    try {
      const created = await createPersonalToken(deps, sessionOf(res)!.user, { description, expiresInDays: formText(req.body.expiresInDays) });
      await tokensPage(
        req,
        res,
        html`<div class="ok" role="status"><p>Token “${created.description}” created, valid until ${when(created.expiresAt)}. Copy it now: it is not shown again.</p>
<code class="secret" id="new-token">${created.token}</code></div>`,
      );
    } catch (error) {
      if (!isAppError(error)) throw error;
      await tokensPage(req, res, undefined, errorKinds[error.code].status, { description, message: error.message });
    }
  });

  router.post("/console/tokens/:id/revoke", async (req, res) => {
    if (!csrfValid(req)) return staleForm(res);
    const { user } = sessionOf(res)!;
    try {
      const revoked = await revokeAccessToken(deps, user.id, req.params.id);
      const show = revoked.kind === "agent" ? agentPage : tokensPage;
      await show(req, res, `Token “${revoked.description ?? revoked.name}” revoked: it stops working at once.`);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      await tokensPage(req, res, html`${errorBox(error.message)}`, errorKinds[error.code].status);
    }
  });

  return router;
}
