/**
 * The signed-in user's notifications (Zustand), behind the header's bell: the newest page over
 * REST with the unread count, later pages on request, pushes (`notification.created`, at least
 * once: de-duplicated by id) added on top, and marking read.
 */
import { useStore } from "zustand";
import { createStore, type StoreApi } from "zustand/vanilla";

import * as api from "@/lib/api";
import type { Envelope, Notification } from "@/lib/types";
import { isNotification } from "@/lib/types";
import { sessionStore } from "./session";
import { RECONNECTED, type WebSocketStore } from "./websocket";

export interface InboxContext {
  apiUrl: string;
  token: string;
}

export interface InboxState {
  /** Newest first. */
  items: Notification[];
  unreadCount: number;
  nextCursor: string | null;
  loaded: boolean;
  loading: boolean;
  error: string | null;
  /** Read the newest page (and the unread count) again. */
  load(ctx: InboxContext): Promise<void>;
  loadMore(ctx: InboxContext): Promise<void>;
  /** A pushed notification; returns true when it is new. */
  receive(notification: Notification): boolean;
  markRead(ctx: InboxContext, ids: string[]): Promise<void>;
  markAllRead(ctx: InboxContext): Promise<void>;
  clear(): void;
}

export type InboxStore = StoreApi<InboxState>;

export interface InboxStoreOptions {
  fetchImpl?: typeof fetch;
  pageSize?: number;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function byNewest(a: Notification, b: Notification): number {
  return a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : -1;
}

export function createInboxStore(options: InboxStoreOptions = {}): InboxStore {
  const fetchImpl = (...args: Parameters<typeof fetch>) => (options.fetchImpl ?? fetch)(...args);
  const pageSize = options.pageSize ?? 20;
  /** Pushes received while a first page is on its way: kept if the page does not hold them yet. */
  let pushedDuringLoad: Notification[] | null = null;
  /** Marked read while a first page is on its way: the page (read before) must not undo it. */
  let markedDuringLoad: { all: boolean; ids: Set<string> } | null = null;

  return createStore<InboxState>()((set, get) => ({
    items: [],
    unreadCount: 0,
    nextCursor: null,
    loaded: false,
    loading: false,
    error: null,

    async load(ctx) {
      set({ loading: true, error: null });
      pushedDuringLoad = [];
      markedDuringLoad = { all: false, ids: new Set() };
      try {
        const page = await api.listNotifications(ctx.apiUrl, ctx.token, { limit: pageSize }, fetchImpl);
        const marked = markedDuringLoad;
        const wasMarked = (n: Notification) => marked.all || marked.ids.has(n.id);
        const fetched = (page.notifications ?? [])
          .filter(isNotification)
          .map((n) => (!n.read && wasMarked(n) ? { ...n, read: true } : n));
        const ids = new Set(fetched.map((n) => n.id));
        const extra = (pushedDuringLoad ?? [])
          .filter((n) => !ids.has(n.id))
          .map((n) => (!n.read && wasMarked(n) ? { ...n, read: true } : n));
        set({
          items: [...extra, ...fetched].sort(byNewest),
          // After a mark the held count (optimistic, then the server's answer) is newer than the page's.
          unreadCount:
            marked.all || marked.ids.size ? get().unreadCount : page.unreadCount + extra.filter((n) => !n.read).length,
          nextCursor: page.nextCursor ?? null,
          loaded: true,
          loading: false,
        });
      } catch (err) {
        set({ loading: false, error: `Notifications could not be loaded: ${errorText(err)}` });
      } finally {
        pushedDuringLoad = null;
        markedDuringLoad = null;
      }
    },

    async loadMore(ctx) {
      const { nextCursor, loading } = get();
      if (!nextCursor || loading) return;
      set({ loading: true, error: null });
      try {
        const page = await api.listNotifications(ctx.apiUrl, ctx.token, { limit: pageSize, cursor: nextCursor }, fetchImpl);
        const held = new Set(get().items.map((n) => n.id));
        const older = (page.notifications ?? []).filter((n) => isNotification(n) && !held.has(n.id));
        set((s) => ({ items: [...s.items, ...older], nextCursor: page.nextCursor ?? null, loading: false }));
      } catch (err) {
        set({ loading: false, error: `More notifications could not be loaded: ${errorText(err)}` });
      }
    },

    receive(notification) {
      if (get().items.some((n) => n.id === notification.id)) return false;
      if (pushedDuringLoad) {
        if (pushedDuringLoad.some((n) => n.id === notification.id)) return false;
        pushedDuringLoad.push(notification);
      }
      set((s) => ({
        items: [notification, ...s.items].sort(byNewest),
        unreadCount: s.unreadCount + (notification.read ? 0 : 1),
      }));
      return true;
    },

    async markRead(ctx, ids) {
      const unread = new Set(get().items.filter((n) => !n.read && ids.includes(n.id)).map((n) => n.id));
      if (unread.size === 0) return;
      for (const id of unread) markedDuringLoad?.ids.add(id);
      set((s) => ({
        items: s.items.map((n) => (unread.has(n.id) ? { ...n, read: true } : n)),
        unreadCount: Math.max(0, s.unreadCount - unread.size),
      }));
      try {
        const unreadCount = await api.markNotificationsRead(ctx.apiUrl, ctx.token, { ids: [...unread] }, fetchImpl);
        set({ unreadCount });
      } catch (err) {
        set({ error: `Could not mark as read: ${errorText(err)}` });
      }
    },

    async markAllRead(ctx) {
      if (markedDuringLoad) markedDuringLoad.all = true;
      set((s) => ({ items: s.items.map((n) => (n.read ? n : { ...n, read: true })), error: null }));
      try {
        const unreadCount = await api.markNotificationsRead(ctx.apiUrl, ctx.token, { all: true }, fetchImpl);
        set({ unreadCount });
      } catch (err) {
        set({ error: `Could not mark as read: ${errorText(err)}` });
      }
    },

    clear() {
      set({ items: [], unreadCount: 0, nextCursor: null, loaded: false, loading: false, error: null });
    },
  }));
}

/**
 * Pushed notifications into the inbox (`onNew` for the ones not seen before, e.g. a toast); after
 * a reconnect the newest page is read again, since pushes are not replayed. Returns the detach.
 */
export function connectInboxToWebSocket(
  ws: WebSocketStore,
  inbox: InboxStore,
  context: () => InboxContext | null,
  onNew?: (notification: Notification) => void,
): () => void {
  const offs = [
    ws.getState().subscribe("notification.created", (m: Envelope) => {
      const notification = (m.data as { notification?: unknown } | null)?.notification;
      if (isNotification(notification) && inbox.getState().receive(notification)) onNew?.(notification);
    }),
    ws.getState().subscribe(RECONNECTED, () => {
      const ctx = context();
      if (ctx) void inbox.getState().load(ctx);
    }),
  ];
  return () => offs.forEach((off) => off());
}

/** The signed-in user's REST context for the inbox, from the session. */
export function inboxContext(): InboxContext | null {
  const { config, auth } = sessionStore.getState();
  return config && auth ? { apiUrl: config.apiUrl, token: auth.token } : null;
}

/** The app-wide inbox. */
export const inboxStore: InboxStore = createInboxStore();

export function useInbox<T>(selector: (state: InboxState) => T): T {
  return useStore(inboxStore, selector);
}
