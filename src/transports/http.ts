import type { Config } from "../config.js";
import type { Logger } from "../log.js";

export async function runHttp(config: Config, log: Logger): Promise<void> {
  log.info({ port: config.port }, "HTTP transport not available yet; use `npm run stdio`");
}
