import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { mailDirMailer } from "../../src/transports/mail-dir.js";
import { captureLogs } from "../fixture.js";

test("writes each message as a private .eml file with its headers and text", () => {
  const dir = join(mkdtempSync(join(tmpdir(), "onboard-maildir-")), "mail");
  const { log } = captureLogs();
  const mailer = mailDirMailer(dir, "agent-onboard <no-reply@example.com>", log);
  mailer.send({ to: "ada@example.com", subject: "Hello", text: "Open https://x.example/verify?token=abc" });
  mailer.send({ to: "bob@example.com", subject: "Again", text: "Second" });

  const files = readdirSync(dir).sort();
  expect(files).toHaveLength(2);
  expect(files.every((name) => name.endsWith(".eml"))).toBe(true);
  const first = readFileSync(join(dir, files[0]!), "utf8");
  expect(first).toMatch(/^From: agent-onboard <no-reply@example\.com>\r\nTo: ada@example\.com\r\nSubject: Hello\r\n/);
  expect(first).toContain("\r\n\r\nOpen https://x.example/verify?token=abc");
  expect(statSync(join(dir, files[0]!)).mode & 0o777).toBe(0o600);
});

test("a folder that cannot be written is logged without the message body, and does not throw", () => {
  const blocker = join(mkdtempSync(join(tmpdir(), "onboard-maildir-")), "file");
  writeFileSync(blocker, "not a folder");
  const { logs, log } = captureLogs();
  const mailer = mailDirMailer(join(blocker, "mail"), "x <x@example.com>", log);
  expect(() => mailer.send({ to: "ada@example.com", subject: "Link", text: "secret-link-token" })).not.toThrow();
  expect(logs.join("")).toContain("could not write mail");
  expect(logs.join("")).not.toContain("secret-link-token");
});
