/** One outgoing email: plain text, to one address. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

/** Where services hand mail over; the adapter decides how it leaves (files in ONBOARD_MAIL_DIR, SMTP, or a test's list). */
export interface Mailer {
  send(message: MailMessage): void;
  /** A mailer that can fail and keep mail for later (SMTP): attempts what is due again. */
  retryDue?(): Promise<void>;
}
