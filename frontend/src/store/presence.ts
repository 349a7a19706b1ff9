/**
 * Who is there, per post (Zustand): the viewer count (`subscribed` replies and `presence`
 * messages) and who is typing (`typing` messages, each shown until 5 s after that user's last).
 * It also paces the `typing` this client sends: at most one per 2 s, the server's limit.
 */
import { useStore } from "zustand";
import { createStore, type StoreApi } from "zustand/vanilla";

import type { Envelope } from "@/lib/types";
import type { Timers } from "./connection";
import type { WebSocketStore } from "./websocket";

export const TYPING_SHOWN_MS = 5000;
export const TYPING_SEND_INTERVAL_MS = 2000;

export interface PresenceState {
  viewers: Record<string, number>;
  /** postId → userId → epoch ms until which "typing…" shows. */
  typing: Record<string, Record<string, number>>;
  applyMessage(message: Envelope, selfId?: string | null): void;
  /** True (and the slot taken) when a `typing` may be sent now. */
  takeTypingSlot(): boolean;
  clear(): void;
}

export type PresenceStore = StoreApi<PresenceState>;

export interface PresenceStoreOptions {
  timers?: Pick<Timers, "setTimeout" | "clearTimeout">;
  now?: () => number;
  typingShownMs?: number;
  typingSendIntervalMs?: number;
}

export function createPresenceStore(options: PresenceStoreOptions = {}): PresenceStore {
  const timers = options.timers ?? {
    setTimeout: (fn: () => void, ms: number) => globalThis.setTimeout(fn, ms),
    clearTimeout: (id: unknown) => globalThis.clearTimeout(id as ReturnType<typeof setTimeout>),
  };
  const now = options.now ?? (() => Date.now());
  const shownMs = options.typingShownMs ?? TYPING_SHOWN_MS;
  const sendIntervalMs = options.typingSendIntervalMs ?? TYPING_SEND_INTERVAL_MS;
  const expiries = new Map<string, unknown>(); // `${postId}\0${userId}` → timer
  let lastTypingSent = Number.NEGATIVE_INFINITY;

  return createStore<PresenceState>()((set, get) => {
    const stopTyping = (postId: string, userId: string) => {
      expiries.delete(`${postId}\u0000${userId}`);
      const forPost = get().typing[postId];
      if (!forPost || !(userId in forPost)) return;
      const rest = { ...forPost };
      delete rest[userId];
      set((s) => ({ typing: { ...s.typing, [postId]: rest } }));
    };

    const startTyping = (postId: string, userId: string) => {
      const key = `${postId}\u0000${userId}`;
      const previous = expiries.get(key);
      if (previous !== undefined) timers.clearTimeout(previous);
      expiries.set(key, timers.setTimeout(() => stopTyping(postId, userId), shownMs));
      set((s) => ({ typing: { ...s.typing, [postId]: { ...s.typing[postId], [userId]: now() + shownMs } } }));
    };

    return {
      viewers: {},
      typing: {},

      applyMessage(message, selfId) {
        const data = (message.data ?? {}) as Record<string, unknown>;
        const postId = typeof data.postId === "string" ? data.postId : undefined;
        if (!postId) return;
        if (message.type === "subscribed" || message.type === "presence") {
          const viewers = data.viewers;
          if (typeof viewers === "number" && Number.isFinite(viewers) && viewers >= 0) {
            set((s) => ({ viewers: { ...s.viewers, [postId]: viewers } }));
          }
        } else if (message.type === "typing") {
          // The server never echoes one's own typing; another tab of the same user is not news.
          if (typeof data.userId === "string" && data.userId !== selfId) startTyping(postId, data.userId);
        }
      },

      takeTypingSlot() {
        const t = now();
        if (t - lastTypingSent < sendIntervalMs) return false;
        lastTypingSent = t;
        return true;
      },

      clear() {
        for (const id of expiries.values()) timers.clearTimeout(id);
        expiries.clear();
        lastTypingSent = Number.NEGATIVE_INFINITY;
        set({ viewers: {}, typing: {} });
      },
    };
  });
}

/**
 * Route presence and typing messages into a presence store; while the connection is down nothing
 * is shown (the counts would be stale; the `subscribed` replies bring them back). Returns the detach.
 */
export function connectPresenceToWebSocket(
  ws: WebSocketStore,
  presence: PresenceStore,
  selfId: () => string | null | undefined,
): () => void {
  const apply = (m: Envelope) => presence.getState().applyMessage(m, selfId());
  const offs = ["subscribed", "presence", "typing"].map((type) => ws.getState().subscribe(type, apply));
  offs.push(
    ws.subscribe((state, previous) => {
      if (previous.status === "connected" && state.status !== "connected") presence.getState().clear();
    }),
  );
  return () => offs.forEach((off) => off());
}

/**
 * Send `{"action":"typing"}` for a subscribed post, at most once per 2 s; returns whether it went.
 * Only to a server that counts viewers (its `subscribed` reply said `viewers`): an older one would
 * echo the unknown action back as a `test` message.
 */
export function sendTyping(ws: WebSocketStore, presence: PresenceStore, postId: string): boolean {
  const { status, confirmedPosts, send } = ws.getState();
  if (status !== "connected" || !confirmedPosts.includes(postId)) return false;
  if (presence.getState().viewers[postId] === undefined) return false;
  if (!presence.getState().takeTypingSlot()) return false;
  return send({ action: "typing", postId });
}

/** The app-wide presence state. */
export const presenceStore: PresenceStore = createPresenceStore();

export function usePresence<T>(selector: (state: PresenceState) => T): T {
  return useStore(presenceStore, selector);
}
