import express, { type Request, type Response, Router } from "express";
import { AppError, errorKinds, isAppError } from "../errors.js";
import { type ClaimIntoPreview, claimIntoAccount, type MovingOrganization, previewClaimInto } from "../services/claim-into-account.js";
import { claimAccount, previewClaim } from "../services/claims.js";
import type { Deps } from "../services/deps.js";
import { previewVerification, type VerificationPreview, verifyEmail } from "../services/emails.js";
import { redeemInvite, validateInvite } from "../services/invites.js";
import { PASSWORD_POLICY } from "../services/passwords.js";
import type { SignupLimiter } from "../rate-limit.js";
import { type BrowserSession, sessionOf } from "./browser-session.js";
import { errorBox, formText, Html, html, pageHeaders, send, staleForm, when } from "./page-parts.js";

const field = (name: string, label: string, type: string, value: string, options: { hint?: string; autocomplete: string; required?: boolean }) =>
  html`<label for="${name}">${label}</label>${options.hint ? html`<span class="hint" id="${name}-hint">${options.hint}</span>` : ""}
<input id="${name}" name="${name}" type="${type}" value="${value}" autocomplete="${options.autocomplete}"${options.hint ? html` aria-describedby="${name}-hint"` : ""}${new Html(options.required === false ? "" : " required")}>`;

function statePage(res: Response, error: AppError) {
  const titles: Partial<Record<AppError["code"], string>> = {
    conflict: "This account has already been claimed",
    gone: "This claim link has expired",
    not_found: "This claim link is not known",
  };
  const title = titles[error.code] ?? "This claim link cannot be used";
  send(res, errorKinds[error.code].status, title, html`<h1>${title}</h1><p>${error.message}</p>`);
}

const organizationChange: Record<MovingOrganization["change"], string> = {
  join: "you become its admin",
  promote: "you are in it already and become its admin",
  none: "you are its admin already: nothing changes",
};

/** For a signed-in human: claim the agent into the account they have, after seeing exactly what moves. */
function claimIntoSection(token: string, into: ClaimIntoPreview, csrf: string, message?: string) {
  const count = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;
  return html`<section aria-labelledby="into"><h2 id="into">Claim into your account ${into.into}</h2>
<p>You are signed in as <strong>${into.into}</strong>. Claim the agent into this account and you become admin of what it built; the agent stays a separate agent account, marked as claimed by you.</p>
${errorBox(message)}
<h3>What moves to ${into.into}</h3>
${into.moving.length === 0
  ? html`<p class="empty">Nothing: the agent administers no organization.</p>`
  : html`<ul>${into.moving.map((org) => html`<li><strong>${org.name}</strong> with ${count(org.stackCount, "stack")} and ${count(org.inviteLinkCount, "invite link")}: ${organizationChange[org.change]}</li>`)}</ul>`}
${into.staying.length === 0
  ? ""
  : html`<h3>What stays with the agent</h3><ul>${into.staying.map((org) => html`<li><strong>${org.name}</strong>: the agent is only a ${org.role} there, so it is not the agent's to give. Ask its admins for an invite.</li>`)}</ul>`}
<form method="post" action="/claim/${encodeURIComponent(token)}/into">
<input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="expected" value="${into.expected}">
<label class="check"><input type="checkbox" name="keepAgentAccess" value="yes" checked> Let the agent keep working until its access token expires</label>
<button type="submit">Claim into ${into.into}</button>
</form>
</section>
<h2>Or make it a separate account</h2>`;
}

