import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { envelope, FakeWebSocket } from "@/test/fakeWebSocket";
import { connectPresenceToWebSocket, createPresenceStore, sendTyping } from "./presence";
import { createWebSocketStore } from "./websocket";

beforeEach(() => {
  FakeWebSocket.reset();
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function connectedStores() {
  const ws = createWebSocketStore({ WebSocketImpl: FakeWebSocket, logger: { warn: vi.fn(), error: vi.fn(), info: vi.fn() } });
  const presence = createPresenceStore();
  connectPresenceToWebSocket(ws, presence, () => "alice");
  ws.getState().configure({ url: "ws://x" });
  ws.getState().subscribePost("p1");
  ws.getState().connect();
  FakeWebSocket.last.open();
  return { ws, presence, socket: FakeWebSocket.last };
}

describe("viewers", () => {
  it("come from the subscribed reply and then from presence messages", () => {
    const { presence, socket } = connectedStores();
    expect(presence.getState().viewers.p1).toBeUndefined();
    socket.receive(envelope("subscribed", { postId: "p1", viewers: 2 }));
    expect(presence.getState().viewers.p1).toBe(2);
    socket.receive(envelope("presence", { postId: "p1", viewers: 3 }));
    expect(presence.getState().viewers.p1).toBe(3);
    socket.receive(envelope("presence", { postId: "p1", viewers: 1 }));
    expect(presence.getState().viewers.p1).toBe(1);
  });

  it("are forgotten while the connection is down, and come back with the subscribed replies", () => {
    const { presence, socket } = connectedStores();
    socket.receive(envelope("subscribed", { postId: "p1", viewers: 2 }));
    socket.receive(envelope("typing", { postId: "p1", userId: "bob" }));
    socket.drop();
    expect(presence.getState()).toMatchObject({ viewers: {}, typing: {} });
    vi.advanceTimersByTime(3000);
    FakeWebSocket.last.open();
    FakeWebSocket.last.receive(envelope("subscribed", { postId: "p1", viewers: 3 }));
    expect(presence.getState().viewers.p1).toBe(3);
  });

  it("ignore malformed counts", () => {
    const { presence, socket } = connectedStores();
    socket.receive(envelope("presence", { postId: "p1", viewers: 2 }));
    socket.receive(envelope("presence", { postId: "p1", viewers: "many" }));
    socket.receive(envelope("presence", { postId: "p1", viewers: -1 }));
    socket.receive(envelope("presence", { viewers: 9 }));
    expect(presence.getState().viewers).toEqual({ p1: 2 });
  });
});

describe("typing", () => {
  it("shows a user until 5 s after their last typing", () => {
    const { presence, socket } = connectedStores();
    socket.receive(envelope("typing", { postId: "p1", userId: "bob" }));
    expect(Object.keys(presence.getState().typing.p1!)).toEqual(["bob"]);
    vi.advanceTimersByTime(4000);
    socket.receive(envelope("typing", { postId: "p1", userId: "bob" })); // starts the 5 s again
    vi.advanceTimersByTime(4999);
    expect(Object.keys(presence.getState().typing.p1!)).toEqual(["bob"]);
    vi.advanceTimersByTime(1);
    expect(presence.getState().typing.p1).toEqual({});
  });

  it("keeps several users apart and ignores this user's own typing (another tab)", () => {
    const { presence, socket } = connectedStores();
    socket.receive(envelope("typing", { postId: "p1", userId: "bob" }));
    vi.advanceTimersByTime(3000);
    socket.receive(envelope("typing", { postId: "p1", userId: "carol" }));
    socket.receive(envelope("typing", { postId: "p1", userId: "alice" }));
    expect(Object.keys(presence.getState().typing.p1!).sort()).toEqual(["bob", "carol"]);
    vi.advanceTimersByTime(2000);
    expect(Object.keys(presence.getState().typing.p1!)).toEqual(["carol"]);
  });

  it("sends typing for a confirmed post at most once per 2 s", () => {
    const { ws, presence, socket } = connectedStores();
    expect(sendTyping(ws, presence, "p1")).toBe(false); // not confirmed yet
    socket.receive(envelope("subscribed", { postId: "p1" }));
    expect(sendTyping(ws, presence, "p1")).toBe(false); // a server without presence
    socket.receive(envelope("subscribed", { postId: "p1", viewers: 1 }));
    expect(sendTyping(ws, presence, "p1")).toBe(true);
    vi.advanceTimersByTime(1999);
    expect(sendTyping(ws, presence, "p1")).toBe(false);
    vi.advanceTimersByTime(1);
    expect(sendTyping(ws, presence, "p1")).toBe(true);
    expect(sendTyping(ws, presence, "p2")).toBe(false); // not subscribed: never sent (NOT_SUBSCRIBED)
    expect(socket.sentJson.filter((m) => m.action === "typing")).toEqual([
      { action: "typing", postId: "p1" },
      { action: "typing", postId: "p1" },
    ]);
  });

  it("clear() forgets viewers and typing", () => {
    const { presence, socket } = connectedStores();
    socket.receive(envelope("subscribed", { postId: "p1", viewers: 4 }));
    socket.receive(envelope("typing", { postId: "p1", userId: "bob" }));
    presence.getState().clear();
    expect(presence.getState()).toMatchObject({ viewers: {}, typing: {} });
    vi.advanceTimersByTime(5000);
    expect(presence.getState().typing).toEqual({});
  });
});
