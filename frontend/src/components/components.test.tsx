import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { commentsStore, connectCommentsToWebSocket } from "@/store/comments";
import { notificationsStore } from "@/store/notifications";
import { AUTH_STORAGE_KEY, sessionStore } from "@/store/session";
import { webSocketStore } from "@/store/websocket";
import { connectGlobal } from "@/test/connectGlobal";
import { comment, envelope, FakeWebSocket } from "@/test/fakeWebSocket";
import { CommentsSection } from "./CommentsSection";
import { ConnectionStatus } from "./ConnectionStatus";
import { RealtimeNotifications } from "./RealtimeNotifications";
import { SignIn } from "./SignIn";

const config = { websocketUrl: "ws://h:1", apiUrl: "http://api", tokenUrl: "http://api/dev/token" };

function signIn(userId = "alice") {
  sessionStore.setState({
    config,
    auth: { token: "t", userId, username: userId, expiresAt: Date.now() + 3600_000, provider: "local" },
    activePostId: "post-1",
  });
}

let detach: () => void = () => undefined;

beforeEach(() => {
  FakeWebSocket.reset();
  detach = connectCommentsToWebSocket(webSocketStore, commentsStore);
  commentsStore.getState().clear();
  notificationsStore.setState({ toasts: [], unread: {} });
  signIn();
});

afterEach(() => {
  detach();
  act(() => webSocketStore.getState().disconnect());
  vi.unstubAllGlobals();
});

describe("ConnectionStatus", () => {
  it("shows live, reconnecting with the attempt count, and offline with Retry", () => {
    render(<ConnectionStatus />);
    const status = screen.getByTestId("connection-status");
    act(() => webSocketStore.setState({ status: "connected", attempt: 0 }));
    expect(status).toHaveProperty("dataset.status", "connected");
    expect(within(status).getByRole("status").textContent).toBe("Live");
    expect(screen.queryByTestId("retry-button")).toBeNull();

    act(() => webSocketStore.setState({ status: "reconnecting", attempt: 2 }));
    expect(within(status).getByRole("status").textContent).toContain("Reconnecting (2 of 5)");

    const original = webSocketStore.getState().retry;
    const retry = vi.fn();
    act(() => webSocketStore.setState({ status: "offline", attempt: 5, retry }));
    expect(within(status).getByRole("status").textContent).toBe("Offline");
    fireEvent.click(screen.getByRole("button", { name: "Retry" }));
    expect(retry).toHaveBeenCalledTimes(1);
    act(() => webSocketStore.setState({ status: "idle", attempt: 0, retry: original }));
  });
});

describe("CommentsSection", () => {
  it("goes from loading to empty to a live list; only own comments can be edited", () => {
    const ws = connectGlobal();
    render(<CommentsSection postId="post-1" />);
    expect(screen.getByTestId("comments-loading")).toBeTruthy();
    expect(ws.sentJson).toContainEqual({ action: "subscribe", postId: "post-1" });

    act(() => ws.receive(envelope("comments.list", { postId: "post-1", comments: [], count: 0, hasMore: false })));
    expect(screen.getByTestId("comments-empty")).toBeTruthy();

    act(() => ws.receive(envelope("comment.created", { postId: "post-1", comment: comment("post-1", 2, { userId: "bob", content: "from bob" }) })));
    act(() => ws.receive(envelope("comment.created", { postId: "post-1", comment: comment("post-1", 1, { content: "from alice" }) })));
    const items = screen.getAllByTestId("comment");
    expect(items.map((li) => within(li).getByTestId("comment-content").textContent)).toEqual(["from alice", "from bob"]);
    expect(within(items[0]!).queryByTestId("comment-edit")).not.toBeNull();
    expect(within(items[1]!).queryByTestId("comment-edit")).toBeNull();
    expect(items[0]!.querySelector("time")?.getAttribute("dateTime")).toBe(comment("post-1", 1).createdAt);
  });

  it("falls back to REST when the connection is offline before the first list, and says updates are paused", async () => {
    const page = { postId: "post-1", comments: [comment("post-1", 1, { content: "over REST" })], count: 1, nextCursor: null };
    const fetchMock = vi.fn<typeof fetch>().mockResolvedValue(new Response(JSON.stringify(page)));
    vi.stubGlobal("fetch", fetchMock);
    render(<CommentsSection postId="post-1" />);
    act(() => webSocketStore.setState({ status: "offline" }));
    await vi.waitFor(() => expect(screen.getByTestId("comment-content").textContent).toBe("over REST"));
    expect(String(fetchMock.mock.calls[0]![0])).toBe("http://api/api/v1/posts/post-1/comments?after=0");
    expect(screen.getByTestId("comments-offline").textContent).toContain("paused");
  });

  it("shows an error with Try again when REST fails too", async () => {
    vi.stubGlobal("fetch", vi.fn<typeof fetch>().mockRejectedValue(new TypeError("Failed to fetch")));
    render(<CommentsSection postId="post-1" />);
    act(() => webSocketStore.setState({ status: "offline" }));
    await vi.waitFor(() => expect(screen.getByTestId("comments-error").textContent).toContain("Failed to fetch"));
    expect(screen.getByRole("button", { name: "Try again" })).toBeTruthy();
    expect(screen.queryByTestId("comments-loading")).toBeNull();
  });

  it("posts optimistically and shows the pending comment at once", async () => {
    const ws = connectGlobal();
    let resolve!: (r: Response) => void;
    vi.stubGlobal("fetch", vi.fn(() => new Promise<Response>((r) => (resolve = r))));
    render(<CommentsSection postId="post-1" />);
    act(() => ws.receive(envelope("comments.list", { postId: "post-1", comments: [], count: 0, hasMore: false })));
    const input = screen.getByLabelText("Add a comment", { selector: "textarea" });
    fireEvent.change(input, { target: { value: "  hello there  " } });
    fireEvent.click(screen.getByTestId("comment-submit"));
    const pending = screen.getByTestId("comment");
    expect(pending.dataset.pending).toBe("true");
    expect(within(pending).getByTestId("comment-content").textContent).toBe("hello there");
    expect((input as HTMLTextAreaElement).value).toBe("");
    await act(async () => {
      resolve(new Response(JSON.stringify(comment("post-1", 1, { content: "hello there" })), { status: 201 }));
    });
    await vi.waitFor(() => expect(screen.getByTestId("comment").dataset.pending).toBeUndefined());
    expect(screen.getAllByTestId("comment")).toHaveLength(1);
  });
});

