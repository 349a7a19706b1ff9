import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { comment, envelope, FakeWebSocket } from "@/test/fakeWebSocket";
import { backoffDelay, createWebSocketStore, type WebSocketStoreOptions } from "./websocket";

function makeStore(opts: Partial<WebSocketStoreOptions> = {}) {
  const logger = { warn: vi.fn(), error: vi.fn(), info: vi.fn() };
  const store = createWebSocketStore({
    WebSocketImpl: FakeWebSocket,
    logger,
    ...opts,
  });
  store.getState().configure({ url: "ws://test:3001", apiUrl: "http://api:3002", token: "tok en" });
  return { store, logger };
}

function connected(opts: Partial<WebSocketStoreOptions> = {}) {
  const made = makeStore(opts);
  made.store.getState().connect();
  FakeWebSocket.last.open();
  return made;
}

beforeEach(() => {
  FakeWebSocket.reset();
  vi.useFakeTimers();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("connection", () => {
  it("opens one connection with the token in the query string", () => {
    const { store } = makeStore();
    store.getState().connect();
    expect(store.getState().status).toBe("connecting");
    store.getState().connect(); // idempotent
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(FakeWebSocket.last.url).toBe("ws://test:3001?token=tok%20en");
    FakeWebSocket.last.open();
    expect(store.getState().status).toBe("connected");
    expect(store.getState().attempt).toBe(0);
  });

  it("send returns false while not connected and true once open", () => {
    const { store } = makeStore();
    expect(store.getState().send({ action: "ping" })).toBe(false);
    store.getState().connect();
    expect(store.getState().send({ action: "ping" })).toBe(false);
    FakeWebSocket.last.open();
    expect(store.getState().send({ action: "ping" })).toBe(true);
    expect(FakeWebSocket.last.sentJson).toEqual([{ action: "ping" }]);
  });

  it("disconnect closes the socket and does not reconnect", () => {
    const { store } = connected();
    const ws = FakeWebSocket.last;
    store.getState().disconnect();
    expect(ws.closedWith?.code).toBe(1000);
    expect(store.getState().status).toBe("idle");
    vi.advanceTimersByTime(10 * 60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it("keeps an open connection when the token is renewed; the next connection uses the new one", () => {
    const { store } = connected();
    const first = FakeWebSocket.last;
    store.getState().configure({ token: "t2" });
    expect(first.readyState).toBe(1);
    expect(FakeWebSocket.instances).toHaveLength(1);
    first.drop();
    vi.advanceTimersByTime(3000);
    expect(FakeWebSocket.last.url).toBe("ws://test:3001?token=t2");
  });

  it("reconnects at once when the URL changes", () => {
    const { store } = connected();
    const first = FakeWebSocket.last;
    store.getState().configure({ url: "ws://other:1" });
    expect(first.readyState).toBe(3);
    expect(FakeWebSocket.last.url).toBe("ws://other:1?token=tok%20en");
  });

  it("logs error replies from the server", () => {
    const { logger } = connected();
    FakeWebSocket.last.receive(envelope("error", { action: "subscribe", message: "postId is required" }));
    expect(logger.warn).toHaveBeenCalledWith(expect.stringContaining("error"), expect.objectContaining({ action: "subscribe" }));
  });
});

describe("reconnection with exponential backoff", () => {
  it("computes base * 2^(n-1)", () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, 3000))).toEqual([3000, 6000, 12000, 24000, 48000]);
    expect(backoffDelay(10, 3000, 60_000)).toBe(60_000);
  });

  it("follows the default schedule (5 attempts, 3 s base), then goes offline until retry()", () => {
    const { store } = connected();
    FakeWebSocket.last.drop();
    const delays = [3000, 6000, 12000, 24000, 48000];
    delays.forEach((delay, i) => {
      const attempt = i + 1;
      expect(store.getState().status).toBe("reconnecting");
      expect(store.getState().attempt).toBe(attempt);
      const before = FakeWebSocket.instances.length;
      vi.advanceTimersByTime(delay - 1);
      expect(FakeWebSocket.instances.length).toBe(before); // not yet
      vi.advanceTimersByTime(1);
      expect(FakeWebSocket.instances.length).toBe(before + 1); // attempt n starts
      FakeWebSocket.last.drop(); // and fails
    });
    expect(store.getState().status).toBe("offline");
    vi.advanceTimersByTime(60 * 60_000);
    expect(FakeWebSocket.instances).toHaveLength(6); // 1 + 5 attempts, no more

    store.getState().retry();
    expect(FakeWebSocket.instances).toHaveLength(7);
    expect(store.getState().status).toBe("connecting");
    FakeWebSocket.last.open();
    expect(store.getState().status).toBe("connected");
    expect(store.getState().attempt).toBe(0);
  });

  it("honours a configured attempt limit and base delay", () => {
    const { store } = connected({ maxReconnectAttempts: 2, reconnectBaseDelayMs: 100 });
    FakeWebSocket.last.drop();
    vi.advanceTimersByTime(100);
    FakeWebSocket.last.drop();
    expect(store.getState().attempt).toBe(2);
    vi.advanceTimersByTime(200);
    FakeWebSocket.last.drop();
    expect(store.getState().status).toBe("offline");
    expect(FakeWebSocket.instances).toHaveLength(3);
  });

  it("takes new settings at run time through configure({ tuning })", () => {
    const { store } = connected();
    store.getState().configure({ tuning: { maxReconnectAttempts: 1, reconnectBaseDelayMs: 50 } });
    expect(store.getState().maxAttempts).toBe(1);
    FakeWebSocket.last.drop();
    expect(store.getState().nextRetryAt).toBe(Date.now() + 50);
    vi.advanceTimersByTime(50);
    FakeWebSocket.last.drop();
    expect(store.getState().status).toBe("offline");
  });

  it("resets the attempt count after a successful reconnect", () => {
    const { store } = connected();
    FakeWebSocket.last.drop();
    vi.advanceTimersByTime(3000);
    FakeWebSocket.last.drop();
    vi.advanceTimersByTime(6000);
    FakeWebSocket.last.open();
    expect(store.getState()).toMatchObject({ status: "connected", attempt: 0 });
    FakeWebSocket.last.drop();
    expect(store.getState().attempt).toBe(1);
    expect(store.getState().nextRetryAt).toBe(Date.now() + 3000);
  });

  it("retries after a failed first connection too", () => {
    const { store } = makeStore();
    store.getState().connect();
    FakeWebSocket.last.drop();
    expect(store.getState()).toMatchObject({ status: "reconnecting", attempt: 1 });
  });
});

describe("message routing", () => {
  it("routes by type to every subscriber and stops after unsubscribe", () => {
    const { store } = connected();
    const a = vi.fn();
    const b = vi.fn();
    const other = vi.fn();
    const all = vi.fn();
    const offA = store.getState().subscribe("test", a);
    store.getState().subscribe("test", b);
    store.getState().subscribe("pong", other);
    store.getState().subscribe("*", all);

    FakeWebSocket.last.receive(envelope("test", { message: "hi" }));
    expect(a).toHaveBeenCalledWith(expect.objectContaining({ type: "test", data: { message: "hi" } }));
    expect(b).toHaveBeenCalledTimes(1);
    expect(other).not.toHaveBeenCalled();
    expect(all).toHaveBeenCalledTimes(1);

    offA();
    offA(); // idempotent
    FakeWebSocket.last.receive(envelope("test", { message: "again" }));
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).toHaveBeenCalledTimes(2);
  });

  it("the same function subscribed twice is called twice and unsubscribed separately", () => {
    const { store } = connected();
    const h = vi.fn();
    const off1 = store.getState().subscribe("test", h);
    store.getState().subscribe("test", h);
    FakeWebSocket.last.receive(envelope("test", {}));
    expect(h).toHaveBeenCalledTimes(2);
    off1();
    FakeWebSocket.last.receive(envelope("test", {}));
    expect(h).toHaveBeenCalledTimes(3);
  });

  it("a throwing subscriber does not stop the others", () => {
    const { store, logger } = connected();
    const ok = vi.fn();
    store.getState().subscribe("test", () => {
      throw new Error("boom");
    });
    store.getState().subscribe("test", ok);
    FakeWebSocket.last.receive(envelope("test", {}));
    expect(ok).toHaveBeenCalledTimes(1);
    expect(logger.error).toHaveBeenCalled();
  });

  it("logs and skips frames that do not parse", () => {
    const { store, logger } = connected();
    const h = vi.fn();
    store.getState().subscribe("*", h);
    FakeWebSocket.last.receive("{not json");
    FakeWebSocket.last.receive(JSON.stringify({ data: {} })); // no type
    FakeWebSocket.last.receive("42");
    expect(h).not.toHaveBeenCalled();
    expect(logger.warn).toHaveBeenCalledTimes(3);
    FakeWebSocket.last.receive(envelope("test", { message: "still alive" }));
    expect(h).toHaveBeenCalledTimes(1);
    expect(store.getState().status).toBe("connected");
  });
});

