import { agentSignupTool } from "./agent-signup.js";
import { createInviteLinkTool } from "./create-invite-link.js";
import { createStackTool } from "./create-stack.js";
import { getClaimStatusTool } from "./get-claim-status.js";
import { getCurrentUserTool } from "./get-current-user.js";
import { getDefaultOrganizationTool } from "./get-default-organization.js";
import { listStacksTool } from "./list-stacks.js";
import { redeemInviteTool } from "./redeem-invite.js";
import { setDefaultOrganizationTool } from "./set-default-organization.js";
import { acceptInviteTool } from "./accept-invite.js";
import { inviteMemberTool } from "./invite-member.js";
import { listPendingInvitesTool } from "./list-pending-invites.js";
import { changeEmailTool } from "./change-email.js";
import { deleteStackTool } from "./delete-stack.js";
import { listInviteLinksTool } from "./list-invite-links.js";
import { updateInviteLinkTool } from "./update-invite-link.js";
import type { AnyToolDef } from "./tool.js";

/** Every tool the server registers, in the order an agent meets them. */
export const allTools: AnyToolDef[] = [
  agentSignupTool,
  getCurrentUserTool,
  getClaimStatusTool,
  createStackTool,
  listStacksTool,
  deleteStackTool,
  createInviteLinkTool,
  listInviteLinksTool,
  updateInviteLinkTool,
  redeemInviteTool,
  getDefaultOrganizationTool,
  setDefaultOrganizationTool,
  inviteMemberTool,
  listPendingInvitesTool,
  acceptInviteTool,
  changeEmailTool,
];
