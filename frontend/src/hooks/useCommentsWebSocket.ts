"use client";

import { useCallback, useEffect, useMemo } from "react";
import { useStore } from "zustand";

import { commentsStore, EMPTY_POST, hasOlder, type AuthContext, type CommentsStore } from "@/store/comments";
import { sessionStore } from "@/store/session";
import type { WebSocketStore } from "@/store/websocket";
import { useWebSocketStoreApi } from "./WebSocketContext";

export interface CommentsDeps {
  ws?: WebSocketStore;
  comments?: CommentsStore;
  /** Where REST calls go and who is acting; defaults to the session store. */
  getContext?: () => AuthContext | null;
}

function sessionContext(): AuthContext | null {
  const { config, auth } = sessionStore.getState();
  if (!config || !auth) return null;
  return { apiUrl: config.apiUrl, token: auth.token, userId: auth.userId };
}

function sessionApiUrl(): string | null {
  return sessionStore.getState().config?.apiUrl ?? null;
}

/**
 * A post's live comments: subscribes on mount, unsubscribes on unmount, and returns the
 * comments (ordered by seq), the optimistic ones, the load state and the actions.
 */
export function useCommentsWebSocket(postId: string, deps: CommentsDeps = {}) {
  const ws = useWebSocketStoreApi(deps.ws);
  const store = deps.comments ?? commentsStore;
  const depsGetContext = deps.getContext;
  const getContext = depsGetContext ?? sessionContext;

  useEffect(() => ws.getState().subscribePost(postId), [ws, postId]);

  const post = useStore(store, (s) => s.posts[postId] ?? EMPTY_POST);
  const status = useStore(ws, (s) => s.status);

  // The WebSocket gave up before the first list arrived: read the post over REST instead
  // (it is subscribed again, with `since`, when the connection comes back).
  const needsRest = status === "offline" && !post.loaded;
  useEffect(() => {
    if (!needsRest) return;
    const apiUrl = depsGetContext ? depsGetContext()?.apiUrl : sessionApiUrl();
    if (apiUrl) void store.getState().loadOverRest(apiUrl, postId);
  }, [needsRest, store, postId, depsGetContext]);

  const requireContext = useCallback((): AuthContext => {
    const ctx = getContext();
    if (!ctx) throw new Error("Sign in first");
    return ctx;
  }, [getContext]);

  const actions = useMemo(
    () => ({
      post: (content: string, parentId?: string) =>
        store.getState().postComment(requireContext(), postId, content, parentId),
      edit: (commentId: string, content: string) =>
        store.getState().editComment(requireContext(), postId, commentId, content),
      remove: (commentId: string) => store.getState().deleteComment(requireContext(), postId, commentId),
      retryPending: (tempId: string) => store.getState().retryPending(requireContext(), postId, tempId),
      discardPending: (tempId: string) => store.getState().discardPending(postId, tempId),
      loadOlder: () => {
        const apiUrl = depsGetContext ? depsGetContext()?.apiUrl : sessionApiUrl();
        return apiUrl ? store.getState().loadOlder(apiUrl, postId) : Promise.resolve();
      },
      loadOverRest: () => {
        const apiUrl = depsGetContext ? depsGetContext()?.apiUrl : sessionApiUrl();
        return apiUrl ? store.getState().loadOverRest(apiUrl, postId) : Promise.resolve();
      },
    }),
    [store, postId, requireContext, depsGetContext],
  );

  return {
    comments: post.comments,
    pending: post.pending,
    loaded: post.loaded,
    error: post.error,
    hasOlder: hasOlder(post),
    loadingOlder: post.loadingOlder,
    status,
    actions,
  };
}
