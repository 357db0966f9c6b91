import type { Db } from "../../db/client.js";
import type { Config } from "../config.js";
import type { Deps } from "../services/deps.js";

/** Service deps for a running server: the real clock and the configured lifetimes. */
export const depsFrom = (config: Config, db: Db, publicUrl: string): Deps => ({
  db,
  clock: () => new Date(),
  settings: {
    publicUrl,
    accessTokenTtlMs: config.accessTokenTtlMs,
    claimTokenTtlMs: config.claimTokenTtlMs,
  },
});
