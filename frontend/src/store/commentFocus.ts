/** The comment to scroll to and highlight once it is shown (a notification's link, a toast's View). */
import { useStore } from "zustand";
import { createStore } from "zustand/vanilla";

export interface CommentFocusState {
  commentId: string | null;
  focus(commentId: string | null): void;
}

export const commentFocusStore = createStore<CommentFocusState>()((set) => ({
  commentId: null,
  focus(commentId) {
    set({ commentId });
  },
}));

export function useCommentFocus<T>(selector: (state: CommentFocusState) => T): T {
  return useStore(commentFocusStore, selector);
}

/** `#comment-<id>` links to a comment. */
export const COMMENT_HASH_PREFIX = "#comment-";

export function commentHash(commentId: string): string {
  return `${COMMENT_HASH_PREFIX}${encodeURIComponent(commentId)}`;
}

export function commentIdFromHash(hash: string): string | null {
  if (!hash.startsWith(COMMENT_HASH_PREFIX)) return null;
  try {
    return decodeURIComponent(hash.slice(COMMENT_HASH_PREFIX.length)) || null;
  } catch {
    return null;
  }
}
