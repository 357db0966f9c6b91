import { createHash } from "node:crypto";

/** A Gravatar identicon keyed by a hash, so no address or id appears in the URL. */
export const avatarUrl = (seed: string): string =>
  `https://gravatar.com/avatar/${createHash("sha256").update(seed.trim().toLowerCase()).digest("hex")}?d=identicon`;
