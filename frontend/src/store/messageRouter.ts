/**
 * Message routing: text frames parsed into envelopes and handed, by `type`, to any number of
 * handlers (`*` = every message). Frames that do not parse are logged and skipped; a throwing
 * handler does not stop the others.
 */
import type { Envelope } from "@/lib/types";
import type { Logger } from "./connection";

export type MessageHandler = (message: Envelope) => void;

export interface MessageRouter {
  /** Returns the unsubscribe function (idempotent). */
  subscribe(type: string, handler: MessageHandler): () => void;
  dispatch(message: Envelope): void;
  /** A raw frame's envelope, or null (logged) when it is not one. */
  parse(raw: unknown): Envelope | null;
}

export function createMessageRouter(logger: Logger): MessageRouter {
  const handlers = new Map<string, Set<MessageHandler>>();

  return {
    subscribe(type, handler) {
      let forType = handlers.get(type);
      if (!forType) {
        forType = new Set();
        handlers.set(type, forType);
      }
      // Wrap so that the same function may be subscribed twice and unsubscribed separately.
      const entry: MessageHandler = (m) => handler(m);
      forType.add(entry);
      let done = false;
      return () => {
        if (done) return;
        done = true;
        const current = handlers.get(type);
        current?.delete(entry);
        if (current && current.size === 0) handlers.delete(type);
      };
    },

    dispatch(message) {
      const targets = [...(handlers.get(message.type) ?? []), ...(handlers.get("*") ?? [])];
      for (const handler of targets) {
        try {
          handler(message);
        } catch (err) {
          logger.error(`[websocket] handler for "${message.type}" failed`, err);
        }
      }
    },

    parse(raw) {
      if (typeof raw !== "string") {
        logger.warn("[websocket] skipped a non-text frame");
        return null;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        logger.warn("[websocket] skipped a frame that is not JSON:", raw.slice(0, 200));
        return null;
      }
      if (typeof parsed !== "object" || parsed === null || typeof (parsed as Envelope).type !== "string") {
        logger.warn("[websocket] skipped a frame without a type:", raw.slice(0, 200));
        return null;
      }
      return parsed as Envelope;
    },
  };
}
