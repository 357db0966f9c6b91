import { and, desc, eq, gt, isNotNull, isNull, ne } from "drizzle-orm";
import { z } from "zod";
import type { Db, ReadDb } from "../../db/client.js";
import { AppError } from "../errors.js";
import { findUser } from "./accounts.js";
import { emailShape } from "./email-address.js";
import type { Deps } from "./deps.js";
import { admitMail } from "./mail-limits.js";
import type { MailMessage } from "./mail.js";
import { hashSecret, newSecret } from "./secrets.js";

/** A verification link works for three days. */
export const VERIFICATION_TTL_MS = 3 * 24 * 3_600_000;

/** Pulumi's answer of GET /api/user/pending-emails (seed 001): the address awaiting verification. */
export const pendingEmailShape = z.object({
  email: z.string(),
});
export type PendingEmail = z.infer<typeof pendingEmailShape>;

/** Only structure here; the address itself is judged by the service, so that the error says what to change. */
export const changeEmailInput = z.object({
  email: z
    .string()
    .max(1024, "email is at most 1024 characters.")
    .describe("The address the account should use from now on, e.g. name@example.com. Stored lowercased."),
});
export type ChangeEmailInput = z.infer<typeof changeEmailInput>;

export const verificationUrlFor = (deps: Deps, token: string) =>
  `${deps.settings.publicUrl}/verify-email?token=${encodeURIComponent(token)}`;

/** A verification link drawn and hashed before the write transaction, recorded inside it, mailed after it commits. */
export interface PreparedVerification {
  email: string;
  token: string;
  tokenHash: string;
  validUntil: Date;
  /** Confirms the account's own address (after a claim or signup) rather than asking to move to a new one. */
  ofPrimary: boolean;
  /** Set inside the transaction when the mail limits leave this link unsent (it can be asked for again with change_email). */
  unsent?: boolean;
}

export function prepareVerification(deps: Deps, email: string, ofPrimary: boolean): PreparedVerification {
  const token = newSecret();
  return {
    email,
    token,
    tokenHash: hashSecret(token),
    validUntil: new Date(deps.clock().getTime() + VERIFICATION_TTL_MS),
    ofPrimary,
  };
}

/**
 * Inside the write transaction: a new link replaces every link of the user
 * still waiting to be opened. Its mail counts against the limits: a change of
 * address is refused past them, a claim's or signup's link goes unsent.
 */
export async function recordVerification(deps: Deps, tx: Db, prepared: PreparedVerification, userId: number, now: Date, whenMailFull: "refuse" | "skip"): Promise<void> {
  prepared.unsent = !(await admitMail(tx, deps.settings.mailLimits, { senderId: userId, recipient: prepared.email }, now, whenMailFull));
  const { emailVerifications } = tx.tables;
  await tx
    .update(emailVerifications)
    .set({ canceledAt: now })
    .where(and(eq(emailVerifications.userId, userId), isNull(emailVerifications.verifiedAt), isNull(emailVerifications.canceledAt)));
  await tx
    .insert(emailVerifications)
    .values({ userId, email: prepared.email, tokenHash: prepared.tokenHash, createdAt: now, expiresAt: prepared.validUntil });
}

/** After the commit, so that no mail announces a change that was rolled back. */
export function sendVerification(deps: Deps, prepared: PreparedVerification, login: string): void {
  if (!prepared.unsent) deps.mailer.send(verificationMail(deps, prepared, login));
}

function verificationMail(deps: Deps, prepared: PreparedVerification, login: string): MailMessage {
  const intro = prepared.ofPrimary
    ? [
        `The agent-onboard account ${login} uses ${prepared.email} as its email address.`,
        "To confirm that this address is yours, open this link and press \"Confirm\":",
      ]
    : [
        `Someone asked to use ${prepared.email} as the new email address of the agent-onboard account ${login}.`,
        "The account keeps its current address until you confirm. To confirm, open this link and press \"Confirm\":",
      ];
  return {
    to: prepared.email,
    subject: "Confirm your email address for agent-onboard",
    text: [
      ...intro,
      "",
      verificationUrlFor(deps, prepared.token),
      "",
      `The link works once, until ${prepared.validUntil.toUTCString()}.`,
      "If you did not expect this message, ignore it: nothing is confirmed without the link.",
    ].join("\n"),
  };
}

