"use client";

import { useWebSocketManager } from "@/hooks/useWebSocketManager";

const LABELS: Record<string, string> = {
  idle: "Not connected",
  connecting: "Connecting…",
  connected: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

/** Connection indicator: live / reconnecting (attempt n of max) / offline with Retry. */
export function ConnectionStatus() {
  const { status, attempt, maxAttempts, retry, confirmedPosts } = useWebSocketManager();
  const label =
    status === "reconnecting" ? `Reconnecting (${attempt} of ${maxAttempts})…` : (LABELS[status] ?? status);
  return (
    <div className="conn" data-testid="connection-status" data-status={status} data-attempt={attempt} data-subscriptions={confirmedPosts.length}>
      <span className={`conn-dot conn-${status}`} aria-hidden="true" />
      <span role="status" aria-live="polite" className="conn-label">
        {status === "reconnecting" ? (
          <>
            {label}
            <span className="visually-hidden"> Attempt {attempt} of {maxAttempts}.</span>
          </>
        ) : (
          label
        )}
      </span>
      {(status === "offline" || status === "reconnecting") && (
        <button type="button" className="btn btn-small" onClick={retry} data-testid="retry-button">
          {status === "offline" ? "Retry" : "Retry now"}
        </button>
      )}
    </div>
  );
}
