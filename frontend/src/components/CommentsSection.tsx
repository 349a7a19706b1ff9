"use client";

import { useEffect, useId, useRef, useState, type CSSProperties, type FormEvent, type KeyboardEvent } from "react";

import { useCommentsWebSocket } from "@/hooks/useCommentsWebSocket";
import { useWebSocketManager } from "@/hooks/useWebSocketManager";
import { useTypingSender } from "@/hooks/usePresence";
import { formatFullTimestamp, formatRelative, initials, userHue } from "@/lib/format";
import { threadRows } from "@/lib/threads";
import type { Comment } from "@/lib/types";
import { commentFocusStore, useCommentFocus } from "@/store/commentFocus";
import type { PendingComment } from "@/store/comments";
import { useSession } from "@/store/session";
import { TypingIndicator } from "./PresenceIndicators";

export const MAX_COMMENT_LENGTH = 4000;

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Re-render every 30 s so that relative times ("2 minutes ago") stay true. */
function useNow(intervalMs = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const id = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(id);
  }, [intervalMs]);
  return now;
}

function Avatar({ name }: { name: string }) {
  return (
    <span className="avatar" aria-hidden="true" style={{ backgroundColor: `hsl(${userHue(name)} 55% 42%)` }}>
      {initials(name)}
    </span>
  );
}

function Timestamp({ iso, now, edited }: { iso: string; now: number; edited?: string }) {
  return (
    <span className="comment-time">
      <time dateTime={iso} title={formatFullTimestamp(iso)}>
        {formatRelative(iso, now)}
      </time>
      {edited && (
        <span className="edited" title={`Edited ${formatFullTimestamp(edited)}`}>
          {" "}
          · edited
        </span>
      )}
    </span>
  );
}

/** Indentation of a reply (`--depth` in the stylesheet). */
function depthStyle(depth: number): CSSProperties {
  return { "--depth": depth } as CSSProperties;
}

