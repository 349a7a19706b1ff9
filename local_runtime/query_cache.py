"""Secondary-index Query answers kept until a write can change them.

Every comment's broadcast Queries its post's subscribers on `byPost`, and between two comments the
connections table takes writes that cannot change that answer (the author's write-limit item, the
connection counters). moto still builds, projects and serializes the whole answer every time: at
250 subscribers x 20 comments/s that was 40 % of the data process's CPU (docs/local-runtime.md).

An answer is kept per request body (same table, index, key condition, page, projection) and
served again while its index is unchanged:

- a single-item write (PutItem, UpdateItem, DeleteItem) changes an index only if the item before
  or after it has that index's partition key attribute (an item without it is in no such index),
  so only those indexes move on;
- every other write (batch, transaction, a TTL deletion, a table created or deleted), and any
  write whose items cannot be read, moves on every index of its tables.

The caller holds the table locks of ``data_store.TableLocks``: a lookup runs under a shared
lock, a write and its bookkeeping under the exclusive one, so no answer is stored after a write
it did not see. Each answer gets a request id of its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .moto_fast_paths import stored_item

SINGLE_ITEM_WRITES = {"PutItem": "Item", "UpdateItem": "Key", "DeleteItem": "Key"}
MAX_ENTRIES = 256
MAX_BODY_BYTES = 1 << 20  # a page of DynamoDB's answer is at most 1 MB of items

Answer = tuple[str, list[tuple[str, str]], bytes]
Version = tuple[int, int]


class QueryCache:
    """Answers of index Queries by request body, and the versions that tell when they are stale."""

    def __init__(
        self,
        table_of: Callable[[str], Any],
        request_id: Callable[[], str],
        *,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._table_of = table_of  # moto's table by name (raises when there is none)
        self._request_id = request_id
        self._max_entries = max_entries
        self._entries: OrderedDict[bytes, tuple[str, str, Version, Answer]] = OrderedDict()
        self._table_epochs: dict[str, int] = {}
        self._index_versions: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()  # readers under a shared table lock run side by side
        self.hits = 0
        self.misses = 0

    def version(self, table: str, index: str) -> Version:
        return self._table_epochs.get(table, 0), self._index_versions.get((table, index), 0)

    def lookup(self, raw: bytes, table: str, index: str) -> Answer | None:
        with self._lock:
            entry = self._entries.get(raw)
            if entry is None or entry[2] != self.version(table, index) or entry[:2] != (table, index):
                self.misses += 1
                return None
            self._entries.move_to_end(raw)
            self.hits += 1
        status, headers, body = entry[3]
        fresh = [(k, v) for k, v in headers if k.lower() != "x-amzn-requestid"]
        fresh.append(("x-amzn-RequestId", self._request_id()))
        return status, fresh, body

    def store(self, raw: bytes, table: str, index: str, version: Version, answer: Answer) -> None:
        """Keep a successful answer computed at ``version`` (read before the Query ran)."""
        if not answer[0].startswith("200") or len(answer[2]) > MAX_BODY_BYTES:
            return
        with self._lock:
            if version != self.version(table, index):
                return
            self._entries[raw] = (table, index, version, answer)
            self._entries.move_to_end(raw)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    # -- writes ------------------------------------------------------------------------------------
    def invalidate_tables(self, tables: list[str]) -> None:
        """Every index of these tables may have changed."""
        with self._lock:
            for name in tables:
                self._table_epochs[name] = self._table_epochs.get(name, 0) + 1

    def indexes_holding(self, operation: str, body: dict[str, Any]) -> set[str] | None:
        """For a single-item write, the indexes whose partition key attribute its item has now
        (call before and after the write); None when that cannot be told (then every index moves)."""
        field = SINGLE_ITEM_WRITES.get(operation)
        if field is None:
            return None
        try:
            table = self._table_of(body["TableName"])
            item = stored_item(table, body[field])
        except Exception:  # noqa: BLE001 - unknown table, malformed key: moto answers; all indexes move
            return None
        indexes = _index_key_attributes(table)
        if item is None:
            return set()
        return {name for name, attribute in indexes.items() if attribute in item.attrs}

    def written(
        self, tables: list[str], operation: str, body: dict[str, Any], before: set[str] | None
    ) -> None:
        """After a write: ``before`` is what :meth:`indexes_holding` said before it."""
        after = self.indexes_holding(operation, body) if before is not None else None
        if before is None or after is None:
            self.invalidate_tables(tables)
            return
        with self._lock:
            for name in before | after:
                key = (tables[0], name)
                self._index_versions[key] = self._index_versions.get(key, 0) + 1


def _index_key_attributes(table: Any) -> dict[str, str]:
    """Index name -> its partition key attribute, for the table's global and local indexes (a local
    index's is the table's own, which every item has)."""
    out: dict[str, str] = {}
    for index in [*table.global_indexes, *table.indexes]:
        for key in index.schema:
            if key["KeyType"] == "HASH":
                out[index.name] = key["AttributeName"]
    return out
