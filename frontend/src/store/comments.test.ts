import { describe, expect, it, vi } from "vitest";

import { mergeComments, removeComment, replaceComment } from "@/lib/comments";
import type { Comment } from "@/lib/types";
import { comment, envelope, FakeWebSocket, jsonResponse } from "@/test/fakeWebSocket";
import { connectCommentsToWebSocket, createCommentsStore, EMPTY_POST, hasOlder } from "./comments";
import { createWebSocketStore } from "./websocket";

const c = (seq: number, extra: Record<string, unknown> = {}) => comment("p1", seq, extra) as Comment;
const ctx = { apiUrl: "http://api", token: "jwt", userId: "alice" };

describe("comment reducers", () => {
  it("merge dedupes by id and orders by seq", () => {
    const merged = mergeComments([c(3), c(1)], [c(2), c(3), c(1)]);
    expect(merged.map((x) => x.seq)).toEqual([1, 2, 3]);
    expect(new Set(merged.map((x) => x.id)).size).toBe(3);
  });

  it("merge keeps the newest version of a comment", () => {
    const edited = c(1, { content: "edited", updatedAt: "2026-02-01T00:00:00Z" });
    expect(mergeComments([edited], [c(1)])[0]!.content).toBe("edited");
    expect(mergeComments([c(1)], [edited])[0]!.content).toBe("edited");
  });

  it("merge returns the same array when nothing changes", () => {
    const list = [c(1), c(2)];
    expect(mergeComments(list, [c(1)])).toBe(list);
    expect(mergeComments(list, [])).toBe(list);
  });

  it("merge ignores deleted ids", () => {
    expect(mergeComments([], [c(1), c(2)], { [c(1).id]: true }).map((x) => x.seq)).toEqual([2]);
  });

  it("replace swaps a comment by id; remove drops it", () => {
    const list = [c(1), c(2)];
    const replaced = replaceComment(list, c(2, { content: "new", updatedAt: "2026-03-01T00:00:00Z" }));
    expect(replaced.map((x) => x.content)).toEqual(["comment 1", "new"]);
    expect(removeComment(replaced, c(1).id).map((x) => x.seq)).toEqual([2]);
    expect(removeComment(list, "nope")).toBe(list);
  });
});

describe("comments store: messages", () => {
  it("applies list, created, updated and deleted", () => {
    const store = createCommentsStore();
    const apply = store.getState().applyMessage;
    expect(store.getState().posts.p1).toBeUndefined();
    apply(envelope("comments.list", { postId: "p1", comments: [c(2), c(1)], count: 2, hasMore: false }));
    expect(store.getState().posts.p1!.loaded).toBe(true);
    apply(envelope("comment.created", { postId: "p1", comment: c(3) }));
    apply(envelope("comment.created", { postId: "p1", comment: c(3) })); // duplicate delivery
    apply(envelope("comment.updated", { postId: "p1", comment: c(2, { content: "edited", updatedAt: "2026-05-01T00:00:00Z" }) }));
    apply(envelope("comment.deleted", { postId: "p1", commentId: c(1).id }));
    const post = store.getState().posts.p1!;
    expect(post.comments.map((x) => [x.seq, x.content])).toEqual([
      [2, "edited"],
      [3, "comment 3"],
    ]);
    // a late list that still holds the deleted comment does not resurrect it
    apply(envelope("comments.list", { postId: "p1", comments: [c(1)], count: 1, hasMore: false }));
    expect(store.getState().posts.p1!.comments.map((x) => x.seq)).toEqual([2, 3]);
  });

  it("ignores malformed payloads", () => {
    const store = createCommentsStore();
    store.getState().applyMessage(envelope("comment.created", { postId: "p1", comment: { id: 1 } }));
    store.getState().applyMessage(envelope("comment.deleted", { commentId: "x" }));
    expect(store.getState().posts.p1?.comments ?? []).toEqual([]);
  });

  it("receives messages routed by the WebSocket store", () => {
    FakeWebSocket.reset();
    const ws = createWebSocketStore({ WebSocketImpl: FakeWebSocket });
    ws.getState().configure({ url: "ws://x" });
    ws.getState().connect();
    FakeWebSocket.last.open();
    const store = createCommentsStore();
    const detach = connectCommentsToWebSocket(ws, store);
    FakeWebSocket.last.receive(envelope("comment.created", { postId: "p1", comment: c(1) }));
    expect(store.getState().posts.p1!.comments).toHaveLength(1);
    detach();
    FakeWebSocket.last.receive(envelope("comment.created", { postId: "p1", comment: c(2) }));
    expect(store.getState().posts.p1!.comments).toHaveLength(1);
    ws.getState().disconnect();
  });
});

