/**
 * The socket's lifecycle, without any knowledge of messages or posts:
 *
 * - one connection at a time: `{url}?token=<JWT>`;
 * - reconnection with exponential backoff (attempt n waits `reconnectBaseDelayMs * 2^(n-1)`, at most
 *   `maxReconnectAttempts` attempts), then `offline` until `retry()`;
 * - an application heartbeat (`{"action":"ping"}`) well inside API Gateway's 10-minute idle timeout;
 * - a proactive, make-before-break reconnect before API Gateway's 2-hour connection limit.
 *
 * It reports what happens through `ConnectionEvents`: status changes, every open (so that the
 * caller subscribes again), every text frame and every loss.
 */

export type ConnectionStatus = "idle" | "connecting" | "connected" | "reconnecting" | "offline";

/** The part of the browser WebSocket the connection uses. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(id: unknown): void;
}

export type Logger = Pick<Console, "warn" | "error" | "info">;

export interface Tuning {
  maxReconnectAttempts: number;
  reconnectBaseDelayMs: number;
  maxReconnectDelayMs: number;
  heartbeatIntervalMs: number;
  maxConnectionAgeMs: number;
}

export const DEFAULT_TUNING: Readonly<Tuning> = Object.freeze({
  maxReconnectAttempts: 5,
  reconnectBaseDelayMs: 3000,
  maxReconnectDelayMs: 60_000,
  heartbeatIntervalMs: 5 * 60_000, // API Gateway closes connections idle for 10 minutes
  maxConnectionAgeMs: 110 * 60_000, // API Gateway's limit is 2 hours
});

/** What the status store shows of the connection. */
export interface ConnectionSnapshot {
  status: ConnectionStatus;
  /** Current reconnect attempt (1-based) while `reconnecting`; 0 otherwise. */
  attempt: number;
  maxAttempts: number;
  /** Epoch ms of the next scheduled attempt, if one is scheduled. */
  nextRetryAt: number | null;
  connectedAt: number | null;
  lastError: string | null;
}

export interface ConnectionEvents {
  status(patch: Partial<ConnectionSnapshot>): void;
  /** A socket is open and current: `reconnect` after a lost connection, `rotated` after a proactive one. */
  opened(how: { reconnect: boolean; rotated: boolean }): void;
  frame(raw: unknown): void;
  /** The current socket is gone (a reconnect may follow). */
  lost(): void;
}

export interface ConnectionOptions {
  WebSocketImpl?: WebSocketConstructor;
  timers?: Timers;
  logger?: Logger;
  now?: () => number;
  tuning?: Partial<Tuning>;
}

export interface Connection {
  /** New URL or token. A new URL reconnects at once; a renewed token is used from the next connection on. */
  setEndpoint(url: string | null, token: string | null): void;
  tune(tuning: Partial<Tuning>): void;
  connect(): void;
  disconnect(): void;
  retry(): void;
  send(payload: unknown): boolean;
}

const OPEN = 1;

const defaultTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id as ReturnType<typeof setTimeout>),
  setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
  clearInterval: (id) => globalThis.clearInterval(id as ReturnType<typeof setInterval>),
};

export function backoffDelay(attempt: number, baseMs: number, maxMs = Number.POSITIVE_INFINITY): number {
  return Math.min(baseMs * 2 ** Math.max(0, attempt - 1), maxMs);
}

