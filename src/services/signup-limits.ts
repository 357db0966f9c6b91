import { and, count, eq, gt, lte, min } from "drizzle-orm";
import { AppError } from "../errors.js";
import type { Deps } from "./deps.js";

const WINDOW_MS = 3_600_000;

/**
 * Records one account creation from `bucket` (a client address, or an IPv6
 * /64), or refuses it when the bucket has had `perHour` in the last hour.
 * Counted in the db, under its write lock, so every process and instance on
 * it sees the same count.
 */
export async function admitAccountCreation(deps: Deps, bucket: string, perHour: number, what = "signup attempts"): Promise<void> {
  if (perHour === 0) return;
  const now = deps.clock();
  const since = new Date(now.getTime() - WINDOW_MS);
  await deps.db.transact(async (tx) => {
      const { signupAttempts } = tx.tables;
      const [recent] = await tx
        .select({ n: count(), oldest: min(signupAttempts.at) })
        .from(signupAttempts)
        .where(and(eq(signupAttempts.bucket, bucket), gt(signupAttempts.at, since)));
      if (recent!.n >= perHour) {
        const retryAt = new Date(new Date(recent!.oldest!).getTime() + WINDOW_MS);
        const seconds = Math.ceil((retryAt.getTime() - now.getTime()) / 1000);
        throw new AppError(
          "rate_limited",
          `Too many ${what} from your address in the last hour (limit ${perHour}). Retry after ${retryAt.toISOString()} (in ${seconds} s).`,
          { retryAfterSeconds: seconds },
        );
      }
      await tx.insert(signupAttempts).values({ bucket, at: now });
  });
}

/** Forgets attempts older than the window: they no longer count. */
export function forgetOldSignupAttempts(deps: Deps): Promise<number> {
  return deps.db.transact(async (tx) => {
    const { signupAttempts } = tx.tables;
    const forgotten = await tx
      .delete(signupAttempts)
      .where(lte(signupAttempts.at, new Date(deps.clock().getTime() - WINDOW_MS)))
      .returning({ id: signupAttempts.id });
    return forgotten.length;
  });
}
