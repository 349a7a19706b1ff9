/** Runtime configuration, the signed-in user and the shown post (Zustand). */
import { useStore } from "zustand";
import { createStore } from "zustand/vanilla";

import type { RuntimeConfig } from "@/lib/config";
import { decodeJwtPayload } from "@/lib/jwt";

export interface Auth {
  token: string;
  userId: string;
  /** Display name (the `cognito:username` claim when present). */
  username: string;
  /** Epoch ms. */
  expiresAt: number;
  provider: "local" | "cognito";
}

export interface SessionState {
  config: RuntimeConfig | null;
  auth: Auth | null;
  activePostId: string;
  setConfig(config: RuntimeConfig): void;
  signIn(auth: Auth): void;
  signOut(): void;
  restore(): void;
  setActivePost(postId: string): void;
}

export const AUTH_STORAGE_KEY = "realtime-comments.auth";

function storage(): Storage | null {
  try {
    return typeof window !== "undefined" ? window.sessionStorage : null;
  } catch {
    return null;
  }
}

/** Auth from a raw token (user id = `sub`, as the server derives it). */
export function authFromToken(token: string, provider: Auth["provider"], fallbackTtlSeconds = 3600): Auth | null {
  const claims = decodeJwtPayload(token);
  if (!claims || typeof claims.sub !== "string") return null;
  const username = typeof claims["cognito:username"] === "string" ? (claims["cognito:username"] as string) : claims.sub;
  const exp = typeof claims.exp === "number" ? claims.exp * 1000 : Date.now() + fallbackTtlSeconds * 1000;
  return { token, userId: claims.sub, username, expiresAt: exp, provider };
}

export const sessionStore = createStore<SessionState>()((set) => ({
  config: null,
  auth: null,
  activePostId: "post-1",
  setConfig(config) {
    set({ config });
  },
  signIn(auth) {
    storage()?.setItem(AUTH_STORAGE_KEY, JSON.stringify(auth));
    set({ auth });
  },
  signOut() {
    storage()?.removeItem(AUTH_STORAGE_KEY);
    set({ auth: null });
  },
  restore() {
    const raw = storage()?.getItem(AUTH_STORAGE_KEY);
    if (!raw) return;
    try {
      const auth = JSON.parse(raw) as Auth;
      if (typeof auth.token === "string" && typeof auth.userId === "string" && auth.expiresAt > Date.now() + 10_000) {
        set({ auth });
        return;
      }
    } catch {
      // fall through
    }
    storage()?.removeItem(AUTH_STORAGE_KEY);
  },
  setActivePost(postId) {
    set({ activePostId: postId });
  },
}));

export function useSession<T>(selector: (state: SessionState) => T): T {
  return useStore(sessionStore, selector);
}
