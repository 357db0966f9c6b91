import type { Request, Response } from "express";
import { errorKinds, isAppError } from "../errors.js";
import { type AccessTokenSummary, createPersonalToken, listAccessTokens, revokeAccessToken } from "../services/access-tokens.js";
import { pageNumber, pageWindow, toPage } from "../services/paging.js";
import { sessionOf } from "./browser-session.js";
import { type ConsoleKit, pager } from "./console-frame.js";
import { errorBox, formText, Html, html, okBox, staleForm, when } from "./page-parts.js";

const TOKENS_PER_PAGE = 20;

/** A table of access tokens with a revoke button on each working one; `revokeAction` gives a token's revoke path. */
export function tokenTable(kit: ConsoleKit, req: Request, res: Response, tokens: AccessTokenSummary[], revokeAction: (token: AccessTokenSummary) => string) {
  return html`<div class="table"><table><thead><tr><th scope="col">Token</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Last used</th><th scope="col">State</th><th scope="col"><span class="hint">Action</span></th></tr></thead><tbody>
${tokens.map(
  (t) => html`<tr><td>${t.description ?? t.name}</td><td>${when(t.createdAt)}</td><td>${when(t.expiresAt)}</td><td>${when(t.lastUsedAt)}</td><td>${t.state}</td>
<td>${t.state === "active" ? kit.postButton(req, res, revokeAction(t), "Revoke", { danger: true, ariaLabel: `Revoke ${t.description ?? t.name}` }) : ""}</td></tr>`,
)}
</tbody></table></div>`;
}

/** Personal access tokens: the human's own tools act as them with one. */
export function tokenPages(kit: ConsoleKit) {
  const { deps, router, frame, csrfToken, csrfValid } = kit;

  async function tokensPage(req: Request, res: Response, notice?: Html | string, status = 200, values: { description?: string; message?: string } = {}) {
    const { user } = sessionOf(res)!;
    const page = pageNumber(req.query.page);
    const tokens = toPage(await listAccessTokens(deps, user.id, "personal", pageWindow(page, TOKENS_PER_PAGE)), page, TOKENS_PER_PAGE);
    frame(
      req,
      res,
      "/console/tokens",
      "Access tokens",
      html`<h1>Personal access tokens</h1>
${notice instanceof Html ? notice : okBox(notice)}
<p>A personal access token lets your own tools act as <strong>${user.login}</strong>: send it as <code>Authorization: Bearer …</code> to the REST API or to <code>/mcp</code>.</p>
${tokens.items.length === 0 && page === 1
  ? html`<p class="empty">No personal access tokens yet. Create one below for a script or an MCP host of your own.</p>`
  : tokenTable(kit, req, res, tokens.items, (t) => `/console/tokens/${encodeURIComponent(t.id)}/revoke`)}
${pager(req, tokens)}
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
    try {
      const revoked = await revokeAccessToken(deps, sessionOf(res)!.user.id, req.params.id, "personal");
      await tokensPage(req, res, `Token “${revoked.description ?? revoked.name}” revoked: it stops working at once.`);
    } catch (error) {
      if (!isAppError(error)) throw error;
      await tokensPage(req, res, errorBox(error.message) || undefined, errorKinds[error.code].status);
    }
  });
}
