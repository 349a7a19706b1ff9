"use client";

import { useTypingUsers, useViewers } from "@/hooks/usePresence";

/** "3 viewing": distinct users subscribed to the post, this one included. */
export function ViewerCount({ postId }: { postId: string }) {
  const viewers = useViewers(postId);
  if (viewers === undefined) return null;
  return (
    <p className="viewers" data-testid="viewer-count" data-viewers={viewers}>
      <span className="viewers-dot" aria-hidden="true" />
      {viewers} viewing
    </p>
  );
}

export function typingText(users: readonly string[]): string {
  if (users.length === 0) return "";
  if (users.length === 1) return `${users[0]} is typing…`;
  if (users.length === 2) return `${users[0]} and ${users[1]} are typing…`;
  return `${users.length} people are typing…`;
}

/** "bob is typing…" under the comment box, for 5 s after each `typing` (see the presence store). */
export function TypingIndicator({ postId }: { postId: string }) {
  const users = useTypingUsers(postId);
  const text = typingText(users);
  return (
    <p className="typing muted small" aria-live="polite" data-testid="typing-indicator" data-typing={users.join(",")}>
      {text}
    </p>
  );
}
