import { createHmac } from "node:crypto";
import cookieParser from "cookie-parser";
import { doubleCsrf } from "csrf-csrf";
import type { NextFunction, Request, Response } from "express";
import type { Deps } from "../services/deps.js";
import { type Session, sessionFor } from "../services/sessions.js";
import { sealingSecret } from "../services/tokens.js";

export const SESSION_COOKIE = "onboard_session";
const CSRF_COOKIE = "onboard_csrf";

export interface BrowserSession {
  /** Parses cookies and loads the signed-in session (res.locals.session) for the pages. */
  middleware: ((req: Request, res: Response, next: NextFunction) => void)[];
  /** The form token for this browser, bound to its session: a page puts it in a hidden `csrf` field. */
  csrfToken(req: Request, res: Response): string;
  /** Whether a form's `csrf` field is the one this browser's session was given. */
  csrfValid(req: Request): boolean;
  /** Sets the session cookie after a sign-in, or clears it (undefined) at sign-out. */
  setSessionCookie(res: Response, sessionId: string | undefined, expiresAt?: Date): void;
}

export const sessionOf = (res: Response): Session | undefined => res.locals.session;

/**
 * Cookies and CSRF for the human pages. The form token is a signed double
 * submit (csrf-csrf) keyed from the server's signing key, so every instance
 * accepts what another issued, and bound to the session cookie, so a token
 * made up by a client, or one from before a sign-in, is refused.
 */
export async function browserSession(deps: Deps): Promise<BrowserSession> {
  const secret = createHmac("sha256", await sealingSecret(deps)).update("page forms").digest("base64url");
  const secure = deps.settings.publicUrl.startsWith("https:");
  const csrf = doubleCsrf({
    getSecret: () => secret,
    getSessionIdentifier: (req) => String(req.cookies?.[SESSION_COOKIE] ?? ""),
    cookieName: CSRF_COOKIE,
    cookieOptions: { sameSite: "strict", path: "/", secure, httpOnly: true },
    getCsrfTokenFromRequest: (req) => (typeof req.body?.csrf === "string" ? req.body.csrf : undefined),
  });
  return {
    middleware: [
      cookieParser(),
      (req, res, next) => {
        const id = req.cookies?.[SESSION_COOKIE];
        sessionFor(deps, typeof id === "string" ? id : undefined).then((session) => {
          res.locals.session = session;
          next();
        }, next);
      },
    ],
    csrfToken: (req, res) => csrf.generateCsrfToken(req, res),
    csrfValid: (req) => {
      req.cookies ??= {};
      return csrf.validateRequest(req);
    },
    setSessionCookie(res, sessionId, expiresAt) {
      const options = { httpOnly: true, sameSite: "lax", secure, path: "/" } as const;
      if (sessionId) res.cookie(SESSION_COOKIE, sessionId, { ...options, expires: expiresAt });
      else res.clearCookie(SESSION_COOKIE, options);
    },
  };
}
