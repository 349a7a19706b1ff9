// Debian's Chromium, headless, driven by playwright-core (no browser download).
import { chromium } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchBrowser() {
  // launch() creates (and removes) a fresh temporary profile (--user-data-dir) each time.
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * Collect the page's Content-Security-Policy violations in `window.__cspViolations` (an init
 * script runs through the DevTools protocol, outside the page's CSP); read them with
 * `cspViolations(page)`.
 */
export async function recordCspViolations(page) {
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
}

export function cspViolations(page) {
  return page.evaluate(() => window.__cspViolations ?? null);
}

/** Open the app, sign in as `username`, optionally on `postId`; returns the page. */
export async function openSignedIn(context, frontendUrl, username, postId) {
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error(`[${username}] page error:`, err.message));
  await recordCspViolations(page);
  if (process.env.DEBUG_WS) {
    page.on("console", (m) => console.log(`[${username}] console:`, m.text()));
    page.on("websocket", (ws) => {
      ws.on("framereceived", (f) => console.log(`[${username}] <-`, String(f.payload).slice(0, 160)));
      ws.on("framesent", (f) => console.log(`[${username}] ->`, String(f.payload)));
      ws.on("close", () => console.log(`[${username}] ws closed`));
    });
  }
  const url = postId ? `${frontendUrl}/?post=${encodeURIComponent(postId)}` : `${frontendUrl}/`;
  await page.goto(url);
  await page.getByTestId("signin-username").fill(username);
  await page.getByTestId("signin-submit").click();
  await page.getByTestId("signed-in-user").getByText(username, { exact: true }).waitFor();
  await waitLive(page);
  return page;
}

/** Connected, with every demo post's subscription confirmed by the server. */
export async function waitLive(page, { posts = 3, timeout = 30_000 } = {}) {
  await page
    .locator(`[data-testid="connection-status"][data-status="connected"][data-subscriptions="${posts}"]`)
    .waitFor({ timeout });
}
