/**
 * Comments per post (Zustand): deduplicated by id, ordered by seq, with optimistic posts that
 * are reconciled by id when the 201 (or the matching `comment.created`) arrives.
 */
import { useStore } from "zustand";
import { createStore, type StoreApi } from "zustand/vanilla";

import * as api from "@/lib/api";
import { maxSeq, mergeComments, minSeq, removeComment, replaceComment } from "@/lib/comments";
import type { Comment, Envelope } from "@/lib/types";
import { isComment } from "@/lib/types";
import type { Gap } from "./postSubscriptions";
import { GAP, RECONNECTED, type WebSocketStore } from "./websocket";

export interface PendingComment {
  tempId: string;
  idempotencyKey: string;
  postId: string;
  content: string;
  userId: string;
  createdAt: string;
  /** Set for a reply. */
  parentId?: string;
  status: "sending" | "failed";
  error?: string;
}

export interface PostComments {
  comments: Comment[];
  /** The first `comments.list` (or REST page) has arrived. */
  loaded: boolean;
  deletedIds: Record<string, true>;
  pending: PendingComment[];
  /** No comments older than the oldest held one remain on the server. */
  olderExhausted: boolean;
  loadingOlder: boolean;
  error: string | null;
}

export interface AuthContext {
  apiUrl: string;
  token: string;
  userId: string;
}

export interface CommentsState {
  posts: Record<string, PostComments>;
  applyMessage(message: Envelope): void;
  merge(postId: string, comments: Comment[]): void;
  setError(postId: string, error: string | null): void;
  clear(postId?: string): void;
  /** Post a comment, or a reply to `parentId` (a comment of the same post). */
  postComment(ctx: AuthContext, postId: string, content: string, parentId?: string): Promise<Comment | null>;
  retryPending(ctx: AuthContext, postId: string, tempId: string): Promise<Comment | null>;
  discardPending(postId: string, tempId: string): void;
  editComment(ctx: AuthContext, postId: string, commentId: string, content: string): Promise<Comment>;
  deleteComment(ctx: AuthContext, postId: string, commentId: string): Promise<void>;
  loadOlder(apiUrl: string, postId: string): Promise<void>;
  /**
   * Re-read the held window over REST (from the oldest held seq) and apply what `since`
   * cannot replay: comments edited or deleted while the connection was down.
   */
  resync(apiUrl: string, postId: string): Promise<void>;
  /** Every comment after `after` over REST (following `nextCursor`): what a `since` list left out. */
  fetchGap(apiUrl: string, postId: string, after: number): Promise<Comment[]>;
  /** Fallback when the WebSocket cannot deliver the first list: read the post over REST. */
  loadOverRest(apiUrl: string, postId: string): Promise<void>;
}

export type CommentsStore = StoreApi<CommentsState>;

export const EMPTY_POST: PostComments = Object.freeze({
  comments: [],
  loaded: false,
  deletedIds: {},
  pending: [],
  olderExhausted: false,
  loadingOlder: false,
  error: null,
}) as PostComments;

export function hasOlder(post: PostComments): boolean {
  if (!post.loaded || post.olderExhausted) return false;
  const min = minSeq(post.comments);
  return min !== undefined && min > 1;
}

function removeHeld(p: PostComments, commentId: string): Partial<PostComments> {
  return { comments: removeComment(p.comments, commentId), deletedIds: { ...p.deletedIds, [commentId]: true } };
}

/** A tombstone replaces the comment (even one removed a moment ago), so that its replies keep their parent. */
function keepTombstone(p: PostComments, tombstone: Comment): Partial<PostComments> {
  const deletedIds = { ...p.deletedIds };
  delete deletedIds[tombstone.id];
  return { comments: replaceComment(p.comments, tombstone, deletedIds), deletedIds };
}

export interface CommentsStoreOptions {
  fetchImpl?: typeof fetch;
  pageSize?: number;
  newKey?: () => string;
  now?: () => number;
}

