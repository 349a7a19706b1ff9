import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { Notification } from "@/lib/types";
import { envelope, FakeWebSocket, jsonResponse } from "@/test/fakeWebSocket";
import { connectInboxToWebSocket, createInboxStore } from "./inbox";
import { createWebSocketStore } from "./websocket";

const ctx = { apiUrl: "http://api/", token: "jwt" };

function notification(n: number, extra: Partial<Notification> = {}): Notification {
  return {
    id: `n${n}`,
    type: "reply",
    postId: "post-1",
    commentId: `c${n}`,
    parentId: "c0",
    actorId: "bob",
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    read: false,
    ...extra,
  };
}

describe("inbox store", () => {
  it("loads the newest page with the caller's token and the unread count", async () => {
    const fetchImpl = vi.fn<typeof fetch>().mockResolvedValue(
      jsonResponse({ notifications: [notification(2), notification(1, { read: true })], unreadCount: 7, nextCursor: "k" }),
    );
    const inbox = createInboxStore({ fetchImpl });
    await inbox.getState().load(ctx);
    const [url, init] = fetchImpl.mock.calls[0]!;
    expect(String(url)).toBe("http://api/api/v1/notifications?limit=20");
    expect((init!.headers as Record<string, string>).Authorization).toBe("Bearer jwt");
    expect(inbox.getState()).toMatchObject({ unreadCount: 7, nextCursor: "k", loaded: true, loading: false });
    expect(inbox.getState().items.map((n) => n.id)).toEqual(["n2", "n1"]);
  });

  it("pages older notifications with the cursor", async () => {
    const fetchImpl = vi
      .fn<typeof fetch>()
      .mockResolvedValueOnce(jsonResponse({ notifications: [notification(3)], unreadCount: 2, nextCursor: "k" }))
      .mockResolvedValueOnce(jsonResponse({ notifications: [notification(1)], unreadCount: 2, nextCursor: null }));
    const inbox = createInboxStore({ fetchImpl });
    await inbox.getState().load(ctx);
    await inbox.getState().loadMore(ctx);
    expect(String(fetchImpl.mock.calls[1]![0])).toBe("http://api/api/v1/notifications?limit=20&cursor=k");
    expect(inbox.getState().items.map((n) => n.id)).toEqual(["n3", "n1"]);
    expect(inbox.getState().nextCursor).toBeNull();
  });

  it("adds a pushed notification once (delivery is at least once)", () => {
    const inbox = createInboxStore();
    expect(inbox.getState().receive(notification(1))).toBe(true);
    expect(inbox.getState().receive(notification(1))).toBe(false);
    expect(inbox.getState().receive(notification(2))).toBe(true);
    expect(inbox.getState().unreadCount).toBe(2);
    expect(inbox.getState().items.map((n) => n.id)).toEqual(["n2", "n1"]);
  });

  it("keeps a push that arrives while the first page is on its way", async () => {
    let answer!: (r: Response) => void;
    const inbox = createInboxStore({ fetchImpl: () => new Promise<Response>((r) => (answer = r)) });
    const loading = inbox.getState().load(ctx);
    inbox.getState().receive(notification(5));
    answer(jsonResponse({ notifications: [notification(1)], unreadCount: 1, nextCursor: null }));
    await loading;
    expect(inbox.getState().items.map((n) => n.id)).toEqual(["n5", "n1"]);
    expect(inbox.getState().unreadCount).toBe(2);
  });

  it("a page read before a mark all read does not bring the unread ones back", async () => {
    let answerList!: (r: Response) => void;
    const fetchImpl = vi.fn<typeof fetch>((url) =>
      String(url).endsWith("/read")
        ? Promise.resolve(jsonResponse({ unreadCount: 0 }))
        : new Promise<Response>((r) => (answerList = r)),
    );
    const inbox = createInboxStore({ fetchImpl });
    inbox.getState().receive(notification(1));
    const loading = inbox.getState().load(ctx);
    await inbox.getState().markAllRead(ctx);
    expect(inbox.getState().unreadCount).toBe(0);
    answerList(jsonResponse({ notifications: [notification(2), notification(1)], unreadCount: 2, nextCursor: null }));
    await loading;
    expect(inbox.getState().items.map((n) => [n.id, n.read])).toEqual([
      ["n2", true],
      ["n1", true],
    ]);
    expect(inbox.getState().unreadCount).toBe(0);
  });

  it("marks some read (only unread ones are sent) and takes the server's count", async () => {
    const fetchImpl = vi.fn<typeof fetch>().mockResolvedValue(jsonResponse({ unreadCount: 1 }));
    const inbox = createInboxStore({ fetchImpl });
    inbox.getState().receive(notification(1));
    inbox.getState().receive(notification(2));
    inbox.getState().receive(notification(3, { read: true }));
    await inbox.getState().markRead(ctx, ["n1", "n3"]);
    const [url, init] = fetchImpl.mock.calls[0]!;
    expect(String(url)).toBe("http://api/api/v1/notifications/read");
    expect(JSON.parse(String(init!.body))).toEqual({ ids: ["n1"] });
    expect(inbox.getState().items.find((n) => n.id === "n1")!.read).toBe(true);
    expect(inbox.getState().unreadCount).toBe(1);
    await inbox.getState().markRead(ctx, ["n1"]);
    expect(fetchImpl).toHaveBeenCalledTimes(1); // nothing unread among them: no call
  });

  it("marks all read", async () => {
    const fetchImpl = vi.fn<typeof fetch>().mockResolvedValue(jsonResponse({ unreadCount: 0 }));
    const inbox = createInboxStore({ fetchImpl });
    inbox.getState().receive(notification(1));
    inbox.getState().receive(notification(2));
    await inbox.getState().markAllRead(ctx);
    expect(JSON.parse(String(fetchImpl.mock.calls[0]![1]!.body))).toEqual({ all: true });
    expect(inbox.getState().unreadCount).toBe(0);
    expect(inbox.getState().items.every((n) => n.read)).toBe(true);
  });

  it("reports a failed load without losing what it holds", async () => {
    const inbox = createInboxStore({ fetchImpl: vi.fn<typeof fetch>().mockResolvedValue(jsonResponse({ error: { code: "X", message: "nope" } }, 500)) });
    inbox.getState().receive(notification(1));
    await inbox.getState().load(ctx);
    expect(inbox.getState().error).toContain("nope");
    expect(inbox.getState().items).toHaveLength(1);
  });
});

