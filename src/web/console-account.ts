import type { Request, Response } from "express";
import { errorKinds, isAppError } from "../errors.js";
import { findUser } from "../services/accounts.js";
import { userAvatarUrl } from "../services/avatars.js";
import { deletePendingEmail, getPendingEmail, requestEmailChange } from "../services/emails.js";
import { updateProfile } from "../services/profile.js";
import { sessionOf } from "./browser-session.js";
import type { ConsoleKit } from "./console-frame.js";
import { errorBox, formText, html, okBox, staleForm, when } from "./page-parts.js";

interface AccountForm {
  notice?: string;
  /** The form the message is about, and what was typed into it. */
  profile?: { message: string; name: string; avatarUrl: string };
  email?: { message: string; email: string };
}

/** The human's own account: name and picture, primary and pending email, a change of email. */
export function accountPages(kit: ConsoleKit) {
  const { deps, router, frame, postButton, csrfToken, csrfValid } = kit;

  async function accountPage(req: Request, res: Response, form: AccountForm = {}, status = 200) {
    const userId = sessionOf(res)!.user.id;
    // Read again: this request may just have changed it.
    const [user, pending] = await Promise.all([findUser(deps.db, userId), getPendingEmail(deps, userId)]);
    const csrf = csrfToken(req, res);
    const pendingOther = pending && pending.email !== user.email ? pending.email : undefined;
    frame(
      req,
      res,
      "/console/account",
      "Account",
      html`<h1>Account</h1>
${okBox(form.notice)}
<section aria-labelledby="profile"><h2 id="profile">Profile</h2>
<dl><dt>Username</dt><dd>${user.login}</dd><dt>Picture</dt><dd>${user.avatarUrl ? user.avatarUrl : html`an identicon made from your email (<span class="hint">${userAvatarUrl(user)}</span>)`}</dd></dl>
${errorBox(form.profile?.message)}
<form method="post" action="/console/account/profile" novalidate>
<input type="hidden" name="csrf" value="${csrf}">
<label for="name">Name</label>
<input id="name" name="name" type="text" value="${form.profile?.name ?? user.name}" autocomplete="name" required>
<label for="avatarUrl">Picture address</label><span class="hint" id="avatarUrl-hint">An https:// address of an image; leave it empty for the identicon. Tools that show your account load it from there.</span>
<input id="avatarUrl" name="avatarUrl" type="url" value="${form.profile?.avatarUrl ?? user.avatarUrl ?? ""}" aria-describedby="avatarUrl-hint">
<button type="submit">Save profile</button>
</form></section>
<section aria-labelledby="emails"><h2 id="emails">Email</h2>
<dl>
<dt>Primary</dt><dd>${user.email ?? "none yet"}${user.email ? (user.emailVerifiedAt ? html` · confirmed ${when(user.emailVerifiedAt)}` : " · not confirmed yet: open the link we mailed to it") : ""}</dd>
${pendingOther ? html`<dt>Pending</dt><dd>${pendingOther} · waiting for its confirmation link; it becomes your primary address once opened</dd>` : ""}
</dl>
${pendingOther ? postButton(req, res, "/console/account/email/cancel", `Withdraw ${pendingOther}`, { danger: true }) : ""}
${errorBox(form.email?.message)}
<form method="post" action="/console/account/email" novalidate>
<input type="hidden" name="csrf" value="${csrf}">
<label for="email">New email address</label><span class="hint" id="email-hint">We mail a confirmation link to it; your primary address stays until the link is opened.</span>
<input id="email" name="email" type="email" value="${form.email?.email ?? ""}" autocomplete="email" aria-describedby="email-hint" required>
<button type="submit">Send confirmation link</button>
</form></section>`,
      status,
    );
  }

  router.get("/console/account", (req, res) => accountPage(req, res));

  router.post("/console/account/profile", async (req, res) => {
    if (!csrfValid(req)) return staleForm(res);
    const typed = { name: formText(req.body.name), avatarUrl: formText(req.body.avatarUrl) };
    try {
      await updateProfile(deps, sessionOf(res)!.user.id, typed);
      await accountPage(req, res, { notice: "Profile saved." });
    } catch (error) {
      if (!isAppError(error)) throw error;
      await accountPage(req, res, { profile: { message: error.message, ...typed } }, errorKinds[error.code].status);
    }
  });

  router.post("/console/account/email", async (req, res) => {
    if (!csrfValid(req)) return staleForm(res);
    const email = formText(req.body.email).trim();
    try {
      const change = await requestEmailChange(deps, sessionOf(res)!.user.id, { email });
      await accountPage(req, res, { notice: `We sent a confirmation link to ${change.pending.email}; it works until ${change.validUntil.toUTCString()}.` });
    } catch (error) {
      if (!isAppError(error)) throw error;
      await accountPage(req, res, { email: { message: error.message, email } }, errorKinds[error.code].status);
    }
  });

  router.post("/console/account/email/cancel", async (req, res) => {
    if (!csrfValid(req)) return staleForm(res);
    try {
      await deletePendingEmail(deps, sessionOf(res)!.user.id);
      await accountPage(req, res, { notice: "The pending address was withdrawn; its link no longer works." });
    } catch (error) {
      if (!isAppError(error)) throw error;
      await accountPage(req, res, { email: { message: error.message, email: "" } }, errorKinds[error.code].status);
    }
  });
}