export function createCommentsStore(options: CommentsStoreOptions = {}): CommentsStore {
  const fetchImpl = (...args: Parameters<typeof fetch>) => (options.fetchImpl ?? fetch)(...args);
  const pageSize = options.pageSize ?? 50;
  const newKey = options.newKey ?? api.newIdempotencyKey;
  const now = options.now ?? (() => Date.now());

  return createStore<CommentsState>()((set, get) => {
    const update = (postId: string, fn: (p: PostComments) => Partial<PostComments>) => {
      set((state) => {
        const prev = state.posts[postId] ?? EMPTY_POST;
        return { posts: { ...state.posts, [postId]: { ...prev, ...fn(prev) } } };
      });
    };

    /** Drop the optimistic copy once the real comment is known. */
    const reconcile = (p: PostComments, real: Comment, tempId?: string): PendingComment[] => {
      if (tempId) return p.pending.filter((x) => x.tempId !== tempId);
      const idx = p.pending.findIndex(
        (x) =>
          x.status === "sending" &&
          x.userId === real.userId &&
          x.content === real.content &&
          (x.parentId ?? null) === (real.parentId ?? null),
      );
      return idx === -1 ? p.pending : p.pending.filter((_, i) => i !== idx);
    };

    const send = async (ctx: AuthContext, pending: PendingComment): Promise<Comment | null> => {
      try {
        const comment = await api.createComment(
          ctx.apiUrl,
          ctx.token,
          pending.postId,
          pending.content,
          pending.idempotencyKey,
          fetchImpl,
          pending.parentId,
        );
        update(pending.postId, (p) => ({
          comments: mergeComments(p.comments, [comment], p.deletedIds),
          pending: reconcile(p, comment, pending.tempId),
        }));
        return comment;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        update(pending.postId, (p) => ({
          pending: p.pending.map((x) =>
            x.tempId === pending.tempId ? { ...x, status: "failed" as const, error: message } : x,
          ),
        }));
        return null;
      }
    };

    return {
      posts: {},

      applyMessage(message) {
        const data = (message.data ?? {}) as Record<string, unknown>;
        const postId = typeof data.postId === "string" ? data.postId : undefined;
        if (!postId) return;
        switch (message.type) {
          case "comments.list": {
            const incoming = Array.isArray(data.comments) ? (data.comments as unknown[]).filter(isComment) : [];
            update(postId, (p) => {
              const first = !p.loaded;
              return {
                comments: mergeComments(p.comments, incoming, p.deletedIds),
                loaded: true,
                error: null,
                olderExhausted: p.olderExhausted || (first && data.hasMore === false),
              };
            });
            break;
          }
          case "comment.created": {
            if (!isComment(data.comment)) return;
            const comment = data.comment;
            update(postId, (p) => ({
              comments: mergeComments(p.comments, [comment], p.deletedIds),
              pending: reconcile(p, comment),
            }));
            break;
          }
          case "comment.updated": {
            if (!isComment(data.comment)) return;
            const comment = data.comment;
            update(postId, (p) => ({ comments: replaceComment(p.comments, comment, p.deletedIds) }));
            break;
          }
          case "comment.deleted": {
            const commentId = typeof data.commentId === "string" ? data.commentId : undefined;
            if (!commentId) return;
            // A comment with replies stays as a tombstone (`"comment"` present), in its place.
            const tombstone = isComment(data.comment) && data.comment.id === commentId ? data.comment : null;
            update(postId, (p) => (tombstone ? keepTombstone(p, tombstone) : removeHeld(p, commentId)));
            break;
          }
          default:
            break;
        }
      },

      merge(postId, comments) {
        update(postId, (p) => ({ comments: mergeComments(p.comments, comments, p.deletedIds) }));
      },

      setError(postId, error) {
        update(postId, () => ({ error }));
      },

      clear(postId) {
        if (postId === undefined) set({ posts: {} });
        else
          set((state) => {
            const posts = { ...state.posts };
            delete posts[postId];
            return { posts };
          });
      },

      async postComment(ctx, postId, content, parentId) {
        const key = newKey();
        const pending: PendingComment = {
          tempId: `pending-${key}`,
          idempotencyKey: key,
          postId,
          content,
          userId: ctx.userId,
          createdAt: new Date(now()).toISOString(),
          ...(parentId ? { parentId } : {}),
          status: "sending",
        };
        update(postId, (p) => ({ pending: [...p.pending, pending] }));
        return send(ctx, pending);
      },

      async retryPending(ctx, postId, tempId) {
        const pending = (get().posts[postId] ?? EMPTY_POST).pending.find((x) => x.tempId === tempId);
        if (!pending) return null;
        update(postId, (p) => ({
          pending: p.pending.map((x) => (x.tempId === tempId ? { ...x, status: "sending" as const, error: undefined } : x)),
        }));
        // Same Idempotency-Key: if the first POST did go through, the server returns it again.
        return send(ctx, { ...pending, status: "sending" });
      },

      discardPending(postId, tempId) {
        update(postId, (p) => ({ pending: p.pending.filter((x) => x.tempId !== tempId) }));
      },

      async editComment(ctx, postId, commentId, content) {
        const comment = await api.updateComment(ctx.apiUrl, ctx.token, postId, commentId, content, fetchImpl);
        update(postId, (p) => ({ comments: mergeComments(p.comments, [comment], p.deletedIds) }));
        return comment;
      },

      async deleteComment(ctx, postId, commentId) {
        await api.deleteComment(ctx.apiUrl, ctx.token, postId, commentId, fetchImpl);
        update(postId, (p) => {
          const held = p.comments.find((c) => c.id === commentId);
          // The server keeps a comment with replies as a tombstone; show it so until its message comes.
          if (held && p.comments.some((c) => c.parentId === commentId)) {
            return keepTombstone(p, { ...held, content: "", deleted: true, updatedAt: new Date(now()).toISOString() });
          }
          return removeHeld(p, commentId);
        });
      },

      async loadOlder(apiUrl, postId) {
        const post = get().posts[postId] ?? EMPTY_POST;
        const min = minSeq(post.comments);
        if (post.loadingOlder) return;
        if (min === undefined || min <= 1) {
          update(postId, () => ({ olderExhausted: true }));
          return;
        }
        const after = Math.max(0, min - 1 - pageSize);
        update(postId, () => ({ loadingOlder: true, error: null }));
        try {
          // seq is dense per post, so the window (after, min) holds at most pageSize comments;
          // follow nextCursor in case the server pages smaller.
          const fetched: Comment[] = [];
          let cursor: string | undefined;
          for (let i = 0; i < 20; i++) {
            const page = await api.listComments(apiUrl, postId, { after, cursor, limit: pageSize }, fetchImpl);
            fetched.push(...(page.comments ?? []).filter(isComment));
            if (!page.nextCursor || maxSeq(page.comments ?? []) >= min - 1) break;
            cursor = page.nextCursor;
          }
          update(postId, (p) => ({
            comments: mergeComments(p.comments, fetched, p.deletedIds),
            loadingOlder: false,
            olderExhausted: after === 0,
          }));
        } catch (err) {
          update(postId, () => ({
            loadingOlder: false,
            error: `Could not load older comments: ${err instanceof Error ? err.message : String(err)}`,
          }));
        }
      },
      fetchGap(apiUrl, postId, after) {
        return api.listCommentsAfter(apiUrl, postId, after, fetchImpl);
      },

      async loadOverRest(apiUrl, postId) {
        update(postId, () => ({ error: null }));
        try {
          const all = await api.listCommentsAfter(apiUrl, postId, 0, fetchImpl);
          update(postId, (p) => ({
            comments: mergeComments(p.comments, all, p.deletedIds),
            loaded: true,
            olderExhausted: true,
            error: null,
          }));
        } catch (err) {
          update(postId, () => ({ error: `Comments could not be loaded: ${err instanceof Error ? err.message : String(err)}` }));
        }
      },

      async resync(apiUrl, postId) {
        const post = get().posts[postId];
        const min = post ? minSeq(post.comments) : undefined;
        if (!post?.loaded || min === undefined) return;
        // Comments created later get a higher seq, so anything held now in [min, upTo] that the
        // complete REST answer lacks was deleted.
        const upTo = maxSeq(post.comments);
        let fetched: Comment[];
        try {
          fetched = await api.listCommentsAfter(apiUrl, postId, min - 1, fetchImpl);
        } catch {
          return; // best effort: the live list stays as it is
        }
        const present = new Set(fetched.map((c) => c.id));
        update(postId, (p) => {
          const gone = p.comments.filter((c) => c.seq >= min && c.seq <= upTo && !present.has(c.id));
          const deletedIds = { ...p.deletedIds };
          for (const c of gone) deletedIds[c.id] = true;
          const kept = gone.length ? p.comments.filter((c) => !deletedIds[c.id]) : p.comments;
          return { comments: mergeComments(kept, fetched, deletedIds), deletedIds };
        });
      },
    };
  });
}

