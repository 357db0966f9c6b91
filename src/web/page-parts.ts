import type { NextFunction, Request, Response } from "express";
import { Html, html, page } from "./html.js";

/** Sends a whole page; pages are never cached, they show what is true now. */
export function send(res: Response, status: number, title: string, body: Html, options: { wide?: boolean } = {}) {
  res.status(status).type("html").setHeader("Cache-Control", "no-store").send(page(title, body, options));
}

/** A point in time, machine-readable in `datetime`; `none` stands for a missing one. */
export const when = (date: Date | null | undefined, none = "never") =>
  date ? html`<time datetime="${date.toISOString()}">${date.toUTCString()}</time>` : none;

export const errorBox = (message?: string) => (message ? html`<p class="error" role="alert">${message}</p>` : "");

export const okBox = (message?: string) => (message ? html`<p class="ok" role="status">${message}</p>` : "");

/** A form field as text: a missing or repeated one is empty. */
export const formText = (value: unknown) => (typeof value === "string" ? value : "");

/** The answer to a form whose CSRF token is missing, stale or not this browser's. */
export const staleForm = (res: Response) =>
  send(res, 403, "Please try again", html`<h1>Please try again</h1><p>This form has expired or was sent from another site. Reload the page and submit it again.</p>`);

/** Whether a path is one of the pages a human opens in a browser (not /mcp or the REST API). */
const HUMAN_PAGES = ["/claim", "/new-user", "/verify-email", "/login", "/logout", "/console", "/oauth/interaction"];
export const isHumanPage = (path: string) => HUMAN_PAGES.some((page) => path === page || path.startsWith(`${page}/`));

/** A form posted from another site to a human page: a page saying what to do, not JSON about /mcp's settings. */
export function foreignOriginPage(req: Request, res: Response): boolean {
  if (!isHumanPage(req.path)) return false;
  setPageHeaders(res);
  staleForm(res);
  return true;
}

function setPageHeaders(res: Response) {
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
}

/** No framing, no scripts, no outside assets: what every human page sends. */
export function pageHeaders(_req: Request, res: Response, next: NextFunction) {
  setPageHeaders(res);
  next();
}

export { Html, html };

/** A path parameter as text (express types allow a list for wildcards, which these paths have none of). */
export const pathParam = (req: Request, name: string) => {
  const value = req.params[name];
  return typeof value === "string" ? value : "";
};
