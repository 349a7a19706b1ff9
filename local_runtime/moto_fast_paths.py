"""moto's slow paths that the local system hits on every request, made fast for the data process.

Each one is measured (docs/local-runtime.md) and held against moto's own answers by the unit tests,
which switch them off with ``DynamoResult.fast_items = False``. They serve only the requests that
come through ``data_store.data_app`` (``request_state.active``), which tracks every write; a plain
moto server in the same process keeps moto's behaviour.
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime
from typing import Any

# -- table views cached between writes ----------------------------------------------------------------
# Every Query in moto starts from ``Table.all_items()``, which walks and *sorts* the whole table, and a
# GSI Query then compares every item's index key: a 250-subscriber Query spent most of its time
# there. A base-table Query now starts from its one partition; the sorted table and the GSI
# buckets are kept per table until the next write to it (any write request, a TTL deletion),
# which is exactly when they can change.
_versions: dict[str, int] = {}
request_state = threading.local()  # per request thread: whether it came through `data_app`, candidates


def _fast(switch: Any) -> bool:
    """The fast paths serve only requests that came through `data_app`, which tracks every write
    (another moto server in the same process, as in the tests, keeps moto's own behaviour)."""
    return bool(switch.fast_items) and getattr(request_state, "active", False)


_switch: Any = None  # moto's DynamoResult, once install_fast_item_serializer ran


def fast_paths_active() -> bool:
    """Whether this request may take the fast paths (installed, switched on, through `data_app`)."""
    return _switch is not None and _fast(_switch)


def writes_seen() -> int:
    """Writes served so far, over every table (the snapshot is due only when this moved)."""
    return sum(_versions.values())


def bump_versions(tables: list[str]) -> None:
    for name in tables:
        _versions[name] = _versions.get(name, 0) + 1


def items_of(table: Any) -> list[Any]:
    """Every item of a moto table, in no particular order. moto's ``all_items`` sorts them by key
    (Python comparisons of DynamoType pairs): most of a TTL sweep's, a snapshot's or an index
    bucket's time, and none of them needs an order."""
    if table.range_key_attr:
        return [item for partition in table.items.values() for item in partition.values()]
    return list(table.items.values())


def stored_item(table: Any, key: dict[str, Any]) -> Any:
    """The item of a moto table under ``key`` (wire attributes holding at least the table's key
    attributes), or None; raises KeyError when a key attribute is missing."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    partition = table.items.get(hash_value)  # .get: items is a defaultdict
    if partition is None:
        return None
    return partition.get(range_value) if range_value is not None else partition


def install_table_views(switch: Any) -> None:
    from moto.dynamodb.models.table import Table

    table_cls: Any = Table
    if hasattr(table_cls, "_local_runtime_views"):
        return
    moto_all_items = table_cls.all_items
    moto_query = table_cls.query
    moto_sorted_items = table_cls.sorted_items
    sorted_views: dict[int, tuple[Any, int, list[Any]]] = {}
    index_views: dict[tuple[int, str, str], tuple[Any, int, dict[tuple[str, str], list[Any]]]] = {}

    def all_items(self: Any) -> Any:
        candidates = getattr(request_state, "candidates", None)
        if candidates is not None and candidates[0] is self:
            return candidates[1]
        if not _fast(switch):
            return moto_all_items(self)
        version = _versions.get(self.name, 0)
        hit = sorted_views.get(id(self))
        if hit is not None and hit[0] is self and hit[1] == version:
            return hit[2]
        items = moto_all_items(self)
        sorted_views[id(self)] = (self, version, items)
        return items

    def index_bucket(table: Any, index_name: str, attr: str, value: Any) -> list[Any]:
        """The items whose index hash key is ``value``, in no particular order: moto's Query sorts
        an index's candidates by the index's and the table's keys, a total order. (Built from the
        sorted table, a rebuild after every write cost a 100-subscriber Query 10 ms in a table of
        360 items, and every comment's write-limit UpdateItem goes to the same table.)"""
        version = _versions.get(table.name, 0)
        key = (id(table), index_name, attr)
        hit = index_views.get(key)
        if hit is None or hit[0] is not table or hit[1] != version:
            buckets: dict[tuple[str, str], list[Any]] = {}
            for item in items_of(table):
                found = item.attrs.get(attr)
                if found is not None:
                    buckets.setdefault((found.type, str(found.value)), []).append(item)
            hit = index_views[key] = (table, version, buckets)
        return hit[2].get((value.type, str(value.value)), [])

    def partition(table: Any, hash_key: Any) -> list[Any]:
        """The items under one partition key, in range-key order (a base-table Query's candidates)."""
        found = table.items.get(hash_key)  # .get: items is a defaultdict
        if found is None:
            return []
        if isinstance(found, dict):
            return [found[k] for k in sorted(found)]
        return [found]

    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[7] if len(args) > 7 else None)  # moto passes it 8th
        conditions = kwargs.get("hash_key_conditions") or []
        if not _fast(switch) or len(conditions) > 1:
            return moto_query(self, *args, **kwargs)
        if index_name:
            if len(conditions) != 1:
                return moto_query(self, *args, **kwargs)
            attr, value = conditions[0]
            candidates = index_bucket(self, index_name, attr, value)
        elif args and args[0] is not None:
            candidates = partition(self, args[0])
        else:
            return moto_query(self, *args, **kwargs)
        request_state.candidates = (self, candidates)
        request_state.sizes = item_sizes(self)
        try:
            return moto_query(self, *args, **kwargs)
        finally:
            request_state.candidates = None
            request_state.sizes = None

    def item_sizes(table: Any) -> dict[int, tuple[Any, int]]:
        version = _versions.get(table.name, 0)
        hit = size_views.get(id(table))
        if hit is None or hit[0] is not table or hit[1] != version:
            hit = size_views[id(table)] = (table, version, {})
        return hit[2]

    def sorted_items(self: Any, hash_attrs: list[str], range_attrs: list[Any], items: list[Any]) -> Any:
        """moto's order, by plain values. moto sorts by tuples of ``DynamoType``s, whose every
        comparison builds both sides' ``cast_value`` again (a ``Decimal`` for a number): 4.9 ms
        for 250 subscribers, 0.5 ms this way. A key attribute has one type (the table's
        definition), so its ``cast_value``s order exactly as its ``DynamoType``s do."""
        if not _fast(switch):
            return moto_sorted_items(self, hash_attrs, range_attrs, items)
        attrs = self._generate_attr_to_sort_by(hash_attrs, range_attrs)
        items.sort(key=lambda item: tuple([item.attrs[attr].cast_value for attr in attrs]))
        return items

    table_cls.all_items = all_items
    table_cls.query = query
    table_cls.sorted_items = sorted_items
    table_cls._local_runtime_views = True
    _install_query_item_copies()


