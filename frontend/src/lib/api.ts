import type { Comment, CommentsPage, NotificationsPage } from "./types";

/** A failed REST call, carrying the contract's `{"error":{"code","message"}}` when present. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}

export function commentsUrl(apiUrl: string, postId: string, commentId?: string): string {
  const base = `${trimSlash(apiUrl)}/api/v1/posts/${encodeURIComponent(postId)}/comments`;
  return commentId ? `${base}/${encodeURIComponent(commentId)}` : base;
}

async function parseError(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`.trim();
  let code: string | undefined;
  try {
    const body: unknown = await res.json();
    const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    if (err && typeof err.message === "string") message = err.message;
    if (err && typeof err.code === "string") code = err.code;
  } catch {
    // not JSON: keep the status text
  }
  return new ApiError(message, res.status, code);
}

export interface ListOptions {
  after?: number;
  cursor?: string;
  limit?: number;
  signal?: AbortSignal;
}

export async function listComments(
  apiUrl: string,
  postId: string,
  opts: ListOptions = {},
  fetchImpl: typeof fetch = fetch,
): Promise<CommentsPage> {
  const params = new URLSearchParams();
  if (opts.after !== undefined) params.set("after", String(opts.after));
  if (opts.cursor) params.set("cursor", opts.cursor);
  if (opts.limit !== undefined) params.set("limit", String(opts.limit));
  const qs = params.toString();
  const res = await fetchImpl(`${commentsUrl(apiUrl, postId)}${qs ? `?${qs}` : ""}`, {
    headers: { Accept: "application/json" },
    signal: opts.signal,
  });
  if (!res.ok) throw await parseError(res);
  return (await res.json()) as CommentsPage;
}

/**
 * Every comment with `seq > after`, following `nextCursor` page by page (missed-message
 * recovery when the WebSocket list says `hasMore`).
 */
export async function listCommentsAfter(
  apiUrl: string,
  postId: string,
  after: number,
  fetchImpl: typeof fetch = fetch,
  maxPages = 100,
): Promise<Comment[]> {
  const out: Comment[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const res = await listComments(apiUrl, postId, { after, cursor }, fetchImpl);
    out.push(...(res.comments ?? []));
    if (!res.nextCursor) break;
    cursor = res.nextCursor;
  }
  return out;
}

function authHeaders(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}`, Accept: "application/json" };
}

export async function createComment(
  apiUrl: string,
  token: string,
  postId: string,
  content: string,
  idempotencyKey: string,
  fetchImpl: typeof fetch = fetch,
  parentId?: string,
): Promise<Comment> {
  const res = await fetchImpl(commentsUrl(apiUrl, postId), {
    method: "POST",
    headers: { ...authHeaders(token), "Content-Type": "application/json", "Idempotency-Key": idempotencyKey },
    body: JSON.stringify(parentId ? { content, parentId } : { content }),
  });
  if (!res.ok) throw await parseError(res);
  return (await res.json()) as Comment;
}

export async function updateComment(
  apiUrl: string,
  token: string,
  postId: string,
  commentId: string,
  content: string,
  fetchImpl: typeof fetch = fetch,
): Promise<Comment> {
  const res = await fetchImpl(commentsUrl(apiUrl, postId, commentId), {
    method: "PATCH",
    headers: { ...authHeaders(token), "Content-Type": "application/json" },
    body: JSON.stringify({ content }),
  });
  if (!res.ok) throw await parseError(res);
  return (await res.json()) as Comment;
}

export async function deleteComment(
  apiUrl: string,
  token: string,
  postId: string,
  commentId: string,
  fetchImpl: typeof fetch = fetch,
): Promise<void> {
  const res = await fetchImpl(commentsUrl(apiUrl, postId, commentId), {
    method: "DELETE",
    headers: authHeaders(token),
  });
  // 404: already gone (e.g. deleted from another tab) counts as done.
  if (!res.ok && res.status !== 404) throw await parseError(res);
}

export function notificationsUrl(apiUrl: string, path = ""): string {
  return `${trimSlash(apiUrl)}/api/v1/notifications${path}`;
}

/** The caller's notifications, newest first, with their unread count. */
export async function listNotifications(
  apiUrl: string,
  token: string,
  opts: { limit?: number; cursor?: string } = {},
  fetchImpl: typeof fetch = fetch,
): Promise<NotificationsPage> {
  const params = new URLSearchParams();
  if (opts.limit !== undefined) params.set("limit", String(opts.limit));
  if (opts.cursor) params.set("cursor", opts.cursor);
  const qs = params.toString();
  const res = await fetchImpl(`${notificationsUrl(apiUrl)}${qs ? `?${qs}` : ""}`, { headers: authHeaders(token) });
  if (!res.ok) throw await parseError(res);
  return (await res.json()) as NotificationsPage;
}

/** Mark some (`ids`) or all of the caller's notifications read; returns the unread count left. */
export async function markNotificationsRead(
  apiUrl: string,
  token: string,
  which: { ids: string[] } | { all: true },
  fetchImpl: typeof fetch = fetch,
): Promise<number> {
  const res = await fetchImpl(notificationsUrl(apiUrl, "/read"), {
    method: "POST",
    headers: { ...authHeaders(token), "Content-Type": "application/json" },
    body: JSON.stringify(which),
  });
  if (!res.ok) throw await parseError(res);
  return ((await res.json()) as { unreadCount: number }).unreadCount;
}

export interface TokenResponse {
  token: string;
  userId: string;
  expiresIn: number;
}

/** Local development token endpoint: POST {"username"} -> {"token","userId","expiresIn"}. */
export async function fetchDevToken(
  tokenUrl: string,
  username: string,
  fetchImpl: typeof fetch = fetch,
): Promise<TokenResponse> {
  const res = await fetchImpl(tokenUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ username }),
  });
  if (!res.ok) throw await parseError(res);
  return (await res.json()) as TokenResponse;
}

export function newIdempotencyKey(): string {
  const c = globalThis.crypto as Crypto | undefined;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}