async function claimForm(res: Response, token: string, csrf: string, status = 200, values: Record<string, string> = {}, message?: string, intoMessage?: string) {
  const deps = res.locals.deps as Deps;
  const preview = await previewClaim(deps, token);
  const session = sessionOf(res);
  const into = session ? await previewClaimInto(deps, token, session.user.id) : undefined;
  const more = preview.stackCount - preview.stacks.length;
  const title = `Claim ${preview.agentName}`;
  send(
    res,
    status,
    title,
    html`<h1>Take ownership of ${preview.agentName}</h1>
<p>An AI agent created this account and is asking you to claim it. Once claimed it is yours: same organizations, same stacks.</p>
<dl>
<dt>Agent</dt><dd>${preview.agentName}${preview.agentModel ? ` (${preview.agentModel})` : ""}</dd>
<dt>Account</dt><dd>${preview.login}</dd>
<dt>Organizations</dt><dd>${preview.organizations.join(", ") || "none"}</dd>
<dt>Stacks</dt><dd>${preview.stackCount === 0 ? "none yet" : html`${preview.stacks.join(", ")}${more > 0 ? ` and ${more} more` : ""}`}</dd>
<dt>Link valid until</dt><dd>${when(preview.expiresAt)}</dd>
</dl>
${into ? claimIntoSection(token, into, csrf, intoMessage) : html`<p>Already have an account here? <a href="/login?next=${encodeURIComponent(`/claim/${token}`)}">Sign in first</a> to claim the agent into it.</p>`}
${errorBox(message)}
<form method="post" action="/claim/${encodeURIComponent(token)}" novalidate>
<input type="hidden" name="csrf" value="${csrf}">
${field("fullName", "Your name", "text", values.name ?? "", { hint: `Shown on the account instead of the agent's “${preview.agentName}”`, autocomplete: "name", required: false })}
${field("username", "Username", "text", values.username ?? "", { hint: "3–39 letters, digits, '-', '_' or '.'", autocomplete: "username" })}
${field("email", "Email", "email", values.email ?? "", { autocomplete: "email" })}
${field("password", "Password", "password", "", { hint: PASSWORD_POLICY, autocomplete: "new-password" })}
<label class="check"><input type="checkbox" name="keepAgentAccess" value="yes"${new Html(values.submitted && !values.keepAgentAccess ? "" : " checked")}> Let the agent keep working on this account until its access token expires</label>
<button type="submit">Claim this account</button>
</form>`,
  );
}

async function inviteForm(res: Response, secret: string, csrf: string, status = 200, values: Record<string, string> = {}, message?: string) {
  const invite = await validateInvite(res.locals.deps as Deps, secret);
  send(
    res,
    status,
    `Join ${invite.organization}`,
    html`<h1>Join ${invite.organization}</h1>
<p>You were invited through the link “${invite.name}”. Create your account to join as a Viewer: you can see its stacks and members, and an admin can make you a member later.</p>
${errorBox(message)}
<form method="post" novalidate>
<input type="hidden" name="csrf" value="${csrf}">
${field("email", "Email", "email", values.email ?? "", { autocomplete: "email" })}
${field("name", "Name", "text", values.name ?? "", { autocomplete: "name" })}
${field("username", "Username (optional)", "text", values.username ?? "", { hint: "3–39 letters, digits, '-', '_' or '.'; made from your email if left empty", autocomplete: "username", required: false })}
${field("password", "Password", "password", "", { hint: PASSWORD_POLICY, autocomplete: "new-password" })}
<button type="submit">Create account and join</button>
</form>
<p class="hint">This link works until ${when(new Date(invite.expiresAt))}.</p>`,
  );
}

/** The two pages a human opens: the claim link and the invite link. */
export function pagesRouter(deps: Deps, limiter: SignupLimiter, browser: BrowserSession) {
  const router = Router();
  const { csrfToken, csrfValid } = browser;
  const paths = ["/claim", "/new-user", "/verify-email"];
  router.use(paths, (_req, res, next) => {
    res.locals.deps = deps;
    next();
  });
  router.use(paths, pageHeaders, express.urlencoded({ extended: false, limit: "16kb" }), browser.cookies);
  router.use("/claim", browser.loadSession);

  // GET never consumes the token: link scanners and previews open it too.
  router.get("/claim/:token", async (req, res) => {
    const preview = await tryPreview(req.params.token);
    if (preview instanceof AppError) return statePage(res, preview);
    if (preview.state === "claimed") return statePage(res, new AppError("conflict", `It was claimed on ${preview.claimedAt?.toUTCString()}; a claim link works only once.`));
    if (preview.state === "expired") return statePage(res, new AppError("gone", "Ask the agent to sign up again to get a new claim link."));
    await claimForm(res, req.params.token, csrfToken(req, res));
  });

  router.post("/claim/:token", async (req, res) => {
    const token = req.params.token;
    if (!csrfValid(req)) return staleForm(res);
    const values = {
      name: formText(req.body.fullName),
      username: formText(req.body.username).trim(),
      email: formText(req.body.email).trim(),
      keepAgentAccess: req.body.keepAgentAccess ? "yes" : "",
      submitted: "yes",
    };
    try {
      const claimed = await claimAccount(deps, {
        claimToken: token,
        username: values.username,
        name: values.name,
        email: values.email,
        password: formText(req.body.password),
        keepAgentAccess: Boolean(values.keepAgentAccess),
      });
      send(
        res,
        200,
        "Account claimed",
        html`<h1>The account is yours</h1>
<p class="ok" role="status">You claimed it as <strong>${claimed.login}</strong>.</p>
<p>${values.keepAgentAccess ? "The agent can keep working on it until its access token expires." : "The agent's access has ended; it can still see that you claimed the account."}</p>
<p>We sent a confirmation link to <strong>${values.email}</strong>; open it to confirm the address.</p>
<p><a class="button" href="/login">Sign in to your console</a> to see what the agent built and to control its access.</p>`,
      );
    } catch (error) {
      if (!isAppError(error)) throw error;
      if (error.details?.field) return await claimForm(res, token, csrfToken(req, res), errorKinds[error.code].status, values, error.message);
      statePage(res, error);
    }
  });

  router.post("/claim/:token/into", async (req, res) => {
    const token = req.params.token;
    if (!csrfValid(req)) return staleForm(res);
    const session = sessionOf(res);
    if (!session) return res.redirect(303, `/login?next=${encodeURIComponent(`/claim/${token}`)}`);
    const keepAgentAccess = Boolean(req.body.keepAgentAccess);
    try {
      const claimed = await claimIntoAccount(deps, { claimToken: token, humanId: session.user.id, keepAgentAccess, expected: formText(req.body.expected) });
      send(
        res,
        200,
        "Agent claimed",
        html`<h1>The agent is yours</h1>
<p class="ok" role="status">You claimed it into <strong>${claimed.into}</strong>${claimed.organizations.length ? html` and are now admin of ${claimed.organizations.join(", ")}` : ""}.</p>
<p>${keepAgentAccess ? "The agent can keep working until its access token expires." : "The agent's access has ended; it can still see that you claimed it."}</p>
<p><a class="button" href="/console/agents">See it in your console</a> to end or give back its access later.</p>`,
      );
    } catch (error) {
      if (!isAppError(error)) throw error;
      if (error.details?.field) return await claimForm(res, token, csrfToken(req, res), errorKinds[error.code].status, {}, undefined, error.message);
      statePage(res, error);
    }
  });

  router.get("/new-user", async (req, res) => {
    const secret = formText(req.query.invite);
    try {
      await inviteForm(res, secret, csrfToken(req, res));
    } catch (error) {
      if (!isAppError(error)) throw error;
      invalidInvite(res, error);
    }
  });

  router.post("/new-user", async (req, res) => {
    const secret = formText(req.query.invite);
    if (!csrfValid(req)) return staleForm(res);
    const values = { email: formText(req.body.email), name: formText(req.body.name), username: formText(req.body.username).trim() };
    try {
      const password = formText(req.body.password);
      if (!password) throw new AppError("validation", "Choose a password.", { field: "password" });
      await limiter.take(limiter.addressOf(req));
      const result = await redeemInvite(deps, { token: secret, ...values, username: values.username || undefined, password });
      send(
        res,
        200,
        `Welcome to ${result.organization}`,
        html`<h1>Welcome, ${result.user.name ?? ""}</h1>
<p class="ok" role="status">Your account <strong>${result.user.username ?? ""}</strong> is a member of ${result.organization}.</p>
<p>We sent a confirmation link to <strong>${result.user.email ?? values.email}</strong>; open it to confirm the address.</p>
<p><a class="button" href="/login">Sign in</a> to see ${result.organization}'s stacks and members.</p>`,
      );
    } catch (error) {
      if (!isAppError(error)) throw error;
      if (error.details?.field) return await inviteForm(res, secret, csrfToken(req, res), errorKinds[error.code].status, values, error.message);
      if (error.code === "rate_limited") return send(res, 429, "Too many signups", html`<h1>Too many signups</h1><p>${error.message}</p>`);
      invalidInvite(res, error);
    }
  });

  // The email confirmation link: GET shows what would be confirmed and never consumes it (mail scanners open links); the form's POST does, once.
  router.get("/verify-email", async (req, res) => {
    try {
      verifyForm(res, await previewVerification(deps, formText(req.query.token)), csrfToken(req, res));
    } catch (error) {
      if (!isAppError(error)) throw error;
      verifyRefused(res, error);
    }
  });

  router.post("/verify-email", async (req, res) => {
    if (!csrfValid(req)) return staleForm(res);
    try {
      const verified = await verifyEmail(deps, formText(req.query.token));
      send(
        res,
        200,
        "Email address confirmed",
        html`<h1>Email address confirmed</h1>
<p class="ok" role="status"><strong>${verified.email}</strong> is now the email address of account <strong>${verified.login}</strong>.</p>
<p>You can close this page.</p>`,
      );
    } catch (error) {
      if (!isAppError(error)) throw error;
      verifyRefused(res, error);
    }
  });

  async function tryPreview(token: string) {
    try {
      return await previewClaim(deps, token);
    } catch (error) {
      if (isAppError(error)) return error;
      throw error;
    }
  }

  // A mangled link (bad percent-encoding) or an oversized or undecodable form body: a readable page, not a 500 or JSON.
  router.use((error: unknown, req: Request, res: Response, next: express.NextFunction) => {
    const status = (error as { status?: unknown } | null)?.status;
    const isPage = req.path.startsWith("/claim/") || req.path === "/new-user" || req.path === "/verify-email";
    if (!isPage || typeof status !== "number" || status < 400 || status >= 500) return next(error);
    send(res, status, "This link or form cannot be used", html`<h1>This link or form cannot be used</h1>
<p>The link may have been cut off or mangled when it was copied, or the form was too large. Check that you opened the whole link, reload the page and try again.</p>`);
  });

  return router;
}

