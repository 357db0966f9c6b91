import { createHmac } from "node:crypto";
import cookieParser from "cookie-parser";
import { doubleCsrf } from "csrf-csrf";
import type { NextFunction, Request, Response } from "express";
import type { Deps } from "../services/deps.js";
import { type Session, sessionFor } from "../services/sessions.js";
import { sealingSecret } from "../services/tokens.js";

const SESSION_COOKIE = "onboard_session";
const CSRF_COOKIE = "onboard_csrf";

type Middleware = (req: Request, res: Response, next: NextFunction) => void;

export interface BrowserSession {
  /** Parses the cookies: every page with a form needs them for its CSRF token. */
  cookies: Middleware;
  /** Loads the signed-in session into res.locals.session, for the pages that show or need it. */
  loadSession: Middleware;
  /** The session id the browser sent, if any. */
  sessionIdOf(req: Request): string | undefined;
  /** The form token for this browser, bound to its session: a page puts it in a hidden `csrf` field. */
  csrfToken(req: Request, res: Response): string;
  /** Whether a form's `csrf` field is the one this browser's session was given. */
  csrfValid(req: Request): boolean;
  /** Sets the session cookie after a sign-in, or clears it (undefined) at sign-out. */
  setSessionCookie(res: Response, sessionId: string | undefined, expiresAt?: Date): void;
}

export const sessionOf = (res: Response): Session | undefined => res.locals.session;

const sessionIdOf = (req: Request): string | undefined => {
  const id = req.cookies?.[SESSION_COOKIE];
  return typeof id === "string" && id ? id : undefined;
};

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
    getSessionIdentifier: (req) => sessionIdOf(req) ?? "",
    cookieName: CSRF_COOKIE,
    cookieOptions: { sameSite: "strict", path: "/", secure, httpOnly: true },
    getCsrfTokenFromRequest: (req) => (typeof req.body?.csrf === "string" ? req.body.csrf : undefined),
  });
  return {
    cookies: cookieParser(),
    loadSession: (req, res, next) => {
      sessionFor(deps, sessionIdOf(req)).then((session) => {
        res.locals.session = session;
        next();
      }, next);
    },
    sessionIdOf,
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
