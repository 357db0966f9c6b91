import { createHash } from "node:crypto";

/** A Gravatar identicon keyed by a hash, so no address or id appears in the URL. */
export const avatarUrl = (seed: string): string =>
  `https://gravatar.com/avatar/${createHash("sha256").update(seed.trim().toLowerCase()).digest("hex")}?d=identicon`;

/** A person's picture: the one they chose, else the identicon of their address (or id). */
export const userAvatarUrl = (user: { avatarUrl: string | null; email: string | null; uid: string }): string =>
  user.avatarUrl ?? avatarUrl(user.email ?? user.uid);
