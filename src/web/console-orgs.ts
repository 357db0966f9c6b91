import type { Request, Response } from "express";
import { AppError, errorKinds, isAppError } from "../errors.js";
import { createInviteLink, listInviteLinks, updateInviteLinkById } from "../services/invites.js";
import { changeMemberRole, listMembers, memberRoles, removeMember } from "../services/members.js";
import { cancelOrganizationInvite, inviteMember, listOrganizationInvites } from "../services/org-invites.js";
import { getOrganization } from "../services/orgs.js";
import { pageNumber } from "../services/paging.js";
import { sessionOf } from "./browser-session.js";
import { type ConsoleKit, pager } from "./console-frame.js";
import { errorBox, formText, Html, html, okBox, pathParam, staleForm, when } from "./page-parts.js";

const DAY = 86_400_000;

/** Which form a message on the page belongs to, so it shows beside that form with what was typed. */
interface OrgForm {
  notice?: Html | string;
  members?: string;
  links?: { message: string; name: string };
  invites?: { message: string; email: string };
}

const linkState = (link: { enabled: boolean; usable: boolean }) => (link.usable ? "works" : link.enabled ? "expired" : "disabled");

/** An organization's page: its members, and for its admins, its invite links and pending email invites. */
export function organizationPages(kit: ConsoleKit) {
  const { deps, router, frame, postButton, csrfToken, csrfValid } = kit;

  async function orgPage(req: Request, res: Response, form: OrgForm = {}, status = 200) {
    const { user } = sessionOf(res)!;
    const name = pathParam(req, "name");
    let org: Awaited<ReturnType<typeof getOrganization>>;
    try {
      org = await getOrganization(deps.db, user.id, name);
    } catch (error) {
      if (!isAppError(error)) throw error;
      return frame(req, res, "", "Organization not found", html`<h1>Organization not found</h1><p>${error.message}</p><p><a href="/console">Back to the overview</a></p>`, errorKinds[error.code].status);
    }
    const isAdmin = org.role === "admin";
    const base = `/console/orgs/${encodeURIComponent(org.name)}`;
    const csrf = csrfToken(req, res);
    const { members } = await listMembers(deps, user.id, org.name, pageNumber(req.query.membersPage));
    const [links, invites] = isAdmin
      ? await Promise.all([listInviteLinks(deps, user.id, org.name, pageNumber(req.query.linksPage)), listOrganizationInvites(deps, user.id, org.name, pageNumber(req.query.invitesPage))])
      : [undefined, undefined];
    const roleForm = (login: string, role: string) =>
      html`<form method="post" action="${base}/members/${encodeURIComponent(login)}/role" class="inline"><input type="hidden" name="csrf" value="${csrf}">
<select name="role" aria-label="Role of ${login}">${memberRoles.map((r) => html`<option value="${r}"${new Html(r === role ? " selected" : "")}>${r}</option>`)}</select>
<button type="submit" aria-label="Change the role of ${login}">Change</button></form>`;

    frame(
      req,
      res,
      "",
      org.name,
      html`<h1>${org.name}</h1>
${form.notice instanceof Html ? form.notice : okBox(form.notice)}
<p>Your role: <strong>${org.role}</strong>${org.isDefault ? " · your default organization" : ""} · ${org.stackCount} stack${org.stackCount === 1 ? "" : "s"} (<a href="/console?organization=${encodeURIComponent(org.name)}">list them</a>)</p>
<section aria-labelledby="members"><h2 id="members">Members</h2>
${errorBox(form.members)}
<div class="table"><table><thead><tr><th scope="col">Username</th><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Joined</th><th scope="col">Role</th>${isAdmin ? html`<th scope="col"><span class="hint">Action</span></th>` : ""}</tr></thead><tbody>
${members.items.map(
  (m) => html`<tr><td>${m.login}</td><td>${m.name}</td><td>${m.isAgent ? "agent" : "person"}</td><td>${when(m.joinedAt)}</td>
<td>${isAdmin ? roleForm(m.login, m.role) : m.role}</td>
${isAdmin ? html`<td>${postButton(req, res, `${base}/members/${encodeURIComponent(m.login)}/remove`, "Remove", { danger: true, ariaLabel: `Remove ${m.login} from ${org.name}` })}</td>` : ""}</tr>`,
)}
</tbody></table></div>
${pager(req, members, "membersPage")}
${isAdmin ? html`<p class="hint">A viewer sees stacks and members; a member also creates stacks; an admin also manages members and invites. The last admin cannot be demoted or removed.</p>` : ""}
</section>
${links && invites
  ? html`<section aria-labelledby="links"><h2 id="links">Invite links</h2>
<p>Anyone with a working link can create an account and join as a viewer.</p>
${links.items.length === 0 && links.page === 1
  ? html`<p class="empty">No invite links yet. Create one below and share it with your team.</p>`
  : html`<div class="table"><table><thead><tr><th scope="col">Name</th><th scope="col">State</th><th scope="col">Expires</th><th scope="col">Created by</th><th scope="col">Who joined</th><th scope="col"><span class="hint">Action</span></th></tr></thead><tbody>
${links.items.map(
  (l) => html`<tr><td>${l.name}${l.url ? html`<code class="secret">${l.url}</code>` : ""}</td><td>${linkState(l)}</td><td>${when(l.expiresAt)}</td><td>${l.createdBy ?? "a former member"}</td><td>${l.joined.length === 0 ? "nobody yet" : l.joined.map((j) => j.login).join(", ")}</td>
<td>${l.enabled
  ? postButton(req, res, `${base}/links/${l.id}`, "Disable", { fields: { action: "disable" }, danger: true, ariaLabel: `Disable the link ${l.name}` })
  : postButton(req, res, `${base}/links/${l.id}`, "Enable", { fields: { action: "enable" }, ariaLabel: `Enable the link ${l.name}` })}
${postButton(req, res, `${base}/links/${l.id}`, "Extend a month", { fields: { action: "extend" }, ariaLabel: `Extend the link ${l.name} by a month` })}</td></tr>`,
)}
</tbody></table></div>`}
${pager(req, links, "linksPage")}
<h3>Create an invite link</h3>
${errorBox(form.links?.message)}
<form method="post" action="${base}/links" class="inline" novalidate>
<input type="hidden" name="csrf" value="${csrf}">
<label for="link-name">Name <input id="link-name" name="name" type="text" value="${form.links?.name ?? ""}" required></label>
<label for="link-days">Works for <select id="link-days" name="days"><option value="1">1 day</option><option value="7" selected>7 days</option><option value="14">14 days</option><option value="31">a month</option></select></label>
<button type="submit">Create link</button>
</form>
</section>
<section aria-labelledby="invites"><h2 id="invites">Pending email invites</h2>
${invites.items.length === 0 && invites.page === 1
  ? html`<p class="empty">No invites are waiting. Invite someone by email below; they accept with an account whose address is confirmed.</p>`
  : html`<div class="table"><table><thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Sent by</th><th scope="col">Sent</th><th scope="col"><span class="hint">Action</span></th></tr></thead><tbody>
${invites.items.map(
  (i) => html`<tr><td>${i.email}</td><td>${i.role}</td><td>${i.sentBy.githubLogin || i.sentBy.name}</td><td>${when(new Date(i.sentAt * 1000))}</td>
<td>${postButton(req, res, `${base}/invites/${encodeURIComponent(i.id)}/cancel`, "Cancel", { danger: true, ariaLabel: `Cancel the invite to ${i.email}` })}</td></tr>`,
)}
</tbody></table></div>`}
${pager(req, invites, "invitesPage")}
<h3>Invite by email</h3>
${errorBox(form.invites?.message)}
<form method="post" action="${base}/invites" class="inline" novalidate>
<input type="hidden" name="csrf" value="${csrf}">
<label for="invite-email">Email <input id="invite-email" name="email" type="email" value="${form.invites?.email ?? ""}" required></label>
<label for="invite-role">Role <select id="invite-role" name="role"><option value="member" selected>member</option><option value="admin">admin</option></select></label>
<button type="submit">Send invite</button>
</form>
</section>`
  : html`<p class="hint">Only admins of ${org.name} see and manage its invite links and pending invites.</p>`}`,
      status,
    );
  }

  router.get("/console/orgs/:name", (req, res) => orgPage(req, res));

  /** Runs one change on the organization and shows its page with what happened, or the error beside the form it came from. */
  const act =
    (change: (req: Request, res: Response, userId: number) => Promise<Html | string>, formOf: (req: Request, message: string) => OrgForm) =>
    async (req: Request, res: Response) => {
      if (!csrfValid(req)) return staleForm(res);
      try {
        const notice = await change(req, res, sessionOf(res)!.user.id);
        if (!res.headersSent) await orgPage(req, res, { notice });
      } catch (error) {
        if (!isAppError(error)) throw error;
        await orgPage(req, res, formOf(req, error.message), errorKinds[error.code].status);
      }
    };
  const aboutMembers = (_req: Request, message: string): OrgForm => ({ members: message });

  router.post(
    "/console/orgs/:name/members/:login/role",
    act(async (req, _res, userId) => {
      const role = await changeMemberRole(deps, userId, pathParam(req, "name"), pathParam(req, "login"), formText(req.body.role));
      return `${pathParam(req, "login")} is now a ${role} of ${pathParam(req, "name")}.`;
    }, aboutMembers),
  );

  router.post(
    "/console/orgs/:name/members/:login/remove",
    act(async (req, res, userId) => {
      const removed = await removeMember(deps, userId, pathParam(req, "name"), pathParam(req, "login"));
      // Having removed themselves, the human can no longer see the organization.
      if (removed.login.toLowerCase() === sessionOf(res)!.user.login.toLowerCase()) {
        res.redirect(303, "/console");
        return "";
      }
      return `${removed.login} was removed from ${pathParam(req, "name")}; the stacks they made stay with the organization.`;
    }, aboutMembers),
  );

  router.post(
    "/console/orgs/:name/links",
    act(
      async (req, _res, userId) => {
        const days = Number(formText(req.body.days));
        if (![1, 7, 14, 31].includes(days)) throw new AppError("validation", "Choose how long the link works.", { field: "days" });
        const link = await createInviteLink(deps, userId, {
          name: formText(req.body.name).trim(),
          expiresAt: new Date(deps.clock().getTime() + days * DAY).toISOString(),
          organization: pathParam(req, "name"),
        });
        return html`<div class="ok" role="status"><p>Invite link “${link.name}” created; it works until ${when(new Date(link.expiresAt))}. Share it with the people you invite; it is listed below too.</p>
<code class="secret" id="new-link">${link.url}</code></div>`;
      },
      (req, message) => ({ links: { message, name: formText(req.body.name) } }),
    ),
  );

  router.post(
    "/console/orgs/:name/links/:id",
    act(
      async (req, _res, userId) => {
        const action = formText(req.body.action);
        const changes =
          action === "disable" ? { enabled: false } : action === "enable" ? { enabled: true } : action === "extend" ? { expiresAt: new Date(deps.clock().getTime() + 31 * DAY).toISOString() } : undefined;
        if (!changes) throw new AppError("validation", "Choose to disable, enable or extend the link.");
        const link = await updateInviteLinkById(deps, userId, pathParam(req, "name"), Number(pathParam(req, "id")), changes);
        return action === "extend" ? `“${link.name}” now works until ${link.expiresAt.toUTCString()}${link.enabled ? "" : ", once enabled again"}.` : `“${link.name}” is ${action}d${link.usable || !link.enabled ? "" : ", but it has expired: extend it too"}.`;
      },
      (_req, message) => ({ links: { message, name: "" } }),
    ),
  );

  router.post(
    "/console/orgs/:name/invites",
    act(
      async (req, _res, userId) => {
        const sent = await inviteMember(deps, userId, { email: formText(req.body.email).trim(), role: formText(req.body.role) as "member", organization: pathParam(req, "name") });
        return `${sent.resent ? "Sent again" : "Invite sent"} to ${sent.invite.email} as ${sent.invite.role}; it can be accepted until ${new Date(sent.expiresAt).toUTCString()}.`;
      },
      (req, message) => ({ invites: { message, email: formText(req.body.email) } }),
    ),
  );

  router.post(
    "/console/orgs/:name/invites/:id/cancel",
    act(
      async (req, _res, userId) => {
        const canceled = await cancelOrganizationInvite(deps, userId, pathParam(req, "name"), pathParam(req, "id"));
        return `The invite to ${canceled.email} was canceled; its link no longer works.`;
      },
      (_req, message) => ({ invites: { message, email: "" } }),
    ),
  );
}
