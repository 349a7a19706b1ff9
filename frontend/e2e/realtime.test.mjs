// Browser tests: Debian's Chromium (headless, playwright-core) against the REAL local runtime,
// which serves the static export in frontend/out. Run `npm run build` first.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { cspViolations, launchBrowser, openSignedIn, recordCspViolations, waitLive } from "./browser.mjs";
import { devToken, RESULTS_DIR, startRuntime } from "./runtime.mjs";

const POST = "post-1";
// The runtime's /__local/* controls take JSON only (local_runtime/guards.py).
const LOCAL_CONTROL = { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" };
let runtime;
let browser;
let alice; // desktop page
let bob; // phone-sized page
let endpoints;

async function shot(page, name) {
  await page.waitForTimeout(350); // let entry animations finish
  return page.screenshot({ path: path.join(RESULTS_DIR, name), fullPage: false });
}

const token = (username) => devToken(endpoints.tokenUrl, username);

async function restPost(jwt, postId, content) {
  const res = await fetch(`${endpoints.apiUrl}/api/v1/posts/${postId}/comments`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${jwt}` },
    body: JSON.stringify({ content }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return res.json();
}

function commentByText(page, text) {
  return page.getByTestId("comment").filter({ hasText: text });
}

async function postFromPage(page, text) {
  await page.getByTestId("comment-input").fill(text);
  await page.getByTestId("comment-submit").click();
}

before(async () => {
  mkdirSync(RESULTS_DIR, { recursive: true });
  runtime = await startRuntime();
  endpoints = runtime.endpoints;
  // Warm the functions (comments API, stream broadcaster) so that the latency measured below is
  // the steady state, not a cold start: a few concurrent comments on a post nobody watches.
  const warm = await token("warmup");
  await Promise.all([1, 2, 3, 4].map((i) => restPost(warm, "warmup", `warm-up ${i}`)));
  await new Promise((r) => setTimeout(r, 1500));
  browser = await launchBrowser();
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  alice = await openSignedIn(desktop, endpoints.frontendUrl, "alice", POST);
  bob = await openSignedIn(phone, endpoints.frontendUrl, "bob", POST);
  await alice.getByTestId("comments-empty").waitFor();
  await bob.getByTestId("comments-empty").waitFor();
});

after(async () => {
  await browser?.close();
  await runtime?.stop();
});

describe("two pages on one post", () => {
  test("a comment posted in one page appears in the other within 1 s", async () => {
    const text = `Hello Bob, it is Alice ${Date.now()}`;
    const started = Date.now();
    await postFromPage(alice, text);
    await commentByText(bob, text).waitFor({ timeout: 1000 });
    const elapsed = Date.now() - started;
    console.log(`alice -> bob: ${elapsed} ms`);
    assert.ok(elapsed < 1000, `took ${elapsed} ms`);
    // Optimistic copy reconciled: exactly one copy, not pending, in Alice's page.
    await alice.locator('[data-testid="comment"]:not([data-pending])').filter({ hasText: text }).waitFor();
    assert.equal(await commentByText(alice, text).count(), 1);

    const reply = "Hi Alice! Bob here, on my phone.";
    // Bob uses the keyboard: focus the field, type, Ctrl+Enter posts.
    await bob.getByLabel("Add a comment", { exact: true }).and(bob.locator("textarea")).focus();
    await bob.keyboard.type(reply);
    const started2 = Date.now();
    await bob.keyboard.press("Control+Enter");
    await commentByText(alice, reply).waitFor({ timeout: 1000 });
    const elapsed2 = Date.now() - started2;
    console.log(`bob -> alice: ${elapsed2} ms`);
    assert.ok(elapsed2 < 1000, `took ${elapsed2} ms`);
    assert.equal(await commentByText(bob, reply).count(), 1);

    // Order by seq in both pages; only the author gets Edit/Delete.
    for (const page of [alice, bob]) {
      const seqs = await page.getByTestId("comment").evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
      assert.equal(seqs.length, 2);
    }
    assert.equal(await commentByText(bob, text).getByTestId("comment-edit").count(), 0);
    assert.equal(await commentByText(alice, text).getByTestId("comment-edit").count(), 1);
    await shot(alice, "01-two-pages-alice-desktop.png");
    await shot(bob, "02-two-pages-bob-phone.png");
    // Nothing wider than the phone's screen, at 390 px and at 360 px.
    for (const width of [390, 360]) {
      await bob.setViewportSize({ width, height: 800 });
      const overflow = await bob.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.equal(overflow, 0, `horizontal overflow at ${width} px`);
    }
    await bob.setViewportSize({ width: 390, height: 844 });
  });

  test("edit and delete propagate", async () => {
    const original = commentByText(alice, "Hello Bob, it is Alice");
    await original.getByTestId("comment-edit").click();
    const input = alice.getByTestId("comment-edit-input");
    await input.fill("Hello Bob, it is Alice (edited)");
    await alice.getByTestId("comment-save").click();
    await commentByText(bob, "Hello Bob, it is Alice (edited)").waitFor({ timeout: 2000 });
    await commentByText(bob, "Hello Bob, it is Alice (edited)").getByText("edited", { exact: false }).first().waitFor();
    await shot(bob, "03-edited-bob-phone.png");

    const bobsReply = commentByText(bob, "Bob here, on my phone");
    await bobsReply.getByTestId("comment-delete").click();
    await bob.getByTestId("comment-delete-confirm").click();
    await commentByText(alice, "Bob here, on my phone").waitFor({ state: "detached", timeout: 2000 });
    await commentByText(bob, "Bob here, on my phone").waitFor({ state: "detached", timeout: 2000 });
    assert.equal(await alice.getByTestId("comment").count(), 1);
    assert.equal(await bob.getByTestId("comment").count(), 1);
  });
});

describe("WebSocket side stopped and restarted", () => {
  test("pages reconnect and show the comments posted meanwhile (hasMore paged over REST)", async () => {
    await postFromPage(bob, "Bob: deleted while you are offline");
    await commentByText(alice, "Bob: deleted while you are offline").waitFor({ timeout: 2000 });
    const listed = await (await fetch(`${endpoints.apiUrl}/api/v1/posts/${POST}/comments`)).json();
    const byContent = (prefix) => listed.comments.find((c) => c.content.startsWith(prefix));
    const toDelete = byContent("Bob: deleted while");
    const toEdit = byContent("Hello Bob, it is Alice");
    assert.ok(toDelete && toEdit, JSON.stringify(listed));

    const stop = await fetch(`${endpoints.apiUrl}/__local/websocket/stop`, LOCAL_CONTROL);
    assert.equal(stop.status, 200);
    for (const page of [alice, bob]) {
      await page.locator('[data-testid="connection-status"][data-status="reconnecting"]').waitFor({ timeout: 5000 });
    }
    const statusText = await alice.getByTestId("connection-status").innerText();
    assert.match(statusText, /Reconnecting \(\d of 5\)/);
    assert.equal(await alice.getByTestId("connection-status").getAttribute("data-attempt"), "1");
    await shot(alice, "04-reconnecting-alice-desktop.png");

    // While the WebSocket side is down: more than a page (50) of comments over REST.
    // Three writers: one user may write 20 comments at once (5 per second after that).
    const carols = [await token("carol"), await token("carol-2"), await token("carol-3")];
    const total = 53;
    const missed = (i) => `Carol while you were away (${i} of ${total})`;
    for (let i = 1; i <= total; i += 1) {
      await restPost(carols[i % carols.length], POST, missed(i));
    }
    assert.equal(await commentByText(alice, missed(1)).count(), 0);
    // ...and an edit and a deletion, which `since` does not replay (the app re-reads over REST).
    const edit = await fetch(`${endpoints.apiUrl}/api/v1/posts/${POST}/comments/${toEdit.id}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${await token("alice")}` },
      body: JSON.stringify({ content: "Alice: edited while the WebSocket was down" }),
    });
    assert.equal(edit.status, 200);
    const del = await fetch(`${endpoints.apiUrl}/api/v1/posts/${POST}/comments/${toDelete.id}`, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${await token("bob")}` },
    });
    assert.equal(del.status, 204);

    const start = await fetch(`${endpoints.apiUrl}/__local/websocket/start`, LOCAL_CONTROL);
    assert.equal(start.status, 200);
    for (const page of [alice, bob]) {
      await waitLive(page);
      await commentByText(page, missed(total)).waitFor({ timeout: 10_000 });
      await commentByText(page, missed(1)).waitFor({ timeout: 10_000 });
      const contents = await page.getByTestId("comment-content").allInnerTexts();
      const carols = contents.filter((t) => t.startsWith("Carol while you were away"));
      assert.equal(carols.length, total, "every missed comment, once");
      assert.equal(new Set(carols).size, total);
      await commentByText(page, "Alice: edited while the WebSocket was down").waitFor({ timeout: 5000 });
      await commentByText(page, "Bob: deleted while you are offline").waitFor({ state: "detached", timeout: 5000 });
    }
    await alice.getByTestId(`comment-list`).evaluate((el) => el.lastElementChild?.scrollIntoView());
    await shot(alice, "05-recovered-alice-desktop.png");

    // Live again: a new comment arrives at once.
    await postFromPage(bob, "Back online!");
    await commentByText(alice, "Back online!").waitFor({ timeout: 1000 });
  });
});

