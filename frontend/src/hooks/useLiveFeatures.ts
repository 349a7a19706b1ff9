"use client";

import { useEffect } from "react";

import { pushReplyToast } from "@/components/RealtimeNotifications";
import { commentFocusStore, commentIdFromHash } from "@/store/commentFocus";
import { connectInboxToWebSocket, inboxContext, inboxStore } from "@/store/inbox";
import { connectPresenceToWebSocket, presenceStore } from "@/store/presence";
import { sessionStore } from "@/store/session";
import type { WebSocketStore } from "@/store/websocket";


/**
 * Presence, typing and notifications for as long as the app runs: their messages routed into
 * their stores, a toast for each new reply notification, the inbox read at sign-in and cleared at
 * sign-out, and a `#comment-<id>` link in the address bar focused once.
 */
export function useLiveFeatures(ws: WebSocketStore, userId: string | null, configured: boolean): void {
  useEffect(() => connectPresenceToWebSocket(ws, presenceStore, () => sessionStore.getState().auth?.userId), [ws]);
  useEffect(
    () => connectInboxToWebSocket(ws, inboxStore, inboxContext, pushReplyToast),
    [ws],
  );

  useEffect(() => {
    const focus = commentIdFromHash(window.location.hash);
    if (focus) commentFocusStore.getState().focus(focus);
  }, []);

  useEffect(() => {
    if (!userId || !configured) return;
    const ctx = inboxContext();
    if (ctx) void inboxStore.getState().load(ctx);
    return () => {
      inboxStore.getState().clear();
      presenceStore.getState().clear();
    };
  }, [userId, configured]);
}
