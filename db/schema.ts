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

const createdAt = () => integer("created_at", { mode: "timestamp_ms" }).notNull();

/** Keys shared by every process on this db, so that any of them can verify a token another issued. */
export const signingKeys = sqliteTable("signing_keys", {
  id: integer("id").primaryKey(),
  secret: text("secret").notNull(),
  createdAt: createdAt(),
});

export const organizations = sqliteTable(
  "organizations",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    name: text("name").notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("organizations_name_unique").on(sql`lower(${t.name})`)],
);

export const users = sqliteTable(
  "users",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    uid: text("uid").notNull().unique(),
    login: text("login").notNull(),
    name: text("name").notNull(),
    /** Always lowercase; agents have none until claimed or invited. */
    email: text("email").unique(),
    /** When the primary email was confirmed through its verification link. */
    emailVerifiedAt: integer("email_verified_at", { mode: "timestamp_ms" }),
    passwordHash: text("password_hash"),
    isAgent: integer("is_agent", { mode: "boolean" }).notNull(),
    agentModel: text("agent_model"),
    defaultOrgId: integer("default_org_id").references((): AnySQLiteColumn => organizations.id, {
      onDelete: "set null",
    }),
    createdAt: createdAt(),
    claimedAt: integer("claimed_at", { mode: "timestamp_ms" }),
    /** Set when an agent account's claim window closed unclaimed; its data is kept. */
    lockedAt: integer("locked_at", { mode: "timestamp_ms" }),
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
    role: text("role", { enum: ["admin", "member"] }).notNull(),
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
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    revokedAt: integer("revoked_at", { mode: "timestamp_ms" }),
    revokedReason: text("revoked_reason", { enum: ["claimed"] }),
    /** What issued the token, shown as User.tokenInfo.name. */
    name: text("name").notNull().default("access token"),
  },
  (t) => [index("access_tokens_user").on(t.userId)],
);

export const claimTokens = sqliteTable("claim_tokens", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  userId: integer("user_id")
    .notNull()
    .unique()
    .references(() => users.id, { onDelete: "cascade" }),
  tokenHash: text("token_hash").notNull().unique(),
  createdAt: createdAt(),
  expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
  consumedAt: integer("consumed_at", { mode: "timestamp_ms" }),
  agentAccessKept: integer("agent_access_kept", { mode: "boolean" }),
});

export const inviteLinks = sqliteTable(
  "invite_links",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    orgId: integer("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    secretHash: text("secret_hash").notNull().unique(),
    name: text("name").notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
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
    joinedAt: integer("joined_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.inviteLinkId, t.userId] })],
);

export const stacks = sqliteTable(
  "stacks",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
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
    id: integer("id").primaryKey({ autoIncrement: true }),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** Lowercase. */
    email: text("email").notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    createdAt: createdAt(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    verifiedAt: integer("verified_at", { mode: "timestamp_ms" }),
    /** Withdrawn by the user (DELETE /api/user/pending-emails) or replaced by a newer request. */
    canceledAt: integer("canceled_at", { mode: "timestamp_ms" }),
  },
  (t) => [index("email_verifications_user").on(t.userId, t.id)],
);

/** An admin's invitation of one email address into an organization (Pulumi's pending invites). */
export const orgInvites = sqliteTable(
  "org_invites",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    uid: text("uid").notNull().unique(),
    orgId: integer("org_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    /** Lowercase. */
    email: text("email").notNull(),
    role: text("role", { enum: ["admin", "member"] }).notNull(),
    sentByUserId: integer("sent_by_user_id").references(() => users.id, { onDelete: "set null" }),
    sentAt: integer("sent_at", { mode: "timestamp_ms" }).notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    acceptedAt: integer("accepted_at", { mode: "timestamp_ms" }),
    acceptedByUserId: integer("accepted_by_user_id").references(() => users.id, { onDelete: "set null" }),
    canceledAt: integer("canceled_at", { mode: "timestamp_ms" }),
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
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
    usedAt: integer("used_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("used_request_states_expires_at").on(t.expiresAt)],
);

/**
 * Accounts created per client address (an IPv6 /64), for the hourly signup
 * limit: kept here so that every process and instance counts the same.
 */
export const signupAttempts = sqliteTable(
  "signup_attempts",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    bucket: text("bucket").notNull(),
    at: integer("at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [index("signup_attempts_bucket_at").on(t.bucket, t.at), index("signup_attempts_at").on(t.at)],
);
