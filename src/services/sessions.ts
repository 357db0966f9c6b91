import { and, count, eq, gt, lt, lte, min, or, sql } from "drizzle-orm";
import { AppError } from "../errors.js";
import type { Deps } from "./deps.js";
import { hashPassword, verifyPassword } from "./passwords.js";
import { hashSecret, newSecret } from "./secrets.js";
import type { UserRow } from "./tokens.js";

/** Wrong passwords are counted over this window… */
const FAILURE_WINDOW_MS = 15 * 60_000;
/** …and an account (or an unknown name) takes this many in it before it waits… */
const FAILURES_PER_ACCOUNT = 5;
/** …and a client address this many, across every name it tries. */
const FAILURES_PER_ADDRESS = 20;
/** lastSeenAt moves at most this often: a write per page view would cost every page view. */
const SEEN_EVERY_MS = 60_000;

export interface SignedIn {
  /** The cookie's value: shown to the browser only, never stored. */
  sessionId: string;
  user: UserRow;
  /** The session's absolute end, which the cookie keeps too. */
  expiresAt: Date;
}

export interface Session {
  idHash: string;
  user: UserRow;
  createdAt: Date;
  expiresAt: Date;
}

const wrongCredentials = () => new AppError("unauthenticated", "The username, email or password is not right. Check them and try again.");

// Compared against when there is no account (or it has no password), so that an unknown name costs as long as a known one.
// Made at the first such sign-in, not when the module loads: a process that never signs anyone in never hashes it.
let standIn: Promise<string> | undefined;
const standInHash = () => (standIn ??= hashPassword(newSecret()));

/** The throttling bucket of a name: the account's when there is one, else the name itself, so unknown names lock out alike. */
const accountBucket = (user: UserRow | undefined, identifier: string) => (user ? `user:${user.id}` : `name:${identifier}`);

async function failuresIn(deps: Deps, bucket: string, since: Date) {
  const { loginFailures } = deps.db.tables;
  const [found] = await deps.db
    .select({ n: count(), oldest: min(loginFailures.at) })
    .from(loginFailures)
    .where(and(eq(loginFailures.bucket, bucket), gt(loginFailures.at, since)));
  return { n: found!.n, oldest: found!.oldest ? new Date(found!.oldest) : undefined };
}

function throttled(oldest: Date, now: Date, whose: string) {
  const minutes = Math.max(1, Math.ceil((oldest.getTime() + FAILURE_WINDOW_MS - now.getTime()) / 60_000));
  return new AppError(
    "rate_limited",
    `Too many wrong passwords ${whose}. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
    { retryAfterSeconds: minutes * 60 },
  );
}

/**
 * Signs a human in with their username or email and password, and opens a
 * session. Throttled per account and per client address, counted in the
 * database; what is refused for throttling is refused before any hashing,
 * and a locked name answers the same whether or not an account has it.
 */
export async function signIn(deps: Deps, input: { identifier: string; password: string; addressBucket: string }): Promise<SignedIn> {
  const identifier = input.identifier.trim().toLowerCase();
  if (!identifier || !input.password) throw new AppError("validation", "Enter your username or email, and your password.", { field: "identifier" });
  const now = deps.clock();
  const since = new Date(now.getTime() - FAILURE_WINDOW_MS);
  const addressBucket = `address:${input.addressBucket}`;

  const fromAddress = await failuresIn(deps, addressBucket, since);
  if (fromAddress.n >= FAILURES_PER_ADDRESS) throw throttled(fromAddress.oldest!, now, "from your address");

  const { users } = deps.db.tables;
  const [user] = await deps.db
    .select()
    .from(users)
    .where(identifier.includes("@") ? eq(users.email, identifier) : eq(sql`lower(${users.login})`, identifier));
  const bucket = accountBucket(user, identifier);
  const forAccount = await failuresIn(deps, bucket, since);
  if (forAccount.n >= FAILURES_PER_ACCOUNT) throw throttled(forAccount.oldest!, now, "for this account");

  const usable = user && user.passwordHash && !user.isAgent && !user.lockedAt;
  const matches = await verifyPassword(input.password, usable ? user.passwordHash! : await standInHash());
  if (!usable || !matches) {
    await deps.db.transact(async (tx) => {
      const { loginFailures, users } = tx.tables;
      await tx.insert(loginFailures).values([
        { bucket: addressBucket, at: now },
        { bucket, at: now },
      ]);
      if (user) await tx.update(users).set({ loginAttempts: sql`${users.loginAttempts} + 1` }).where(eq(users.id, user.id));
    });
    throw wrongCredentials();
  }

  // A new id at every sign-in: whatever id the browser had before is never the signed-in one.
  const sessionId = newSecret();
  const expiresAt = new Date(now.getTime() + deps.settings.sessionMaxMs);
  const signedIn = await deps.db.transact(async (tx) => {
    const { loginFailures, sessions, users } = tx.tables;
    await tx.delete(loginFailures).where(eq(loginFailures.bucket, bucket));
    const [updated] = await tx.update(users).set({ loginAttempts: 0, seenAt: now }).where(eq(users.id, user.id)).returning();
    await tx.insert(sessions).values({
      idHash: hashSecret(sessionId),
      userId: user.id,
      createdAt: now,
      lastSeenAt: now,
      ...lifetimes(deps, now, expiresAt),
    });
    return updated!;
  });
  return { sessionId, user: signedIn, expiresAt };
}

function lifetimes(deps: Deps, now: Date, expiresAt: Date) {
  const idle = new Date(now.getTime() + deps.settings.sessionIdleMs);
  return { idleExpiresAt: idle < expiresAt ? idle : expiresAt, expiresAt };
}

/** The session a cookie names, if it is still open: neither idle too long nor past its absolute end. Moves its idle end on. */
export async function sessionFor(deps: Deps, sessionId: string | undefined): Promise<Session | undefined> {
  if (!sessionId) return undefined;
  const now = deps.clock();
  const { sessions, users } = deps.db.tables;
  const idHash = hashSecret(sessionId);
  const [found] = await deps.db
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.idHash, idHash), gt(sessions.idleExpiresAt, now), gt(sessions.expiresAt, now)));
  if (!found || found.user.lockedAt) return undefined;
  if (now.getTime() - found.session.lastSeenAt.getTime() >= SEEN_EVERY_MS) {
    await deps.db.transact((tx) =>
      tx.update(tx.tables.sessions).set({ lastSeenAt: now, ...lifetimes(deps, now, found.session.expiresAt) }).where(eq(tx.tables.sessions.idHash, idHash)),
    );
  }
  return { idHash, user: found.user, createdAt: found.session.createdAt, expiresAt: found.session.expiresAt };
}

/** Ends the session a cookie names (signing out); an unknown or ended one is fine. */
export async function signOut(deps: Deps, sessionId: string | undefined): Promise<void> {
  if (!sessionId) return;
  await deps.db.transact((tx) => tx.delete(tx.tables.sessions).where(eq(tx.tables.sessions.idHash, hashSecret(sessionId))));
}

/** Forgets ended sessions and wrong passwords past counting. */
export function forgetEndedSessions(deps: Deps): Promise<void> {
  const now = deps.clock();
  return deps.db.transact(async (tx) => {
    const { loginFailures, sessions } = tx.tables;
    await tx.delete(sessions).where(or(lte(sessions.idleExpiresAt, now), lte(sessions.expiresAt, now)));
    await tx.delete(loginFailures).where(lt(loginFailures.at, new Date(now.getTime() - FAILURE_WINDOW_MS)));
  });
}
