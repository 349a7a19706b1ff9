"use client";

import { useCallback, useEffect } from "react";

import { usePostSubscriptions } from "@/hooks/useWebSocketManager";
import { useLiveFeatures } from "@/hooks/useLiveFeatures";
import { useWebSocket } from "@/hooks/useWebSocket";
import { WebSocketProvider } from "@/hooks/WebSocketContext";
import { fetchDevToken } from "@/lib/api";
import { loadRuntimeConfig } from "@/lib/config";
import { completeSignIn } from "@/lib/oauth";
import { DEMO_POSTS } from "@/lib/posts";
import { commentFocusStore, commentHash } from "@/store/commentFocus";
import { commentsStore, connectCommentsToWebSocket } from "@/store/comments";
import { inboxContext } from "@/store/inbox";
import { notificationsStore } from "@/store/notifications";
import { authFromToken, sessionStore, useSession } from "@/store/session";
import { webSocketStore } from "@/store/websocket";
import { CommentsSection } from "./CommentsSection";
import { ConnectionStatus } from "./ConnectionStatus";
import { NotificationBell } from "./NotificationBell";
import { PostSelector } from "./PostSelector";
import { ViewerCount } from "./PresenceIndicators";
import { RealtimeNotifications } from "./RealtimeNotifications";
import { SignedInUser, SignIn } from "./SignIn";

const POST_IDS = DEMO_POSTS.map((p) => p.id);

/** Finish a Cognito hosted sign-in that returned here (`?code=&state=`; lib/oauth.ts checks the
 * state, exchanges the code with the PKCE verifier and checks the ID token's nonce). */
function consumeCognitoRedirect(): void {
  const search = window.location.search;
  const params = new URLSearchParams(search);
  if (!params.has("code") && !params.has("error")) return;
  // The code is single-use: take it out of the address bar (and history) before anything else.
  for (const name of ["code", "state", "error", "error_description"]) params.delete(name);
  const rest = params.toString();
  window.history.replaceState(null, "", window.location.pathname + (rest ? `?${rest}` : ""));
  void completeSignIn(search)
    .then((idToken) => {
      const auth = idToken ? authFromToken(idToken, "cognito") : null;
      if (auth) sessionStore.getState().signIn(auth);
    })
    .catch((err: unknown) => console.warn(err instanceof Error ? err.message : String(err)));
}

function initialPost(): string | null {
  const id = new URLSearchParams(window.location.search).get("post");
  return id && POST_IDS.includes(id) ? id : null;
}

/** Subscribed to every demo post (so toasts work for the others) while signed in. */
function LiveSubscriptions() {
  usePostSubscriptions(POST_IDS);
  return null;
}

export function RealtimeApp() {
  const config = useSession((s) => s.config);
  const auth = useSession((s) => s.auth);
  const activePostId = useSession((s) => s.activePostId);

  // Start-up: runtime config, the session's token, the post from ?post=.
  useEffect(() => {
    sessionStore.getState().restore();
    consumeCognitoRedirect();
    const post = initialPost();
    if (post) sessionStore.getState().setActivePost(post);
    let cancelled = false;
    void loadRuntimeConfig().then((c) => {
      if (!cancelled) sessionStore.getState().setConfig(c);
    });
    return () => {
      cancelled = true;
    };
  }, []);

  // Comment messages go into the comments store for as long as the app runs.
  useEffect(() => connectCommentsToWebSocket(webSocketStore, commentsStore), []);
  useLiveFeatures(webSocketStore, auth?.userId ?? null, Boolean(config));

  // Local tokens are renewed a minute before they expire (the token endpoint needs only the
  // username); Cognito sessions sign out when the ID token expires (no refresh token is kept).
  useEffect(() => {
    if (!auth) return;
    const cap = (ms: number) => Math.max(0, Math.min(ms, 2 ** 31 - 1));
    const tokenUrl = config?.tokenUrl;
    if (auth.provider === "local" && tokenUrl) {
      const id = setTimeout(() => {
        fetchDevToken(tokenUrl, auth.username)
          .then((res) => {
            const renewed = authFromToken(res.token, "local", res.expiresIn);
            if (!renewed || renewed.userId !== auth.userId) throw new Error("unexpected token");
            sessionStore.getState().signIn({ ...renewed, username: auth.username, expiresAt: Date.now() + res.expiresIn * 1000 });
          })
          .catch(() => {
            const left = auth.expiresAt - Date.now();
            setTimeout(() => sessionStore.getState().signOut(), cap(left));
          });
      }, cap(auth.expiresAt - Date.now() - 60_000));
      return () => clearTimeout(id);
    }
    const id = setTimeout(() => sessionStore.getState().signOut(), cap(auth.expiresAt - Date.now()));
    return () => clearTimeout(id);
  }, [auth, config?.tokenUrl]);

  useWebSocket({
    url: config?.websocketUrl,
    apiUrl: config?.apiUrl,
    token: auth?.token,
    enabled: Boolean(config && auth),
    tuning: config
      ? {
          maxReconnectAttempts: config.maxReconnectAttempts,
          reconnectBaseDelayMs: config.reconnectBaseDelayMs,
          heartbeatIntervalMs: config.heartbeatIntervalMs,
          maxConnectionAgeMs: config.maxConnectionAgeMs,
        }
      : undefined,
  }, webSocketStore);

  const selectPost = useCallback((postId: string) => {
    sessionStore.getState().setActivePost(postId);
    notificationsStore.getState().markRead(postId);
    const url = new URL(window.location.href);
    url.searchParams.set("post", postId);
    window.history.replaceState(null, "", url);
  }, []);

  /** Open a post at a comment (a notification's link, a toast's View). */
  const openComment = useCallback(
    (postId: string, commentId?: string) => {
      selectPost(postId);
      if (!commentId) return;
      commentFocusStore.getState().focus(commentId);
      const url = new URL(window.location.href);
      url.hash = commentHash(commentId);
      window.history.replaceState(null, "", url);
    },
    [selectPost],
  );

  const post = DEMO_POSTS.find((p) => p.id === activePostId) ?? DEMO_POSTS[0]!;

  return (
    <WebSocketProvider store={webSocketStore}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar-inner">
          <h1 className="brand">
            <span className="brand-mark" aria-hidden="true">
              ◆
            </span>{" "}
            Realtime Comments
          </h1>
          <div className="topbar-right">
            {auth && config && <NotificationBell context={inboxContext} onOpenComment={openComment} />}
            {auth && <ConnectionStatus />}
            <SignedInUser />
          </div>
        </div>
      </header>
      <main id="main" className="container" data-testid="app" data-ready={config ? "true" : "false"}>
        {!config ? (
          <p className="loading" aria-busy="true">
            <span className="spinner" aria-hidden="true" /> Starting…
          </p>
        ) : !auth ? (
          <SignIn />
        ) : (
          <>
            <LiveSubscriptions />
            <PostSelector posts={DEMO_POSTS} activePostId={post.id} onSelect={selectPost} />
            <article className="card post" data-testid="post" data-post-id={post.id}>
              <h2 className="post-title">{post.title}</h2>
              <p className="post-body">{post.body}</p>
              <ViewerCount postId={post.id} />
            </article>
            <CommentsSection key={post.id} postId={post.id} title={post.title} />
            <RealtimeNotifications onViewPost={openComment} />
          </>
        )}
      </main>
    </WebSocketProvider>
  );
}