describe("connectInboxToWebSocket", () => {
  beforeEach(() => {
    FakeWebSocket.reset();
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("routes pushes into the inbox, calls onNew once per notification, and reloads after a reconnect", () => {
    const ws = createWebSocketStore({ WebSocketImpl: FakeWebSocket, logger: { warn: vi.fn(), error: vi.fn(), info: vi.fn() } });
    const fetchImpl = vi.fn<typeof fetch>().mockResolvedValue(jsonResponse({ notifications: [], unreadCount: 0, nextCursor: null }));
    const inbox = createInboxStore({ fetchImpl });
    const onNew = vi.fn();
    const detach = connectInboxToWebSocket(ws, inbox, () => ctx, onNew);
    ws.getState().configure({ url: "ws://x" });
    ws.getState().connect();
    FakeWebSocket.last.open();
    FakeWebSocket.last.receive(envelope("notification.created", { notification: notification(1) }));
    FakeWebSocket.last.receive(envelope("notification.created", { notification: notification(1) }));
    FakeWebSocket.last.receive(envelope("notification.created", { notification: { id: "broken" } }));
    expect(onNew).toHaveBeenCalledTimes(1);
    expect(onNew.mock.calls[0]![0]).toMatchObject({ id: "n1", actorId: "bob" });
    expect(inbox.getState().unreadCount).toBe(1);
    expect(fetchImpl).not.toHaveBeenCalled();

    FakeWebSocket.last.drop();
    vi.advanceTimersByTime(3000);
    FakeWebSocket.last.open();
    expect(String(fetchImpl.mock.calls[0]![0])).toBe("http://api/api/v1/notifications?limit=20");
    detach();
    ws.getState().disconnect();
  });
});
