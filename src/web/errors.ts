import { randomUUID } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { AppError, appErrorOf, errorKinds } from "../errors.js";
import { tokenFrom } from "../credentials.js";
import type { Logger } from "../log.js";
import { html, page } from "./html.js";

// The Unleash paths answer with Unleash's error body; the Pulumi ones with Pulumi's numeric code.
const isUnleashPath = (path: string) => path.startsWith("/invite/") || path.startsWith("/api/admin/invite-link/");
const isPagePath = (path: string) => path.startsWith("/claim/") || path === "/new-user";

function asAppError(error: unknown): AppError | undefined {
  const known = appErrorOf(error);
  if (known) return known;
  const type = (error as { type?: string } | null)?.type;
  if (type === "entity.parse.failed") return new AppError("validation", "The request body is not valid JSON.");
  if (type === "entity.too.large") return new AppError("validation", "The request body is too large: send only the documented fields, with short values.");
  if (type === "charset.unsupported" || type === "encoding.unsupported") {
    return new AppError("validation", "Send the request body as UTF-8 JSON.");
  }
  if (type === "parameters.too.many") return new AppError("validation", "The request body has too many fields.");
  // express refuses a path parameter that is not valid percent-encoded UTF-8 (e.g. /invite/%zz/validate).
  if (error instanceof URIError) {
    return new AppError("validation", "The URL is not valid: part of its path is not percent-encoded UTF-8. Check that the whole link was copied.");
  }
  // Any other request express or a body parser could not read (a 4xx http-error, e.g. a body that fails to decompress).
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return new AppError("validation", "The request could not be read: check its body, Content-Type and Content-Encoding.");
  }
  return undefined;
}

/**
 * Unleash's error body: `details` is a list of `{message, path?}` (its
 * UnleashError and BadDataError), and a request that carried a token the
 * server does not accept is an UnauthorizedError, where one that carried none
 * needs authentication (its authorization middleware).
 */
function unleashErrorBody(known: AppError, req: Request) {
  const field = known.details?.field;
  const name = known.code === "unauthenticated" && tokenFrom(req) !== undefined ? "UnauthorizedError" : errorKinds[known.code].name;
  return { id: randomUUID(), name, message: known.message, details: [{ message: known.message, ...(typeof field === "string" ? { path: field } : {}) }] };
}

/** Maps every failure once for REST and pages; anything unexpected is logged with a reference and never shown. */
export function errorHandler(log: Logger) {
  return (error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    const known = asAppError(error);
    if (!known) {
      const reference = randomUUID().slice(0, 8);
      log.error({ err: error, reference, method: req.method, path: req.path }, "request failed");
      const message = `Internal error (reference ${reference}). Nothing was changed; try again.`;
      if (isPagePath(req.path)) {
        res.status(500).type("html").send(page("Something went wrong", html`<h1>Something went wrong</h1><p>${message}</p>`));
        return;
      }
      res.status(500).json(isUnleashPath(req.path) ? { id: reference, name: "InternalError", message, details: [{ message }] } : { code: 500, message });
      return;
    }
    const kind = errorKinds[known.code];
    const retryAfter = known.details?.retryAfterSeconds;
    if (typeof retryAfter === "number") res.setHeader("Retry-After", String(retryAfter));
    // A human's browser gets a readable page, never JSON, whatever a page handler let through.
    if (isPagePath(req.path)) {
      const title = "This link or form cannot be used";
      res.status(kind.status).type("html").setHeader("Cache-Control", "no-store");
      res.send(page(title, html`<h1>${title}</h1><p>${known.message}</p>`));
      return;
    }
    if (isUnleashPath(req.path)) {
      res.status(kind.status).json(unleashErrorBody(known, req));
      return;
    }
    const details = known.details ? { details: known.details } : {};
    res.status(kind.status).json({ code: kind.status, name: kind.name, message: known.message, ...details });
  };
}

export function notFound(req: Request, res: Response) {
  const message = `Nothing at ${req.method} ${req.path}. MCP clients connect to /mcp.`;
  res.status(404).json(isUnleashPath(req.path) ? { id: randomUUID(), name: "NotFoundError", message, details: [{ message }] } : { code: 404, name: "NotFoundError", message });
}
