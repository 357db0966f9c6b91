import { sql } from "drizzle-orm";
import {
  type AnySQLiteColumn,
  index,
  integer,
  primaryKey,
  sqliteTable,
  text,
  uniqueIndex,
} from "drizzle-orm/sqlite-core";
import { sqliteColumns } from "./columns.js";

const { serialId, instant, flag, createdAt } = sqliteColumns;

/** Keys shared by every process on this db, so that any of them can verify a token another issued. */
export const signingKeys = sqliteTable("signing_keys", {
  id: integer("id").primaryKey(),
  secret: text("secret").notNull(),
  createdAt: createdAt(),
});

export const organizations = sqliteTable(
  "organizations",
  {
    id: serialId(),
    name: text("name").notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("organizations_name_unique").on(sql`lower(${t.name})`)],
);

export const users = sqliteTable(
  "users",
  {
    id: serialId(),
    uid: text("uid").notNull().unique(),
    login: text("login").notNull(),
    name: text("name").notNull(),
    /** Always lowercase; agents have none until claimed or invited. */
    email: text("email").unique(),
    /** When the primary email was confirmed through its verification link. */
    emailVerifiedAt: instant("email_verified_at"),
    passwordHash: text("password_hash"),
    isAgent: flag("is_agent").notNull(),
    agentModel: text("agent_model"),
    defaultOrgId: integer("default_org_id").references((): AnySQLiteColumn => organizations.id, {
      onDelete: "set null",
    }),
    createdAt: createdAt(),
    claimedAt: instant("claimed_at"),
    /** Set when an agent account's claim window closed unclaimed; its data is kept. */
    lockedAt: instant("locked_at"),
    /** Wrong passwords since the last successful sign-in (Unleash's userSchema.loginAttempts). */
    loginAttempts: integer("login_attempts").notNull().default(0),
    /** A picture the human chose in the console; without one, a Gravatar identicon stands in. */
    avatarUrl: text("avatar_url"),
    /** The last successful sign-in (userSchema.seenAt). */
    seenAt: instant("seen_at"),
  },
  (t) => [uniqueIndex("users_login_unique").on(sql`lower(${t.login})`)],
);

export const memberships = sqliteTable(
  "memberships",
  {
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    orgId: integer("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    /** viewer: Unleash's Viewer, who joined through an invite link and may read but not change anything. */
    role: text("role", { enum: ["admin", "member", "viewer"] }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.orgId] }), index("memberships_org").on(t.orgId)],
);

