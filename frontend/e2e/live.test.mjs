// Browser tests for replies, notifications, presence and typing (issue 11): Debian's Chromium
// (headless, playwright-core), two or three browser contexts (each its own user), against the REAL
// local runtime (its own, so that viewer counts start from nobody). Run `npm run build` first.
// Screenshots go to test-results/; with E2E_DOCS_SCREENSHOTS=1 also to docs/screenshots/.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { launchBrowser, openSignedIn } from "./browser.mjs";
import { devToken, REPO_ROOT, RESULTS_DIR, startRuntime } from "./runtime.mjs";

const DOCS_SCREENSHOTS = path.join(REPO_ROOT, "docs", "screenshots");
const POST = "post-1";
const POST_TITLE = "Realtime comments are live";
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

const token = (username) => devToken(endpoints.tokenUrl, username);

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

function viewers(page, n) {
  return page.locator(`[data-testid="viewer-count"][data-viewers="${n}"]`);
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

describe("notifications", () => {
  test("the parent's author gets the toast and the bell count while on another post", async () => {
    await alice.getByTestId("post-tab-post-3").click();
    await alice.locator('[data-testid="comments-section"][data-post-id="post-3"]').waitFor();
    const bell = alice.getByTestId("bell");
    const before = Number(await bell.getAttribute("data-unread"));
    assert.equal(before, 1, "bob's first reply to alice's comment is unread"); // from the test above

    await replyFromPage(bob, aliceComment, "Bob replies once more, while Alice reads another post.");
    const toast = alice.getByTestId("toast").filter({ hasText: `bob replied to your comment on “${POST_TITLE}”` });
    await toast.waitFor({ timeout: 10_000 });
    await toast.getByText("Bob replies once more").waitFor({ timeout: 5000 }); // the reply's text, once held
    await alice.locator('[data-testid="bell"][data-unread="2"]').waitFor({ timeout: 10_000 });
    assert.equal(await alice.getByTestId("bell-count").innerText(), "2");
    // No second, plain "commented" toast for the same reply.
    assert.equal(await alice.getByTestId("toast").filter({ hasText: "bob commented on" }).count(), 0);
    await shot(alice, "issue11-02-reply-toast-and-bell.png");

    // View opens the post at the reply, and marks that notification read.
    await toast.getByRole("button", { name: "View" }).click();
    await alice.locator('[data-testid="comments-section"][data-post-id="post-1"]').waitFor();
    const reply = alice.locator(".comment-highlight").filter({ hasText: "Bob replies once more" });
    await reply.waitFor({ timeout: 5000 });
    assert.ok(await reply.isVisible());
    assert.match(alice.url(), /post=post-1#comment-/);
    await alice.locator('[data-testid="bell"][data-unread="1"]').waitFor({ timeout: 5000 });
  });

  test("the bell lists the notifications; a link opens the post at the reply; mark all read clears the count", async () => {
    await alice.getByTestId("post-tab-post-2").click();
    await replyFromPage(bob, aliceComment, "Bob's third reply: still here.");
    await alice.locator('[data-testid="bell"][data-unread="2"]').waitFor({ timeout: 10_000 });
    await alice.getByTestId("bell").click();
    const items = alice.getByTestId("notification");
    await items.nth(2).waitFor({ timeout: 5000 });
    assert.equal(await items.count(), 3);
    assert.match(await items.first().innerText(), new RegExp(`bob replied to your comment on “${POST_TITLE}”`));
    assert.match(await items.first().innerText(), /third reply/);
    assert.deepEqual(await items.evaluateAll((els) => els.map((e) => e.dataset.read)), ["false", "true", "false"]);
    await shot(alice, "issue11-03-bell-list.png");

    // The oldest one ("Bob replies: I am!") by its link.
    await items.nth(2).getByTestId("notification-link").click();
    await alice.locator('[data-testid="comments-section"][data-post-id="post-1"]').waitFor();
    await alice.locator(".comment-highlight").filter({ hasText: "Bob replies: I am!" }).waitFor({ timeout: 5000 });
    await alice.locator('[data-testid="bell"][data-unread="1"]').waitFor({ timeout: 5000 });

    await alice.getByTestId("bell").click();
    await alice.getByTestId("mark-all-read").click();
    await alice.locator('[data-testid="bell"][data-unread="0"]').waitFor({ timeout: 5000 });
    assert.equal(await alice.getByTestId("bell-count").count(), 0);
    await alice.locator('[data-testid="notification"][data-read="false"]').waitFor({ state: "detached", timeout: 5000 });
    await shot(alice, "issue11-04-marked-read.png");

    // The server agrees: a fresh read of the page shows no unread count.
    await alice.reload();
    await alice.locator('[data-testid="connection-status"][data-status="connected"][data-subscriptions="3"]').waitFor({ timeout: 30_000 });
    await alice.locator('[data-testid="bell"][data-unread="0"]').waitFor({ timeout: 5000 });
    const res = await fetch(`${endpoints.apiUrl}/api/v1/notifications`, { headers: { Authorization: `Bearer ${await token("alice")}` } });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).unreadCount, 0);
  });
});

describe("presence", () => {
  test("the viewer count rises and falls as pages open and close", async () => {
    for (const page of [alice, bob]) await viewers(page, 2).waitFor({ timeout: 10_000 });
    assert.equal(await alice.getByTestId("viewer-count").innerText(), "2 viewing");

    const carolContext = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    try {
      const carol = await openSignedIn(carolContext, endpoints.frontendUrl, "carol", POST);
      for (const page of [alice, bob, carol]) await viewers(page, 3).waitFor({ timeout: 10_000 });
      assert.equal(await alice.getByTestId("viewer-count").innerText(), "3 viewing");
      await alice.evaluate(() => window.scrollTo(0, 0));
      await shot(alice, "issue11-05-three-viewing.png");
    } finally {
      await carolContext.close();
    }
    for (const page of [alice, bob]) await viewers(page, 2).waitFor({ timeout: 10_000 });
  });
});

describe("typing", () => {
  test("typing shows in the other page and disappears 5 s after the last", async () => {
    const indicator = alice.getByTestId("typing-indicator");
    assert.equal(await indicator.innerText(), "");
    await bob.getByTestId("comment-input").click();
    await bob.keyboard.type("Bob is writing something", { delay: 20 });
    const lastKey = Date.now();
    await alice.locator('[data-testid="typing-indicator"][data-typing="bob"]').waitFor({ timeout: 5000 });
    assert.equal(await indicator.innerText(), "bob is typing…");
    assert.equal(await bob.getByTestId("typing-indicator").innerText(), "", "never one's own");
    await indicator.evaluate((el) => el.scrollIntoView({ block: "center" }));
    await shot(alice, "issue11-06-typing.png");
    await alice.locator('[data-testid="typing-indicator"][data-typing=""]').waitFor({ timeout: 10_000 });
    const gone = Date.now() - lastKey;
    assert.ok(gone >= 3000 && gone <= 9000, `gone ${gone} ms after the last key`);
    assert.equal(await indicator.innerText(), "");
  });
});
