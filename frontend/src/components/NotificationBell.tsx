"use client";

import { useEffect, useId, useRef, useState, type MouseEvent } from "react";

import { formatFullTimestamp, formatRelative } from "@/lib/format";
import { postTitle } from "@/lib/posts";
import type { Notification } from "@/lib/types";
import { commentHash } from "@/store/commentFocus";
import { useCommentsStore } from "@/store/comments";
import { inboxStore, useInbox, type InboxContext } from "@/store/inbox";

export function notificationText(n: Pick<Notification, "actorId" | "postId">): string {
  return `${n.actorId} replied to your comment on “${postTitle(n.postId)}”`;
}

export function notificationHref(n: Pick<Notification, "postId" | "commentId">): string {
  return `?post=${encodeURIComponent(n.postId)}${commentHash(n.commentId)}`;
}

function BellIcon() {
  return (
    <svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" strokeWidth="2">
      <path d="M18 8a6 6 0 1 0-12 0c0 7-3 9-3 9h18s-3-2-3-9" strokeLinecap="round" strokeLinejoin="round" />
      <path d="M13.7 21a2 2 0 0 1-3.4 0" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}

/** The reply's text, when this page holds it (notifications carry ids only). */
function ReplyExcerpt({ notification }: { notification: Notification }) {
  const content = useCommentsStore(
    (s) => s.posts[notification.postId]?.comments.find((c) => c.id === notification.commentId)?.content,
  );
  if (!content) return null;
  return <span className="bell-excerpt small">{content.length > 100 ? `${content.slice(0, 99)}…` : content}</span>;
}

/**
 * The header's bell: the unread count, and a panel with the newest notifications (loaded over
 * REST when opened), each a link that opens the post at the reply, and "Mark all read".
 */
export function NotificationBell({
  context,
  onOpenComment,
}: {
  /** Where the REST calls go and whose they are; null while signed out. */
  context: () => InboxContext | null;
  onOpenComment: (postId: string, commentId: string) => void;
}) {
  const { items, unreadCount, loaded, loading, error, nextCursor } = useInbox((s) => s);
  const [open, setOpen] = useState(false);
  const [now, setNow] = useState(() => Date.now());
  const panelId = useId();
  const rootRef = useRef<HTMLDivElement>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);

  // Close on Escape or a click outside.
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        setOpen(false);
        buttonRef.current?.focus();
      }
    };
    const onPointer = (e: PointerEvent) => {
      if (rootRef.current && !rootRef.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("pointerdown", onPointer);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("pointerdown", onPointer);
    };
  }, [open]);

  const toggle = () => {
    const next = !open;
    setOpen(next);
    if (!next) return;
    setNow(Date.now());
    const ctx = context();
    if (ctx) void inboxStore.getState().load(ctx);
  };

  const openOne = (e: MouseEvent<HTMLAnchorElement>, n: Notification) => {
    // A plain click stays in the app; a modified one (new tab) follows the link.
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    setOpen(false);
    onOpenComment(n.postId, n.commentId);
    const ctx = context();
    if (ctx && !n.read) void inboxStore.getState().markRead(ctx, [n.id]);
  };

  const markAll = () => {
    const ctx = context();
    if (ctx) void inboxStore.getState().markAllRead(ctx);
  };

  return (
    <div className="bell" ref={rootRef}>
      <button
        type="button"
        ref={buttonRef}
        className="bell-button"
        aria-expanded={open}
        aria-controls={panelId}
        aria-label={unreadCount ? `Notifications, ${unreadCount} unread` : "Notifications"}
        onClick={toggle}
        data-testid="bell"
        data-unread={unreadCount}
      >
        <BellIcon />
        {unreadCount > 0 && (
          <span className="bell-count" data-testid="bell-count" aria-hidden="true">
            {unreadCount > 99 ? "99+" : unreadCount}
          </span>
        )}
      </button>
      {open && (
        <div id={panelId} className="bell-panel" role="region" aria-label="Notifications" data-testid="bell-panel">
          <div className="bell-head">
            <h2 className="bell-title">Notifications</h2>
            <button type="button" className="link-btn" onClick={markAll} disabled={unreadCount === 0} data-testid="mark-all-read">
              Mark all read
            </button>
          </div>
          {error && (
            <p role="alert" className="error-text small">
              {error}
            </p>
          )}
          {!loaded && loading && (
            <p className="loading small" aria-busy="true">
              <span className="spinner" aria-hidden="true" /> Loading…
            </p>
          )}
          {loaded && items.length === 0 && (
            <p className="muted small bell-empty" data-testid="bell-empty">
              No notifications yet. Replies to your comments show up here.
            </p>
          )}
          {items.length > 0 && (
            <ul className="bell-list">
              {items.map((n) => (
                <li key={n.id} className={`bell-item${n.read ? "" : " bell-item-unread"}`} data-testid="notification" data-read={n.read}>
                  <a href={notificationHref(n)} onClick={(e) => openOne(e, n)} data-testid="notification-link">
                    {!n.read && <span className="visually-hidden">Unread: </span>}
                    {notificationText(n)}
                  </a>
                  <ReplyExcerpt notification={n} />
                  <time className="muted small" dateTime={n.createdAt} title={formatFullTimestamp(n.createdAt)}>
                    {formatRelative(n.createdAt, now)}
                  </time>
                </li>
              ))}
            </ul>
          )}
          {nextCursor && (
            <button
              type="button"
              className="btn btn-small btn-ghost"
              disabled={loading}
              onClick={() => {
                const ctx = context();
                if (ctx) void inboxStore.getState().loadMore(ctx);
              }}
            >
              {loading ? "Loading…" : "Older notifications"}
            </button>
          )}
        </div>
      )}
    </div>
  );
}
