import type { ReadDb } from "../../db/client.js";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import type { Deps } from "../services/deps.js";
import { mailDirMailer } from "./mail-dir.js";
import { smtpMailer } from "./smtp.js";

/** Service deps for a running server: the real clock, the configured lifetimes, mail through ONBOARD_SMTP_URL or into ONBOARD_MAIL_DIR. */
export function depsFrom(config: Config, db: ReadDb, publicUrl: string, log: Logger, claimLinkNote?: string): Deps {
  const deps: Deps = {
    db,
    clock: () => new Date(),
    settings: {
      publicUrl,
      accessTokenTtlMs: config.accessTokenTtlMs,
      claimTokenTtlMs: config.claimTokenTtlMs,
      sessionIdleMs: config.sessionIdleMs,
      sessionMaxMs: config.sessionMaxMs,
      signingKeys: config.signingKeys,
      mailLimits: { perSender: config.mailsPerSender, perRecipient: config.mailsPerRecipient },
      ...(config.signupChallengeBits > 0 ? { signupChallenge: { bits: config.signupChallengeBits, ttlMs: config.signupChallengeTtlMs } } : {}),
      ...(claimLinkNote ? { claimLinkNote } : {}),
    },
    mailer: config.smtpUrl
      // Read through deps, so that a clock set on them later (a test's) also times the retries.
      ? smtpMailer({ url: config.smtpUrl, from: config.mailFrom, timeoutMs: config.smtpTimeoutMs }, db, log, () => deps.clock())
      : mailDirMailer(config.mailDir, config.mailFrom, log),
  };
  return deps;
}
