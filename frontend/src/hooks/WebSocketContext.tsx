"use client";

import { createContext, useContext, type ReactNode } from "react";

import { webSocketStore, type WebSocketStore } from "@/store/websocket";

/** The connection's status store; the app-wide one unless a provider gives another (tests, embeds). */
const WebSocketContext = createContext<WebSocketStore>(webSocketStore);

export function WebSocketProvider({ store, children }: { store: WebSocketStore; children: ReactNode }) {
  return <WebSocketContext.Provider value={store}>{children}</WebSocketContext.Provider>;
}

/** The store passed in, else the one from context. */
export function useWebSocketStoreApi(store?: WebSocketStore): WebSocketStore {
  const fromContext = useContext(WebSocketContext);
  return store ?? fromContext;
}
