import { act } from "@testing-library/react";
import { vi } from "vitest";

import { webSocketStore } from "@/store/websocket";
import { FakeWebSocket } from "./fakeWebSocket";

/** Connect the app-wide store to a FakeWebSocket (open), as the app would. */
export function connectGlobal(): FakeWebSocket {
  vi.stubGlobal("WebSocket", FakeWebSocket);
  act(() => {
    webSocketStore.getState().configure({ url: "ws://h:1", apiUrl: "http://api", token: "t" });
    webSocketStore.getState().connect();
  });
  const ws = FakeWebSocket.last;
  act(() => ws.open());
  return ws;
}
