"use client";

import { useEffect, useRef } from "react";
import { useStore } from "zustand";
import { useShallow } from "zustand/react/shallow";

import type { Envelope } from "@/lib/types";
import type { WebSocketStore } from "@/store/websocket";
import { useWebSocketStoreApi } from "./WebSocketContext";

/** The global WebSocket store: connection state plus its actions. */
export function useWebSocketManager(explicit?: WebSocketStore) {
  const store = useWebSocketStoreApi(explicit);
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
  explicit?: WebSocketStore,
): void {
  const store = useWebSocketStoreApi(explicit);
  const ref = useRef(handler);
  useEffect(() => {
    ref.current = handler;
  });
  useEffect(() => store.getState().subscribe(type, (m) => ref.current(m)), [store, type]);
}

/** Keep the app subscribed to these posts while mounted. */
export function usePostSubscriptions(postIds: readonly string[], explicit?: WebSocketStore): void {
  const store = useWebSocketStoreApi(explicit);
  const key = postIds.join("\u0000");
  useEffect(() => {
    const ids = key ? key.split("\u0000") : [];
    const releases = ids.map((id) => store.getState().subscribePost(id));
    return () => releases.forEach((release) => release());
  }, [key, store]);
}
