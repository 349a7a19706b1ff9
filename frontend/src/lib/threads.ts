/** Replies nested under their parent, as one flat list with a depth per item (for indentation). */

/** Replies are indented up to this many levels; deeper ones stay at this level. */
export const MAX_REPLY_DEPTH = 3;

export interface Threaded {
  id: string;
  parentId?: string;
}

export interface ThreadRow<T> {
  item: T;
  /** 0 for a top-level comment, at most MAX_REPLY_DEPTH. */
  depth: number;
  /** The parent is not held (older than the loaded window): shown at the top level. */
  parentMissing: boolean;
}

/**
 * Depth-first order: each comment followed by its replies (oldest first), in the input's order
 * otherwise. `items` come ordered (by seq, optimistic ones last).
 */
export function threadRows<T extends Threaded>(items: readonly T[], maxDepth = MAX_REPLY_DEPTH): ThreadRow<T>[] {
  const ids = new Set(items.map((x) => x.id));
  const children = new Map<string, T[]>();
  const roots: T[] = [];
  for (const item of items) {
    if (item.parentId && item.parentId !== item.id && ids.has(item.parentId)) {
      const list = children.get(item.parentId) ?? [];
      list.push(item);
      children.set(item.parentId, list);
    } else roots.push(item);
  }
  const rows: ThreadRow<T>[] = [];
  const seen = new Set<string>();
  const walk = (item: T, level: number) => {
    if (seen.has(item.id)) return;
    seen.add(item.id);
    rows.push({ item, depth: Math.min(level, maxDepth), parentMissing: level === 0 && Boolean(item.parentId) });
    for (const child of children.get(item.id) ?? []) walk(child, level + 1);
  };
  for (const root of roots) walk(root, 0);
  return rows;
}
