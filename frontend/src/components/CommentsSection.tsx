"use client";

import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from "react";

import { useCommentsWebSocket } from "@/hooks/useCommentsWebSocket";
import { useWebSocketManager } from "@/hooks/useWebSocketManager";
import { formatFullTimestamp, formatRelative, initials, userHue } from "@/lib/format";
import type { Comment } from "@/lib/types";
import type { PendingComment } from "@/store/comments";
import { useSession } from "@/store/session";

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

function CommentItem({
  comment,
  mine,
  now,
  onEdit,
  onDelete,
}: {
  comment: Comment;
  mine: boolean;
  now: number;
  onEdit: (content: string) => Promise<unknown>;
  onDelete: () => Promise<unknown>;
}) {
  const [mode, setMode] = useState<"view" | "edit" | "confirm-delete">("view");
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

  return (
    <li className="comment" data-testid="comment" data-comment-id={comment.id} data-seq={comment.seq}>
      <Avatar name={comment.userId} />
      <div className="comment-body">
        <div className="comment-meta">
          <span className="comment-author" data-testid="comment-author">
            {comment.userId}
          </span>
          {mine && <span className="you">you</span>}
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
        {mine && mode === "view" && (
          <div className="comment-actions">
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
          </div>
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
  onRetry,
  onDiscard,
}: {
  pending: PendingComment;
  onRetry: () => void;
  onDiscard: () => void;
}) {
  return (
    <li className={`comment comment-pending${pending.status === "failed" ? " comment-failed" : ""}`} data-testid="comment" data-pending="true">
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

function CommentForm({ onPost, disabled }: { onPost: (content: string) => void; disabled: boolean }) {
  const [text, setText] = useState("");
  const inputId = useId();
  const hintId = useId();
  const trimmed = text.trim();
  const tooLong = text.length > MAX_COMMENT_LENGTH;

  const submit = (e?: FormEvent) => {
    e?.preventDefault();
    if (!trimmed || tooLong || disabled) return;
    onPost(trimmed);
    setText("");
  };

  return (
    <form className="comment-form" onSubmit={submit} aria-label="Add a comment">
      <label htmlFor={inputId}>Add a comment</label>
      <textarea
        id={inputId}
        value={text}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) submit();
        }}
        rows={3}
        placeholder="Write something nice…"
        aria-describedby={hintId}
        disabled={disabled}
        data-testid="comment-input"
      />
      <div className="row between">
        <span id={hintId} className={`muted small${tooLong ? " error-text" : ""}`}>
          {text.length}/{MAX_COMMENT_LENGTH} · Ctrl+Enter to post
        </span>
        <button type="submit" className="btn btn-primary" disabled={disabled || !trimmed || tooLong} data-testid="comment-submit">
          Post comment
        </button>
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

  const onPost = (content: string) => {
    setPostError(null);
    actions.post(content).catch((err: unknown) => setPostError(errorText(err)));
  };

  const total = comments.length + pending.length;

  return (
    <section className="card comments" aria-labelledby={headingId} data-testid="comments-section" data-post-id={postId}>
      <h2 id={headingId} className="comments-title">
        Comments {loaded && <span className="count">({comments.length})</span>}
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
          {comments.map((c) => (
            <CommentItem
              key={c.id}
              comment={c}
              mine={auth?.userId === c.userId}
              now={now}
              onEdit={(content) => actions.edit(c.id, content)}
              onDelete={() => actions.remove(c.id)}
            />
          ))}
          {pending.map((p) => (
            <PendingItem
              key={p.tempId}
              pending={p}
              onRetry={() => void actions.retryPending(p.tempId)}
              onDiscard={() => actions.discardPending(p.tempId)}
            />
          ))}
        </ol>
      )}

      {postError && (
        <p role="alert" className="error-text">
          {postError}
        </p>
      )}
      {auth ? (
        <CommentForm onPost={onPost} disabled={false} />
      ) : (
        <p className="muted">Sign in to comment.</p>
      )}
    </section>
  );
}
