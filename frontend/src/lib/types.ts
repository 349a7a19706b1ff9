/** Types of the message and REST contract (docs/contract.md). */

export interface Comment {
  id: string;
  postId: string;
  content: string;
  userId: string;
  createdAt: string;
  updatedAt?: string;
  seq: number;
  /** The comment this one replies to (same post). */
  parentId?: string;
  /** A deleted comment that still has replies: kept as a tombstone with empty content. */
  deleted?: boolean;
}

/** A stored notification (`GET /api/v1/notifications`, `notification.created`). */
export interface Notification {
  id: string;
  type: "reply";
  postId: string;
  /** The reply. */
  commentId: string;
  /** The comment replied to (the recipient's). */
  parentId: string;
  /** The replier's userId. */
  actorId: string;
  createdAt: string;
  read: boolean;
}

export interface NotificationsPage {
  notifications: Notification[];
  unreadCount: number;
  nextCursor?: string | null;
}

/** Every server-to-client WebSocket message. */
export interface Envelope<T extends string = string, D = unknown> {
  type: T;
  data: D;
  timestamp?: string;
}

export interface CommentsListData {
  postId: string;
  comments: Comment[];
  count: number;
  hasMore?: boolean;
}

export interface CommentEventData {
  postId: string;
  comment: Comment;
}

export interface CommentDeletedData {
  postId: string;
  commentId: string;
}

export interface TestData {
  message: unknown;
}

export type ServerMessage =
  | Envelope<"comment.created", CommentEventData>
  | Envelope<"comment.updated", CommentEventData>
  | Envelope<"comment.deleted", CommentDeletedData>
  | Envelope<"comments.list", CommentsListData>
  | Envelope<"subscribed", { postId: string; viewers?: number }>
  | Envelope<"presence", { postId: string; viewers: number }>
  | Envelope<"typing", { postId: string; userId: string }>
  | Envelope<"notification.created", { notification: Notification }>
  | Envelope<"unsubscribed", { postId: string }>
  | Envelope<"pong", Record<string, never>>
  | Envelope<"test", TestData>
  | Envelope<"error", { action?: string; message?: string }>;

/** Client-to-server actions. */
export type ClientAction =
  | { action: "subscribe"; postId: string; since?: number }
  | { action: "unsubscribe"; postId: string }
  | { action: "typing"; postId: string }
  | { action: "ping" };

export interface CommentsPage {
  postId: string;
  comments: Comment[];
  count: number;
  nextCursor?: string | null;
}

export function isComment(value: unknown): value is Comment {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.id === "string" &&
    typeof c.postId === "string" &&
    typeof c.content === "string" &&
    typeof c.userId === "string" &&
    typeof c.seq === "number"
  );
}

export function isNotification(value: unknown): value is Notification {
  if (typeof value !== "object" || value === null) return false;
  const n = value as Record<string, unknown>;
  return (
    typeof n.id === "string" &&
    typeof n.postId === "string" &&
    typeof n.commentId === "string" &&
    typeof n.actorId === "string" &&
    typeof n.createdAt === "string" &&
    typeof n.read === "boolean"
  );
}
