import { describe, expect, it, vi } from "vitest";

import { authFromToken } from "@/store/session";
import { commentsUrl, listCommentsAfter } from "./api";
import { DEFAULT_API_URL, DEFAULT_TOKEN_URL, DEFAULT_WEBSOCKET_URL, loadRuntimeConfig, mergeConfig } from "./config";
import { decodeJwtPayload } from "./jwt";

function fakeJwt(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) =>
    btoa(String.fromCharCode(...new TextEncoder().encode(JSON.stringify(o)))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${b64({ alg: "RS256" })}.${b64(claims)}.sig`;
}

describe("runtime config", () => {
  it("falls back to the local defaults when /runtime-config.json is absent", async () => {
    const fetchImpl = vi.fn<typeof fetch>().mockResolvedValue(new Response("nope", { status: 404 }));
    expect(await loadRuntimeConfig(fetchImpl)).toMatchObject({
      websocketUrl: DEFAULT_WEBSOCKET_URL,
      apiUrl: DEFAULT_API_URL,
      tokenUrl: DEFAULT_TOKEN_URL,
    });
    expect(fetchImpl.mock.calls[0]![0]).toBe("/runtime-config.json");
  });

  it("takes the endpoints from /runtime-config.json", async () => {
    const body = { websocketUrl: "ws://127.0.0.1:5001", apiUrl: "http://127.0.0.1:5002", tokenUrl: "http://127.0.0.1:5002/dev/token", frontendUrl: "x" };
    const fetchImpl = vi.fn<typeof fetch>().mockResolvedValue(new Response(JSON.stringify(body)));
    expect(await loadRuntimeConfig(fetchImpl)).toMatchObject({ websocketUrl: body.websocketUrl, apiUrl: body.apiUrl, tokenUrl: body.tokenUrl });
  });

  it("reads optional WebSocket tuning numbers", () => {
    const merged = mergeConfig({ websocketUrl: "a", apiUrl: "b", tokenUrl: "c" }, { maxReconnectAttempts: 2, reconnectBaseDelayMs: "x", heartbeatIntervalMs: -1 });
    expect(merged.maxReconnectAttempts).toBe(2);
    expect(merged.reconnectBaseDelayMs).toBeUndefined();
    expect(merged.heartbeatIntervalMs).toBeUndefined();
  });

  it("ignores junk and network errors", async () => {
    expect(mergeConfig({ websocketUrl: "a", apiUrl: "b", tokenUrl: "c" }, { websocketUrl: 3, apiUrl: " " })).toEqual({
      websocketUrl: "a",
      apiUrl: "b",
      tokenUrl: "c",
      cognitoClientId: undefined,
      cognitoDomain: undefined,
      cognitoRedirectUri: undefined,
    });
    const failing = vi.fn<typeof fetch>().mockRejectedValue(new TypeError("offline"));
    expect((await loadRuntimeConfig(failing)).websocketUrl).toBe(DEFAULT_WEBSOCKET_URL);
  });
});

describe("api helpers", () => {
  it("builds comment URLs with encoded ids", () => {
    expect(commentsUrl("http://a/", "p 1")).toBe("http://a/api/v1/posts/p%201/comments");
    expect(commentsUrl("http://a", "p", "c/1")).toBe("http://a/api/v1/posts/p/comments/c%2F1");
  });

  it("listCommentsAfter follows nextCursor", async () => {
    const page = (seq: number, nextCursor: string | null) =>
      new Response(JSON.stringify({ postId: "p", comments: [{ id: `${seq}`, postId: "p", content: "x", userId: "u", createdAt: "", seq }], count: 1, nextCursor }));
    const fetchImpl = vi.fn<typeof fetch>().mockResolvedValueOnce(page(3, "n1")).mockResolvedValueOnce(page(4, "n2")).mockResolvedValueOnce(page(5, null));
    const all = await listCommentsAfter("http://a", "p", 2, fetchImpl);
    expect(all.map((c) => c.seq)).toEqual([3, 4, 5]);
    expect(String(fetchImpl.mock.calls[2]![0])).toContain("cursor=n2");
  });
});

describe("tokens", () => {
  it("reads sub, cognito:username and exp", () => {
    const token = fakeJwt({ sub: "u-1", "cognito:username": "Zoë", exp: 2_000_000_000 });
    expect(decodeJwtPayload(token)).toMatchObject({ sub: "u-1", "cognito:username": "Zoë" });
    expect(authFromToken(token, "cognito")).toEqual({ token, userId: "u-1", username: "Zoë", expiresAt: 2_000_000_000_000, provider: "cognito" });
    expect(authFromToken("garbage", "local")).toBeNull();
  });
});
