import { act, renderHook } from "@testing-library/react";
import type { ReactNode } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { connectCommentsToWebSocket, createCommentsStore } from "@/store/comments";
import { createWebSocketStore } from "@/store/websocket";
import { comment, envelope, FakeWebSocket, jsonResponse } from "@/test/fakeWebSocket";
import { useCommentsWebSocket } from "./useCommentsWebSocket";
import { useWebSocket } from "./useWebSocket";
import { usePostSubscriptions, useWebSocketManager, useWebSocketSubscription } from "./useWebSocketManager";
import { WebSocketProvider } from "./WebSocketContext";

function stores(fetchImpl?: typeof fetch) {
  const ws = createWebSocketStore({ WebSocketImpl: FakeWebSocket, logger: { warn: vi.fn(), error: vi.fn(), info: vi.fn() } });
  const comments = createCommentsStore({ fetchImpl });
  connectCommentsToWebSocket(ws, comments);
  return { ws, comments };
}

beforeEach(() => {
  FakeWebSocket.reset();
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("useWebSocket", () => {
  it("connects while mounted, reports status, and disconnects on unmount", () => {
    const { ws } = stores();
    const { result, unmount } = renderHook(() => useWebSocket({ url: "ws://h:1", token: "t", apiUrl: "http://a" }, ws));
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(FakeWebSocket.last.url).toBe("ws://h:1?token=t");
    expect(result.current.status).toBe("connecting");
    act(() => FakeWebSocket.last.open());
    expect(result.current.status).toBe("connected");
    act(() => FakeWebSocket.last.drop());
    expect(result.current).toMatchObject({ status: "reconnecting", attempt: 1, maxAttempts: 5 });
    act(() => vi.advanceTimersByTime(3000));
    act(() => FakeWebSocket.last.open());
    expect(result.current.status).toBe("connected");
    const socket = FakeWebSocket.last;
    unmount();
    expect(socket.readyState).toBe(3);
    expect(ws.getState().status).toBe("idle");
  });

  it("does not connect until enabled", () => {
    const { ws } = stores();
    const { rerender } = renderHook(({ enabled }) => useWebSocket({ url: "ws://h:1", enabled }, ws), {
      initialProps: { enabled: false },
    });
    expect(FakeWebSocket.instances).toHaveLength(0);
    rerender({ enabled: true });
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it("retries at once when the browser comes back online", () => {
    const { ws } = stores();
    renderHook(() => useWebSocket({ url: "ws://h:1" }, ws));
    act(() => FakeWebSocket.last.drop());
    expect(FakeWebSocket.instances).toHaveLength(1);
    act(() => {
      window.dispatchEvent(new Event("online"));
    });
    expect(FakeWebSocket.instances).toHaveLength(2);
  });
});

describe("useWebSocketManager", () => {
  it("exposes the global store's state and retry", () => {
    const { ws } = stores();
    ws.getState().configure({ url: "ws://h:1" });
    const { result } = renderHook(() => useWebSocketManager(ws));
    expect(result.current.status).toBe("idle");
    act(() => result.current.retry());
    expect(result.current.status).toBe("connecting");
    act(() => FakeWebSocket.last.open());
    expect(result.current.status).toBe("connected");
    expect(result.current.send({ action: "ping" })).toBe(true);
  });

  it("reads the store given by WebSocketProvider", () => {
    const { ws } = stores();
    ws.getState().configure({ url: "ws://h:1" });
    const wrapper = ({ children }: { children: ReactNode }) => <WebSocketProvider store={ws}>{children}</WebSocketProvider>;
    const { result } = renderHook(() => useWebSocketManager(), { wrapper });
    act(() => result.current.connect());
    expect(FakeWebSocket.instances).toHaveLength(1);
    act(() => FakeWebSocket.last.open());
    expect(result.current.status).toBe("connected");
  });

  it("useWebSocketSubscription routes messages to the latest handler until unmount", () => {
    const { ws } = stores();
    ws.getState().configure({ url: "ws://h:1" });
    ws.getState().connect();
    FakeWebSocket.last.open();
    const first = vi.fn();
    const second = vi.fn();
    const { rerender, unmount } = renderHook(({ h }) => useWebSocketSubscription("test", h, ws), {
      initialProps: { h: first },
    });
    act(() => FakeWebSocket.last.receive(envelope("test", { message: 1 })));
    rerender({ h: second });
    act(() => FakeWebSocket.last.receive(envelope("test", { message: 2 })));
    unmount();
    act(() => FakeWebSocket.last.receive(envelope("test", { message: 3 })));
    expect(first).toHaveBeenCalledTimes(1);
    expect(second).toHaveBeenCalledTimes(1);
  });

  it("usePostSubscriptions subscribes every listed post", () => {
    const { ws } = stores();
    ws.getState().configure({ url: "ws://h:1" });
    ws.getState().connect();
    FakeWebSocket.last.open();
    const { unmount } = renderHook(() => usePostSubscriptions(["post-1", "post-2"], ws));
    expect(FakeWebSocket.last.sentJson).toEqual([
      { action: "subscribe", postId: "post-1" },
      { action: "subscribe", postId: "post-2" },
    ]);
    unmount();
    expect(FakeWebSocket.last.sentJson.slice(2)).toEqual([
      { action: "unsubscribe", postId: "post-1" },
      { action: "unsubscribe", postId: "post-2" },
    ]);
  });
});

describe("useCommentsWebSocket", () => {
  it("subscribes on mount, shows live comments in seq order, unsubscribes on unmount", () => {
    const { ws, comments } = stores();
    ws.getState().configure({ url: "ws://h:1" });
    ws.getState().connect();
    FakeWebSocket.last.open();
    const { result, unmount } = renderHook(() => useCommentsWebSocket("p1", { ws, comments, getContext: () => null }));
    const socket = FakeWebSocket.last;
    expect(socket.sentJson).toEqual([{ action: "subscribe", postId: "p1" }]);
    expect(result.current.loaded).toBe(false);

    act(() => socket.receive(envelope("comments.list", { postId: "p1", comments: [comment("p1", 2)], count: 1, hasMore: false })));
    expect(result.current.loaded).toBe(true);
    act(() => socket.receive(envelope("comment.created", { postId: "p1", comment: comment("p1", 3) })));
    act(() => socket.receive(envelope("comment.created", { postId: "p1", comment: comment("p1", 1) })));
    act(() => socket.receive(envelope("comment.created", { postId: "p1", comment: comment("p1", 3) })));
    act(() => socket.receive(envelope("comment.created", { postId: "p2", comment: comment("p2", 1) })));
    expect(result.current.comments.map((c) => c.seq)).toEqual([1, 2, 3]);
    act(() => socket.receive(envelope("comment.deleted", { postId: "p1", commentId: comment("p1", 2).id })));
    expect(result.current.comments.map((c) => c.seq)).toEqual([1, 3]);
    expect(result.current.status).toBe("connected");

    unmount();
    expect(socket.sentJson[1]).toEqual({ action: "unsubscribe", postId: "p1" });
  });

  it("posts optimistically through its actions", async () => {
    vi.useRealTimers();
    const fetchImpl = vi.fn<typeof fetch>().mockResolvedValue(jsonResponse(comment("p1", 1, { content: "yo" }), 201));
    const { ws, comments } = stores(fetchImpl);
    const { result } = renderHook(() =>
      useCommentsWebSocket("p1", { ws, comments, getContext: () => ({ apiUrl: "http://a", token: "t", userId: "alice" }) }),
    );
    let promise!: Promise<unknown>;
    act(() => {
      promise = result.current.actions.post("yo");
    });
    expect(result.current.pending).toHaveLength(1);
    await act(async () => {
      await promise;
    });
    expect(result.current.pending).toHaveLength(0);
    expect(result.current.comments.map((c) => c.content)).toEqual(["yo"]);
  });

  it("actions need a signed-in user", () => {
    const { ws, comments } = stores();
    const { result } = renderHook(() => useCommentsWebSocket("p1", { ws, comments, getContext: () => null }));
    expect(() => result.current.actions.post("x")).toThrow("Sign in first");
  });
});
