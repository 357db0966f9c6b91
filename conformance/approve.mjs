// The human's part of the conformance suite's `authorization-code-grant`
// scenario: opens the authorization URL the suite printed in the system
// Chromium (CHROMIUM_PATH overrides /usr/bin/chromium) and takes the consent
// page's agent-first path, which needs no account: a new agent account, then
// back to the suite's callback, where it exchanges the code.
//
//   node conformance/approve.mjs <authorization URL>
import { chromium } from "playwright-core";

const [url] = process.argv.slice(2);
if (!url) {
  console.error("usage: node conformance/approve.mjs <authorization URL>");
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.getByRole("button", { name: /^Start a new agent account for / }).click();
  const callback = new URL(url).searchParams.get("redirect_uri");
  await Promise.all([page.waitForURL((at) => at.href.startsWith(callback)), page.getByRole("link", { name: /^Continue to / }).click()]);
  console.log("conformance: approved in Chromium with a new agent account");
} finally {
  await browser.close();
}
