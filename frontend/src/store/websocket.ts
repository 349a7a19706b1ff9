/**
 * The app's single WebSocket connection, as a Zustand store.
 *
 * - one connection per app: `{url}?token=<JWT>`;
 * - automatic reconnection with exponential backoff (at most `maxReconnectAttempts`, delay
 *   `reconnectBaseDelayMs * 2^(n-1)`), then `offline` until `retry()`;
 * - message routing by `type` to any number of subscribers (`subscribe` returns the unsubscribe);
 * - post subscriptions (ref-counted): after every (re)connect each post is subscribed again with
 *   `since` = the highest `seq` seen for it, and when the server says `hasMore` the rest is
 *   fetched over REST (`?after=<seq>`, following `nextCursor`) and routed as a `comments.list`;
 * - an application heartbeat (`{"action":"ping"}`) well inside API Gateway's 10-minute idle timeout;
 * - a proactive, make-before-break reconnect before API Gateway's 2-hour connection limit;
 * - frames that do not parse are logged (console.warn) and skipped.
 *
 * The WebSocket constructor, the timers, `fetch` and the logger are injectable for tests.
 */
import { useStore } from "zustand";
import { createStore, type StoreApi } from "zustand/vanilla";

import { listCommentsAfter } from "@/lib/api";
import type { ClientAction, Comment, Envelope } from "@/lib/types";
import { isComment } from "@/lib/types";

export type ConnectionStatus = "idle" | "connecting" | "connected" | "reconnecting" | "offline";

export type MessageHandler = (message: Envelope) => void;

/** The part of the browser WebSocket the store uses. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(id: unknown): void;
}

export type Logger = Pick<Console, "warn" | "error" | "info">;

export interface WebSocketStoreOptions {
  WebSocketImpl?: WebSocketConstructor;
  timers?: Timers;
  fetchImpl?: typeof fetch;
  logger?: Logger;
  now?: () => number;
  /** Reconnect attempts after a lost connection before going `offline` (default 5). */
  maxReconnectAttempts?: number;
  /** First backoff delay; attempt n waits `base * 2^(n-1)` (default 3000 ms). */
  reconnectBaseDelayMs?: number;
  /** Upper bound for one backoff delay (default 60 s). */
  maxReconnectDelayMs?: number;
  /** Application ping interval (default 5 min; API Gateway's idle timeout is 10 min). */
  heartbeatIntervalMs?: number;
  /** Proactive reconnect after this long (default 110 min; API Gateway's limit is 2 h). */
  maxConnectionAgeMs?: number;
}

export interface Tuning {
  maxReconnectAttempts: number;
  reconnectBaseDelayMs: number;
  maxReconnectDelayMs: number;
  heartbeatIntervalMs: number;
  maxConnectionAgeMs: number;
}

export interface ConnectionConfig {
  url?: string | null;
  apiUrl?: string | null;
  token?: string | null;
  /** Change the reconnect / heartbeat settings (applies from the next timer on). */
  tuning?: Partial<Tuning>;
}

export interface WebSocketState {
  status: ConnectionStatus;
  /** Current reconnect attempt (1-based) while `reconnecting`; 0 otherwise. */
  attempt: number;
  maxAttempts: number;
  /** Epoch ms of the next scheduled attempt, if one is scheduled. */
  nextRetryAt: number | null;
  connectedAt: number | null;
  url: string | null;
  apiUrl: string | null;
  token: string | null;
  subscribedPosts: string[];
  /** Posts whose `subscribed` reply arrived on the current connection. */
  confirmedPosts: string[];
  lastError: string | null;

  configure(config: ConnectionConfig): void;
  connect(): void;
  disconnect(): void;
  retry(): void;
  send(payload: ClientAction | Record<string, unknown>): boolean;
  subscribe(type: string, handler: MessageHandler): () => void;
  subscribePost(postId: string): () => void;
  getLastSeq(postId: string): number | undefined;
}

export type WebSocketStore = StoreApi<WebSocketState>;

const OPEN = 1;

/** Type of the local message routed after a connection was lost and then re-established. */
export const RECONNECTED = "connection.reconnected";

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
  clearInterval: (id) => globalThis.clearInterval(id as ReturnType<typeof setInterval>),
};

export function backoffDelay(attempt: number, baseMs: number, maxMs = Number.POSITIVE_INFINITY): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), maxMs);
}

