import { act, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { Notification } from "@/lib/types";
import { commentFocusStore } from "@/store/commentFocus";
import { commentsStore, connectCommentsToWebSocket } from "@/store/comments";
import { inboxStore } from "@/store/inbox";
import { notificationsStore } from "@/store/notifications";
import { connectPresenceToWebSocket, presenceStore } from "@/store/presence";
import { sessionStore } from "@/store/session";
import { webSocketStore } from "@/store/websocket";
import { connectGlobal } from "@/test/connectGlobal";
import { comment, envelope, FakeWebSocket, jsonResponse } from "@/test/fakeWebSocket";
import { CommentsSection } from "./CommentsSection";
import { NotificationBell } from "./NotificationBell";
import { typingText, ViewerCount } from "./PresenceIndicators";
import { pushReplyToast, RealtimeNotifications } from "./RealtimeNotifications";

const config = { websocketUrl: "ws://h:1", apiUrl: "http://api", tokenUrl: "http://api/dev/token" };
const ctx = { apiUrl: "http://api", token: "t" };
const P = "post-1";
const c = (seq: number, extra: Record<string, unknown> = {}) => comment(P, seq, extra);

function notification(extra: Partial<Notification> = {}): Notification {
  return {
    id: "n1",
    type: "reply",
    postId: "post-2",
    commentId: "c-reply",
    parentId: "c-mine",
    actorId: "bob",
    createdAt: new Date().toISOString(),
    read: false,
    ...extra,
  };
}

const detaches: (() => void)[] = [];

beforeEach(() => {
  FakeWebSocket.reset();
  detaches.push(connectCommentsToWebSocket(webSocketStore, commentsStore));
  detaches.push(connectPresenceToWebSocket(webSocketStore, presenceStore, () => "alice"));
  commentsStore.getState().clear();
  presenceStore.getState().clear();
  inboxStore.getState().clear();
  commentFocusStore.getState().focus(null);
  notificationsStore.setState({ toasts: [], unread: {} });
  sessionStore.setState({
    config,
    auth: { token: "t", userId: "alice", username: "alice", expiresAt: Date.now() + 3600_000, provider: "local" },
    activePostId: P,
  });
});

afterEach(() => {
  detaches.splice(0).forEach((off) => off());
  act(() => webSocketStore.getState().disconnect());
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("replies", () => {
  it("nest under their parent, indented up to 3 levels, and a tombstone keeps its place", () => {
    const ws = connectGlobal();
    render(<CommentsSection postId={P} />);
    const list = [
      c(1, { userId: "bob" }),
      c(2),
      c(3, { parentId: c(1).id, userId: "carol" }),
      c(4, { parentId: c(3).id }),
      c(5, { parentId: c(4).id }),
      c(6, { parentId: c(5).id }),
      c(7, { parentId: c(2).id, userId: "bob" }),
    ];
    act(() => ws.receive(envelope("comments.list", { postId: P, comments: list, count: list.length, hasMore: false })));
    const rows = () => screen.getAllByTestId("comment").map((li) => [Number(li.dataset.seq), Number(li.dataset.depth)]);
    expect(rows()).toEqual([
      [1, 0],
      [3, 1],
      [4, 2],
      [5, 3],
      [6, 3],
      [2, 0],
      [7, 1],
    ]);
    const reply = screen.getAllByTestId("comment")[1]!;
    expect(within(reply).getByTestId("replying-to").textContent).toContain("bob");

    act(() =>
      ws.receive(envelope("comment.deleted", { postId: P, commentId: c(1).id, comment: c(1, { userId: "bob", content: "", deleted: true, updatedAt: "2026-09-01T00:00:00Z" }) })),
    );
    const first = screen.getAllByTestId("comment")[0]!;
    expect(first.dataset.deleted).toBe("true");
    expect(within(first).getByTestId("comment-content").textContent).toBe("Comment deleted");
    expect(within(first).queryByTestId("comment-reply")).toBeNull();
    expect(rows()[1]).toEqual([3, 1]);
    expect(screen.getByRole("heading", { name: /Comments/ }).textContent).toContain("(6)");
  });

  it("Reply opens a form under the comment that posts with parentId; the pending reply sits under its parent", async () => {
    const ws = connectGlobal();
    let answer!: (r: Response) => void;
    const fetchMock = vi.fn<typeof fetch>(() => new Promise<Response>((r) => (answer = r)));
    vi.stubGlobal("fetch", fetchMock);
    render(<CommentsSection postId={P} />);
    act(() => ws.receive(envelope("comments.list", { postId: P, comments: [c(1, { userId: "bob" }), c(2)], count: 2, hasMore: false })));
    const parent = screen.getAllByTestId("comment")[0]!;
    fireEvent.click(within(parent).getByTestId("comment-reply"));
    const input = within(parent).getByLabelText("Reply to bob", { selector: "textarea" });
    expect(document.activeElement).toBe(input);
    fireEvent.change(input, { target: { value: "a reply" } });
    fireEvent.click(within(parent).getByTestId("reply-submit"));
    expect(JSON.parse(String(fetchMock.mock.calls[0]![1]!.body))).toEqual({ content: "a reply", parentId: c(1).id });
    expect(screen.queryByTestId("reply-input")).toBeNull();
    const items = screen.getAllByTestId("comment");
    expect(items[1]!.dataset.pending).toBe("true");
    expect(items[1]!.dataset.depth).toBe("1");
    await act(async () => answer(jsonResponse(c(3, { content: "a reply", parentId: c(1).id }), 201)));
    await vi.waitFor(() => expect(screen.getAllByTestId("comment").map((li) => li.dataset.seq)).toEqual(["1", "3", "2"]));
  });
});

describe("presence", () => {
  it("shows the viewer count once the server says it", () => {
    const ws = connectGlobal();
    render(<ViewerCount postId={P} />);
    expect(screen.queryByTestId("viewer-count")).toBeNull();
    act(() => ws.receive(envelope("subscribed", { postId: P, viewers: 1 })));
    expect(screen.getByTestId("viewer-count").textContent).toBe("1 viewing");
    act(() => ws.receive(envelope("presence", { postId: P, viewers: 3 })));
    expect(screen.getByTestId("viewer-count").textContent).toBe("3 viewing");
  });

  it("shows who is typing under the box for 5 s, and the box sends typing at most once per 2 s", () => {
    vi.useFakeTimers();
    const ws = connectGlobal();
    render(<CommentsSection postId={P} />);
    act(() => webSocketStore.getState().subscribePost(P));
    act(() => ws.receive(envelope("subscribed", { postId: P, viewers: 2 })));
    act(() => ws.receive(envelope("comments.list", { postId: P, comments: [], count: 0, hasMore: false })));
    const indicator = screen.getByTestId("typing-indicator");
    expect(indicator.textContent).toBe("");
    act(() => ws.receive(envelope("typing", { postId: P, userId: "bob" })));
    expect(indicator.textContent).toBe("bob is typing…");
    act(() => vi.advanceTimersByTime(4999));
    expect(indicator.textContent).toBe("bob is typing…");
    act(() => vi.advanceTimersByTime(1));
    expect(indicator.textContent).toBe("");

    const input = screen.getByTestId("comment-input");
    for (const text of ["h", "he", "hel"]) fireEvent.change(input, { target: { value: text } });
    act(() => vi.advanceTimersByTime(2000));
    fireEvent.change(input, { target: { value: "hell" } });
    expect(ws.sentJson.filter((m) => m.action === "typing")).toEqual([
      { action: "typing", postId: P },
      { action: "typing", postId: P },
    ]);
  });

  it("words several typists", () => {
    expect(typingText(["bob"])).toBe("bob is typing…");
    expect(typingText(["bob", "carol"])).toBe("bob and carol are typing…");
    expect(typingText(["a", "b", "c"])).toBe("3 people are typing…");
    expect(typingText([])).toBe("");
  });
});

describe("notification bell", () => {
  it("shows the unread count, lists over REST, opens the post at the reply and marks it read", async () => {
    const onOpen = vi.fn();
    const pushed = notification({ id: "n-pushed" });
    const fetchMock = vi.fn<typeof fetch>(async (url) =>
      String(url).endsWith("/read")
        ? jsonResponse({ unreadCount: 0 })
        : jsonResponse({
            notifications: [pushed, notification({ id: "n0", commentId: "c-old", createdAt: "2026-01-01T00:00:00Z", read: true })],
            unreadCount: 1,
            nextCursor: null,
          }),
    );
    vi.stubGlobal("fetch", fetchMock);
    render(<NotificationBell context={() => ctx} onOpenComment={onOpen} />);
    const bell = screen.getByTestId("bell");
    expect(screen.queryByTestId("bell-count")).toBeNull();
    act(() => void inboxStore.getState().receive(pushed));
    expect(screen.getByTestId("bell-count").textContent).toBe("1");
    expect(bell.getAttribute("aria-label")).toBe("Notifications, 1 unread");

    fireEvent.click(bell);
    await vi.waitFor(() => expect(screen.getAllByTestId("notification")).toHaveLength(2));
    expect(String(fetchMock.mock.calls[0]![0])).toBe("http://api/api/v1/notifications?limit=20");
    const link = within(screen.getAllByTestId("notification")[0]!).getByTestId("notification-link");
    expect(link.textContent).toContain("bob replied to your comment on “How the WebSocket stays connected”");
    expect(link.getAttribute("href")).toBe("?post=post-2#comment-c-reply");
    fireEvent.click(link);
    expect(onOpen).toHaveBeenCalledWith("post-2", "c-reply");
    expect(screen.queryByTestId("bell-panel")).toBeNull();
    expect(screen.queryByTestId("bell-count")).toBeNull();
    await vi.waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(2));
    expect(JSON.parse(String(fetchMock.mock.calls[1]![1]!.body))).toEqual({ ids: ["n-pushed"] });
  });

  it("mark all read clears the count", async () => {
    const fetchMock = vi.fn<typeof fetch>(async (url) =>
      String(url).endsWith("/read") ? jsonResponse({ unreadCount: 0 }) : jsonResponse({ notifications: [notification()], unreadCount: 1, nextCursor: null }),
    );
    vi.stubGlobal("fetch", fetchMock);
    render(<NotificationBell context={() => ctx} onOpenComment={vi.fn()} />);
    fireEvent.click(screen.getByTestId("bell"));
    await vi.waitFor(() => expect(screen.getByTestId("bell-count").textContent).toBe("1"));
    fireEvent.click(screen.getByTestId("mark-all-read"));
    await vi.waitFor(() => expect(screen.queryByTestId("bell-count")).toBeNull());
    expect(JSON.parse(String(fetchMock.mock.calls[1]![1]!.body))).toEqual({ all: true });
    expect(screen.getByTestId("notification").dataset.read).toBe("true");
    expect((screen.getByTestId("mark-all-read") as HTMLButtonElement).disabled).toBe(true);
  });

  it("a reply notification toasts with View, which opens the post at the reply and marks it read", async () => {
    const onView = vi.fn();
    const fetchMock = vi.fn<typeof fetch>().mockResolvedValue(jsonResponse({ unreadCount: 0 }));
    vi.stubGlobal("fetch", fetchMock);
    inboxStore.getState().receive(notification());
    render(<RealtimeNotifications onViewPost={onView} />);
    act(() => pushReplyToast(notification()));
    const toast = screen.getByTestId("toast");
    expect(toast.textContent).toContain("bob replied to your comment on “How the WebSocket stays connected”");
    expect(within(toast).queryByTestId("toast-body")).toBeNull();
    // the reply itself arrives after its notification: its text shows then
    act(() => commentsStore.getState().merge("post-2", [comment("post-2", 2, { id: "c-reply", userId: "bob", content: "thanks for this" })]));
    expect(within(toast).getByTestId("toast-body").textContent).toBe("thanks for this");
    fireEvent.click(within(toast).getByRole("button", { name: "View" }));
    expect(onView).toHaveBeenCalledWith("post-2", "c-reply");
    expect(screen.queryByTestId("toast")).toBeNull();
    await vi.waitFor(() => expect(fetchMock).toHaveBeenCalledTimes(1));
    expect(String(fetchMock.mock.calls[0]![0])).toBe("http://api/api/v1/notifications/read");
    expect(JSON.parse(String(fetchMock.mock.calls[0]![1]!.body))).toEqual({ ids: ["n1"] });
    expect(inboxStore.getState().unreadCount).toBe(0);
  });

  it("no second, plain comment toast for a reply to one's own comment", () => {
    const ws = connectGlobal();
    render(<RealtimeNotifications />);
    act(() => ws.receive(envelope("comments.list", { postId: "post-2", comments: [comment("post-2", 1, { userId: "alice" })], count: 1, hasMore: false })));
    act(() => ws.receive(envelope("comment.created", { postId: "post-2", comment: comment("post-2", 2, { userId: "bob", parentId: comment("post-2", 1).id }) })));
    expect(screen.queryByTestId("toast")).toBeNull();
    act(() => ws.receive(envelope("comment.created", { postId: "post-2", comment: comment("post-2", 3, { userId: "bob" }) })));
    expect(screen.getAllByTestId("toast")).toHaveLength(1);
  });
});
