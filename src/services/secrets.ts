import { createHash, randomBytes, randomUUID } from "node:crypto";

/** 256 random bits, URL-safe: used for claim tokens and invite secrets. */
export const newSecret = (): string => randomBytes(32).toString("base64url");

/** Secrets are random and long, so a fast hash is enough to keep them out of the db in clear. */
export const hashSecret = (secret: string): string => createHash("sha256").update(secret).digest("hex");

export const newUid = (): string => randomUUID();
