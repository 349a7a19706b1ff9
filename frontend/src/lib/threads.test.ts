import { describe, expect, it } from "vitest";

import { MAX_REPLY_DEPTH, threadRows } from "./threads";

const item = (id: string, parentId?: string) => ({ id, parentId });

describe("threadRows", () => {
  it("puts each reply under its parent, oldest first, after the parent's earlier replies", () => {
    const rows = threadRows([item("a"), item("b"), item("a1", "a"), item("b1", "b"), item("a2", "a"), item("a1x", "a1")]);
    expect(rows.map((r) => [r.item.id, r.depth])).toEqual([
      ["a", 0],
      ["a1", 1],
      ["a1x", 2],
      ["a2", 1],
      ["b", 0],
      ["b1", 1],
    ]);
  });

  it("indents up to 3 levels, then keeps deeper replies at the third", () => {
    const chain = [item("c0"), item("c1", "c0"), item("c2", "c1"), item("c3", "c2"), item("c4", "c3"), item("c5", "c4")];
    expect(threadRows(chain).map((r) => r.depth)).toEqual([0, 1, 2, 3, 3, 3]);
    expect(MAX_REPLY_DEPTH).toBe(3);
  });

  it("shows a reply whose parent is not held at the top level, marked", () => {
    const rows = threadRows([item("r", "older"), item("x")]);
    expect(rows.map((r) => [r.item.id, r.depth, r.parentMissing])).toEqual([
      ["r", 0, true],
      ["x", 0, false],
    ]);
  });
});