export function withToken(url: string, token: string | null): string {
  if (!token) return url;
  return `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
}

export function createWebSocketStore(options: WebSocketStoreOptions = {}): WebSocketStore {
  const timers = options.timers ?? defaultTimers;
  const logger: Logger = options.logger ?? console;
  const now = options.now ?? (() => Date.now());
  const tuning: Tuning = {
    maxReconnectAttempts: options.maxReconnectAttempts ?? 5,
    reconnectBaseDelayMs: options.reconnectBaseDelayMs ?? 3000,
    maxReconnectDelayMs: options.maxReconnectDelayMs ?? 60_000,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 5 * 60_000,
    maxConnectionAgeMs: options.maxConnectionAgeMs ?? 110 * 60_000,
  };

  let socket: WebSocketLike | null = null; // the current connection (connecting or open)
  let rotating: WebSocketLike | null = null; // its replacement during a proactive reconnect
  let reconnectTimer: unknown = null;
  let heartbeatTimer: unknown = null;
  let maxAgeTimer: unknown = null;
  let active = false; // connect() wanted, until disconnect()
  let everConnected = false; // a later open is a reconnect

  const handlers = new Map<string, Set<MessageHandler>>();
  const postRefs = new Map<string, number>();
  const lastSeq = new Map<string, number>();
  /** `since` sent with the latest subscribe per post on the current connection. */
  const sinceSent = new Map<string, number | undefined>();

  const store = createStore<WebSocketState>()((set, get) => {
    const resolveImpl = (): WebSocketConstructor | undefined =>
      options.WebSocketImpl ?? (globalThis.WebSocket as unknown as WebSocketConstructor | undefined);

    const clearReconnect = () => {
      if (reconnectTimer !== null) timers.clearTimeout(reconnectTimer);
      reconnectTimer = null;
    };
    const stopConnectionTimers = () => {
      if (heartbeatTimer !== null) timers.clearInterval(heartbeatTimer);
      if (maxAgeTimer !== null) timers.clearTimeout(maxAgeTimer);
      heartbeatTimer = null;
      maxAgeTimer = null;
    };
    const detach = (ws: WebSocketLike | null, code = 1000, reason = "client closing") => {
      if (!ws) return;
      ws.onopen = null;
      ws.onclose = null;
      ws.onerror = null;
      ws.onmessage = null;
      try {
        ws.close(code, reason);
      } catch {
        // already closed
      }
    };

    const rawSend = (ws: WebSocketLike | null, payload: unknown): boolean => {
      if (!ws || ws.readyState !== OPEN) return false;
      try {
        ws.send(JSON.stringify(payload));
        return true;
      } catch (err) {
        logger.warn("[websocket] send failed", err);
        return false;
      }
    };

    const sendSubscribe = (ws: WebSocketLike | null, postId: string) => {
      const since = lastSeq.get(postId);
      const payload: ClientAction =
        since === undefined ? { action: "subscribe", postId } : { action: "subscribe", postId, since };
      if (rawSend(ws, payload)) sinceSent.set(postId, since);
    };

    const resubscribeAll = (ws: WebSocketLike) => {
      sinceSent.clear();
      set({ confirmedPosts: [] });
      for (const postId of postRefs.keys()) sendSubscribe(ws, postId);
    };

    const dispatch = (message: Envelope) => {
      const targets = [...(handlers.get(message.type) ?? []), ...(handlers.get("*") ?? [])];
      for (const handler of targets) {
        try {
          handler(message);
        } catch (err) {
          logger.error(`[websocket] handler for "${message.type}" failed`, err);
        }
      }
    };

    const noteSeq = (postId: string, seq: number) => {
      const prev = lastSeq.get(postId);
      if (prev === undefined || seq > prev) lastSeq.set(postId, seq);
    };

    const recoverOverRest = async (postId: string, after: number) => {
      const { apiUrl } = get();
      if (!apiUrl) {
        logger.warn(`[websocket] hasMore for ${postId} but no apiUrl configured`);
        return;
      }
      try {
        const comments = await listCommentsAfter(apiUrl, postId, after, options.fetchImpl ?? fetch);
        handleMessage({
          type: "comments.list",
          data: { postId, comments, count: comments.length, hasMore: false },
          timestamp: new Date(now()).toISOString(),
        });
      } catch (err) {
        logger.warn(`[websocket] REST recovery for ${postId} failed`, err);
      }
    };

    const handleMessage = (message: Envelope) => {
      const data = (message.data ?? {}) as Record<string, unknown>;
      const postId = typeof data.postId === "string" ? data.postId : undefined;
      if (message.type === "error") logger.warn("[websocket] the server answered an error:", data);
      if (postId && message.type === "subscribed" && postRefs.has(postId) && !get().confirmedPosts.includes(postId)) {
        set({ confirmedPosts: [...get().confirmedPosts, postId] });
      }
      if (postId && (message.type === "comment.created" || message.type === "comment.updated")) {
        if (isComment(data.comment)) noteSeq(postId, data.comment.seq);
      } else if (postId && message.type === "comments.list") {
        const comments = Array.isArray(data.comments) ? (data.comments as unknown[]).filter(isComment) : [];
        const since = sinceSent.get(postId);
        sinceSent.delete(postId);
        let max = since ?? 0;
        for (const c of comments as Comment[]) max = Math.max(max, c.seq);
        noteSeq(postId, max);
        dispatch(message);
        if (data.hasMore === true && since !== undefined) void recoverOverRest(postId, max);
        return;
      }
      dispatch(message);
    };

    const handleRaw = (raw: unknown) => {
      if (typeof raw !== "string") {
        logger.warn("[websocket] skipped a non-text frame");
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        logger.warn("[websocket] skipped a frame that is not JSON:", raw.slice(0, 200));
        return;
      }
      if (typeof parsed !== "object" || parsed === null || typeof (parsed as Envelope).type !== "string") {
        logger.warn("[websocket] skipped a frame without a type:", raw.slice(0, 200));
        return;
      }
      handleMessage(parsed as Envelope);
    };

    const startConnectionTimers = () => {
      stopConnectionTimers();
      heartbeatTimer = timers.setInterval(() => {
        rawSend(socket, { action: "ping" });
      }, tuning.heartbeatIntervalMs);
      maxAgeTimer = timers.setTimeout(rotate, tuning.maxConnectionAgeMs);
    };

    const fullUrl = (): string | null => {
      const { url, token } = get();
      return url ? withToken(url, token) : null;
    };

    /** Proactive reconnect: open the replacement, re-subscribe on it, then close the old one. */
    const rotate = () => {
      maxAgeTimer = null;
      const Impl = resolveImpl();
      const target = fullUrl();
      if (!Impl || !target || !socket || rotating) return;
      const fresh = new Impl(target);
      rotating = fresh;
      fresh.onmessage = (ev) => handleRaw(ev.data);
      fresh.onerror = () => undefined;
      fresh.onopen = () => {
        if (fresh !== rotating) return;
        rotating = null;
        const old = socket;
        socket = fresh;
        wire(fresh);
        set({ connectedAt: now() });
        startConnectionTimers();
        resubscribeAll(fresh);
        // The old connection keeps delivering until it is closed; duplicates dedupe by id.
        if (old) {
          old.onclose = null;
          old.onerror = null;
          try {
            old.close(1000, "replaced");
          } catch {
            // ignore
          }
        }
      };
      fresh.onclose = () => {
        if (fresh !== rotating) return;
        rotating = null;
        logger.warn("[websocket] proactive reconnect failed; trying again later");
        if (socket) maxAgeTimer = timers.setTimeout(rotate, tuning.reconnectBaseDelayMs);
      };
    };

    const wire = (ws: WebSocketLike) => {
      ws.onmessage = (ev) => handleRaw(ev.data);
      ws.onerror = () => {
        if (ws === socket) set({ lastError: "WebSocket error" });
      };
      ws.onopen = () => {
        if (ws !== socket) return;
        const reconnect = everConnected;
        everConnected = true;
        set({ status: "connected", attempt: 0, nextRetryAt: null, connectedAt: now(), lastError: null });
        startConnectionTimers();
        resubscribeAll(ws);
        // Local event (never from the server): lets the comments state re-check edits and
        // deletions that `since` does not replay.
        if (reconnect) dispatch({ type: RECONNECTED, data: {}, timestamp: new Date(now()).toISOString() });
      };
      ws.onclose = (ev) => {
        if (ws !== socket) return;
        socket = null;
        stopConnectionTimers();
        if (rotating) {
          detach(rotating);
          rotating = null;
        }
        set({ connectedAt: null, confirmedPosts: [], lastError: ev?.code ? `closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ""})` : get().lastError });
        if (active) scheduleReconnect();
        else set({ status: "idle", attempt: 0 });
      };
    };

    const openSocket = () => {
      const Impl = resolveImpl();
      const target = fullUrl();
      if (!Impl || !target) {
        set({ status: "offline", lastError: Impl ? "no WebSocket URL configured" : "WebSocket unavailable" });
        return;
      }
      let ws: WebSocketLike;
      try {
        ws = new Impl(target);
      } catch (err) {
        logger.warn("[websocket] could not open", err);
        set({ lastError: String(err) });
        scheduleReconnect();
        return;
      }
      socket = ws;
      wire(ws);
    };

    const scheduleReconnect = () => {
      clearReconnect();
      const attempt = get().attempt + 1;
      if (attempt > tuning.maxReconnectAttempts) {
        set({ status: "offline", attempt: tuning.maxReconnectAttempts, nextRetryAt: null });
        return;
      }
      const delay = backoffDelay(attempt, tuning.reconnectBaseDelayMs, tuning.maxReconnectDelayMs);
      set({ status: "reconnecting", attempt, nextRetryAt: now() + delay });
      reconnectTimer = timers.setTimeout(() => {
        reconnectTimer = null;
        if (active && !socket) openSocket();
      }, delay);
    };

    const teardown = () => {
      clearReconnect();
      stopConnectionTimers();
      detach(rotating, 1000, "client closing");
      rotating = null;
      detach(socket, 1000, "client closing");
      socket = null;
    };

    return {
      status: "idle",
      attempt: 0,
      maxAttempts: tuning.maxReconnectAttempts,
      nextRetryAt: null,
      connectedAt: null,
      url: null,
      apiUrl: null,
      token: null,
      subscribedPosts: [],
      confirmedPosts: [],
      lastError: null,

      configure(config) {
        if (config.tuning) {
          for (const [key, value] of Object.entries(config.tuning) as [keyof Tuning, number | undefined][]) {
            if (typeof value === "number" && Number.isFinite(value) && value >= 0) tuning[key] = value;
          }
          set({ maxAttempts: tuning.maxReconnectAttempts });
        }
        const prev = get();
        const next = {
          url: config.url !== undefined ? config.url : prev.url,
          apiUrl: config.apiUrl !== undefined ? config.apiUrl : prev.apiUrl,
          token: config.token !== undefined ? config.token : prev.token,
        };
        // API Gateway checks the token at $connect only: a renewed token (same user) is used from
        // the next connection on; an open connection is kept. A new URL reconnects at once.
        const endpointChanged = next.url !== prev.url || (next.token !== prev.token && !socket && reconnectTimer === null);
        set(next);
        if (endpointChanged && active) {
          teardown();
          set({ attempt: 0, nextRetryAt: null });
          if (next.url) {
            set({ status: "connecting" });
            openSocket();
          } else {
            active = false;
            set({ status: "idle" });
          }
        }
      },

      connect() {
        active = true;
        if (socket || reconnectTimer !== null) return;
        set({ status: get().attempt > 0 ? "reconnecting" : "connecting" });
        openSocket();
      },

      disconnect() {
        active = false;
        everConnected = false;
        teardown();
        set({ status: "idle", attempt: 0, nextRetryAt: null, connectedAt: null, confirmedPosts: [] });
      },

      retry() {
        active = true;
        teardown();
        set({ status: "connecting", attempt: 0, nextRetryAt: null });
        openSocket();
      },

      send(payload) {
        return rawSend(socket, payload);
      },

      subscribe(type, handler) {
        let set_ = handlers.get(type);
        if (!set_) {
          set_ = new Set();
          handlers.set(type, set_);
        }
        // Wrap so that the same function may be subscribed twice and unsubscribed separately.
        const entry: MessageHandler = (m) => handler(m);
        set_.add(entry);
        let done = false;
        return () => {
          if (done) return;
          done = true;
          const current = handlers.get(type);
          current?.delete(entry);
          if (current && current.size === 0) handlers.delete(type);
        };
      },

      subscribePost(postId) {
        const refs = postRefs.get(postId) ?? 0;
        postRefs.set(postId, refs + 1);
        if (refs === 0) {
          set({ subscribedPosts: [...postRefs.keys()] });
          sendSubscribe(socket, postId);
        }
        let released = false;
        return () => {
          if (released) return;
          released = true;
          const n = (postRefs.get(postId) ?? 1) - 1;
          if (n > 0) {
            postRefs.set(postId, n);
            return;
          }
          postRefs.delete(postId);
          sinceSent.delete(postId);
          set({
            subscribedPosts: [...postRefs.keys()],
            confirmedPosts: get().confirmedPosts.filter((id) => id !== postId),
          });
          rawSend(socket, { action: "unsubscribe", postId });
        };
      },

      getLastSeq(postId) {
        return lastSeq.get(postId);
      },
    };
  });

  return store;
}

/** The app-wide connection. */
export const webSocketStore: WebSocketStore = createWebSocketStore();

export function useWebSocketStore<T>(selector: (state: WebSocketState) => T): T {
  return useStore(webSocketStore, selector);
}
