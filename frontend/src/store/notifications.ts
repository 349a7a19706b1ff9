/** Global toasts (Zustand). */
import { useStore } from "zustand";
import { createStore } from "zustand/vanilla";

export interface Toast {
  id: number;
  kind: "comment" | "reply" | "test" | "info";
  title: string;
  body: string;
  postId?: string;
  /** The comment View scrolls to. */
  commentId?: string;
  /** The notification behind a reply toast (View marks it read). */
  notificationId?: string;
  createdAt: number;
}

export interface NotificationsState {
  toasts: Toast[];
  /** New comments by others per post, while that post is not shown. */
  unread: Record<string, number>;
  push(toast: Omit<Toast, "id" | "createdAt">): number;
  dismiss(id: number): void;
  markRead(postId: string): void;
}

export const MAX_TOASTS = 4;
let nextId = 1;

export const notificationsStore = createStore<NotificationsState>()((set) => ({
  toasts: [],
  unread: {},
  push(toast) {
    const id = nextId++;
    set((s) => ({
      toasts: [...s.toasts, { ...toast, id, createdAt: Date.now() }].slice(-MAX_TOASTS),
      unread:
        toast.kind === "comment" && toast.postId
          ? { ...s.unread, [toast.postId]: (s.unread[toast.postId] ?? 0) + 1 }
          : s.unread,
    }));
    return id;
  },
  dismiss(id) {
    set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
  },
  markRead(postId) {
    set((s) => {
      if (!s.unread[postId]) return s;
      const unread = { ...s.unread };
      delete unread[postId];
      return { unread };
    });
  },
}));

export function useNotifications<T>(selector: (state: NotificationsState) => T): T {
  return useStore(notificationsStore, selector);
}