describe("comments store: optimistic post", () => {
  it("POSTs with Bearer and Idempotency-Key and reconciles the 201 by id", async () => {
    let resolve!: (r: Response) => void;
    const fetchImpl = vi.fn<typeof fetch>(() => new Promise<Response>((r) => (resolve = r)));
    const store = createCommentsStore({ fetchImpl, newKey: () => "key-1" });
    const done = store.getState().postComment(ctx, "p1", "hello");
    const pending = store.getState().posts.p1!.pending;
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ content: "hello", status: "sending", userId: "alice" });

    const [url, init] = fetchImpl.mock.calls[0]!;
    expect(url).toBe("http://api/api/v1/posts/p1/comments");
    expect(init?.method).toBe("POST");
    expect(init?.headers).toMatchObject({ Authorization: "Bearer jwt", "Idempotency-Key": "key-1" });
    expect(JSON.parse(String(init?.body))).toEqual({ content: "hello" });

    resolve(jsonResponse(c(5, { content: "hello" }), 201));
    await done;
    const post = store.getState().posts.p1!;
    expect(post.pending).toEqual([]);
    expect(post.comments.map((x) => x.id)).toEqual([c(5).id]);
  });

  it("drops the optimistic copy when comment.created arrives before the 201, without duplicates", async () => {
    let resolve!: (r: Response) => void;
    const fetchImpl = vi.fn<typeof fetch>(() => new Promise<Response>((r) => (resolve = r)));
    const store = createCommentsStore({ fetchImpl });
    const done = store.getState().postComment(ctx, "p1", "hi");
    store.getState().applyMessage(envelope("comment.created", { postId: "p1", comment: c(9, { content: "hi" }) }));
    expect(store.getState().posts.p1!.pending).toEqual([]);
    expect(store.getState().posts.p1!.comments).toHaveLength(1);
    resolve(jsonResponse(c(9, { content: "hi" }), 201));
    await done;
    expect(store.getState().posts.p1!.comments).toHaveLength(1);
    expect(store.getState().posts.p1!.pending).toEqual([]);
  });

  it("marks a failed post and retries it with the same Idempotency-Key", async () => {
    const fetchImpl = vi
      .fn<typeof fetch>()
      .mockResolvedValueOnce(jsonResponse({ error: { code: "unavailable", message: "try later" } }, 503))
      .mockResolvedValueOnce(jsonResponse(c(1, { content: "x" }), 201));
    const store = createCommentsStore({ fetchImpl, newKey: () => "same-key" });
    expect(await store.getState().postComment(ctx, "p1", "x")).toBeNull();
    const failed = store.getState().posts.p1!.pending[0]!;
    expect(failed).toMatchObject({ status: "failed", error: "try later" });
    await store.getState().retryPending(ctx, "p1", failed.tempId);
    const keys = fetchImpl.mock.calls.map((call) => (call[1]?.headers as Record<string, string>)["Idempotency-Key"]);
    expect(keys).toEqual(["same-key", "same-key"]);
    expect(store.getState().posts.p1!.pending).toEqual([]);
    expect(store.getState().posts.p1!.comments).toHaveLength(1);
  });
});