function CommentItem({
  comment,
  mine,
  now,
  depth,
  replyingTo,
  highlighted,
  canReply,
  onEdit,
  onDelete,
  onReply,
  onTyping,
}: {
  comment: Comment;
  mine: boolean;
  now: number;
  depth: number;
  /** The parent's author, for a reply. */
  replyingTo?: string;
  highlighted: boolean;
  canReply: boolean;
  onEdit: (content: string) => Promise<unknown>;
  onDelete: () => Promise<unknown>;
  onReply: (content: string) => void;
  onTyping: () => void;
}) {
  const [mode, setMode] = useState<"view" | "edit" | "confirm-delete" | "reply">("view");
  const itemRef = useRef<HTMLLIElement>(null);
  const replyButtonRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (!highlighted) return;
    // (jsdom has no scrollIntoView)
    itemRef.current?.scrollIntoView?.({ block: "center", behavior: "smooth" });
    itemRef.current?.focus({ preventScroll: true });
  }, [highlighted]);
  const [draft, setDraft] = useState(comment.content);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const editId = useId();
  const editRef = useRef<HTMLTextAreaElement>(null);
  const editButtonRef = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (mode === "edit") editRef.current?.focus();
  }, [mode]);

  const run = async (fn: () => Promise<unknown>, after: () => void) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      after();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const save = (e?: FormEvent) => {
    e?.preventDefault();
    const content = draft.trim();
    if (!content || content === comment.content) {
      setMode("view");
      return;
    }
    void run(
      () => onEdit(content),
      () => {
        setMode("view");
        editButtonRef.current?.focus();
      },
    );
  };

  const onEditKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Escape") {
      setMode("view");
      setDraft(comment.content);
    } else if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) save();
  };

  const itemProps = {
    ref: itemRef,
    tabIndex: -1,
    id: `comment-${comment.id}`,
    className: `comment${comment.deleted ? " comment-deleted" : ""}${depth ? " comment-reply" : ""}${highlighted ? " comment-highlight" : ""}`,
    style: depthStyle(depth),
    "data-testid": "comment",
    "data-comment-id": comment.id,
    "data-seq": comment.seq,
    "data-depth": depth,
    "data-parent-id": comment.parentId,
    "data-deleted": comment.deleted ? "true" : undefined,
  };

  if (comment.deleted) {
    return (
      <li {...itemProps}>
        <span className="avatar avatar-deleted" aria-hidden="true" />
        <div className="comment-body">
          <p className="comment-content muted" data-testid="comment-content">
            Comment deleted
          </p>
        </div>
      </li>
    );
  }

  return (
    <li {...itemProps}>
      <Avatar name={comment.userId} />
      <div className="comment-body">
        <div className="comment-meta">
          <span className="comment-author" data-testid="comment-author">
            {comment.userId}
          </span>
          {mine && <span className="you">you</span>}
          {replyingTo && (
            <span className="replying-to" data-testid="replying-to">
              <span aria-hidden="true">↳ </span>
              <span className="visually-hidden">in reply to </span>
              {replyingTo}
            </span>
          )}
          <Timestamp iso={comment.createdAt} now={now} edited={comment.updatedAt} />
        </div>
        {mode === "edit" ? (
          <form className="edit-form" onSubmit={save}>
            <label htmlFor={editId} className="visually-hidden">
              Edit comment
            </label>
            <textarea
              id={editId}
              ref={editRef}
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={onEditKey}
              maxLength={MAX_COMMENT_LENGTH}
              rows={3}
              data-testid="comment-edit-input"
            />
            <div className="row">
              <button type="submit" className="btn btn-primary btn-small" disabled={busy || !draft.trim()} data-testid="comment-save">
                {busy ? "Saving…" : "Save"}
              </button>
              <button
                type="button"
                className="btn btn-small btn-ghost"
                onClick={() => {
                  setMode("view");
                  setDraft(comment.content);
                }}
              >
                Cancel
              </button>
            </div>
          </form>
        ) : (
          <p className="comment-content" data-testid="comment-content">
            {comment.content}
          </p>
        )}
        {(canReply || mine) && (mode === "view" || mode === "reply") && (
          <div className="comment-actions">
            {canReply && (
              <button
                type="button"
                ref={replyButtonRef}
                className="link-btn"
                aria-expanded={mode === "reply"}
                onClick={() => setMode(mode === "reply" ? "view" : "reply")}
                data-testid="comment-reply"
              >
                Reply
              </button>
            )}
            {mine && (
              <>
            <button
              type="button"
              ref={editButtonRef}
              className="link-btn"
              onClick={() => {
                setDraft(comment.content);
                setMode("edit");
              }}
              data-testid="comment-edit"
            >
              Edit
            </button>
            <button type="button" className="link-btn danger" onClick={() => setMode("confirm-delete")} data-testid="comment-delete">
              Delete
            </button>
              </>
            )}
          </div>
        )}
        {mode === "reply" && (
          <CommentForm
            label={`Reply to ${comment.userId}`}
            submitLabel="Post reply"
            testIdPrefix="reply"
            autoFocus
            onPost={(content) => {
              onReply(content);
              setMode("view");
              replyButtonRef.current?.focus();
            }}
            onTyping={onTyping}
            onCancel={() => {
              setMode("view");
              replyButtonRef.current?.focus();
            }}
          />
        )}
        {mine && mode === "confirm-delete" && (
          <div className="comment-actions" role="group" aria-label="Confirm delete">
            <span className="muted">Delete this comment?</span>
            <button
              type="button"
              className="btn btn-small btn-danger"
              disabled={busy}
              autoFocus
              onClick={() => void run(onDelete, () => undefined)}
              data-testid="comment-delete-confirm"
            >
              {busy ? "Deleting…" : "Delete"}
            </button>
            <button type="button" className="btn btn-small btn-ghost" onClick={() => setMode("view")}>
              Cancel
            </button>
          </div>
        )}
        {error && (
          <p role="alert" className="error-text">
            {error}
          </p>
        )}
      </div>
    </li>
  );
}