export interface EmailChange {
  pending: PendingEmail;
  validUntil: Date;
  /** The account's email until the link is opened; null for an agent that has none. */
  currentEmail: string | null;
}

/**
 * A signed-in user asks to use an address: it stays pending, and the account
 * keeps its primary email, until a human opens the link mailed to it.
 */
export async function requestEmailChange(deps: Deps, userId: number, input: ChangeEmailInput): Promise<EmailChange> {
  const parsed = emailShape.safeParse(input.email.trim());
  if (!parsed.success) throw new AppError("validation", parsed.error.issues[0]!.message, { field: "email" });
  const email = parsed.data;
  const before = await findUser(deps.db, userId);
  const prepared = prepareVerification(deps, email, before.email === email);

  const user = await deps.db.transact(async (tx) => {
      const { users } = tx.tables;
      const now = deps.clock();
      const [user] = await tx.select().from(users).where(eq(users.id, userId));
      if (!user) throw new AppError("unauthenticated", "Your account no longer exists. Call agent_signup to create a new one.");
      if (user.email === email && user.emailVerifiedAt) {
        throw new AppError("validation", `${email} is already your verified email address; nothing to change. Give a different address to change it.`, {
          field: "email",
        });
      }
      // Whether another account has the address is never said here (anyone could ask): its link then cannot be confirmed.
      await recordVerification(deps, tx, prepared, userId, now, "refuse");
      return user;
  });
  sendVerification(deps, prepared, user.login);
  return { pending: { email }, validUntil: prepared.validUntil, currentEmail: user.email };
}

/** Whether another account has confirmed the address; one that only typed it in has no hold on it. */
export async function addressTaken(db: ReadDb, email: string, exceptUserId: number): Promise<boolean> {
  const { users } = db.tables;
  const found = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.email, email), isNotNull(users.emailVerifiedAt), ne(users.id, exceptUserId)))
    .limit(1);
  return found.length > 0;
}

type VerificationState = "pending" | "verified" | "expired" | "taken";

/** A link by its token; a canceled link answers exactly like an unknown one. */
async function findVerification(db: ReadDb, token: string, now: Date) {
  const { emailVerifications, users } = db.tables;
  const [found] = await db
    .select({ verification: emailVerifications, login: users.login })
    .from(emailVerifications)
    .innerJoin(users, eq(users.id, emailVerifications.userId))
    .where(eq(emailVerifications.tokenHash, hashSecret(token)));
  if (!found || found.verification.canceledAt) {
    throw new AppError(
      "not_found",
      "This confirmation link is not known, or a newer link replaced it. Use the most recent email you received, or ask for a new link.",
    );
  }
  const { verification } = found;
  const state: VerificationState = verification.verifiedAt
    ? "verified"
    : verification.expiresAt <= now
      ? "expired"
      : (await addressTaken(db, verification.email, verification.userId))
        ? "taken"
        : "pending";
  return { ...found, state };
}

function refuse(state: VerificationState, email: string): never {
  if (state === "verified") throw new AppError("conflict", `${email} has already been confirmed with this link; a link works only once.`);
  if (state === "expired") {
    throw new AppError("gone", `This link to confirm ${email} has expired. Ask for a new one: the agent can call change_email with this address again.`);
  }
  if (state === "taken") {
    throw new AppError("conflict", `Another account started using ${email} after this link was sent, so it cannot be confirmed for this one. Use a different address.`, {
      field: "email",
    });
  }
  throw new AppError("conflict", `This link to confirm ${email} cannot be used now; reload the page.`);
}

/** What the confirmation page shows for a link that can still be used; never consumes it (link scanners open it too). */
export interface VerificationPreview {
  email: string;
  login: string;
  expiresAt: Date;
}

/** Refuses, as verifyEmail would, a link that is unknown, canceled, used, expired or whose address was taken. */
export async function previewVerification(deps: Deps, token: string): Promise<VerificationPreview> {
  const { verification, login, state } = await findVerification(deps.db, token, deps.clock());
  if (state !== "pending") refuse(state, verification.email);
  return { email: verification.email, login, expiresAt: verification.expiresAt };
}

