/**
 * The seed documents' shapes, transcribed here independently of src/ so that a
 * field renamed or retyped in the code fails a test. Strict objects: a field
 * the seed does not name is an error too.
 */
import { z } from "zod";

const isoDateTime = z.iso.datetime({ offset: true });

// Seed 001: OrganizationSummaryWithRole.
export const seedOrganizationSummary = z.strictObject({
  name: z.string(),
  role: z.enum(["none", "member", "admin", "potential-member", "stack-collaborator", "billing-manager"]).optional(),
  githubLogin: z.string(),
  avatarUrl: z.string(),
  email: z.string().optional(),
});

// Seeds 000/001: User.
export const seedUser = z.strictObject({
  id: z.string(),
  githubLogin: z.string(),
  name: z.string(),
  email: z.string(),
  avatarUrl: z.string(),
  organizations: z.array(seedOrganizationSummary),
  potentialOrganizations: z.array(seedOrganizationSummary).optional(),
  identities: z.array(z.string()),
  siteAdmin: z.boolean().optional(),
  registryAdmin: z.boolean().optional(),
  tokenInfo: z.strictObject({ name: z.string(), organization: z.string(), team: z.string() }).optional(),
  hasMFA: z.boolean(),
  isOrgManaged: z.boolean(),
  isManagedByMultiOrg: z.boolean(),
  isAgent: z.boolean().optional(),
});

// Seed 000: AgentSignupResponse, plus the claimUrl DESIGN.md adds.
export const seedAgentSignupResponse = z.strictObject({
  accessToken: z.string(),
  accessTokenValidUntil: isoDateTime,
  claimToken: z.string(),
  claimTokenValidUntil: isoDateTime,
  userInfo: seedUser,
  claimUrl: z.url(),
  // Not in seed 000, which predates it: Pulumi's CLI reads it since v3.247.0 (apitype AgentSignupResponse), over REST only.
  refreshToken: z.string().optional(),
});

// Seed 001: AppStackSummary and the GET /api/user/stacks page.
export const seedAppStackSummary = z.strictObject({
  id: z.string(),
  orgName: z.string(),
  projectName: z.string(),
  stackName: z.string(),
  lastUpdate: z.number().int().optional(),
  resourceCount: z.number().int().optional(),
  links: z.strictObject({ self: z.string() }).optional(),
});

export const seedStacksPage = z.strictObject({
  stacks: z.array(seedAppStackSummary),
  continuationToken: z.string().optional(),
});

// Seed 003: Unleash userSchema.
export const seedUnleashUser = z.strictObject({
  id: z.number().int(),
  isAPI: z.boolean().optional(),
  name: z.string().nullable().optional(),
  email: z.string().optional(),
  username: z.string().nullable().optional(),
  imageUrl: z.string().optional(),
  inviteLink: z.string().optional(),
  loginAttempts: z.number().int().optional(),
  emailSent: z.boolean().optional(),
  rootRole: z.number().int().optional(),
  seenAt: isoDateTime.nullable().optional(),
  createdAt: isoDateTime.optional(),
  accountType: z.string().optional(),
  permissions: z.array(z.string()).optional(),
  scimId: z.string().nullable().optional(),
});

// DESIGN.md: redeem without a password adds AgentSignupResponse's token fields to userSchema.
export const seedRedeemedAgent = seedUnleashUser.extend({
  accessToken: z.string(),
  accessTokenValidUntil: isoDateTime,
  claimUrl: z.url(),
  claimTokenValidUntil: isoDateTime,
});

// Seed 002: the invite token object with its role.
export const seedInviteToken = z.strictObject({
  secret: z.string(),
  url: z.string().nullable(),
  name: z.string(),
  enabled: z.boolean(),
  expiresAt: isoDateTime,
  createdAt: isoDateTime,
  createdBy: z.string().nullable(),
  users: z.array(seedUnleashUser).nullable().optional(),
  role: z.strictObject({
    id: z.number().int(),
    type: z.string(),
    name: z.string(),
    description: z.string().optional(),
    project: z.string().nullable().optional(),
  }),
});

// DESIGN.md: get_claim_status.
export const seedClaimStatus = z.strictObject({
  claimed: z.boolean(),
  claimedAt: isoDateTime.optional(),
  claimedBy: z.string().optional(),
  claimTokenValidUntil: isoDateTime,
  agentAccessKept: z.boolean().optional(),
});

// Seed 001: GET /api/user/organizations/default.
export const seedDefaultOrganization = z.strictObject({
  GitHubLogin: z.string(),
  Messages: z.array(z.strictObject({ severity: z.enum(["warning", "error", "info"]).optional(), message: z.string() })),
});

// Seed 001: UserInfo (sentBy), PendingOrganizationInvite and the GET /api/user/pending-invites list.
export const seedUserInfo = z.strictObject({
  name: z.string(),
  githubLogin: z.string(),
  avatarUrl: z.string(),
  email: z.string().optional(),
});

export const seedPendingOrganizationInvite = z.strictObject({
  id: z.string(),
  email: z.string(),
  role: z.enum(["none", "member", "admin", "potential-member", "stack-collaborator", "billing-manager"]),
  sentBy: seedUserInfo,
  sentAt: z.number().int(),
  acceptInviteUrl: z.string(),
  acceptError: z.string().optional(),
  status: z.enum(["pending", "accepted", "expired", "canceled"]),
  roleId: z.string().optional(),
});

export const seedPendingInvites = z.strictObject({
  invites: z.array(seedPendingOrganizationInvite),
});