describe("offline after the last attempt", () => {
  test("shows Offline with a Retry button, and Retry reconnects", async () => {
    // A third page whose runtime-config.json (intercepted) asks for a short backoff: 2 attempts, 300 ms base.
    const context = await browser.newContext({ viewport: { width: 1024, height: 768 } });
    await context.route("**/runtime-config.json", async (route) => {
      const res = await route.fetch();
      const json = { ...(await res.json()), maxReconnectAttempts: 2, reconnectBaseDelayMs: 300 };
      await route.fulfill({ response: res, json });
    });
    const erin = await openSignedIn(context, endpoints.frontendUrl, "erin", POST);
    await erin.getByTestId("comment-list").waitFor();
    try {
      await fetch(`${endpoints.apiUrl}/__local/websocket/stop`, LOCAL_CONTROL);
      const status = erin.getByTestId("connection-status");
      await erin.locator('[data-testid="connection-status"][data-status="offline"]').waitFor({ timeout: 10_000 });
      assert.match(await status.innerText(), /Offline/);
      await erin.getByTestId("comments-offline").waitFor();
      await shot(erin, "08-offline-retry-erin-desktop.png");
      await fetch(`${endpoints.apiUrl}/__local/websocket/start`, LOCAL_CONTROL);
      await erin.waitForTimeout(1000);
      assert.equal(await status.getAttribute("data-status"), "offline", "no automatic attempt after the last one");
      await erin.getByTestId("retry-button").click();
      await waitLive(erin, { timeout: 10_000 });
      await erin.getByTestId("comments-offline").waitFor({ state: "detached" });
      // Erin got the latest 50 on subscribe: the older ones come over REST on request.
      assert.equal(await commentByText(erin, "Alice: edited while the WebSocket was down").count(), 0);
      await erin.getByTestId("load-older").click();
      await commentByText(erin, "Alice: edited while the WebSocket was down").waitFor({ timeout: 5000 });
      await erin.getByTestId("load-older").waitFor({ state: "detached" });
      const seqs = await erin.getByTestId("comment").evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
      assert.equal(new Set(seqs).size, seqs.length);
      // The other pages, with the default 3 s base, reconnected on their own.
      for (const page of [alice, bob]) await waitLive(page);
    } finally {
      await context.close();
    }
  });
});

