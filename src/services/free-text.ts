/**
 * Control characters (C0, DEL, C1) and the bidirectional marks, embeddings,
 * overrides and isolates that make text display other than it reads.
 */
const HIDDEN = /[\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/**
 * What is kept of text a person or agent typed as a name, model or
 * description: one line, as it reads. A line break becomes a space, so text
 * cannot start a new line in a mail or a tool's answer; a hidden mark is dropped.
 */
export function cleanFreeText(text: string): string {
  return text.replace(/[\r\n\t\u2028\u2029]+/g, " ").replace(HIDDEN, "").replace(/ {2,}/g, " ").trim();
}