export interface VerifiedEmail {
  email: string;
  login: string;
  verifiedAt: Date;
}

/** Opens a link exactly once: the address becomes the account's verified primary email. */
export async function verifyEmail(deps: Deps, token: string): Promise<VerifiedEmail> {
  const first = await findVerification(deps.db, token, deps.clock());
  if (first.state !== "pending") refuse(first.state, first.verification.email);
  const { verification } = first;
  return deps.db.transact(async (tx) => {
      const { emailVerifications, users } = tx.tables;
      const now = deps.clock();
      // The conditional update is the single point that decides who wins a race.
      const taken = await tx
        .update(emailVerifications)
        .set({ verifiedAt: now })
        .where(
          and(
            eq(emailVerifications.id, verification.id),
            isNull(emailVerifications.verifiedAt),
            isNull(emailVerifications.canceledAt),
            gt(emailVerifications.expiresAt, now),
          ),
        )
        .returning({ id: emailVerifications.id });
      if (taken.length !== 1) refuse((await findVerification(tx, token, now)).state, verification.email);
      // Throwing here rolls the update back: the link stays open, nothing changes.
      if (await addressTaken(tx, verification.email, verification.userId)) refuse("taken", verification.email);
      // Confirming takes the address from an account that typed it in without ever confirming it.
      await tx
        .update(users)
        .set({ email: null })
        .where(and(eq(users.email, verification.email), isNull(users.emailVerifiedAt), ne(users.id, verification.userId)));
      const [user] = await tx
        .update(users)
        .set({ email: verification.email, emailVerifiedAt: now })
        .where(eq(users.id, verification.userId))
        .returning({ login: users.login });
      return { email: verification.email, login: user!.login, verifiedAt: now };
  });
}

/** Pulumi's GET /api/user/verified-email: succeeds only when the primary email is verified. */
export async function requireVerifiedEmail(deps: Deps, userId: number): Promise<void> {
  const user = await findUser(deps.db, userId);
  if (user.email && user.emailVerifiedAt) return;
  throw new AppError(
    "not_found",
    user.email
      ? `The email address ${user.email} is not verified yet: open the link mailed to it, or ask for a new link with change_email.`
      : "This account has no email address yet. Set one with change_email and open the link mailed to it.",
  );
}

async function latestPending(db: ReadDb, userId: number, now: Date) {
  const { emailVerifications } = db.tables;
  const [latest] = await db
    .select()
    .from(emailVerifications)
    .where(
      and(
        eq(emailVerifications.userId, userId),
        isNull(emailVerifications.verifiedAt),
        isNull(emailVerifications.canceledAt),
        gt(emailVerifications.expiresAt, now),
      ),
    )
    .orderBy(desc(emailVerifications.id))
    .limit(1);
  return latest;
}

/** Pulumi's GET /api/user/pending-emails: the latest address awaiting its link, if any (an expired link awaits nothing). */
export async function getPendingEmail(deps: Deps, userId: number): Promise<PendingEmail | undefined> {
  await findUser(deps.db, userId);
  const pending = await latestPending(deps.db, userId, deps.clock());
  return pending ? { email: pending.email } : undefined;
}

/** Pulumi's DELETE /api/user/pending-emails: withdraws a pending change, but never the verification of the primary email itself. */
export async function deletePendingEmail(deps: Deps, userId: number): Promise<void> {
  await findUser(deps.db, userId);
  await deps.db.transact(async (tx) => {
      const { emailVerifications, users } = tx.tables;
      const now = deps.clock();
      const pending = await latestPending(tx, userId, now);
      if (!pending) return;
      const [user] = await tx.select({ email: users.email }).from(users).where(eq(users.id, userId));
      if (user?.email === pending.email) {
        throw new AppError(
          "bad_request",
          `Cannot delete the pending verification for primary email. ${pending.email} is the account's own address: open the link mailed to it, or change to another address with change_email.`,
        );
      }
      await tx
        .update(emailVerifications)
        .set({ canceledAt: now })
        .where(and(eq(emailVerifications.userId, userId), isNull(emailVerifications.verifiedAt), isNull(emailVerifications.canceledAt)));
  });
}
