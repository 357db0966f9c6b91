import type { Request, Response, Router } from "express";
import type { Deps } from "../services/deps.js";
import type { Page } from "../services/paging.js";
import type { BrowserSession } from "./browser-session.js";
import { sessionOf } from "./browser-session.js";
import { Html, html, send } from "./page-parts.js";

const SECTIONS = [
  ["/console", "Overview"],
  ["/console/agents", "Agents"],
  ["/console/tokens", "Access tokens"],
  ["/console/hosts", "Connected hosts"],
  ["/console/account", "Account"],
] as const;

/** What every console page shares: the frame with its navigation, and small forms that post with the CSRF token. */
export function consoleFrame(browser: BrowserSession) {
  function frame(req: Request, res: Response, current: string, title: string, body: Html, status = 200) {
    const session = sessionOf(res)!;
    const link = ([href, label]: readonly [string, string]) => html`<a href="${href}"${new Html(href === current ? ' aria-current="page"' : "")}>${label}</a>`;
    send(
      res,
      status,
      title,
      html`<nav aria-label="Console">
${SECTIONS.map(link)}
<form method="post" action="/logout"><input type="hidden" name="csrf" value="${browser.csrfToken(req, res)}"><button type="submit">Sign out ${session.user.login}</button></form>
</nav>
${body}`,
      { wide: true },
    );
  }

  /** A one-button form; `fields` go along as hidden inputs. */
  function postButton(req: Request, res: Response, action: string, label: string, options: { fields?: Record<string, string>; danger?: boolean; ariaLabel?: string; disabled?: boolean } = {}) {
    const hidden = Object.entries(options.fields ?? {}).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`);
    return html`<form method="post" action="${action}"><input type="hidden" name="csrf" value="${browser.csrfToken(req, res)}">${hidden}<button type="submit"${new Html(options.danger ? ' class="danger"' : "")}${options.ariaLabel ? html` aria-label="${options.ariaLabel}"` : ""}${new Html(options.disabled ? " disabled" : "")}>${label}</button></form>`;
  }

  return { frame, postButton, csrfToken: browser.csrfToken, csrfValid: browser.csrfValid };
}

/** What a console section gets to add its pages with. */
export interface ConsoleKit extends ReturnType<typeof consoleFrame> {
  deps: Deps;
  router: Router;
}

/** Previous and next links for a paged list; `param` is the list's page parameter, others in the query stay. */
export function pager(req: Request, page: Page<unknown>, param = "page"): Html | "" {
  if (page.page === 1 && !page.hasNext) return "";
  const at = (n: number) => {
    const query = new URLSearchParams(Object.entries(req.query).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
    query.set(param, String(n));
    return `${req.originalUrl.split("?")[0]}?${query}`;
  };
  return html`<nav class="pages" aria-label="Pages">${page.page > 1 ? html`<a href="${at(page.page - 1)}" rel="prev">Previous page</a>` : ""} <span>Page ${page.page}</span> ${page.hasNext ? html`<a href="${at(page.page + 1)}" rel="next">Next page</a>` : ""}</nav>`;
}
