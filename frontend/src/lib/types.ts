/** Types of the message and REST contract (docs/contract.md). */

export interface Comment {
  id: string;
  postId: string;
  content: string;
  userId: string;
  createdAt: string;
  updatedAt?: string;
  seq: number;
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
  | Envelope<"subscribed", { postId: string }>
  | Envelope<"unsubscribed", { postId: string }>
  | Envelope<"pong", Record<string, never>>
  | Envelope<"test", TestData>
  | Envelope<"error", { action?: string; message?: string }>;

/** Client-to-server actions. */
export type ClientAction =
  | { action: "subscribe"; postId: string; since?: number }
  | { action: "unsubscribe"; postId: string }
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
