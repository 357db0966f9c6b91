import { type Browser, chromium } from "playwright-core";

/** The system Chromium (Debian's, which `.ci/run` installs), or the one CHROMIUM_PATH names. */
export const chromiumPath = () => process.env.CHROMIUM_PATH || "/usr/bin/chromium";

/** Headless Chromium as the browser tests drive it: no network of its own beyond the pages opened. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic",
    ],
  });
}