export const accessTokens = sqliteTable(
  "access_tokens",
  {
    jti: text("jti").primaryKey(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    expiresAt: instant("expires_at").notNull(),
    revokedAt: instant("revoked_at"),
    /** claimed: at the claim, by the human's choice; owner: later, by the account's owner in the console. */
    revokedReason: text("revoked_reason", { enum: ["claimed", "owner"] }),
    /** What issued the token, shown as User.tokenInfo.name. */
    name: text("name").notNull().default("access token"),
    /** agent: the agent's own access; personal: a token the human made for their own tools. */
    kind: text("kind", { enum: ["agent", "personal"] }).notNull().default("agent"),
    /** What a personal access token is for, as its owner wrote it. */
    description: text("description"),
    /** Kept to the minute: a write per call would cost every call. */
    lastUsedAt: instant("last_used_at"),
  },
  (t) => [index("access_tokens_user").on(t.userId)],
);

export const claimTokens = sqliteTable("claim_tokens", {
  id: serialId(),
  userId: integer("user_id")
    .notNull()
    .unique()
    .references(() => users.id, { onDelete: "cascade" }),
  tokenHash: text("token_hash").notNull().unique(),
  createdAt: createdAt(),
  expiresAt: instant("expires_at").notNull(),
  consumedAt: instant("consumed_at"),
  agentAccessKept: flag("agent_access_kept"),
  /** While a claim's password is being hashed: a second claim of the same link meanwhile is refused before it hashes. */
  claimingUntil: instant("claiming_until"),
  /** Set when a signed-in human claimed the agent into their own account; empty when the account itself became the human's. */
  claimedByUserId: integer("claimed_by_user_id").references(() => users.id, { onDelete: "set null" }),
});

/** A claim through Pulumi's claim API: the agent's stacks moved into an organization; kept for its status. */
export const claimTransfers = sqliteTable(
  "claim_transfers",
  {
    id: serialId(),
    /** The transferToken the claim answered, and the key of its status. */
    uid: text("uid").notNull().unique(),
    claimTokenId: integer("claim_token_id")
      .notNull()
      .unique()
      .references(() => claimTokens.id, { onDelete: "cascade" }),
    orgId: integer("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    /** The agent's own organization, removed by the claim. */
    agentOrgName: text("agent_org_name").notNull(),
    /** The stacks that moved, as the JSON list of Pulumi TransferEntity objects the claim answered. */
    entities: text("entities").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("claim_transfers_org_id").on(t.orgId, t.createdAt)],
);

export const inviteLinks = sqliteTable(
  "invite_links",
  {
    id: serialId(),
    orgId: integer("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    secretHash: text("secret_hash").notNull().unique(),
    /** The secret itself, encrypted with a key derived from the database's own: Unleash lists a link's secret and URL again. */
    secretSealed: text("secret_sealed"),
    name: text("name").notNull(),
    enabled: flag("enabled").notNull(),
    expiresAt: instant("expires_at").notNull(),
    createdAt: createdAt(),
    createdByUserId: integer("created_by_user_id").references(() => users.id, {
      onDelete: "set null",
    }),
  },
  (t) => [index("invite_links_org").on(t.orgId)],
);

export const inviteLinkUsers = sqliteTable(
  "invite_link_users",
  {
    inviteLinkId: integer("invite_link_id")
      .notNull()
      .references(() => inviteLinks.id, { onDelete: "cascade" }),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    joinedAt: instant("joined_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.inviteLinkId, t.userId] })],
);

export const stacks = sqliteTable(
  "stacks",
  {
    id: serialId(),
    uid: text("uid").notNull().unique(),
    orgId: integer("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    projectName: text("project_name").notNull(),
    stackName: text("stack_name").notNull(),
    createdAt: createdAt(),
    createdByUserId: integer("created_by_user_id").references(() => users.id, {
      onDelete: "set null",
    }),
  },
  (t) => [
    uniqueIndex("stacks_org_project_stack_unique").on(
      t.orgId,
      sql`lower(${t.projectName})`,
      sql`lower(${t.stackName})`,
    ),
    index("stacks_org_id").on(t.orgId, t.id),
  ],
);

export const stackTags = sqliteTable(
  "stack_tags",
  {
    stackId: integer("stack_id")
      .notNull()
      .references(() => stacks.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    value: text("value").notNull(),
  },
  (t) => [primaryKey({ columns: [t.stackId, t.name] }), index("stack_tags_name_value").on(t.name, t.value)],
);

/** An address a user asked to use, waiting for its verification link to be opened. */
export const emailVerifications = sqliteTable(
  "email_verifications",
  {
    id: serialId(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** Lowercase. */
    email: text("email").notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    createdAt: createdAt(),
    expiresAt: instant("expires_at").notNull(),
    verifiedAt: instant("verified_at"),
    /** Withdrawn by the user (DELETE /api/user/pending-emails) or replaced by a newer request. */
    canceledAt: instant("canceled_at"),
  },
  (t) => [index("email_verifications_user").on(t.userId, t.id)],
);

/** An admin's invitation of one email address into an organization (Pulumi's pending invites). */
export const orgInvites = sqliteTable(
  "org_invites",
  {
    id: serialId(),
    uid: text("uid").notNull().unique(),
    orgId: integer("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    /** Lowercase. */
    email: text("email").notNull(),
    role: text("role", { enum: ["admin", "member"] }).notNull(),
    sentByUserId: integer("sent_by_user_id").references(() => users.id, { onDelete: "set null" }),
    sentAt: instant("sent_at").notNull(),
    expiresAt: instant("expires_at").notNull(),
    acceptedAt: instant("accepted_at"),
    acceptedByUserId: integer("accepted_by_user_id").references(() => users.id, { onDelete: "set null" }),
    canceledAt: instant("canceled_at"),
    /** The most recent error a user hit trying to accept it. */
    acceptError: text("accept_error"),
  },
  (t) => [index("org_invites_email").on(t.email), index("org_invites_org").on(t.orgId)],
);

/**
 * Multi-round-trip request states already redeemed: a retried call that
 * carries one again is a replay. Kept until the state's own expiry.
 */
export const usedRequestStates = sqliteTable(
  "used_request_states",
  {
    jti: text("jti").primaryKey(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    expiresAt: instant("expires_at").notNull(),
    usedAt: instant("used_at").notNull(),
  },
  (t) => [index("used_request_states_expires_at").on(t.expiresAt)],
);

/**
 * Refresh tokens of agent signups (Pulumi's CLI refreshes an expired access
 * token with one). Each is used once and replaced by the next of its family;
 * one presented twice revokes the whole family.
 */
export const refreshTokens = sqliteTable(
  "refresh_tokens",
  {
    idHash: text("id_hash").primaryKey(),
    family: text("family").notNull(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    expiresAt: instant("expires_at").notNull(),
    usedAt: instant("used_at"),
    revokedAt: instant("revoked_at"),
  },
  (t) => [index("refresh_tokens_family").on(t.family), index("refresh_tokens_user").on(t.userId)],
);

/** Proof-of-work signup challenges already redeemed: each works once, across every process. Kept until the challenge's own expiry. */
export const usedSignupChallenges = sqliteTable(
  "used_signup_challenges",
  {
    idHash: text("id_hash").primaryKey(),
    expiresAt: instant("expires_at").notNull(),
  },
  (t) => [index("used_signup_challenges_expires_at").on(t.expiresAt)],
);

/**
 * Accounts created per client address (an IPv6 /64), for the hourly signup
 * limit: kept here so that every process and instance counts the same.
 */
export const signupAttempts = sqliteTable(
  "signup_attempts",
  {
    id: serialId(),
    bucket: text("bucket").notNull(),
    at: instant("at").notNull(),
  },
  (t) => [index("signup_attempts_bucket_at").on(t.bucket, t.at), index("signup_attempts_at").on(t.at)],
);

/** Mails sent, per sender account and per recipient address, for the hourly mail limits. */
export const mailSends = sqliteTable(
  "mail_sends",
  {
    id: serialId(),
    bucket: text("bucket").notNull(),
    at: instant("at").notNull(),
  },
  (t) => [index("mail_sends_bucket_at").on(t.bucket, t.at), index("mail_sends_at").on(t.at)],
);

/**
 * Mail on its way through SMTP: kept here from hand-over until the server
 * accepts it, so that any instance retries what another could not send. The
 * message (recipient, subject, body with its links) is sealed with the
 * database's key; only the schedule is readable.
 */
export const mailOutbox = sqliteTable(
  "mail_outbox",
  {
    id: serialId(),
    sealed: text("sealed").notNull(),
    attempts: integer("attempts").notNull().default(0),
    /** When the next attempt is due; an attempt under way pushes it ahead, so no other instance takes the same mail. */
    nextAttemptAt: instant("next_attempt_at").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("mail_outbox_next_attempt_at").on(t.nextAttemptAt)],
);

/**
 * The OAuth authorization server's records (oidc-provider's models: clients
 * registered on the fly, interactions, grants, codes, access and refresh
 * tokens), so that any instance continues what another began. Ids are kept
 * as hashes: a copy of the database holds no usable code or token.
 */
export const oauthRecords = sqliteTable(
  "oauth_records",
  {
    model: text("model").notNull(),
    id: text("id").notNull(),
    /** The model's own fields, as JSON. */
    payload: text("payload").notNull(),
    grantId: text("grant_id"),
    /** The account a grant (a connected host) acts as, for the console's list. */
    accountId: text("account_id"),
    uid: text("uid"),
    /** Set on the codes and tokens used once: a second use revokes their grant. */
    consumedAt: instant("consumed_at"),
    expiresAt: instant("expires_at"),
    /** On a grant: when a host last called /mcp with one of its tokens (kept to the minute). */
    lastUsedAt: instant("last_used_at"),
  },
  (t) => [
    primaryKey({ columns: [t.model, t.id] }),
    index("oauth_records_account_id").on(t.accountId),
    index("oauth_records_grant_id").on(t.grantId),
    index("oauth_records_uid").on(t.uid),
    index("oauth_records_expires_at").on(t.expiresAt),
  ],
);

/**
 * Signed-in browsers. The cookie holds a random id; only its hash is kept, so
 * a copy of the database signs nobody in.
 */
export const sessions = sqliteTable(
  "sessions",
  {
    idHash: text("id_hash").primaryKey(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    lastSeenAt: instant("last_seen_at").notNull(),
    /** lastSeenAt + the idle lifetime, moved on as the session is used. */
    idleExpiresAt: instant("idle_expires_at").notNull(),
    /** createdAt + the absolute lifetime: never moved. */
    expiresAt: instant("expires_at").notNull(),
  },
  (t) => [index("sessions_user").on(t.userId), index("sessions_idle_expires_at").on(t.idleExpiresAt)],
);

/** Wrong passwords, per account ("user:<id>") and per client address ("address:<bucket>"), for sign-in throttling. */
export const loginFailures = sqliteTable(
  "login_failures",
  {
    id: serialId(),
    bucket: text("bucket").notNull(),
    at: instant("at").notNull(),
  },
  (t) => [index("login_failures_bucket_at").on(t.bucket, t.at), index("login_failures_at").on(t.at)],
);