export function withToken(url: string, token: string | null): string {
  if (!token) return url;
  return `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
}

function close(ws: WebSocketLike, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // already closed
  }
}

/** Forget a socket's handlers and close it. */
function detach(ws: WebSocketLike | null): void {
  if (!ws) return;
  ws.onopen = null;
  ws.onclose = null;
  ws.onerror = null;
  ws.onmessage = null;
  close(ws, 1000, "client closing");
}

export function createConnection(events: ConnectionEvents, options: ConnectionOptions = {}): Connection {
  const timers = options.timers ?? defaultTimers;
  const logger: Logger = options.logger ?? console;
  const now = options.now ?? (() => Date.now());
  const tuning: Tuning = { ...DEFAULT_TUNING, ...options.tuning };
  const resolveImpl = (): WebSocketConstructor | undefined =>
    options.WebSocketImpl ?? (globalThis.WebSocket as unknown as WebSocketConstructor | undefined);

  let url: string | null = null;
  let token: string | null = null;
  let socket: WebSocketLike | null = null; // the current connection (connecting or open)
  let rotating: WebSocketLike | null = null; // its replacement during a proactive reconnect
  let reconnectTimer: unknown = null;
  let heartbeatTimer: unknown = null;
  let maxAgeTimer: unknown = null;
  let active = false; // connect() wanted, until disconnect()
  let everConnected = false; // a later open is a reconnect
  let attempt = 0;

  const report = (patch: Partial<ConnectionSnapshot>) => {
    if (patch.attempt !== undefined) attempt = patch.attempt;
    events.status(patch);
  };

  const target = (): string | null => (url ? withToken(url, token) : null);

  const rawSend = (ws: WebSocketLike | null, payload: unknown): boolean => {
    if (!ws || ws.readyState !== OPEN) return false;
    try {
      ws.send(JSON.stringify(payload));
      return true;
    } catch (err) {
      logger.warn("[websocket] send failed", err);
      return false;
    }
  };

  const clearReconnect = () => {
    if (reconnectTimer !== null) timers.clearTimeout(reconnectTimer);
    reconnectTimer = null;
  };

  const stopConnectionTimers = () => {
    if (heartbeatTimer !== null) timers.clearInterval(heartbeatTimer);
    if (maxAgeTimer !== null) timers.clearTimeout(maxAgeTimer);
    heartbeatTimer = null;
    maxAgeTimer = null;
  };

  const startConnectionTimers = () => {
    stopConnectionTimers();
    heartbeatTimer = timers.setInterval(() => rawSend(socket, { action: "ping" }), tuning.heartbeatIntervalMs);
    maxAgeTimer = timers.setTimeout(rotate, tuning.maxConnectionAgeMs);
  };

  /** Proactive reconnect: open the replacement, subscribe on it, then close the old one. */
  const rotate = () => {
    maxAgeTimer = null;
    const Impl = resolveImpl();
    const to = target();
    if (!Impl || !to || !socket || rotating) return;
    const fresh = new Impl(to);
    rotating = fresh;
    fresh.onmessage = (ev) => events.frame(ev.data);
    fresh.onerror = () => undefined;
    fresh.onopen = () => {
      if (fresh !== rotating) return;
      rotating = null;
      const old = socket;
      socket = fresh;
      wire(fresh);
      report({ connectedAt: now() });
      startConnectionTimers();
      events.opened({ reconnect: false, rotated: true });
      // The old connection keeps delivering until it is closed; duplicates dedupe by id.
      if (old) {
        old.onclose = null;
        old.onerror = null;
        close(old, 1000, "replaced");
      }
    };
    fresh.onclose = () => {
      if (fresh !== rotating) return;
      rotating = null;
      logger.warn("[websocket] proactive reconnect failed; trying again later");
      if (socket) maxAgeTimer = timers.setTimeout(rotate, tuning.reconnectBaseDelayMs);
    };
  };

  const wire = (ws: WebSocketLike) => {
    ws.onmessage = (ev) => events.frame(ev.data);
    ws.onerror = () => {
      if (ws === socket) report({ lastError: "WebSocket error" });
    };
    ws.onopen = () => {
      if (ws !== socket) return;
      const reconnect = everConnected;
      everConnected = true;
      report({ status: "connected", attempt: 0, nextRetryAt: null, connectedAt: now(), lastError: null });
      startConnectionTimers();
      events.opened({ reconnect, rotated: false });
    };
    ws.onclose = (ev) => {
      if (ws !== socket) return;
      socket = null;
      stopConnectionTimers();
      detach(rotating);
      rotating = null;
      const patch: Partial<ConnectionSnapshot> = { connectedAt: null };
      if (ev?.code) patch.lastError = `closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ""})`;
      report(patch);
      events.lost();
      if (active) scheduleReconnect();
      else report({ status: "idle", attempt: 0 });
    };
  };

  const openSocket = () => {
    const Impl = resolveImpl();
    const to = target();
    if (!Impl || !to) {
      report({ status: "offline", lastError: Impl ? "no WebSocket URL configured" : "WebSocket unavailable" });
      return;
    }
    let ws: WebSocketLike;
    try {
      ws = new Impl(to);
    } catch (err) {
      logger.warn("[websocket] could not open", err);
      report({ lastError: String(err) });
      scheduleReconnect();
      return;
    }
    socket = ws;
    wire(ws);
  };

  const scheduleReconnect = () => {
    clearReconnect();
    const next = attempt + 1;
    if (next > tuning.maxReconnectAttempts) {
      report({ status: "offline", attempt: tuning.maxReconnectAttempts, nextRetryAt: null });
      return;
    }
    const delay = backoffDelay(next, tuning.reconnectBaseDelayMs, tuning.maxReconnectDelayMs);
    report({ status: "reconnecting", attempt: next, nextRetryAt: now() + delay });
    reconnectTimer = timers.setTimeout(() => {
      reconnectTimer = null;
      if (active && !socket) openSocket();
    }, delay);
  };

  const teardown = () => {
    clearReconnect();
    stopConnectionTimers();
    detach(rotating);
    rotating = null;
    detach(socket);
    socket = null;
  };

  return {
    setEndpoint(nextUrl, nextToken) {
      // API Gateway checks the token at $connect only: a renewed token (same user) is used from
      // the next connection on; an open connection is kept. A new URL reconnects at once.
      const changed = nextUrl !== url || (nextToken !== token && !socket && reconnectTimer === null);
      url = nextUrl;
      token = nextToken;
      if (!changed || !active) return;
      teardown();
      report({ attempt: 0, nextRetryAt: null });
      if (url) {
        report({ status: "connecting" });
        openSocket();
      } else {
        active = false;
        report({ status: "idle" });
      }
    },

    tune(patch) {
      for (const [key, value] of Object.entries(patch) as [keyof Tuning, number | undefined][]) {
        if (typeof value === "number" && Number.isFinite(value) && value >= 0) tuning[key] = value;
      }
      report({ maxAttempts: tuning.maxReconnectAttempts });
    },

    connect() {
      active = true;
      if (socket || reconnectTimer !== null) return;
      report({ status: attempt > 0 ? "reconnecting" : "connecting" });
      openSocket();
    },

    disconnect() {
      active = false;
      everConnected = false;
      teardown();
      report({ status: "idle", attempt: 0, nextRetryAt: null, connectedAt: null });
    },

    retry() {
      active = true;
      teardown();
      report({ status: "connecting", attempt: 0, nextRetryAt: null });
      openSocket();
    },

    send(payload) {
      return rawSend(socket, payload);
    },
  };
}
