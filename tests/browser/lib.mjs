// What the browser tests share: headless Chromium (Debian's package, driven by playwright-core)
// and the wait for the demo page to show a state.
import { chromium } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Launches headless Chromium without the background traffic a test does not want. */
export function launchChromium() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** Waits until the page shows the state of `action` with `status` (and returns that state). */
export async function settled(page, action, status) {
  await page.waitForFunction(
    ([a, s]) => {
      const el = document.querySelector("#result .status");
      return el?.dataset.action === a && el?.dataset.status === s;
    },
    [action, status],
  );
  return page.evaluate(() => window.edge.state);
}