/**
 * Route the WebSocket store's comment messages into a comments store; returns the detach.
 * It also recovers what the connection cannot replay: a gap (a `since` list with `hasMore`) is
 * paged over REST and routed back as a `comments.list`, so that the next `since` counts it; after
 * a reconnect the held window is re-read for edits and deletions.
 */
export function connectCommentsToWebSocket(
  ws: WebSocketStore,
  comments: CommentsStore,
  logger: Pick<Console, "warn"> = console,
): () => void {
  const apply = (m: Envelope) => comments.getState().applyMessage(m);
  const offs = ["comments.list", "comment.created", "comment.updated", "comment.deleted"].map((type) =>
    ws.getState().subscribe(type, apply),
  );
  offs.push(
    ws.getState().subscribe(GAP, (m) => {
      const { postId, after } = m.data as Gap;
      const { apiUrl } = ws.getState();
      if (!apiUrl) {
        logger.warn(`[comments] hasMore for ${postId} but no apiUrl configured`);
        return;
      }
      comments
        .getState()
        .fetchGap(apiUrl, postId, after)
        .then((list) =>
          ws.getState().route({
            type: "comments.list",
            data: { postId, comments: list, count: list.length, hasMore: false },
            timestamp: new Date().toISOString(),
          }),
        )
        .catch((err: unknown) => logger.warn(`[comments] REST recovery for ${postId} failed`, err));
    }),
    ws.getState().subscribe(RECONNECTED, () => {
      const { apiUrl, subscribedPosts } = ws.getState();
      if (!apiUrl) return;
      for (const postId of subscribedPosts) void comments.getState().resync(apiUrl, postId);
    }),
  );
  return () => offs.forEach((off) => off());
}

/** The app-wide comments state. */
export const commentsStore: CommentsStore = createCommentsStore();

export function useCommentsStore<T>(selector: (state: CommentsState) => T): T {
  return useStore(commentsStore, selector);
}
