import type { Request, Response } from "express";
import { errorKinds, isAppError } from "../errors.js";
import { endAgentAccess, listAgentTokens, listOwnedAgents, listTeamAgents, restoreAgentAccess, revokeAgentToken } from "../services/agents.js";
import { pageNumber } from "../services/paging.js";
import { sessionOf } from "./browser-session.js";
import { type ConsoleKit, pager } from "./console-frame.js";
import { tokenTable } from "./console-tokens.js";
import { errorBox, Html, html, okBox, pathParam, staleForm, when } from "./page-parts.js";

/** The agents a human answers for, and the ones acting in their organizations: see them, end their access, give it back. */
export function agentPages(kit: ConsoleKit) {
  const { deps, router, frame, postButton, csrfValid } = kit;

  router.get("/console/agents", async (req, res) => {
    const { user } = sessionOf(res)!;
    const [owned, team] = await Promise.all([
      listOwnedAgents(deps, user.id, pageNumber(req.query.page)),
      listTeamAgents(deps, user.id, pageNumber(req.query.teamPage)),
    ]);
    frame(
      req,
      res,
      "/console/agents",
      "Agents",
      html`<h1>Agents</h1>
<h2>Your agents</h2>
${owned.items.length === 0 && owned.page === 1
  ? html`<p class="empty">No agent is yours yet. When an agent gives you its claim link, open it while signed in to claim the agent into this account.</p>`
  : html`<div class="table"><table><thead><tr><th scope="col">Agent</th><th scope="col">Model</th><th scope="col">Claimed</th><th scope="col">Working tokens</th><th scope="col">Last used</th></tr></thead><tbody>
${owned.items.map(
  (a) => html`<tr><td><a href="/console/agents/${encodeURIComponent(a.uid)}">${a.isThisAccount ? "The agent that created this account" : `${a.name} (${a.login})`}</a></td><td>${a.model ?? "not given"}</td><td>${when(a.claimedAt)}</td><td>${a.activeTokens === 0 ? "none: it cannot act" : a.activeTokens}</td><td>${when(a.lastUsedAt)}</td></tr>`,
)}
</tbody></table></div>`}
${pager(req, owned)}
<h2>Other agents in your organizations</h2>
${team.items.length === 0 && team.page === 1
  ? html`<p class="empty">No other agent is a member of your organizations.</p>`
  : html`<p class="hint">Their owners control their access; an admin of an organization can remove them from it on the organization's page.</p>
<div class="table"><table><thead><tr><th scope="col">Agent</th><th scope="col">Model</th><th scope="col">Organizations</th></tr></thead><tbody>
${team.items.map((a) => html`<tr><td>${a.name} (${a.login})</td><td>${a.model ?? "not given"}</td><td>${a.organizations.map((o, i) => html`${i ? ", " : ""}<a href="/console/orgs/${encodeURIComponent(o.name)}">${o.name}</a> (${o.role})`)}</td></tr>`)}
</tbody></table></div>`}
${pager(req, team, "teamPage")}`,
    );
  });

  async function agentPage(req: Request, res: Response, notice?: Html | string, status = 200) {
    const { user } = sessionOf(res)!;
    const uid = pathParam(req, "uid");
    let listed: Awaited<ReturnType<typeof listAgentTokens>>;
    try {
      listed = await listAgentTokens(deps, user.id, uid, pageNumber(req.query.page));
    } catch (error) {
      if (!isAppError(error)) throw error;
      return frame(req, res, "/console/agents", "Agent not found", html`<h1>Agent not found</h1><p>${error.message}</p><p><a href="/console/agents">Back to Agents</a></p>`, errorKinds[error.code].status);
    }
    const { agent, tokens } = listed;
    const base = `/console/agents/${encodeURIComponent(agent.uid)}`;
    const active = tokens.items.filter((t) => t.state === "active").length;
    frame(
      req,
      res,
      "/console/agents",
      agent.isThisAccount ? "The agent that created this account" : `Agent ${agent.name}`,
      html`<h1>${agent.isThisAccount ? "The agent that created this account" : agent.name}</h1>
${notice instanceof Html ? notice : okBox(notice)}
<dl>
<dt>Account</dt><dd>${agent.isThisAccount ? html`this account, ${user.login}: it was the agent's until you claimed it` : agent.login}</dd>
<dt>Model</dt><dd>${agent.model ?? "not given"}</dd>
<dt>Claimed</dt><dd>${when(agent.claimedAt)}</dd>
</dl>
<p>${active > 0
  ? html`The agent can act now: <strong>${active} access token${active === 1 ? "" : "s"}</strong> still work.`
  : "The agent cannot act now: none of its access tokens work."}</p>
${tokens.items.length === 0 && tokens.page === 1 ? html`<p class="empty">The agent has had no access tokens.</p>` : tokenTable(kit, req, res, tokens.items, (t) => `${base}/tokens/${encodeURIComponent(t.id)}/revoke`)}
${pager(req, tokens)}
${postButton(req, res, `${base}/end`, "End the agent's access", { danger: true, disabled: active === 0 })}
${postButton(req, res, `${base}/restore`, "Give the agent a new access token")}
<p class="hint">A new token is shown once. Give it to the agent (for example as ONBOARD_TOKEN, or its host's Authorization header); it lasts ${Math.round(deps.settings.accessTokenTtlMs / 3_600_000)} hours.</p>`,
      status,
    );
  }

  router.get("/console/agents/:uid", (req, res) => agentPage(req, res));

  /** Runs a change to one agent and shows its page with what happened, or why nothing did. */
  const act = (change: (req: Request, res: Response) => Promise<Html | string>) => async (req: Request, res: Response) => {
    if (!csrfValid(req)) return staleForm(res);
    try {
      await agentPage(req, res, await change(req, res));
    } catch (error) {
      if (!isAppError(error)) throw error;
      await agentPage(req, res, errorBox(error.message) || undefined, errorKinds[error.code].status);
    }
  };

  router.post(
    "/console/agents/:uid/end",
    act(async (req, res) => {
      const ended = await endAgentAccess(deps, sessionOf(res)!.user.id, pathParam(req, "uid"));
      return ended > 0 ? `The agent's access has ended: ${ended} token${ended === 1 ? " was" : "s were"} revoked.` : "The agent had no working token; nothing changed.";
    }),
  );

  router.post(
    "/console/agents/:uid/restore",
    act(async (req, res) => {
      const issued = await restoreAgentAccess(deps, sessionOf(res)!.user.id, pathParam(req, "uid"));
      return html`<div class="ok" role="status"><p>A new access token for the agent, valid until ${when(issued.expiresAt)}. Copy it now: it is not shown again.</p>
<code class="secret" id="new-token">${issued.token}</code></div>`;
    }),
  );

  router.post(
    "/console/agents/:uid/tokens/:id/revoke",
    act(async (req, res) => {
      const { token } = await revokeAgentToken(deps, sessionOf(res)!.user.id, pathParam(req, "uid"), pathParam(req, "id"));
      return `Token “${token.description ?? token.name}” revoked: it stops working at once.`;
    }),
  );
}
