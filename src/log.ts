import pino, { type DestinationStream, type Logger } from "pino";

export type { Logger };

const secretKeys = [
  "accessToken",
  "claimToken",
  "token",
  "secret",
  "password",
  "passwordHash",
  "authorization",
  "cookie",
];

// Nothing should log these keys in the first place; redaction is the net under that rule.
const redactPaths = secretKeys.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);

/** JSON lines on stderr (never stdout: stdio carries JSON-RPC there). */
export function createLogger(level: string, destination: DestinationStream = pino.destination({ fd: 2, sync: true })): Logger {
  return pino(
    {
      name: "agent-onboard",
      level,
      redact: { paths: redactPaths, censor: "[redacted]" },
    },
    destination,
  );
}
