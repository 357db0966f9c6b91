import type { Request, Response } from "express";
import { errorKinds, isAppError } from "../errors.js";
import { disconnectHost, listConnectedHosts } from "../services/connected-hosts.js";
import { pageNumber } from "../services/paging.js";
import { sessionOf } from "./browser-session.js";
import { type ConsoleKit, pager } from "./console-frame.js";
import { errorBox, Html, html, okBox, staleForm, when } from "./page-parts.js";

/** MCP hosts connected through OAuth: the human sees each one and can disconnect it. */
export function hostPages(kit: ConsoleKit) {
  const { deps, router, frame, postButton, csrfValid } = kit;

  async function hostsPage(req: Request, res: Response, notice?: Html | string, status = 200) {
    const { user } = sessionOf(res)!;
    const page = pageNumber(req.query.page);
    const hosts = await listConnectedHosts(deps, user.uid, page);
    frame(
      req,
      res,
      "/console/hosts",
      "Connected hosts",
      html`<h1>Connected hosts</h1>
${notice instanceof Html ? notice : okBox(notice)}
<p>MCP hosts you approved in the browser act as <strong>${user.login}</strong> through <code>/mcp</code>. Disconnecting one ends its access at once; it asks you again the next time it connects.</p>
${hosts.items.length === 0 && page === 1
  ? html`<p class="empty">No host is connected. Add this server's <code>/mcp</code> URL to Claude, VS Code, Cursor or another MCP host: it opens a page here where you approve it.</p>`
  : html`<div class="table"><table><thead><tr><th scope="col">Host</th><th scope="col">May</th><th scope="col">Connected</th><th scope="col">Last used</th><th scope="col"><span class="hint">Action</span></th></tr></thead><tbody>
${hosts.items.map(
  (host) => html`<tr><td>${host.name}</td><td>${host.access === "everything" ? "do everything" : "read only"}</td><td>${when(host.connectedAt)}</td><td>${when(host.lastUsedAt)}</td>
<td>${postButton(req, res, `/console/hosts/${encodeURIComponent(host.grantId)}/disconnect`, "Disconnect", { danger: true, ariaLabel: `Disconnect ${host.name}` })}</td></tr>`,
)}
</tbody></table></div>`}
${pager(req, hosts)}`,
      status,
    );
  }

  router.get("/console/hosts", (req, res) => hostsPage(req, res));

  router.post("/console/hosts/:grantId/disconnect", async (req, res) => {
    if (!csrfValid(req)) return staleForm(res);
    try {
      const host = await disconnectHost(deps, sessionOf(res)!.user.uid, req.params.grantId);
      await hostsPage(req, res, `${host.name} is disconnected: its tokens stopped working.`);
    } catch (error) {
      if (!isAppError(error)) throw error;
      await hostsPage(req, res, errorBox(error.message) || undefined, errorKinds[error.code].status);
    }
  });
}
