import { randomUUID } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log.js";
import type { Mailer, MailMessage } from "../services/mail.js";

/**
 * Delivers mail as RFC 5322 files in a folder (one .eml per message, readable
 * by the owner only), for a relay or a person to pick up: the default, with no
 * ONBOARD_SMTP_URL set. Written to a temporary name and renamed, so a reader never
 * sees half a message.
 */
export function mailDirMailer(dir: string, from: string, log: Logger): Mailer {
  function write(message: MailMessage) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const id = `${Date.now()}-${randomUUID()}`;
    const body = [
      `From: ${from}`,
      `To: ${message.to}`,
      `Subject: ${message.subject}`,
      `Date: ${new Date().toUTCString()}`,
      `Message-ID: <${id}@agent-onboard>`,
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: 8bit",
      "",
      message.text,
      "",
    ].join("\r\n");
    const temporary = join(dir, `.${id}.tmp`);
    writeFileSync(temporary, body, { mode: 0o600 });
    renameSync(temporary, join(dir, `${id}.eml`));
  }

  return {
    // The change the mail reports has already committed: a mail that cannot be
    // written is logged (without its body, which may hold a link), not thrown.
    send(message) {
      try {
        write(message);
        log.info({ subject: message.subject }, "mail written to the mail folder");
      } catch (error) {
        log.error({ err: error, subject: message.subject }, "could not write mail to the mail folder");
      }
    },
  };
}
