/**
 * Mail through a real SMTP server (the smtp-server package, listening on a
 * local port): delivered as handed over, signed in with the URL's user and
 * password, and kept in the database and retried when the server refuses,
 * times out or is gone, with the failure logged and no secret in the log.
 */
import { createServer, type Server, type Socket } from "node:net";
import { Writable } from "node:stream";
import { SMTPServer } from "smtp-server";
import { afterEach, describe } from "vitest";
import { createLogger } from "../../src/log.js";
import { RETRY_DELAYS_MS } from "../../src/services/mail-outbox.js";
import { type SmtpMailer, smtpMailer } from "../../src/transports/smtp.js";
import { countRows, expect, MINUTE, ok, test, type TestEnv } from "../fixture.js";
import { startTestHttp, type TestHttp } from "../http-fixture.js";

interface Received {
  from: string;
  to: string[];
  raw: string;
}

/** A real SMTP server on a free port; `reply` decides, per message, what it answers to RCPT TO (nothing: accept). */
async function startSmtp(options: { auth?: { user: string; pass: string } } = {}) {
  const received: Received[] = [];
  const state: { reply?: { code: number; text: string } } = {};
  const server = new SMTPServer({
    logger: false,
    disabledCommands: options.auth ? ["STARTTLS"] : ["STARTTLS", "AUTH"],
    authOptional: !options.auth,
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      if (auth.username === options.auth?.user && auth.password === options.auth?.pass) callback(null, { user: auth.username });
      else callback(Object.assign(new Error("Authentication failed"), { responseCode: 535 }));
    },
    onRcptTo(_address, _session, callback) {
      if (state.reply) callback(Object.assign(new Error(state.reply.text), { responseCode: state.reply.code }));
      else callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw: Buffer.concat(chunks).toString("utf8"),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    received,
    refuseWith(code: number, text: string) {
      state.reply = { code, text };
    },
    accept() {
      delete state.reply;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A server that takes the connection and never says a word. */
async function startSilentServer() {
  const sockets: Socket[] = [];
  const server: Server = createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Decodes quoted-printable soft breaks and escapes, as a mail reader would. */
const bodyOf = (raw: string) =>
  raw
    .split(/\r\n\r\n/)
    .slice(1)
    .join("\r\n\r\n")
    .replace(/=\r\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_match, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));

const headerOf = (raw: string, name: string) => raw.match(new RegExp(`^${name}: (.*)$`, "mi"))?.[1];

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** An SMTP mailer on the test's database and clock, logging into env.logs as the server's logger would. */
function mailerOn(env: TestEnv, port: number, options: { credentials?: string; timeoutMs?: number } = {}): SmtpMailer {
  const log = createLogger("debug", new Writable({ write: (chunk, _encoding, done) => (env.logs.push(String(chunk)), done()) }));
  const url = `smtp://${options.credentials ? `${options.credentials}@` : ""}127.0.0.1:${port}`;
  return smtpMailer({ url, from: "Onboard <no-reply@onboard.test>", timeoutMs: options.timeoutMs ?? 2_000 }, env.deps.db, log, env.clock.now);
}

const message = { to: "ada@example.com", subject: "Confirm your email address", text: "Open this link to confirm: http://onboard.test/verify-email?token=s3cr3t-link\n\nThanks." };

describe("the SMTP mailer", () => {
  test("delivers the message as handed over, from ONBOARD_MAIL_FROM, and keeps nothing once the server took it", async ({ env }) => {
    const smtp = await startSmtp();
    cleanups.push(smtp.close);
    const mailer = mailerOn(env, smtp.port);
    mailer.send(message);
    await mailer.idle();
    expect(smtp.received).toHaveLength(1);
    const [mail] = smtp.received;
    expect(mail).toMatchObject({ from: "no-reply@onboard.test", to: ["ada@example.com"] });
    expect(headerOf(mail!.raw, "Subject")).toBe("Confirm your email address");
    expect(headerOf(mail!.raw, "From")).toBe("Onboard <no-reply@onboard.test>");
    expect(bodyOf(mail!.raw)).toContain("http://onboard.test/verify-email?token=s3cr3t-link");
    expect(await countRows(env, "mail_outbox")).toBe(0);
  });

  test("signs in with the URL's user and password; a wrong password is logged without it, and the mail waits for a retry", async ({ env }) => {
    const smtp = await startSmtp({ auth: { user: "mailer", pass: "hunter2-very-secret" } });
    cleanups.push(smtp.close);
    const good = mailerOn(env, smtp.port, { credentials: "mailer:hunter2-very-secret" });
    good.send(message);
    await good.idle();
    expect(smtp.received).toHaveLength(1);

    const bad = mailerOn(env, smtp.port, { credentials: "mailer:wrong-passw0rd" });
    bad.send(message);
    await bad.idle();
    expect(smtp.received).toHaveLength(1);
    expect(await countRows(env, "mail_outbox")).toBe(1);
    const logged = env.logs.join("\n");
    expect(logged).toMatch(/SMTP delivery failed; the mail will be retried/);
    expect(logged).toMatch(/"code":"EAUTH"/);
    expect(logged).not.toContain("wrong-passw0rd");
    expect(logged).not.toContain("hunter2-very-secret");
    // Neither the link nor the address is logged: only the subject and the recipient's domain.
    expect(logged).not.toContain("s3cr3t-link");
    expect(logged).not.toContain("ada@example.com");
  });

  test("a server that refuses for now (451) leaves the mail queued; the attempt due a minute later delivers it, once", async ({ env }) => {
    const smtp = await startSmtp();
    cleanups.push(smtp.close);
    smtp.refuseWith(451, "Try again later");
    const mailer = mailerOn(env, smtp.port);
    mailer.send(message);
    await mailer.idle();
    expect(smtp.received).toHaveLength(0);
    expect(env.logs.join("\n")).toMatch(/"responseCode":451/);

    smtp.accept();
    await mailer.retryDue();
    expect(smtp.received).toHaveLength(0);
    env.clock.advance(RETRY_DELAYS_MS[0]!);
    await mailer.retryDue();
    expect(smtp.received).toHaveLength(1);
    expect(await countRows(env, "mail_outbox")).toBe(0);
    await mailer.retryDue();
    expect(smtp.received).toHaveLength(1);
  });

  test("a server that never answers times out; the failure is logged and the mail retried", async ({ env }) => {
    const silent = await startSilentServer();
    cleanups.push(silent.close);
    const mailer = mailerOn(env, silent.port, { timeoutMs: 300 });
    mailer.send(message);
    await mailer.idle();
    expect(env.logs.join("\n")).toMatch(/"code":"ETIMEDOUT"/);
    expect(await countRows(env, "mail_outbox")).toBe(1);
  });

  test("a recipient refused for good (550) is given up at once and logged as an error", async ({ env }) => {
    const smtp = await startSmtp();
    cleanups.push(smtp.close);
    smtp.refuseWith(550, "No such user");
    const mailer = mailerOn(env, smtp.port);
    mailer.send(message);
    await mailer.idle();
    expect(await countRows(env, "mail_outbox")).toBe(0);
    expect(env.logs.join("\n")).toMatch(/"level":50.*SMTP delivery failed for good/);
  });

  test("after the last retry the mail is given up, having been tried once and then once per delay", async ({ env }) => {
    const smtp = await startSmtp();
    cleanups.push(smtp.close);
    smtp.refuseWith(421, "Service not available");
    const mailer = mailerOn(env, smtp.port);
    mailer.send(message);
    await mailer.idle();
    for (const delay of RETRY_DELAYS_MS) {
      env.clock.advance(delay);
      await mailer.retryDue();
    }
    expect(await countRows(env, "mail_outbox")).toBe(0);
    const failures = env.logs.filter((line) => line.includes("SMTP delivery failed"));
    expect(failures).toHaveLength(RETRY_DELAYS_MS.length + 1);
    expect(failures.at(-1)).toMatch(/for good/);
  });

  test("two instances retrying at the same moment send a due mail once", async ({ env }) => {
    const smtp = await startSmtp();
    cleanups.push(smtp.close);
    smtp.refuseWith(451, "Try again later");
    const first = mailerOn(env, smtp.port);
    const second = mailerOn(env, smtp.port);
    first.send(message);
    await first.idle();
    smtp.accept();
    env.clock.advance(RETRY_DELAYS_MS[0]!);
    await Promise.all([first.retryDue(), second.retryDue()]);
    expect(smtp.received).toHaveLength(1);
  });

  test("a mail an instance stopped sending (it held it, then went away) is taken by another after its hold", async ({ env }) => {
    const smtp = await startSmtp();
    cleanups.push(smtp.close);
    const gone = await startSilentServer();
    cleanups.push(gone.close);
    const stopped = mailerOn(env, gone.port, { timeoutMs: 60_000 });
    stopped.send(message);
    // The first instance is still inside its attempt, holding the mail; a second sees nothing due.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const other = mailerOn(env, smtp.port);
    await other.retryDue();
    expect(smtp.received).toHaveLength(0);
    env.clock.advance(5 * MINUTE);
    await other.retryDue();
    expect(smtp.received).toHaveLength(1);
  });
});

/** An agent signed up over /mcp, connected again with its token. */
async function signedIn(http: TestHttp) {
  const { client } = await http.connect();
  const { accessToken } = await ok(client, "agent_signup", { agentName: "Inviter" });
  return (await http.connect({ authorization: `Bearer ${accessToken}` })).client;
}

describe("ONBOARD_SMTP_URL on a running server", () => {
  test("an organization invite goes out through SMTP, and not into the mail folder", async () => {
    const smtp = await startSmtp();
    cleanups.push(smtp.close);
    const http = await startTestHttp({ ONBOARD_SMTP_URL: `smtp://127.0.0.1:${smtp.port}` });
    cleanups.push(() => http.close());
    const client = await signedIn(http);
    const invited = await ok(client, "invite_member", { email: "grace@example.com" });
    expect(invited).toMatchObject({ email: "grace@example.com" });
    await (http.handle.deps.mailer as SmtpMailer).idle();
    expect(smtp.received.map((mail) => mail.to)).toEqual([["grace@example.com"]]);
    expect(http.mailbox()).toEqual([]);
  });

  test("with the SMTP server down, the invite still succeeds, the failure is logged without the password, and a retry delivers it", async () => {
    const smtp = await startSmtp({ auth: { user: "mailer", pass: "s3cret-smtp-pass" } });
    cleanups.push(smtp.close);
    smtp.refuseWith(451, "Greylisted, try again later");
    const http = await startTestHttp({ ONBOARD_SMTP_URL: `smtp://mailer:s3cret-smtp-pass@127.0.0.1:${smtp.port}` });
    cleanups.push(() => http.close());
    const client = await signedIn(http);
    expect(await ok(client, "invite_member", { email: "grace@example.com" })).toMatchObject({ email: "grace@example.com" });
    const mailer = http.handle.deps.mailer as SmtpMailer;
    await mailer.idle();
    expect(smtp.received).toHaveLength(0);
    expect(http.logs.join("\n")).toMatch(/will be retried/);
    expect(http.logs.join("\n")).not.toContain("s3cret-smtp-pass");

    smtp.accept();
    http.clock.advance(RETRY_DELAYS_MS[0]!);
    await mailer.retryDue();
    expect(smtp.received.map((mail) => mail.to)).toEqual([["grace@example.com"]]);
  });
});

test("an SMTP URL of another kind is refused at start, without echoing it", async () => {
  const { loadConfig } = await import("../../src/config.js");
  expect(() => loadConfig({ ONBOARD_SMTP_URL: "http://user:pw-secret@mail.example.com" })).toThrow(/ONBOARD_SMTP_URL: must be an SMTP URL/);
  expect(() => loadConfig({ ONBOARD_SMTP_URL: "http://user:pw-secret@mail.example.com" })).not.toThrow(/pw-secret/);
});

