import express, { type Request, type Response, Router } from "express";
import { errorKinds, isAppError } from "../errors.js";
import type { SignupLimiter } from "../rate-limit.js";
import type { Deps } from "../services/deps.js";
import { listMemberships } from "../services/orgs.js";
import { pageNumber, toPage } from "../services/paging.js";
import { signIn, signOut } from "../services/sessions.js";
import { listStacks } from "../services/stacks.js";
import { addressBucket } from "../client-address.js";
import { type BrowserSession, sessionOf } from "./browser-session.js";
import { accountPages } from "./console-account.js";
import { agentPages } from "./console-agents.js";
import { type ConsoleKit, consoleFrame, pager } from "./console-frame.js";
import { hostPages } from "./console-hosts.js";
import { organizationPages } from "./console-orgs.js";
import { tokenPages } from "./console-tokens.js";
import { errorBox, formText, html, okBox, pageHeaders, send, staleForm, when } from "./page-parts.js";

const ORGS_PER_PAGE = 25;
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
    // From the consent page, back to it after signing in as someone else.
    const next = req.query.next === undefined ? "" : `&next=${encodeURIComponent(safeNext(req.query.next))}`;
    res.redirect(303, `/login?signedOut=1${next}`);
  });

  // Everything under /console needs a session; without one, sign in and come back.
  router.use("/console", (req, res, next) => {
    if (sessionOf(res)) return next();
    res.redirect(303, `/login?next=${encodeURIComponent(req.originalUrl)}`);
  });

  const kit: ConsoleKit = { deps, router, ...consoleFrame(browser) };
  const { frame } = kit;

  router.get("/console", async (req, res) => {
    const { user } = sessionOf(res)!;
    const orgsPage = pageNumber(req.query.orgsPage);
    const memberships = await listMemberships(deps.db, user.id);
    const orgs = toPage(memberships.slice((orgsPage - 1) * ORGS_PER_PAGE, orgsPage * ORGS_PER_PAGE + 1), orgsPage, ORGS_PER_PAGE);
    // The filters of list_stacks, by the same names.
    const filters = Object.fromEntries(
      (["organization", "project", "tagName", "tagValue"] as const).map((name) => [name, formText(req.query[name]) || undefined]),
    ) as Record<"organization" | "project" | "tagName" | "tagValue", string | undefined>;
    const filtered = Object.values(filters).some(Boolean);
    let stacksError: string | undefined;
    let stacks: Awaited<ReturnType<typeof listStacks>> = { stacks: [] };
    try {
      stacks = await listStacks(deps, user.id, { ...filters, maxResults: STACKS_PER_PAGE, continuationToken: formText(req.query.continuationToken) || undefined });
    } catch (error) {
      if (!isAppError(error)) throw error;
      stacksError = error.message;
    }
    const nextPage = stacks.continuationToken
      ? `/console?${new URLSearchParams({ ...Object.fromEntries(Object.entries(filters).filter((entry): entry is [string, string] => Boolean(entry[1]))), continuationToken: stacks.continuationToken })}`
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
<dt>Last sign-in</dt><dd>${when(user.seenAt)}</dd>
</dl>
<p><a href="/console/account">Edit your profile or email</a></p></section>
<section aria-labelledby="orgs"><h2 id="orgs">Organizations</h2>
${memberships.length === 0
  ? html`<p class="empty">You are in no organization yet. Ask a teammate for an invite link, or claim an agent's organization through its claim link.</p>`
  : html`<div class="table"><table><thead><tr><th scope="col">Organization</th><th scope="col">Your role</th></tr></thead><tbody>
${orgs.items.map((m) => html`<tr><td><a href="/console/orgs/${encodeURIComponent(m.name)}">${m.name}</a></td><td>${m.role}</td></tr>`)}
</tbody></table></div>`}
${pager(req, orgs, "orgsPage")}
</section>
<section aria-labelledby="stacks"><h2 id="stacks">Stacks</h2>
<form method="get" action="/console" class="inline" role="search">
<label for="organization">Organization <input id="organization" name="organization" type="text" value="${filters.organization ?? ""}"></label>
<label for="project">Project <input id="project" name="project" type="text" value="${filters.project ?? ""}"></label>
<label for="tagName">Tag <input id="tagName" name="tagName" type="text" value="${filters.tagName ?? ""}"></label>
<label for="tagValue">Tag value <input id="tagValue" name="tagValue" type="text" value="${filters.tagValue ?? ""}"></label>
<button type="submit">Filter</button>
</form>
${errorBox(stacksError)}
${stacks.stacks.length === 0
  ? html`<p class="empty">${filtered ? "No stack matches these filters." : "No stacks yet. Your agent creates them with create_stack."}</p>`
  : html`<div class="table"><table><thead><tr><th scope="col">Organization</th><th scope="col">Project</th><th scope="col">Stack</th></tr></thead><tbody>
${stacks.stacks.map((s) => html`<tr><td>${s.orgName}</td><td>${s.projectName}</td><td>${s.stackName}</td></tr>`)}
</tbody></table></div>`}
${nextPage ? html`<p><a href="${nextPage}" rel="next">Next page</a></p>` : ""}
</section>`,
    );
  });

  organizationPages(kit);
  agentPages(kit);
  tokenPages(kit);
  hostPages(kit);
  accountPages(kit);

  return router;
}
