/**
 * Post subscriptions: ref-counted (`{"action":"subscribe"}` on the first acquire, `unsubscribe`
 * after the last release), subscribed again after every open with `since` = the highest `seq`
 * seen for the post, and the server's `subscribed` replies tracked per connection.
 *
 * A `comments.list` answering a `since` that says `hasMore` is a gap: `observe` returns it, and
 * the comments state pages the rest over REST.
 */
import type { ClientAction, Comment, Envelope } from "@/lib/types";
import { isComment } from "@/lib/types";

export interface SubscriptionsSnapshot {
  subscribedPosts: string[];
  /** Posts whose `subscribed` reply arrived on the current connection. */
  confirmedPosts: string[];
}

/** Comments after `after` are missing from what the server listed for `postId`. */
export interface Gap {
  postId: string;
  after: number;
}

export interface PostSubscriptions {
  /** Returns the release function (idempotent). */
  acquire(postId: string): () => void;
  /** After every open: subscribe each post again, with `since` where a `seq` is known. */
  resubscribeAll(): void;
  /** The connection is gone: nothing is confirmed any more. */
  lost(): void;
  /** Note what a message says about subscriptions and `seq`; returns a gap to recover, if any. */
  observe(message: Envelope): Gap | null;
  lastSeq(postId: string): number | undefined;
}

export function createPostSubscriptions(
  send: (payload: ClientAction) => boolean,
  changed: (patch: Partial<SubscriptionsSnapshot>) => void,
): PostSubscriptions {
  const refs = new Map<string, number>();
  const seqs = new Map<string, number>();
  /** `since` sent with the latest subscribe per post on the current connection. */
  const sinceSent = new Map<string, number | undefined>();
  let confirmed: string[] = [];

  const setConfirmed = (next: string[]) => {
    confirmed = next;
    changed({ confirmedPosts: next });
  };

  const sendSubscribe = (postId: string) => {
    const since = seqs.get(postId);
    const payload: ClientAction =
      since === undefined ? { action: "subscribe", postId } : { action: "subscribe", postId, since };
    if (send(payload)) sinceSent.set(postId, since);
  };

  const noteSeq = (postId: string, seq: number) => {
    const prev = seqs.get(postId);
    if (prev === undefined || seq > prev) seqs.set(postId, seq);
  };

  return {
    acquire(postId) {
      const n = refs.get(postId) ?? 0;
      refs.set(postId, n + 1);
      if (n === 0) {
        changed({ subscribedPosts: [...refs.keys()] });
        sendSubscribe(postId);
      }
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (refs.get(postId) ?? 1) - 1;
        if (left > 0) {
          refs.set(postId, left);
          return;
        }
        refs.delete(postId);
        sinceSent.delete(postId);
        changed({ subscribedPosts: [...refs.keys()] });
        setConfirmed(confirmed.filter((id) => id !== postId));
        send({ action: "unsubscribe", postId });
      };
    },

    resubscribeAll() {
      sinceSent.clear();
      setConfirmed([]);
      for (const postId of refs.keys()) sendSubscribe(postId);
    },

    lost() {
      setConfirmed([]);
    },

    observe(message) {
      const data = (message.data ?? {}) as Record<string, unknown>;
      const postId = typeof data.postId === "string" ? data.postId : undefined;
      if (!postId) return null;
      switch (message.type) {
        case "subscribed":
          if (refs.has(postId) && !confirmed.includes(postId)) setConfirmed([...confirmed, postId]);
          return null;
        case "comment.created":
        case "comment.updated":
          if (isComment(data.comment)) noteSeq(postId, data.comment.seq);
          return null;
        case "comments.list": {
          const comments = Array.isArray(data.comments) ? (data.comments as unknown[]).filter(isComment) : [];
          const since = sinceSent.get(postId);
          sinceSent.delete(postId);
          let max = since ?? 0;
          for (const c of comments as Comment[]) max = Math.max(max, c.seq);
          noteSeq(postId, max);
          // The first list (no since) is the latest page by design; older ones page on request.
          return data.hasMore === true && since !== undefined ? { postId, after: max } : null;
        }
        default:
          return null;
      }
    },

    lastSeq(postId) {
      return seqs.get(postId);
    },
  };
}