size_views: dict[int, tuple[Any, int, dict[int, tuple[Any, int]]]] = {}


def limited_size_dict(attrs: dict[str, Any]) -> Any:
    """moto's item attribute dict holding ``attrs``, without its per-key size check (the values come
    from a stored item, which passed it) and without its Python-level ``__init__``."""
    from moto.dynamodb.models.dynamo_type import LimitedSizeDict

    out = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.update(out, attrs)
    return out


def _install_query_item_copies() -> None:
    """Inside a fast-path Query (``request_state.sizes`` set), moto's per-result work made cheap:

    - ``Item.size()`` (summed over every attribute, twice per result, for the 1 MB page limit) is
      kept per item until the next write to the table;
    - the ``copy.deepcopy`` of every result before projecting it copies the item and its attribute
      dict but shares the attribute values: a Query only reads them (projection builds new items,
      filters and serializers read), and the deep copy of each value was a third of a
      250-subscriber Query's time.
    """
    from moto.dynamodb.models import dynamo_type

    item_cls: Any = dynamo_type.Item
    moto_size = item_cls.size
    moto_deepcopy = item_cls.__deepcopy__

    def size(self: Any) -> int:
        sizes = getattr(request_state, "sizes", None)
        if sizes is None:
            return moto_size(self)
        hit = sizes.get(id(self))
        if hit is None or hit[0] is not self:
            hit = sizes[id(self)] = (self, moto_size(self))
        return hit[1]

    def deepcopy(self: Any, memo: dict[int, Any]) -> Any:
        if getattr(request_state, "sizes", None) is None:
            return moto_deepcopy(self, memo)
        result = item_cls.__new__(item_cls)
        result.hash_key = self.hash_key
        result.range_key = self.range_key
        result.attrs = limited_size_dict(self.attrs)
        return result

    item_cls.size = size
    item_cls.__deepcopy__ = deepcopy


# -- item responses as JSON ------------------------------------------------------------------------
_ITEM_KEYS = ("Items", "Item", "Attributes", "Responses", "LastEvaluatedKey", "UnprocessedKeys")


