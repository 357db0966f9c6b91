import nodemailer from "nodemailer";
import type { ReadDb } from "../../db/client.js";
import type { Logger } from "../log.js";
import type { Mailer, MailMessage } from "../services/mail.js";
import { failedMail, type OutgoingMail, queueMail, removeMail, takeDueMail } from "../services/mail-outbox.js";

export interface SmtpSettings {
  /** smtp:// (STARTTLS when offered) or smtps://, with user and password in it when the server asks. */
  url: string;
  from: string;
  timeoutMs: number;
}

export interface SmtpMailer extends Required<Mailer> {
  /** Resolves when every mail handed over so far has had its first attempt. */
  idle(): Promise<void>;
}

/** What a failure says about itself, and never the commands sent (AUTH carries the password) or the URL. */
function failureOf(error: unknown, url: URL) {
  const smtp = error as { code?: string; responseCode?: number; response?: string; message?: string };
  const secrets = [url.password, decodeURIComponent(url.password), url.username].filter((part) => part.length >= 3);
  const clean = (text: string | undefined) => {
    if (text === undefined) return undefined;
    let cleaned = text.slice(0, 300);
    for (const secret of secrets) cleaned = cleaned.split(secret).join("[redacted]");
    return cleaned;
  };
  return { code: smtp.code, responseCode: smtp.responseCode, reason: clean(smtp.response ?? smtp.message) };
}

/** A recipient the server refuses with a 5xx reply will not be accepted later either; anything else may pass on a retry. */
const refusedForGood = (error: unknown) => {
  const { code, responseCode } = error as { code?: string; responseCode?: number };
  return code === "EENVELOPE" && responseCode !== undefined && responseCode >= 500 && responseCode < 600;
};

/**
 * Delivers mail through an SMTP server with nodemailer. Each message is kept
 * in the database (sealed) from hand-over until the server accepts it, so a
 * server that refuses, times out or is down costs nothing but time: the
 * action that mailed has already succeeded, the failure is logged, and any
 * instance retries it later (RETRY_DELAYS_MS) until it goes or is given up.
 */
export function smtpMailer(settings: SmtpSettings, db: ReadDb, log: Logger, clock: () => Date = () => new Date()): SmtpMailer {
  const url = new URL(settings.url);
  const transport = nodemailer.createTransport({
    url: settings.url,
    connectionTimeout: settings.timeoutMs,
    greetingTimeout: settings.timeoutMs,
    socketTimeout: settings.timeoutMs,
  });
  const inFlight = new Set<Promise<void>>();

  async function attempt(mail: OutgoingMail) {
    const recipientDomain = mail.message.to.split("@").pop();
    try {
      await transport.sendMail({ from: settings.from, to: mail.message.to, subject: mail.message.subject, text: mail.message.text });
      await removeMail(db, mail.id);
      log.info({ mail: mail.id, subject: mail.message.subject, recipientDomain, attempt: mail.attempts + 1 }, "mail delivered through SMTP");
    } catch (error) {
      const outcome = await failedMail(db, mail, clock(), { permanent: refusedForGood(error) });
      const fields = { mail: mail.id, subject: mail.message.subject, recipientDomain, attempt: mail.attempts + 1, failure: failureOf(error, url) };
      if (outcome.givenUp) log.error(fields, "SMTP delivery failed for good; the mail is given up");
      else log.warn({ ...fields, nextAttemptAt: outcome.nextAttemptAt.toISOString() }, "SMTP delivery failed; the mail will be retried");
    }
  }

  function track(work: Promise<void>) {
    const tracked = work.catch((error) => log.error({ err: error }, "could not keep or deliver a mail")).finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }

  return {
    send(message: MailMessage) {
      track(queueMail(db, message, clock()).then(attempt));
    },
    async retryDue() {
      for (const mail of await takeDueMail(db, clock())) await attempt(mail);
    },
    async idle() {
      while (inFlight.size > 0) await Promise.all(inFlight);
    },
  };
}
