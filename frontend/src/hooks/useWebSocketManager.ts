"use client";

import { useEffect, useRef } from "react";
import { useStore } from "zustand";
import { useShallow } from "zustand/react/shallow";

import type { Envelope } from "@/lib/types";
import { webSocketStore, type WebSocketStore } from "@/store/websocket";

/** The global WebSocket store: connection state plus its actions. */
export function useWebSocketManager(store: WebSocketStore = webSocketStore) {
  return useStore(
    store,
    useShallow((s) => ({
      status: s.status,
      attempt: s.attempt,
      maxAttempts: s.maxAttempts,
      nextRetryAt: s.nextRetryAt,
      subscribedPosts: s.subscribedPosts,
      confirmedPosts: s.confirmedPosts,
      lastError: s.lastError,
      connect: s.connect,
      disconnect: s.disconnect,
      retry: s.retry,
      send: s.send,
      subscribe: s.subscribe,
      subscribePost: s.subscribePost,
    })),
  );
}

/** Route messages of one type to `handler` while the component is mounted. */
export function useWebSocketSubscription(
  type: string,
  handler: (message: Envelope) => void,
  store: WebSocketStore = webSocketStore,
): void {
  const ref = useRef(handler);
  useEffect(() => {
    ref.current = handler;
  });
  useEffect(() => store.getState().subscribe(type, (m) => ref.current(m)), [store, type]);
}

/** Keep the app subscribed to these posts while mounted. */
export function usePostSubscriptions(postIds: readonly string[], store: WebSocketStore = webSocketStore): void {
  const key = postIds.join("\u0000");
  useEffect(() => {
    const ids = key ? key.split("\u0000") : [];
    const releases = ids.map((id) => store.getState().subscribePost(id));
    return () => releases.forEach((release) => release());
  }, [key, store]);
}