describe("notifications", () => {
  test("a toast appears for another user's comment on a subscribed post that is not shown", async () => {
    await waitLive(alice); // every subscription confirmed, so the event is delivered live
    const dave = await token("dave");
    await restPost(dave, "post-2", "Dave on the WebSocket post: great write-up!");
    const toast = alice.getByTestId("toast").filter({ hasText: "Dave on the WebSocket post" });
    await toast.waitFor({ timeout: 2000 });
    assert.match(await toast.innerText(), /dave commented on/);
    await alice.getByTestId("unread-post-2").waitFor();
    await shot(alice, "06-toast-alice-desktop.png");
    // No toast for the post being shown.
    await restPost(dave, POST, "Dave on the shown post");
    await commentByText(alice, "Dave on the shown post").waitFor({ timeout: 2000 });
    assert.equal(await alice.getByTestId("toast").filter({ hasText: "Dave on the shown post" }).count(), 0);
    // View switches to the post and shows the comment.
    await toast.getByRole("button", { name: "View" }).click();
    await alice.locator('[data-testid="comments-section"][data-post-id="post-2"]').waitFor();
    await commentByText(alice, "Dave on the WebSocket post").waitFor();
  });

  test("a test message sent to the connection shows as a toast", async () => {
    const list = await (await fetch(`${endpoints.apiUrl}/__local/websocket/connections`)).json();
    const bobs = list.connections.filter((c) => c.userId === "bob");
    assert.ok(bobs.length >= 1, JSON.stringify(list));
    for (const c of bobs) {
      const res = await fetch(`${endpoints.callbackUrl}/${c.connectionId}`, {
        method: "POST",
        body: JSON.stringify({ type: "test", data: { message: "Hello from the runtime" }, timestamp: new Date().toISOString() }),
      });
      assert.ok(res.status === 200 || res.status === 410, `status ${res.status}`);
    }
    await bob.getByTestId("toast").filter({ hasText: "Hello from the runtime" }).first().waitFor({ timeout: 2000 });
    await shot(bob, "07-test-toast-bob-phone.png");
  });
});