def wire_value(value: Any) -> Any:
    """What the JSON protocol puts on the wire for the values :mod:`json` does not know."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):  # timestamps: epoch seconds, to the millisecond (as moto's)
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(aware.timestamp()) + (value.microsecond // 1000) / 1000
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def install_fast_item_serializer() -> None:
    """Serialize the item-bearing keys of DynamoDB results with :mod:`json` (see the module doc).

    ``DynamoResult.fast_items = False`` switches back to moto's serializer (the tests compare both).
    """
    from moto.core.responses import ActionResult
    from moto.dynamodb import responses

    cls: Any = responses.DynamoResult
    if hasattr(cls, "fast_items"):
        return
    moto_execute = cls.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        result = self.result
        if not _fast(cls) or not isinstance(result, dict) or not any(k in result for k in _ITEM_KEYS):
            return moto_execute(self, context)
        items = {k: result[k] for k in _ITEM_KEYS if k in result}
        rest = {k: v for k, v in result.items() if k not in items}
        status, headers, body = ActionResult(rest).execute_result(context)
        document = json.loads(body) if body else {}
        document.update(items)
        return status, headers, json.dumps(document, default=wire_value)

    global _switch
    cls.fast_items = True
    cls.execute_result = execute_result
    _switch = cls
    _install_method_names_cache()
    _install_fast_stream_records(cls)
    _install_fast_projection(cls)
    install_table_views(cls)


def _install_fast_projection(switch: Any) -> None:
    """Projected items (ProjectionExpression, KEYS_ONLY and INCLUDE indexes) built without moto's
    per-attribute size check, and top-level names picked without a deep copy of the item.

    moto's item dict re-adds every attribute's size on each attribute it stores, so building an
    item is quadratic in its attributes; for a Query with a projection that was over a third of
    the data process's CPU. A projection of a stored item cannot exceed the item size limit the
    stored item already passed, so the check is skipped there only.
    """
    from moto.dynamodb.models import dynamo_type

    item_cls: Any = dynamo_type.Item
    moto_project = item_cls.project

    def project(self: Any, projection_expressions: list[list[str]]) -> Any:
        if not _fast(switch):
            return moto_project(self, projection_expressions)
        projected = item_cls.__new__(item_cls)
        projected.hash_key = self.hash_key
        projected.range_key = self.range_key
        names = [path[0] for path in projection_expressions if len(path) == 1]
        if len(names) == len(projection_expressions):  # top-level names: pick them
            own = self.attrs
            attrs = {name: own[name] for name in names if name in own}
        else:
            result: dict[str, Any] = {}
            for path in projection_expressions:
                dynamo_type.merge_dicts(result, dynamo_type.find_nested_key(path, self.to_regular_json()))
            wire = dynamo_type.serializer.serialize(result)["M"]
            attrs = {key: dynamo_type.DynamoType(value) for key, value in wire.items()}
        projected.attrs = limited_size_dict(attrs)
        return projected

    item_cls.project = project


def _install_fast_stream_records(switch: Any) -> None:
    """The same for DynamoDB Streams' GetRecords, which a poller calls after every write; its
    records hold ready wire-shaped images (``switch.fast_items`` turns both paths off)."""
    from moto.core.responses import ActionResult
    from moto.dynamodbstreams import responses

    handler: Any = responses.DynamoDBStreamsHandler
    moto_get_records = handler.get_records

    class StreamRecords(ActionResult):
        def execute_result(self, context: Any) -> Any:
            result: dict[str, Any] = self.result  # type: ignore[assignment]
            status, headers, body = ActionResult(
                {k: v for k, v in result.items() if k != "Records"}
            ).execute_result(context)
            document = json.loads(body) if body else {}
            document["Records"] = [r.to_json() if hasattr(r, "to_json") else r for r in result["Records"]]
            return status, headers, json.dumps(document, default=wire_value)

    def get_records(self: Any) -> Any:
        result = moto_get_records(self)
        if not _fast(switch):
            return result
        return StreamRecords(result.result)

    handler.get_records = get_records


def _install_method_names_cache() -> None:
    """moto lists a response class's methods (``inspect.getmembers``) on every request to find the
    action's method; a class's methods do not change, so the list is made once per class."""
    import functools

    from moto.core import responses

    if hasattr(responses.method_names_from_class, "cache_info"):
        return
    responses.method_names_from_class = functools.lru_cache(maxsize=256)(  # type: ignore[assignment]
        responses.method_names_from_class
    )