function PendingItem({
  pending,
  depth,
  onRetry,
  onDiscard,
}: {
  pending: PendingComment;
  depth: number;
  onRetry: () => void;
  onDiscard: () => void;
}) {
  return (
    <li
      className={`comment comment-pending${depth ? " comment-reply" : ""}${pending.status === "failed" ? " comment-failed" : ""}`}
      style={depthStyle(depth)}
      data-testid="comment"
      data-pending="true"
      data-depth={depth}
      data-parent-id={pending.parentId}
    >
      <Avatar name={pending.userId} />
      <div className="comment-body">
        <div className="comment-meta">
          <span className="comment-author">{pending.userId}</span>
          <span className="you">you</span>
          <span className="comment-time">{pending.status === "sending" ? "Sending…" : "Not sent"}</span>
        </div>
        <p className="comment-content" data-testid="comment-content">
          {pending.content}
        </p>
        {pending.status === "failed" && (
          <div className="comment-actions">
            <span role="alert" className="error-text">
              {pending.error ?? "Could not post."}
            </span>
            <button type="button" className="link-btn" onClick={onRetry}>
              Retry
            </button>
            <button type="button" className="link-btn danger" onClick={onDiscard}>
              Discard
            </button>
          </div>
        )}
      </div>
    </li>
  );
}

function CommentForm({
  onPost,
  onTyping,
  onCancel,
  disabled = false,
  label = "Add a comment",
  submitLabel = "Post comment",
  testIdPrefix = "comment",
  autoFocus = false,
}: {
  onPost: (content: string) => void;
  /** Called as the user types (the caller paces what it sends). */
  onTyping?: () => void;
  onCancel?: () => void;
  disabled?: boolean;
  label?: string;
  submitLabel?: string;
  testIdPrefix?: string;
  autoFocus?: boolean;
}) {
  const [text, setText] = useState("");
  const inputId = useId();
  const hintId = useId();
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const trimmed = text.trim();
  const tooLong = text.length > MAX_COMMENT_LENGTH;

  useEffect(() => {
    if (autoFocus) inputRef.current?.focus();
  }, [autoFocus]);

  const submit = (e?: FormEvent) => {
    e?.preventDefault();
    if (!trimmed || tooLong || disabled) return;
    onPost(trimmed);
    setText("");
  };

  return (
    <form className={`comment-form${onCancel ? " reply-form" : ""}`} onSubmit={submit} aria-label={label}>
      <label htmlFor={inputId}>{label}</label>
      <textarea
        id={inputId}
        ref={inputRef}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value.trim()) onTyping?.();
        }}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) submit();
          else if (e.key === "Escape" && onCancel) onCancel();
        }}
        rows={onCancel ? 2 : 3}
        placeholder={onCancel ? "Write a reply…" : "Write something nice…"}
        aria-describedby={hintId}
        disabled={disabled}
        data-testid={`${testIdPrefix}-input`}
      />
      <div className="row between">
        <span id={hintId} className={`muted small${tooLong ? " error-text" : ""}`}>
          {text.length}/{MAX_COMMENT_LENGTH} · Ctrl+Enter to post
        </span>
        <div className="row">
          {onCancel && (
            <button type="button" className="btn btn-small btn-ghost" onClick={onCancel}>
              Cancel
            </button>
          )}
          <button
            type="submit"
            className={`btn btn-primary${onCancel ? " btn-small" : ""}`}
            disabled={disabled || !trimmed || tooLong}
            data-testid={`${testIdPrefix}-submit`}
          >
            {submitLabel}
          </button>
        </div>
      </div>
    </form>
  );
}