function verifyForm(res: Response, preview: VerificationPreview, csrf: string) {
  const title = `Confirm ${preview.email} for account ${preview.login}`;
  send(
    res,
    200,
    title,
    html`<h1>${title}</h1>
<p>Someone asked to use this address as the email of the agent-onboard account <strong>${preview.login}</strong>. Confirm only if the address is yours.</p>
<dl>
<dt>Email</dt><dd>${preview.email}</dd>
<dt>Account</dt><dd>${preview.login}</dd>
<dt>Link valid until</dt><dd>${when(preview.expiresAt)}</dd>
</dl>
<form method="post">
<input type="hidden" name="csrf" value="${csrf}">
<button type="submit">Confirm ${preview.email}</button>
</form>`,
  );
}

function verifyRefused(res: Response, error: AppError) {
  const titles: Partial<Record<AppError["code"], string>> = {
    conflict: error.details?.field === "email" ? "This address is taken" : "This link was already used",
    gone: "This confirmation link has expired",
    not_found: "This confirmation link is not known",
  };
  const title = titles[error.code] ?? "This confirmation link cannot be used";
  send(res, errorKinds[error.code].status, title, html`<h1>${title}</h1><p>${error.message}</p>`);
}

function invalidInvite(res: Response, error: AppError) {
  send(res, errorKinds[error.code].status, "This invite link is not valid", html`<h1>This invite link is not valid</h1><p>${error.message}</p>`);
}
