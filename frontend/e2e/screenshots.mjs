// `npm run screenshots`: the demo page on a desktop and on a 390 px phone, with some content,
// saved under test-results/ (needs `npm run build` and the project's .venv).
import { mkdirSync } from "node:fs";
import path from "node:path";

import { launchBrowser, openSignedIn } from "./browser.mjs";
import { RESULTS_DIR, startRuntime } from "./runtime.mjs";

mkdirSync(RESULTS_DIR, { recursive: true });
const rt = await startRuntime();
const { frontendUrl, apiUrl, tokenUrl } = rt.endpoints;
const browser = await launchBrowser();
const out = (name) => path.join(RESULTS_DIR, name);

async function post(username, postId, content) {
  const { token } = await (
    await fetch(tokenUrl, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ username }) })
  ).json();
  const res = await fetch(`${apiUrl}/api/v1/posts/${postId}/comments`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ content }),
  });
  if (res.status !== 201) throw new Error(`POST as ${username}: ${res.status} ${await res.text()}`);
}

try {
  const signin = await (await browser.newContext({ viewport: { width: 390, height: 700 }, deviceScaleFactor: 2 })).newPage();
  await signin.goto(frontendUrl);
  await signin.getByTestId("signin-username").waitFor();
  await signin.screenshot({ path: out("page-signin-phone-390.png") });

  await post("maria.garcia", "post-1", "This is so much better than refreshing the page every minute!");
  await post("bob", "post-1", "Works on my phone too. Edits show up instantly as well.");
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const alice = await openSignedIn(desktop, frontendUrl, "alice", "post-1");
  await alice.getByTestId("comment-input").fill("Hello everyone! Try opening this page in a second window.");
  await alice.getByTestId("comment-submit").click();
  await alice.locator('[data-testid="comment"]:not([data-pending])').nth(2).waitFor();
  await post("carol", "post-2", "Carol here: the heartbeat explanation was really helpful.");
  await alice.getByTestId("toast").first().waitFor();
  await alice.getByTestId("comment-input").fill("Typing a reply…");
  await alice.waitForTimeout(400);
  await alice.screenshot({ path: out("page-desktop-1280.png"), fullPage: true });

  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const bob = await openSignedIn(phone, frontendUrl, "bob", "post-1");
  await bob.locator('[data-testid="comment"]').nth(2).waitFor();
  await bob.waitForTimeout(400);
  await bob.screenshot({ path: out("page-phone-390.png"), fullPage: true });
  // The same page in the dark colour scheme.
  const dark = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: "dark" });
  const carolDark = await openSignedIn(dark, frontendUrl, "carol", "post-1");
  await carolDark.locator('[data-testid="comment"]').nth(2).waitFor();
  await carolDark.waitForTimeout(400);
  await carolDark.screenshot({ path: out("page-desktop-dark-1280.png") });
  console.log("screenshots in", RESULTS_DIR);
} finally {
  await browser.close();
  await rt.stop();
}
