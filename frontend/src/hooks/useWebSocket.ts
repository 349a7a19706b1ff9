"use client";

import { useEffect } from "react";

import type { Tuning, WebSocketStore } from "@/store/websocket";
import { useWebSocketStoreApi } from "./WebSocketContext";
import { useWebSocketManager } from "./useWebSocketManager";

export interface UseWebSocketOptions {
  url: string | null | undefined;
  apiUrl?: string | null;
  token?: string | null;
  /** Connect only when true (e.g. once signed in). Default: true when url is set. */
  enabled?: boolean;
  /** Reconnect / heartbeat settings; the store's defaults when absent. */
  tuning?: Partial<Tuning>;
}

/**
 * Own the app's one connection: configure it, connect while enabled (with automatic
 * reconnection and backoff, see the store), disconnect on unmount. Returns the status and retry.
 */
export function useWebSocket(options: UseWebSocketOptions, explicit?: WebSocketStore) {
  const store = useWebSocketStoreApi(explicit);
  const { url, apiUrl = null, token = null } = options;
  const enabled = (options.enabled ?? true) && Boolean(url);
  const tuningKey = JSON.stringify(options.tuning ?? {});

  useEffect(() => {
    const tuning = JSON.parse(tuningKey) as Partial<Tuning>;
    if (Object.keys(tuning).length) store.getState().configure({ tuning });
  }, [store, tuningKey]);

  useEffect(() => {
    store.getState().configure({ url: url ?? null, apiUrl, token });
  }, [store, url, apiUrl, token]);

  useEffect(() => {
    if (!enabled) return;
    store.getState().connect();
    return () => store.getState().disconnect();
  }, [store, enabled]);

  // Back online (laptop lid, train tunnel): try at once instead of waiting for the backoff.
  useEffect(() => {
    if (!enabled || typeof window === "undefined") return;
    const onOnline = () => {
      const { status, retry } = store.getState();
      if (status === "offline" || status === "reconnecting") retry();
    };
    window.addEventListener("online", onOnline);
    return () => window.removeEventListener("online", onOnline);
  }, [store, enabled]);

  const { status, attempt, maxAttempts, retry, send } = useWebSocketManager(store);
  return { status, attempt, maxAttempts, retry, send };
}
