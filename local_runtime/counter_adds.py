"""UpdateItem ``ADD <attribute> :n`` of an integer, applied to moto's item without moto's expression code.

Every ``$connect`` and ``$disconnect`` adds to a connection counter shard and every comment to its
post's sequence number. For each of those, moto parses the expression twice, deep-copies the item
twice and walks its validator and executor: UpdateItem was a quarter of the data process's CPU in
1,000 ``$disconnect``s at once (two calls each), eight times the DeleteItem beside it. This path
makes the same change to moto's item and answers as moto's handler does (held against moto's own
answers by a unit test), for exactly this shape and nothing else:

- ``UpdateExpression`` is ``ADD name :v`` or ``ADD #n :v``: one action on one top-level attribute
  (not a reserved word when written plainly), ``ExpressionAttributeNames`` holding exactly that
  placeholder, ``ExpressionAttributeValues`` exactly ``:v``, a non-zero integer ``N``;
- ``ReturnValues`` is NONE, UPDATED_NEW or ALL_NEW, and the request has no other member (no
  condition, no ``ReturnConsumedCapacity``);
- the attribute is not a key of the table or of its indexes, the key has the table's attributes
  and types, and the item, if there is one, is small and holds an integer ``N`` there (or nothing);
- on a table with a stream, the item exists (moto writes a record for the bare keys first when an
  update creates the item, which this path does not imitate).

Anything else, errors included, goes to moto. The caller holds the table's write lock.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from .moto_fast_paths import stored_item

_EXPRESSION = re.compile(r"\s*ADD\s+(#?[A-Za-z0-9_]+)\s+(:[A-Za-z0-9_]+)\s*")
_INTEGER = re.compile(r"-?[0-9]{1,38}")
_ALLOWED_MEMBERS = frozenset(
    {
        "TableName",
        "Key",
        "UpdateExpression",
        "ExpressionAttributeNames",
        "ExpressionAttributeValues",
        "ReturnValues",
    }
)
_RETURN_VALUES = frozenset({"NONE", "UPDATED_NEW", "ALL_NEW"})
_MAX_ATTRIBUTES = 32  # far from DynamoDB's 400 KB item limit, which moto checks and this path does not
_MAX_KEY_CHARS = 1024


def add_to_counter(table: Any, body: dict[str, Any]) -> dict[str, Any] | None:
    """Apply the ADD to ``table`` (moto's) and return moto's answer body, or None (moto's turn)."""
    parsed = _counter_add(table, body)
    if parsed is None:
        return None
    attribute, delta, return_values = parsed
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    item = stored_item(table, body["Key"])
    if item is None:
        if table.stream_shard is not None:
            return None
        hash_value = DynamoType(body["Key"][table.hash_key_attr])
        range_value = DynamoType(body["Key"][table.range_key_attr]) if table.range_key_attr else None
        item = Item(hash_value, range_value, {**body["Key"], attribute: {"N": str(delta)}})
        if range_value is not None:
            table.items[hash_value][range_value] = item
        else:
            table.items[hash_value] = item
    else:
        current = item.attrs.get(attribute)
        if len(item.attrs) > _MAX_ATTRIBUTES or (
            current is not None and (current.type != "N" or not _INTEGER.fullmatch(current.value))
        ):
            return None
        before = copy.deepcopy(item) if table.stream_shard is not None else None
        total = (int(current.value) if current is not None else 0) + delta
        item.attrs[attribute] = DynamoType({"N": str(total)})
        if before is not None:
            table.stream_shard.add(before, item)
    answer: dict[str, Any] = {"ConsumedCapacity": {"TableName": body["TableName"], "CapacityUnits": 0.5}}
    if return_values == "UPDATED_NEW":
        answer["Attributes"] = {attribute: item.attrs[attribute].to_json()}
    elif return_values == "ALL_NEW":
        answer["Attributes"] = item.to_json()["Attributes"]
    return answer


def _counter_add(table: Any, body: dict[str, Any]) -> tuple[str, int, str] | None:
    """(attribute, delta, ReturnValues) when the request has exactly the shape above."""
    if not _ALLOWED_MEMBERS.issuperset(body) or not isinstance(body.get("UpdateExpression"), str):
        return None
    return_values = body.get("ReturnValues", "NONE")
    if return_values not in _RETURN_VALUES:
        return None
    match = _EXPRESSION.fullmatch(body["UpdateExpression"])
    if match is None:
        return None
    name, placeholder = match.groups()
    names = body.get("ExpressionAttributeNames") or {}
    values = body.get("ExpressionAttributeValues") or {}
    if name.startswith("#"):
        if set(names) != {name} or not isinstance(names[name], str) or not names[name]:
            return None
        attribute = names[name]
    else:
        if names or _reserved(name):
            return None
        attribute = name
    value = values.get(placeholder) if set(values) == {placeholder} else None
    if not isinstance(value, dict) or set(value) != {"N"} or not isinstance(value["N"], str):
        return None
    if not _INTEGER.fullmatch(value["N"]) or int(value["N"]) == 0:
        return None
    if not _plain_key(table, body.get("Key")) or attribute in _key_attributes(table):
        return None
    return attribute, int(value["N"]), return_values


def _plain_key(table: Any, key: Any) -> bool:
    """The key names exactly the table's key attributes, with their types and within their sizes."""
    expected = {table.hash_key_attr: table.hash_key_type}
    if table.range_key_attr:
        expected[table.range_key_attr] = table.range_key_type
    if not isinstance(key, dict) or set(key) != set(expected):
        return False
    for name, kind in expected.items():
        value = key[name]
        if not isinstance(value, dict) or list(value) != [kind] or not isinstance(value[kind], str):
            return False
        if not value[kind] or len(value[kind]) > _MAX_KEY_CHARS:
            return False
    return True


def _key_attributes(table: Any) -> set[str]:
    names = {table.hash_key_attr, table.range_key_attr}
    for index in [*table.global_indexes, *table.indexes]:
        names.update(key["AttributeName"] for key in index.schema)
    return {name for name in names if name}


def _reserved(name: str) -> bool:
    from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords

    return name.upper() in ReservedKeywords.get_reserved_keywords()