describe("comments store: edit, delete, older pages", () => {
  it("edits with PATCH and deletes with DELETE", async () => {
    const fetchImpl = vi
      .fn<typeof fetch>()
      .mockResolvedValueOnce(jsonResponse(c(1, { content: "new", updatedAt: "2026-06-01T00:00:00Z" })))
      .mockResolvedValueOnce(new Response(null, { status: 204 }));
    const store = createCommentsStore({ fetchImpl });
    store.getState().merge("p1", [c(1)]);
    await store.getState().editComment(ctx, "p1", c(1).id, "new");
    expect(fetchImpl.mock.calls[0]![1]?.method).toBe("PATCH");
    expect(store.getState().posts.p1!.comments[0]!.content).toBe("new");
    await store.getState().deleteComment(ctx, "p1", c(1).id);
    expect(fetchImpl.mock.calls[1]![0]).toBe(`http://api/api/v1/posts/p1/comments/${c(1).id}`);
    expect(fetchImpl.mock.calls[1]![1]?.method).toBe("DELETE");
    expect(store.getState().posts.p1!.comments).toEqual([]);
  });

  it("surfaces a 403 on edit as an error", async () => {
    const fetchImpl = vi.fn<typeof fetch>().mockResolvedValue(jsonResponse({ error: { code: "forbidden", message: "not yours" } }, 403));
    const store = createCommentsStore({ fetchImpl });
    await expect(store.getState().editComment(ctx, "p1", "x", "y")).rejects.toThrow("not yours");
  });

  it("loads older comments over REST below the oldest held seq", async () => {
    const older = Array.from({ length: 50 }, (_, i) => c(i + 11));
    const oldest = Array.from({ length: 10 }, (_, i) => c(i + 1));
    const fetchImpl = vi
      .fn<typeof fetch>()
      .mockResolvedValueOnce(jsonResponse({ postId: "p1", comments: older, count: 50, nextCursor: "n" }))
      .mockResolvedValueOnce(jsonResponse({ postId: "p1", comments: oldest, count: 10, nextCursor: null }));
    const store = createCommentsStore({ fetchImpl, pageSize: 50 });
    store.getState().applyMessage(
      envelope("comments.list", { postId: "p1", comments: Array.from({ length: 50 }, (_, i) => c(i + 61)), count: 50, hasMore: true }),
    );
    expect(hasOlder(store.getState().posts.p1!)).toBe(true);
    await store.getState().loadOlder("http://api", "p1");
    expect(String(fetchImpl.mock.calls[0]![0])).toBe("http://api/api/v1/posts/p1/comments?after=10&limit=50");
    expect(store.getState().posts.p1!.comments).toHaveLength(100);
    expect(hasOlder(store.getState().posts.p1!)).toBe(true);
    await store.getState().loadOlder("http://api", "p1");
    expect(String(fetchImpl.mock.calls[1]![0])).toBe("http://api/api/v1/posts/p1/comments?after=0&limit=50");
    const post = store.getState().posts.p1!;
    expect(post.comments.map((x) => x.seq)).toEqual(Array.from({ length: 110 }, (_, i) => i + 1));
    expect(hasOlder(post)).toBe(false);
  });

  it("has no older comments when the first list says hasMore: false", () => {
    const store = createCommentsStore();
    store.getState().applyMessage(envelope("comments.list", { postId: "p1", comments: [c(4)], count: 1, hasMore: false }));
    expect(hasOlder(store.getState().posts.p1!)).toBe(false);
    expect(hasOlder(EMPTY_POST)).toBe(false);
  });
});

