import { and, count, gt, inArray, lte, min } from "drizzle-orm";
import type { Db } from "../../db/client.js";
import { AppError } from "../errors.js";
import type { Deps } from "./deps.js";

const WINDOW_MS = 3_600_000;

/**
 * Counts a mail about to be sent, inside the transaction of the change that
 * sends it. Once the sender or the recipient has had its hour's worth, a mail
 * that is the point of the change (an invite, a change of address) refuses the
 * change, so nothing is stored or sent; one that only accompanies it (the
 * confirmation link after a claim or a signup) is skipped, and false says so,
 * so that nobody can block someone's claim by filling their inbox's hour.
 * Counted in the database, so every process and instance sees one count.
 */
export async function admitMail(
  tx: Db,
  limits: Deps["settings"]["mailLimits"],
  mail: { senderId: number; recipient: string },
  now: Date,
  whenFull: "refuse" | "skip" = "refuse",
): Promise<boolean> {
  if (!limits) return true;
  const { mailSends } = tx.tables;
  const since = new Date(now.getTime() - WINDOW_MS);
  const buckets = { sender: `sender:${mail.senderId}`, recipient: `recipient:${mail.recipient.toLowerCase()}` };
  const recent = await tx
    .select({ bucket: mailSends.bucket, n: count(), oldest: min(mailSends.at) })
    .from(mailSends)
    .where(and(inArray(mailSends.bucket, Object.values(buckets)), gt(mailSends.at, since)))
    .groupBy(mailSends.bucket);
  const over = (bucket: string, limit: number) => (limit > 0 ? recent.find((row) => row.bucket === bucket && row.n >= limit) : undefined);
  const full = over(buckets.sender, limits.perSender) ?? over(buckets.recipient, limits.perRecipient);
  if (full && whenFull === "skip") return false;
  if (full) {
    const retryAt = new Date(new Date(full.oldest!).getTime() + WINDOW_MS);
    const minutes = Math.max(1, Math.ceil((retryAt.getTime() - now.getTime()) / 60_000));
    const who = full.bucket === buckets.sender ? `Your account has sent ${limits.perSender} mails` : `${mail.recipient} has been sent ${limits.perRecipient} mails`;
    throw new AppError("rate_limited", `${who} in the last hour, the most allowed. Nothing was changed or sent; try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`, {
      retryAfterSeconds: minutes * 60,
    });
  }
  await tx.insert(mailSends).values([
    { bucket: buckets.sender, at: now },
    { bucket: buckets.recipient, at: now },
  ]);
  return true;
}

/** Forgets mails older than the window: they no longer count. */
export function forgetOldMailSends(deps: Deps): Promise<number> {
  return deps.db.transact(async (tx) => {
    const { mailSends } = tx.tables;
    const forgotten = await tx.delete(mailSends).where(lte(mailSends.at, new Date(deps.clock().getTime() - WINDOW_MS))).returning({ id: mailSends.id });
    return forgotten.length;
  });
}

