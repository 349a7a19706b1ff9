"use client";

import { useCallback, useEffect, useRef, useState } from "react";

import { useWebSocketSubscription } from "@/hooks/useWebSocketManager";
import { postTitle } from "@/lib/posts";
import type { Envelope, Notification } from "@/lib/types";
import { isComment } from "@/lib/types";
import { commentsStore, useCommentsStore } from "@/store/comments";
import { inboxContext, inboxStore } from "@/store/inbox";
import { notificationsStore, useNotifications, type Toast } from "@/store/notifications";
import { sessionStore } from "@/store/session";
import { notificationText } from "./NotificationBell";

export const TOAST_DURATION_MS = 6000;

function excerpt(text: string, max = 140): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export type ViewHandler = (postId: string, commentId?: string) => void;

function ToastItem({ toast, onView }: { toast: Toast; onView?: ViewHandler }) {
  const dismiss = useNotifications((s) => s.dismiss);
  // A reply's text, once this page holds it (the notification may arrive before the comment).
  const replyText = useCommentsStore((s) =>
    toast.kind === "reply" && toast.postId && toast.commentId
      ? s.posts[toast.postId]?.comments.find((c) => c.id === toast.commentId)?.content
      : undefined,
  );
  const body = toast.body || (replyText ? excerpt(replyText) : "");
  const [paused, setPaused] = useState(false);
  const remaining = useRef(TOAST_DURATION_MS);
  const startedAt = useRef(0);

  // Auto-dismiss, paused while hovered or focused (WCAG 2.2.1).
  useEffect(() => {
    if (paused) return;
    startedAt.current = Date.now();
    const id = setTimeout(() => dismiss(toast.id), remaining.current);
    return () => {
      clearTimeout(id);
      remaining.current = Math.max(1000, remaining.current - (Date.now() - startedAt.current));
    };
  }, [paused, dismiss, toast.id]);

  return (
    <li
      className={`toast toast-${toast.kind}`}
      data-testid="toast"
      data-kind={toast.kind}
      onMouseEnter={() => setPaused(true)}
      onMouseLeave={() => setPaused(false)}
      onFocus={() => setPaused(true)}
      onBlur={() => setPaused(false)}
    >
      <div className="toast-text">
        <p className="toast-title">{toast.title}</p>
        {body && (
          <p className="toast-body" data-testid="toast-body">
            {body}
          </p>
        )}
      </div>
      <div className="toast-actions">
        {toast.postId && onView && (
          <button
            type="button"
            className="btn btn-small"
            onClick={() => {
              onView(toast.postId!, toast.commentId);
              const ctx = inboxContext();
              if (toast.notificationId && ctx) void inboxStore.getState().markRead(ctx, [toast.notificationId]);
              dismiss(toast.id);
            }}
          >
            View
          </button>
        )}
        <button type="button" className="toast-close" aria-label="Dismiss notification" onClick={() => dismiss(toast.id)}>
          ×
        </button>
      </div>
    </li>
  );
}

/** The toast for a reply to one's comment (`notification.created`); it shows the reply's text once held. */
export function pushReplyToast(notification: Notification): void {
  notificationsStore.getState().push({
    kind: "reply",
    title: notificationText(notification),
    body: "",
    postId: notification.postId,
    commentId: notification.commentId,
    notificationId: notification.id,
  });
}

/**
 * Global toasts: a new comment by someone else on a subscribed post that is not shown, and
 * `test` messages (replies to one's comments come from the inbox: `pushReplyToast`). Announced
 * politely to screen readers.
 */
export function RealtimeNotifications({ onViewPost }: { onViewPost?: ViewHandler }) {
  const toasts = useNotifications((s) => s.toasts);

  const onCreated = useCallback((message: Envelope) => {
    const data = message.data as { postId?: unknown; comment?: unknown };
    if (typeof data?.postId !== "string" || !isComment(data.comment)) return;
    const { auth, activePostId } = sessionStore.getState();
    if (data.comment.userId === auth?.userId || data.postId === activePostId) return;
    // A reply to one of this user's comments gets its own toast, from the notification.
    const parentId = data.comment.parentId;
    const parent = parentId ? commentsStore.getState().posts[data.postId]?.comments.find((c) => c.id === parentId) : undefined;
    if (parent && parent.userId === auth?.userId) return;
    notificationsStore.getState().push({
      kind: "comment",
      title: `${data.comment.userId} commented on “${postTitle(data.postId)}”`,
      body: excerpt(data.comment.content),
      postId: data.postId,
      commentId: data.comment.id,
    });
  }, []);

  const onTest = useCallback((message: Envelope) => {
    const raw = (message.data as { message?: unknown } | null)?.message;
    const body = typeof raw === "string" ? raw : JSON.stringify(raw ?? message.data);
    notificationsStore.getState().push({ kind: "test", title: "Test message", body: excerpt(body) });
  }, []);

  useWebSocketSubscription("comment.created", onCreated);
  useWebSocketSubscription("test", onTest);

  return (
    <div className="toasts" role="region" aria-label="Notifications" data-testid="toast-region">
      <ol aria-live="polite" aria-relevant="additions">
        {toasts.map((t) => (
          <ToastItem key={t.id} toast={t} onView={onViewPost} />
        ))}
      </ol>
    </div>
  );
}