describe("comments store: resync after a reconnect", () => {
  it("applies edits and deletions missed while disconnected", async () => {
    const fetchImpl = vi.fn<typeof fetch>().mockResolvedValueOnce(
      jsonResponse({
        postId: "p1",
        comments: [c(2), c(3, { content: "edited meanwhile", updatedAt: "2026-07-01T00:00:00Z" }), c(5)],
        count: 3,
        nextCursor: null,
      }),
    );
    const store = createCommentsStore({ fetchImpl });
    store.getState().applyMessage(envelope("comments.list", { postId: "p1", comments: [c(2), c(3), c(4)], count: 3, hasMore: false }));
    await store.getState().resync("http://api", "p1");
    expect(String(fetchImpl.mock.calls[0]![0])).toBe("http://api/api/v1/posts/p1/comments?after=1");
    const post = store.getState().posts.p1!;
    expect(post.comments.map((x) => [x.seq, x.content])).toEqual([
      [2, "comment 2"],
      [3, "edited meanwhile"],
      [5, "comment 5"],
    ]);
    expect(post.deletedIds[c(4).id]).toBe(true);
  });

  it("runs for every subscribed post when the WebSocket store reconnects (not on the first connect)", async () => {
    vi.useFakeTimers();
    FakeWebSocket.reset();
    const fetchImpl = vi.fn<typeof fetch>().mockResolvedValue(jsonResponse({ postId: "p1", comments: [c(1)], count: 1, nextCursor: null }));
    const ws = createWebSocketStore({ WebSocketImpl: FakeWebSocket });
    ws.getState().configure({ url: "ws://x", apiUrl: "http://api" });
    const store = createCommentsStore({ fetchImpl });
    connectCommentsToWebSocket(ws, store);
    ws.getState().subscribePost("p1");
    ws.getState().connect();
    FakeWebSocket.last.open();
    FakeWebSocket.last.receive(envelope("comments.list", { postId: "p1", comments: [c(1), c(2)], count: 2, hasMore: false }));
    expect(fetchImpl).not.toHaveBeenCalled();
    FakeWebSocket.last.drop();
    vi.advanceTimersByTime(3000);
    FakeWebSocket.last.open();
    vi.useRealTimers();
    await vi.waitFor(() => expect(store.getState().posts.p1!.comments.map((x) => x.seq)).toEqual([1]));
    ws.getState().disconnect();
  });
});

describe("gap recovery", () => {
  it("pages the rest over REST when the recovery list says hasMore, and counts it for the next since", async () => {
    vi.useFakeTimers();
    FakeWebSocket.reset();
    const pages: Record<string, unknown> = {
      "after=6": { postId: "p1", comments: [comment("p1", 7)], count: 1, nextCursor: "c1" },
      "after=6&cursor=c1": { postId: "p1", comments: [comment("p1", 8)], count: 1, nextCursor: null },
      // the re-read after the reconnect (edits and deletions)
      "after=3": { postId: "p1", comments: [4, 5, 6, 7, 8].map((seq) => comment("p1", seq)), count: 5, nextCursor: null },
    };
    const fetchImpl = vi.fn<typeof fetch>(async (url) => jsonResponse(pages[String(url).split("?")[1]!]));
    const ws = createWebSocketStore({ WebSocketImpl: FakeWebSocket });
    ws.getState().configure({ url: "ws://x", apiUrl: "http://api:3002" });
    const store = createCommentsStore({ fetchImpl });
    const detach = connectCommentsToWebSocket(ws, store);
    const lists = vi.fn();
    ws.getState().subscribe("comments.list", lists);
    ws.getState().subscribePost("p1");
    ws.getState().connect();
    FakeWebSocket.last.open();
    FakeWebSocket.last.receive(envelope("comments.list", { postId: "p1", comments: [comment("p1", 4)], count: 1, hasMore: false }));
    FakeWebSocket.last.drop();
    vi.advanceTimersByTime(3000);
    const socket = FakeWebSocket.last;
    socket.open();
    expect(socket.sentJson[0]).toEqual({ action: "subscribe", postId: "p1", since: 4 });
    socket.receive(envelope("comments.list", { postId: "p1", comments: [comment("p1", 5), comment("p1", 6)], count: 2, hasMore: true }));
    vi.useRealTimers();
    await vi.waitFor(() => expect(lists).toHaveBeenCalledTimes(3));

    const urls = fetchImpl.mock.calls.map((call) => String(call[0])).filter((u) => !u.includes("after=3"));
    expect(urls).toEqual([
      "http://api:3002/api/v1/posts/p1/comments?after=6",
      "http://api:3002/api/v1/posts/p1/comments?after=6&cursor=c1",
    ]);
    const recovered = lists.mock.calls[2]![0] as { data: { comments: { seq: number }[]; hasMore: boolean } };
    expect(recovered.data.comments.map((x) => x.seq)).toEqual([7, 8]);
    expect(recovered.data.hasMore).toBe(false);
    expect(ws.getState().getLastSeq("p1")).toBe(8);
    expect(store.getState().posts.p1!.comments.map((x) => x.seq)).toEqual([4, 5, 6, 7, 8]);
    detach();
    ws.getState().disconnect();
  });
});