describe("RealtimeNotifications", () => {
  it("toasts comments by others on posts not shown, and test messages; not the shown post or own comments", () => {
    vi.useFakeTimers();
    const ws = connectGlobal();
    render(<RealtimeNotifications />);
    act(() => ws.receive(envelope("comment.created", { postId: "post-2", comment: comment("post-2", 1, { userId: "bob", content: "psst" }) })));
    act(() => ws.receive(envelope("comment.created", { postId: "post-1", comment: comment("post-1", 1, { userId: "bob" }) })));
    act(() => ws.receive(envelope("comment.created", { postId: "post-3", comment: comment("post-3", 1, { userId: "alice" }) })));
    act(() => ws.receive(envelope("test", { message: "hello test" })));
    const toasts = screen.getAllByTestId("toast");
    expect(toasts.map((t) => t.dataset.kind)).toEqual(["comment", "test"]);
    expect(toasts[0]!.textContent).toContain("psst");
    expect(toasts[1]!.textContent).toContain("hello test");
    expect(screen.getByRole("region", { name: "Notifications" }).querySelector("[aria-live=polite]")).not.toBeNull();
    expect(notificationsStore.getState().unread).toEqual({ "post-2": 1 });

    act(() => vi.advanceTimersByTime(6000));
    expect(screen.queryAllByTestId("toast")).toHaveLength(0);
    vi.useRealTimers();
  });

  it("can be dismissed by hand", () => {
    const ws = connectGlobal();
    render(<RealtimeNotifications />);
    act(() => ws.receive(envelope("test", { message: "bye" })));
    fireEvent.click(screen.getByRole("button", { name: "Dismiss notification" }));
    expect(screen.queryAllByTestId("toast")).toHaveLength(0);
  });
});

describe("SignIn", () => {
  function jwt(claims: Record<string, unknown>) {
    const b64 = (o: unknown) => btoa(JSON.stringify(o)).replace(/=+$/, "");
    return `${b64({ alg: "RS256" })}.${b64(claims)}.sig`;
  }

  it("local: POSTs the username to the token endpoint and keeps the token in sessionStorage", async () => {
    sessionStore.setState({ auth: null, config });
    const token = jwt({ sub: "zoe", "cognito:username": "zoe", exp: Math.floor(Date.now() / 1000) + 3600 });
    const fetchMock = vi.fn<typeof fetch>().mockResolvedValue(new Response(JSON.stringify({ token, userId: "zoe", expiresIn: 3600 })));
    vi.stubGlobal("fetch", fetchMock);
    render(<SignIn />);
    fireEvent.change(screen.getByLabelText("Username"), { target: { value: " zoe " } });
    fireEvent.click(screen.getByTestId("signin-submit"));
    await vi.waitFor(() => expect(sessionStore.getState().auth?.userId).toBe("zoe"));
    expect(fetchMock.mock.calls[0]![0]).toBe(config.tokenUrl);
    expect(JSON.parse(String(fetchMock.mock.calls[0]![1]?.body))).toEqual({ username: "zoe" });
    expect(JSON.parse(window.sessionStorage.getItem(AUTH_STORAGE_KEY)!).token).toBe(token);
    act(() => sessionStore.getState().signOut());
    expect(window.sessionStorage.getItem(AUTH_STORAGE_KEY)).toBeNull();
  });

  it("cloud: Sign in goes to the Cognito hosted sign-in with the code flow, PKCE, state and nonce", async () => {
    sessionStore.setState({
      auth: null,
      config: { ...config, cognitoDomain: "https://rc.auth.eu-west-1.amazoncognito.com/", cognitoClientId: "client123", cognitoRedirectUri: "https://app.example/" },
    });
    const assign = vi.fn();
    const original = window.location;
    Object.defineProperty(window, "location", { configurable: true, value: { ...original, assign } });
    try {
      render(<SignIn />);
      fireEvent.click(screen.getByTestId("signin-cognito"));
      await waitFor(() => expect(assign).toHaveBeenCalledTimes(1));
    } finally {
      Object.defineProperty(window, "location", { configurable: true, value: original });
    }
    const url = new URL(assign.mock.calls[0]![0] as string);
    expect(url.origin + url.pathname).toBe("https://rc.auth.eu-west-1.amazoncognito.com/oauth2/authorize");
    const query = Object.fromEntries(url.searchParams);
    expect(query).toMatchObject({
      client_id: "client123",
      response_type: "code",
      scope: "openid email profile",
      redirect_uri: "https://app.example/",
      code_challenge_method: "S256",
    });
    expect(query.state!.length).toBeGreaterThan(20);
    expect(query.nonce!.length).toBeGreaterThan(20);
    expect(query.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
