import type { Logger } from "../log.js";
import { lockUnclaimedAgents } from "../services/claims.js";
import type { Deps } from "../services/deps.js";
import { forgetOldMailSends } from "../services/mail-limits.js";
import { forgetExpiredOAuthRecords } from "../services/oauth-records.js";
import { forgetExpiredRequestStates } from "../services/request-states.js";
import { forgetEndedSessions } from "../services/sessions.js";
import { forgetExpiredSignupChallenges } from "../services/signup-challenges.js";
import { forgetOldSignupAttempts } from "../services/signup-limits.js";

const HOUR = 3_600_000;
const MINUTE = 60_000;

/** Locks unclaimed agent accounts, and forgets request states and signup challenges past replaying, signups, mails and wrong passwords past counting, ended sessions and expired OAuth codes and tokens, now and then every hour, and retries due mail every minute, for as long as the process runs. */
export function startSweeper(deps: Deps, log: Logger, everyMs = HOUR): () => void {
  const sweep = async () => {
    try {
      const locked = await lockUnclaimedAgents(deps);
      if (locked > 0) log.info({ locked }, "locked agent accounts whose claim window closed");
      await forgetExpiredRequestStates(deps);
      await forgetOldSignupAttempts(deps);
      await forgetEndedSessions(deps);
      await forgetExpiredSignupChallenges(deps);
      await forgetOldMailSends(deps);
      await forgetExpiredOAuthRecords(deps);
    } catch (error) {
      log.error({ err: error }, "sweeping unclaimed agent accounts failed");
    }
  };
  void sweep();
  const timer = setInterval(() => void sweep(), everyMs);
  timer.unref();
  // Mail an SMTP server refused or never answered, every minute: any instance's turn will do.
  const retryMail = () => deps.mailer.retryDue?.().catch((error) => log.error({ err: error }, "retrying mail failed"));
  const mailTimer = setInterval(() => void retryMail(), MINUTE);
  mailTimer.unref();
  return () => {
    clearInterval(timer);
    clearInterval(mailTimer);
  };
}
