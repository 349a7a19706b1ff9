"use client";

import { useCallback } from "react";
import { useStore } from "zustand";
import { useShallow } from "zustand/react/shallow";

import { presenceStore, sendTyping, type PresenceStore } from "@/store/presence";
import type { WebSocketStore } from "@/store/websocket";
import { useWebSocketStoreApi } from "./WebSocketContext";

const NOBODY: readonly string[] = Object.freeze([]);

/** The post's viewer count, once the server has said it. */
export function useViewers(postId: string, store: PresenceStore = presenceStore): number | undefined {
  return useStore(store, (s) => s.viewers[postId]);
}

/** Who is typing on the post now (sorted), not counting this user. */
export function useTypingUsers(postId: string, store: PresenceStore = presenceStore): readonly string[] {
  return useStore(
    store,
    useShallow((s) => {
      const users = s.typing[postId];
      return users ? Object.keys(users).sort() : NOBODY;
    }),
  );
}

/** A callback for the comment boxes: sends `typing` for the post, paced to one per 2 s. */
export function useTypingSender(postId: string, explicit?: WebSocketStore, store: PresenceStore = presenceStore): () => void {
  const ws = useWebSocketStoreApi(explicit);
  return useCallback(() => {
    sendTyping(ws, store, postId);
  }, [ws, store, postId]);
}
