import { and, asc, eq, lte } from "drizzle-orm";
import type { ReadDb } from "../../db/client.js";
import type { MailMessage } from "./mail.js";
import { openSealed, sealSecret } from "./sealed-secrets.js";

const MINUTE = 60_000;

/** The waits after a failed attempt: 1, 2, 4 … 64 minutes; after the eighth failure (about two hours) the mail is given up. */
export const RETRY_DELAYS_MS = [1, 2, 4, 8, 16, 32, 64].map((minutes) => minutes * MINUTE);

/** How long an attempt holds its mail: no other instance takes it meanwhile, and a crash mid-attempt only delays it. */
const ATTEMPT_LEASE_MS = 5 * MINUTE;

export interface OutgoingMail {
  id: number;
  /** Failed attempts so far. */
  attempts: number;
  message: MailMessage;
}

/** Keeps the mail until the SMTP server accepts it; the first attempt, which follows at once, holds it already. */
export async function queueMail(db: ReadDb, message: MailMessage, now: Date): Promise<OutgoingMail> {
  const sealed = await sealSecret(db, JSON.stringify(message), "outgoing mail");
  const [row] = await db.transact((tx) =>
    tx
      .insert(tx.tables.mailOutbox)
      .values({ sealed, attempts: 0, nextAttemptAt: new Date(now.getTime() + ATTEMPT_LEASE_MS), createdAt: now })
      .returning({ id: tx.tables.mailOutbox.id }),
  );
  return { id: row!.id, attempts: 0, message };
}

/** The mail due for another attempt, each held for this caller by a conditional update, so that two instances never send one twice. */
export async function takeDueMail(db: ReadDb, now: Date, limit = 20): Promise<OutgoingMail[]> {
  const { mailOutbox } = db.tables;
  const due = await db.select().from(mailOutbox).where(lte(mailOutbox.nextAttemptAt, now)).orderBy(asc(mailOutbox.nextAttemptAt)).limit(limit);
  const taken: OutgoingMail[] = [];
  for (const row of due) {
    const held = await db.transact((tx) =>
      tx
        .update(tx.tables.mailOutbox)
        .set({ nextAttemptAt: new Date(now.getTime() + ATTEMPT_LEASE_MS) })
        .where(and(eq(tx.tables.mailOutbox.id, row.id), eq(tx.tables.mailOutbox.nextAttemptAt, row.nextAttemptAt)))
        .returning({ id: tx.tables.mailOutbox.id }),
    );
    if (held.length !== 1) continue;
    const opened = await openSealed(db, row.sealed, "outgoing mail");
    // Sealed under another database's key (a restored copy): nobody can ever read it.
    if (opened === undefined) await removeMail(db, row.id);
    else taken.push({ id: row.id, attempts: row.attempts, message: JSON.parse(opened) as MailMessage });
  }
  return taken;
}

/** Delivered, given up, or unreadable: the mail leaves the outbox. */
export async function removeMail(db: ReadDb, id: number): Promise<void> {
  await db.transact((tx) => tx.delete(tx.tables.mailOutbox).where(eq(tx.tables.mailOutbox.id, id)));
}

/** Schedules the next attempt, or gives the mail up after the last one or a permanent refusal; says which, and when. */
export async function failedMail(db: ReadDb, mail: OutgoingMail, now: Date, { permanent = false } = {}): Promise<{ givenUp: true } | { givenUp: false; nextAttemptAt: Date }> {
  const delay = permanent ? undefined : RETRY_DELAYS_MS[mail.attempts];
  if (delay === undefined) {
    await removeMail(db, mail.id);
    return { givenUp: true };
  }
  const nextAttemptAt = new Date(now.getTime() + delay);
  await db.transact((tx) =>
    tx.update(tx.tables.mailOutbox).set({ attempts: mail.attempts + 1, nextAttemptAt }).where(eq(tx.tables.mailOutbox.id, mail.id)),
  );
  return { givenUp: false, nextAttemptAt };
}