describe("post subscriptions", () => {
  it("subscribes once per post (ref-counted) and unsubscribes after the last release", () => {
    const { store } = connected();
    const ws = FakeWebSocket.last;
    const r1 = store.getState().subscribePost("p1");
    const r2 = store.getState().subscribePost("p1");
    expect(ws.sentJson).toEqual([{ action: "subscribe", postId: "p1" }]);
    expect(store.getState().subscribedPosts).toEqual(["p1"]);
    r1();
    expect(ws.sentJson).toHaveLength(1);
    r2();
    expect(ws.sentJson[1]).toEqual({ action: "unsubscribe", postId: "p1" });
    expect(store.getState().subscribedPosts).toEqual([]);
  });

  it("tracks which subscriptions the server confirmed on the current connection", () => {
    const { store } = connected();
    const release = store.getState().subscribePost("p1");
    store.getState().subscribePost("p2");
    FakeWebSocket.last.receive(envelope("subscribed", { postId: "p1" }));
    expect(store.getState().confirmedPosts).toEqual(["p1"]);
    FakeWebSocket.last.receive(envelope("subscribed", { postId: "p2" }));
    release();
    expect(store.getState().confirmedPosts).toEqual(["p2"]);
    FakeWebSocket.last.drop();
    expect(store.getState().confirmedPosts).toEqual([]);
  });

  it("subscribes posts requested before the connection opened", () => {
    const { store } = makeStore();
    store.getState().subscribePost("p1");
    store.getState().subscribePost("p2");
    store.getState().connect();
    FakeWebSocket.last.open();
    expect(FakeWebSocket.last.sentJson).toEqual([
      { action: "subscribe", postId: "p1" },
      { action: "subscribe", postId: "p2" },
    ]);
  });

  it("re-subscribes after a reconnect with since = the highest seq held", () => {
    const { store } = connected();
    store.getState().subscribePost("p1");
    store.getState().subscribePost("p2");
    store.getState().subscribePost("p3");
    const ws = FakeWebSocket.last;
    ws.receive(envelope("comments.list", { postId: "p1", comments: [comment("p1", 1), comment("p1", 3)], count: 2, hasMore: false }));
    ws.receive(envelope("comment.created", { postId: "p1", comment: comment("p1", 4) }));
    ws.receive(envelope("comment.updated", { postId: "p1", comment: comment("p1", 2) }));
    ws.receive(envelope("comments.list", { postId: "p2", comments: [], count: 0, hasMore: false }));
    // p3's list never arrived: re-subscribe without since
    ws.drop();
    vi.advanceTimersByTime(3000);
    FakeWebSocket.last.open();
    expect(FakeWebSocket.last.sentJson).toEqual([
      { action: "subscribe", postId: "p1", since: 4 },
      { action: "subscribe", postId: "p2", since: 0 },
      { action: "subscribe", postId: "p3" },
    ]);
    expect(store.getState().getLastSeq("p1")).toBe(4);
  });

  it("routes a gap when a since list says hasMore, and none for the first list", () => {
    const { store } = connected();
    const gaps = vi.fn();
    store.getState().subscribe("comments.gap", gaps);
    store.getState().subscribePost("p1");
    FakeWebSocket.last.receive(envelope("comments.list", { postId: "p1", comments: [comment("p1", 60)], count: 1, hasMore: true }));
    expect(gaps).not.toHaveBeenCalled();
    FakeWebSocket.last.drop();
    vi.advanceTimersByTime(3000);
    FakeWebSocket.last.open();
    expect(FakeWebSocket.last.sentJson[0]).toEqual({ action: "subscribe", postId: "p1", since: 60 });
    FakeWebSocket.last.receive(envelope("comments.list", { postId: "p1", comments: [comment("p1", 61), comment("p1", 62)], count: 2, hasMore: true }));
    expect(gaps).toHaveBeenCalledTimes(1);
    expect(gaps.mock.calls[0]![0]).toMatchObject({ type: "comments.gap", data: { postId: "p1", after: 62 } });
  });
});

