// Browser tests for replies, notifications, presence and typing (issue 11): Debian's Chromium
// (headless, playwright-core), two or three browser contexts (each its own user), against the REAL
// local runtime (its own, so that viewer counts start from nobody). Run `npm run build` first.
// Screenshots go to test-results/; with E2E_DOCS_SCREENSHOTS=1 also to docs/screenshots/.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { launchBrowser, openSignedIn } from "./browser.mjs";
import { REPO_ROOT, RESULTS_DIR, startRuntime } from "./runtime.mjs";

const DOCS_SCREENSHOTS = path.join(REPO_ROOT, "docs", "screenshots");
const POST = "post-1";
let runtime;
let browser;
let endpoints;
let alice; // desktop
let bob; // desktop
let aliceComment; // the comment bob replies to

async function shot(page, name, { fullPage = false } = {}) {
  // Entry animations last 0.25 s: wait until none is running rather than for a fixed time.
  await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== "running"), null, { timeout: 5000 });
  const file = path.join(RESULTS_DIR, name);
  await page.screenshot({ path: file, fullPage });
  if (process.env.E2E_DOCS_SCREENSHOTS === "1") copyFileSync(file, path.join(DOCS_SCREENSHOTS, name));
}

/** The settled (not pending) comment holding `text`. */
function settled(page, text) {
  return page.locator('[data-testid="comment"]:not([data-pending])').filter({ hasText: text });
}

async function postFromPage(page, text) {
  await page.getByTestId("comment-input").fill(text);
  await page.getByTestId("comment-submit").click();
}

async function replyFromPage(page, parentText, text) {
  const parent = settled(page, parentText);
  await parent.getByTestId("comment-reply").click();
  await parent.getByTestId("reply-input").fill(text);
  await parent.getByTestId("reply-submit").click();
}

before(async () => {
  mkdirSync(RESULTS_DIR, { recursive: true });
  if (process.env.E2E_DOCS_SCREENSHOTS === "1") mkdirSync(DOCS_SCREENSHOTS, { recursive: true });
  runtime = await startRuntime();
  endpoints = runtime.endpoints;
  browser = await launchBrowser();
  const viewport = { width: 1100, height: 800 };
  alice = await openSignedIn(await browser.newContext({ viewport }), endpoints.frontendUrl, "alice", POST);
  bob = await openSignedIn(await browser.newContext({ viewport }), endpoints.frontendUrl, "bob", POST);
  for (const page of [alice, bob]) await page.getByTestId("comments-empty").waitFor();
});

after(async () => {
  await browser?.close();
  await runtime?.stop();
});

describe("replies", () => {
  test("a reply nests under its parent, in both pages", async () => {
    aliceComment = "Alice asks: who else is watching this post?";
    await postFromPage(alice, aliceComment);
    await settled(bob, aliceComment).waitFor({ timeout: 10_000 });
    await postFromPage(bob, "Bob, top level: a comment of my own.");
    await settled(alice, "Bob, top level").waitFor({ timeout: 10_000 });

    await replyFromPage(bob, aliceComment, "Bob replies: I am!");
    await replyFromPage(alice, "Bob replies: I am!", "Alice again: welcome, Bob.");
    for (const page of [alice, bob]) {
      await settled(page, "Alice again: welcome").waitFor({ timeout: 10_000 });
      const rows = await page
        .getByTestId("comment")
        .evaluateAll((els) => els.map((e) => [e.querySelector('[data-testid="comment-content"]').textContent, Number(e.dataset.depth)]));
      assert.deepEqual(rows, [
        [aliceComment, 0],
        ["Bob replies: I am!", 1],
        ["Alice again: welcome, Bob.", 2],
        ["Bob, top level: a comment of my own.", 0],
      ]);
      // Indented: each level starts further right.
      const lefts = await page.getByTestId("comment").evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().left)));
      assert.ok(lefts[0] < lefts[1] && lefts[1] < lefts[2] && lefts[3] === lefts[0], `indentation ${lefts}`);
    }
    assert.match(await settled(alice, "Bob replies").getByTestId("replying-to").innerText(), /alice/);
    await shot(alice, "issue11-01-reply-nested.png", { fullPage: true });
  });
});
