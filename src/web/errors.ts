import { randomUUID } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { AppError, errorKinds, isAppError } from "../errors.js";
import type { Logger } from "../log.js";
import { html, page } from "./html.js";

// The Unleash paths answer with Unleash's error body; the Pulumi ones with Pulumi's numeric code.
const isUnleashPath = (path: string) => path.startsWith("/invite/") || path.startsWith("/api/admin/invite-link/");
const isPagePath = (path: string) => path.startsWith("/claim/") || path === "/new-user";

function asAppError(error: unknown): AppError | undefined {
  if (isAppError(error)) return error;
  const type = (error as { type?: string } | null)?.type;
  if (type === "entity.parse.failed") return new AppError("validation", "The request body is not valid JSON.");
  if (type === "entity.too.large") return new AppError("validation", "The request body is too large.");
  if (type === "charset.unsupported" || type === "encoding.unsupported") {
    return new AppError("validation", "Send the request body as UTF-8 JSON.");
  }
  return undefined;
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
      res.status(500).json(isUnleashPath(req.path) ? { id: reference, name: "InternalError", message } : { code: 500, message });
      return;
    }
    const kind = errorKinds[known.code];
    const retryAfter = known.details?.retryAfterSeconds;
    if (typeof retryAfter === "number") res.setHeader("Retry-After", String(retryAfter));
    const details = known.details ? { details: known.details } : {};
    res
      .status(kind.status)
      .json(
        isUnleashPath(req.path)
          ? { id: randomUUID(), name: kind.name, message: known.message, ...details }
          : { code: kind.status, name: kind.name, message: known.message, ...details },
      );
  };
}

export function notFound(req: Request, res: Response) {
  const message = `Nothing at ${req.method} ${req.path}. MCP clients connect to /mcp.`;
  res.status(404).json(isUnleashPath(req.path) ? { id: randomUUID(), name: "NotFoundError", message } : { code: 404, name: "NotFoundError", message });
}