describe("heartbeat and connection age", () => {
  it("pings every 5 minutes by default while connected", () => {
    connected();
    const ws = FakeWebSocket.last;
    vi.advanceTimersByTime(5 * 60_000 - 1);
    expect(ws.sentJson).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(ws.sentJson).toEqual([{ action: "ping" }]);
    vi.advanceTimersByTime(5 * 60_000);
    expect(ws.sentJson).toEqual([{ action: "ping" }, { action: "ping" }]);
  });

  it("uses a configured heartbeat interval and stops pinging after a disconnect", () => {
    const { store } = connected({ heartbeatIntervalMs: 1000 });
    const ws = FakeWebSocket.last;
    vi.advanceTimersByTime(3000);
    expect(ws.sentJson).toHaveLength(3);
    store.getState().disconnect();
    vi.advanceTimersByTime(3000);
    expect(ws.sentJson).toHaveLength(3);
  });

  it("reconnects proactively before the 2-hour limit, make-before-break, re-subscribing with since", () => {
    const { store } = connected();
    store.getState().subscribePost("p1");
    const old = FakeWebSocket.last;
    old.receive(envelope("comments.list", { postId: "p1", comments: [comment("p1", 1), comment("p1", 2)], count: 2, hasMore: false }));
    const statuses: string[] = [];
    store.subscribe((s) => statuses.push(s.status));

    vi.advanceTimersByTime(110 * 60_000);
    expect(FakeWebSocket.instances).toHaveLength(2);
    const fresh = FakeWebSocket.last;
    expect(old.readyState).toBe(1); // still open until the replacement is ready
    old.receive(envelope("comment.created", { postId: "p1", comment: comment("p1", 3) }));
    fresh.open();
    expect(fresh.sentJson).toEqual([{ action: "subscribe", postId: "p1", since: 3 }]);
    expect(old.closedWith?.code).toBe(1000);
    expect(statuses).not.toContain("reconnecting");
    expect(store.getState().status).toBe("connected");

    const h = vi.fn();
    store.getState().subscribe("test", h);
    fresh.receive(envelope("test", {}));
    expect(h).toHaveBeenCalledTimes(1);
    // a later loss of the fresh connection goes through the normal reconnect path
    fresh.drop();
    expect(store.getState().status).toBe("reconnecting");
  });
});