describe("replies and tombstones", () => {
  it("posts a reply with its parentId and reconciles the pending copy", async () => {
    const fetchImpl = vi.fn<typeof fetch>().mockResolvedValue(jsonResponse(c(2, { content: "re", parentId: c(1).id }), 201));
    const store = createCommentsStore({ fetchImpl, newKey: () => "k1" });
    const created = store.getState().postComment(ctx, "p1", "re", c(1).id);
    expect(store.getState().posts.p1!.pending[0]).toMatchObject({ parentId: c(1).id, status: "sending" });
    await created;
    expect(JSON.parse(String(fetchImpl.mock.calls[0]![1]!.body))).toEqual({ content: "re", parentId: c(1).id });
    expect(store.getState().posts.p1!.pending).toEqual([]);
    expect(store.getState().posts.p1!.comments[0]!.parentId).toBe(c(1).id);
  });

  it("comment.deleted with a tombstone replaces the comment; without one it removes it", () => {
    const store = createCommentsStore();
    const apply = store.getState().applyMessage;
    apply(envelope("comments.list", { postId: "p1", comments: [c(1), c(2, { parentId: c(1).id }), c(3)], count: 3, hasMore: false }));
    const tombstone = c(1, { content: "", deleted: true, updatedAt: "2026-09-01T00:00:00Z" });
    apply(envelope("comment.deleted", { postId: "p1", commentId: c(1).id, comment: tombstone }));
    apply(envelope("comment.deleted", { postId: "p1", commentId: c(3).id }));
    const post = store.getState().posts.p1!;
    expect(post.comments.map((x) => [x.seq, x.deleted ?? false, x.content])).toEqual([
      [1, true, ""],
      [2, false, "comment 2"],
    ]);
    // an older copy in a late list does not bring the content back
    apply(envelope("comments.list", { postId: "p1", comments: [c(1)], count: 1, hasMore: false }));
    expect(store.getState().posts.p1!.comments[0]!.deleted).toBe(true);
  });

  it("deleting one's own comment that has replies leaves a tombstone until the server's arrives", async () => {
    const fetchImpl = vi.fn<typeof fetch>().mockResolvedValue(new Response(null, { status: 204 }));
    const store = createCommentsStore({ fetchImpl });
    const apply = store.getState().applyMessage;
    apply(envelope("comments.list", { postId: "p1", comments: [c(1), c(2, { parentId: c(1).id }), c(3)], count: 3, hasMore: false }));
    await store.getState().deleteComment(ctx, "p1", c(1).id);
    await store.getState().deleteComment(ctx, "p1", c(3).id);
    expect(store.getState().posts.p1!.comments.map((x) => [x.seq, x.deleted ?? false])).toEqual([
      [1, true],
      [2, false],
    ]);
    // the server's message (after the local removal of a comment that also had a reply) wins
    apply(envelope("comment.deleted", { postId: "p1", commentId: c(3).id, comment: c(3, { content: "", deleted: true, updatedAt: "2026-09-01T00:00:00Z" }) }));
    expect(store.getState().posts.p1!.comments.map((x) => x.seq)).toEqual([1, 2, 3]);
  });
});