/** A post's comments: live list, post form, edit/delete of one's own, older pages over REST. */
export function CommentsSection({ postId, title }: { postId: string; title?: string }) {
  const { comments, pending, loaded, error, hasOlder, loadingOlder, status, actions } = useCommentsWebSocket(postId);
  const { retry } = useWebSocketManager();
  const auth = useSession((s) => s.auth);
  const now = useNow();
  const headingId = useId();
  const [postError, setPostError] = useState<string | null>(null);

  const sendTyping = useTypingSender(postId);
  const focusedId = useCommentFocus((s) => s.commentId);

  const onPost = (content: string, parentId?: string) => {
    setPostError(null);
    actions.post(content, parentId).catch((err: unknown) => setPostError(errorText(err)));
  };

  const total = comments.length + pending.length;
  const authors = new Map(comments.map((c) => [c.id, c.userId]));
  const rows = threadRows<
    { id: string; parentId?: string } & ({ kind: "comment"; comment: Comment } | { kind: "pending"; pending: PendingComment })
  >([
    ...comments.map((comment) => ({ id: comment.id, parentId: comment.parentId, kind: "comment" as const, comment })),
    ...pending.map((p) => ({ id: p.tempId, parentId: p.parentId, kind: "pending" as const, pending: p })),
  ]);
  const focusShown = focusedId !== null && authors.has(focusedId);

  // Highlight the comment a notification pointed at once it is shown, then let it go.
  useEffect(() => {
    if (!focusShown) return;
    const id = setTimeout(() => commentFocusStore.getState().focus(null), 4000);
    return () => clearTimeout(id);
  }, [focusShown]);

  return (
    <section className="card comments" aria-labelledby={headingId} data-testid="comments-section" data-post-id={postId}>
      <h2 id={headingId} className="comments-title">
        Comments {loaded && <span className="count">({comments.filter((c) => !c.deleted).length})</span>}
        {title && <span className="visually-hidden"> on {title}</span>}
      </h2>

      {error && (
        <p role="alert" className="banner banner-error" data-testid="comments-error">
          {error}
        </p>
      )}
      {loaded && status === "offline" && (
        <p className="banner banner-warn" data-testid="comments-offline">
          Live updates are paused: new comments will appear when the connection is back.
        </p>
      )}

      {!loaded && status === "offline" && error && (
        <div className="row">
          <button type="button" className="btn btn-small" onClick={() => void actions.loadOverRest()}>
            Try again
          </button>
          <button type="button" className="btn btn-small btn-ghost" onClick={retry}>
            Reconnect live updates
          </button>
        </div>
      )}

      {!loaded && !error && (
        <div className="loading" aria-busy="true" data-testid="comments-loading">
          <span className="spinner" aria-hidden="true" /> Loading comments…
        </div>
      )}

      {loaded && hasOlder && (
        <div className="older">
          <button type="button" className="btn btn-small" onClick={() => void actions.loadOlder()} disabled={loadingOlder} data-testid="load-older">
            {loadingOlder ? "Loading…" : "Load older comments"}
          </button>
        </div>
      )}

      {loaded && total === 0 && (
        <p className="empty" data-testid="comments-empty">
          No comments yet. Start the conversation!
        </p>
      )}

      {total > 0 && (
        <ol className="comment-list" data-testid="comment-list" aria-live="polite" aria-relevant="additions">
          {rows.map(({ item, depth }) =>
            item.kind === "comment" ? (
              <CommentItem
                key={item.id}
                comment={item.comment}
                mine={auth?.userId === item.comment.userId}
                now={now}
                depth={depth}
                replyingTo={item.parentId ? authors.get(item.parentId) : undefined}
                highlighted={focusShown && focusedId === item.id}
                canReply={Boolean(auth)}
                onEdit={(content) => actions.edit(item.id, content)}
                onDelete={() => actions.remove(item.id)}
                onReply={(content) => onPost(content, item.id)}
                onTyping={sendTyping}
              />
            ) : (
              <PendingItem
                key={item.id}
                pending={item.pending}
                depth={depth}
                onRetry={() => void actions.retryPending(item.id)}
                onDiscard={() => actions.discardPending(item.id)}
              />
            ),
          )}
        </ol>
      )}

      {postError && (
        <p role="alert" className="error-text">
          {postError}
        </p>
      )}
      {auth ? (
        <>
          <CommentForm onPost={(content) => onPost(content)} onTyping={sendTyping} />
          <TypingIndicator postId={postId} />
        </>
      ) : (
        <p className="muted">Sign in to comment.</p>
      )}
    </section>
  );
}
