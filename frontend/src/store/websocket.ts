/**
 * The app's single WebSocket connection, as a thin Zustand status store over three parts:
 *
 * - `connection.ts`: the socket, backoff, heartbeat and make-before-break rotation;
 * - `messageRouter.ts`: frames parsed and routed by `type` to any number of handlers;
 * - `postSubscriptions.ts`: ref-counted post subscriptions, re-subscribed with `since`.
 *
 * Gap recovery (a `since` list that says `hasMore`) belongs to the comments state: the store
 * routes a local `comments.gap` message for it (see `connectCommentsToWebSocket`).
 *
 * The WebSocket constructor, the timers, the clock and the logger are injectable for tests.
 */
import { createStore, type StoreApi } from "zustand/vanilla";

import type { ClientAction, Envelope } from "@/lib/types";
import {
  createConnection,
  DEFAULT_TUNING,
  type ConnectionSnapshot,
  type Logger,
  type Timers,
  type Tuning,
  type WebSocketConstructor,
} from "./connection";
import { createMessageRouter, type MessageHandler } from "./messageRouter";
import { createPostSubscriptions, type SubscriptionsSnapshot } from "./postSubscriptions";

export { backoffDelay, withToken } from "./connection";
export type { ConnectionStatus, Logger, Timers, Tuning, WebSocketConstructor, WebSocketLike } from "./connection";
export type { MessageHandler } from "./messageRouter";

export interface WebSocketStoreOptions extends Partial<Tuning> {
  WebSocketImpl?: WebSocketConstructor;
  timers?: Timers;
  logger?: Logger;
  now?: () => number;
}

export interface ConnectionConfig {
  url?: string | null;
  apiUrl?: string | null;
  token?: string | null;
  /** Change the reconnect / heartbeat settings (applies from the next timer on). */
  tuning?: Partial<Tuning>;
}

export interface WebSocketState extends ConnectionSnapshot, SubscriptionsSnapshot {
  url: string | null;
  apiUrl: string | null;
  token: string | null;

  configure(config: ConnectionConfig): void;
  connect(): void;
  disconnect(): void;
  retry(): void;
  send(payload: ClientAction | Record<string, unknown>): boolean;
  subscribe(type: string, handler: MessageHandler): () => void;
  /** Route a local message (never from the server) as if it had arrived. */
  route(message: Envelope): void;
  subscribePost(postId: string): () => void;
  getLastSeq(postId: string): number | undefined;
}

export type WebSocketStore = StoreApi<WebSocketState>;

/** Type of the local message routed after a connection was lost and then re-established. */
export const RECONNECTED = "connection.reconnected";
/** Type of the local message routed when a `since` list says `hasMore`: `{postId, after}`. */
export const GAP = "comments.gap";

export function createWebSocketStore(options: WebSocketStoreOptions = {}): WebSocketStore {
  const logger: Logger = options.logger ?? console;
  const now = options.now ?? (() => Date.now());
  const tuning: Tuning = { ...DEFAULT_TUNING };
  for (const key of Object.keys(DEFAULT_TUNING) as (keyof Tuning)[]) {
    const value = options[key];
    if (value !== undefined) tuning[key] = value;
  }
  const local = (type: string, data: unknown): Envelope => ({ type, data, timestamp: new Date(now()).toISOString() });

  return createStore<WebSocketState>()((set, get) => {
    const router = createMessageRouter(logger);

    const route = (message: Envelope) => {
      if (message.type === "error") logger.warn("[websocket] the server answered an error:", message.data);
      const gap = subscriptions.observe(message);
      router.dispatch(message);
      if (gap) router.dispatch(local(GAP, gap));
    };

    const subscriptions = createPostSubscriptions(
      (payload) => connection.send(payload),
      (patch) => set(patch),
    );

    const connection = createConnection(
      {
        status: (patch) => set(patch),
        opened: ({ reconnect }) => {
          subscriptions.resubscribeAll();
          // Lets the comments state re-check edits and deletions that `since` does not replay.
          if (reconnect) router.dispatch(local(RECONNECTED, {}));
        },
        frame: (raw) => {
          const message = router.parse(raw);
          if (message) route(message);
        },
        lost: () => subscriptions.lost(),
      },
      { WebSocketImpl: options.WebSocketImpl, timers: options.timers, logger, now, tuning },
    );

    return {
      status: "idle",
      attempt: 0,
      maxAttempts: tuning.maxReconnectAttempts,
      nextRetryAt: null,
      connectedAt: null,
      lastError: null,
      subscribedPosts: [],
      confirmedPosts: [],
      url: null,
      apiUrl: null,
      token: null,

      configure(config) {
        if (config.tuning) connection.tune(config.tuning);
        const prev = get();
        const next = {
          url: config.url !== undefined ? config.url : prev.url,
          apiUrl: config.apiUrl !== undefined ? config.apiUrl : prev.apiUrl,
          token: config.token !== undefined ? config.token : prev.token,
        };
        set(next);
        connection.setEndpoint(next.url, next.token);
      },
      connect: () => connection.connect(),
      disconnect() {
        connection.disconnect();
        subscriptions.lost();
      },
      retry: () => connection.retry(),
      send: (payload) => connection.send(payload),
      subscribe: (type, handler) => router.subscribe(type, handler),
      route,
      subscribePost: (postId) => subscriptions.acquire(postId),
      getLastSeq: (postId) => subscriptions.lastSeq(postId),
    };
  });
}

/** The app-wide connection. */
export const webSocketStore: WebSocketStore = createWebSocketStore();

