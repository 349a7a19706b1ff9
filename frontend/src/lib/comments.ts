import type { Comment } from "./types";

/** Newest version of the same comment: the one with the later `updatedAt` (ties: incoming if it differs). */
function newer(existing: Comment, incoming: Comment): Comment {
  const a = existing.updatedAt ?? existing.createdAt;
  const b = incoming.updatedAt ?? incoming.createdAt;
  if (a > b) return existing;
  if (a === b && existing.content === incoming.content && existing.seq === incoming.seq) return existing;
  return incoming;
}

export function sortBySeq(comments: Comment[]): Comment[] {
  return [...comments].sort((x, y) => x.seq - y.seq || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

/**
 * Merge comments into a list: deduplicated by id (keeping the newest version), ordered by seq,
 * ignoring ids known to be deleted.
 */
export function mergeComments(
  existing: Comment[],
  incoming: Comment[],
  deletedIds: Readonly<Record<string, true>> = {},
): Comment[] {
  if (incoming.length === 0) return existing;
  const byId = new Map<string, Comment>();
  for (const c of existing) byId.set(c.id, c);
  let changed = false;
  for (const c of incoming) {
    if (deletedIds[c.id]) continue;
    const prev = byId.get(c.id);
    const next = prev ? newer(prev, c) : c;
    if (next !== prev) {
      byId.set(c.id, next);
      changed = true;
    }
  }
  return changed ? sortBySeq([...byId.values()]) : existing;
}

/** `comment.updated`: replace the comment with the same id (insert it if unknown). */
export function replaceComment(
  existing: Comment[],
  comment: Comment,
  deletedIds: Readonly<Record<string, true>> = {},
): Comment[] {
  if (deletedIds[comment.id]) return existing;
  const without = existing.filter((c) => c.id !== comment.id);
  return sortBySeq([...without, comment]);
}

/** `comment.deleted`: remove by id. */
export function removeComment(existing: Comment[], commentId: string): Comment[] {
  const next = existing.filter((c) => c.id !== commentId);
  return next.length === existing.length ? existing : next;
}

export function maxSeq(comments: Comment[]): number {
  return comments.reduce((m, c) => Math.max(m, c.seq), 0);
}

export function minSeq(comments: Comment[]): number | undefined {
  return comments.length ? comments.reduce((m, c) => Math.min(m, c.seq), Number.POSITIVE_INFINITY) : undefined;
}