// Last: by now both pages have signed in, posted, edited, reconnected and shown toasts.
describe("the page under its Content-Security-Policy", () => {
  test("every page response has the headers, and nothing the app did was blocked", async () => {
    const res = await fetch(`${endpoints.frontendUrl}/`);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self';/);
    assert.match(csp, /frame-ancestors 'none'/);
    const api = new URL(endpoints.apiUrl).origin;
    const ws = new URL(endpoints.websocketUrl).origin.replace(/^http/, "ws");
    assert.match(csp, new RegExp(`connect-src 'self' ${api} ${ws};`), csp);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.ok(res.headers.get("strict-transport-security"));
    assert.ok(res.headers.get("referrer-policy"));
    assert.deepEqual(await cspViolations(alice), []);
    assert.deepEqual(await cspViolations(bob), []);
  });

  test("the policy is enforced: an inline script and a call to another origin are refused", async () => {
    const page = await alice.context().newPage();
    await recordCspViolations(page);
    await page.goto(`${endpoints.frontendUrl}/`);
    const outcome = await page.evaluate(async () => {
      const s = document.createElement("script");
      s.textContent = "window.__inlineRan = true";
      document.body.append(s);
      let fetched = "allowed";
      try {
        await fetch("http://127.0.0.2:9/", { mode: "no-cors" });
      } catch {
        fetched = "refused";
      }
      return { inlineRan: window.__inlineRan === true, fetched };
    });
    assert.deepEqual(outcome, { inlineRan: false, fetched: "refused" });
    const violations = await cspViolations(page);
    assert.ok(violations.some((v) => v.startsWith("script-src")), JSON.stringify(violations));
    assert.ok(violations.some((v) => v.startsWith("connect-src")), JSON.stringify(violations));
    await page.close();
  });
});
