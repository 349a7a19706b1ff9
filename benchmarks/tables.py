"""The tables of docs/design.md as the handler tests and the benchmarks build them without a synth.

One definition for both, created with the runtime's own ``local_runtime.storage.create_table``;
tests/infra/test_test_tables_match_template.py holds each against the synthesized template, so
they cannot drift from what the stack deploys.
"""

from __future__ import annotations

from typing import Any

from local_runtime.model import TableSpec
from local_runtime.storage import create_table


def _keys(partition: str, sort: str | None = None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition, "KeyType": "HASH"}]
    if sort:
        schema.append({"AttributeName": sort, "KeyType": "RANGE"})
    return schema


def _strings(*names: str) -> list[dict[str, str]]:
    return [{"AttributeName": name, "AttributeType": "S"} for name in names]


def _keys_only_index(name: str, partition: str, sort: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": _keys(partition, sort),
        "Projection": {"ProjectionType": "KEYS_ONLY"},
    }


def connections_table(name: str) -> TableSpec:
    """connectionId + sk, TTL expiresAt, sparse GSIs byPost (postId, connectionId), byUser
    (connectedUserId, connectionId) and byShard (registryShard, connectionId)."""
    return TableSpec(
        logical_id="ConnectionsTable",
        name=name,
        key_schema=_keys("connectionId", "sk"),
        attribute_definitions=_strings("connectionId", "sk", "postId", "connectedUserId", "registryShard"),
        gsis=[
            _keys_only_index("byPost", "postId", "connectionId"),
            _keys_only_index("byUser", "connectedUserId", "connectionId"),
            _keys_only_index("byShard", "registryShard", "connectionId"),
        ],
        ttl_attribute="expiresAt",
    )


def comments_table(name: str) -> TableSpec:
    """postId + seq (N), stream NEW_AND_OLD_IMAGES, LSI byCommentId (postId, id)."""
    return TableSpec(
        logical_id="CommentsTable",
        name=name,
        key_schema=_keys("postId", "seq"),
        attribute_definitions=[
            *_strings("postId"),
            {"AttributeName": "seq", "AttributeType": "N"},
            *_strings("id"),
        ],
        lsis=[_keys_only_index("byCommentId", "postId", "id")],
        stream_view_type="NEW_AND_OLD_IMAGES",
    )


def idempotency_table(name: str) -> TableSpec:
    """Powertools' defaults: partition key `id`, TTL `expiration`."""
    return TableSpec(
        logical_id="IdempotencyTable",
        name=name,
        key_schema=_keys("id"),
        attribute_definitions=_strings("id"),
        ttl_attribute="expiration",
    )


def notifications_table(name: str) -> TableSpec:
    """userId + id, TTL expiresAt."""
    return TableSpec(
        logical_id="NotificationsTable",
        name=name,
        key_schema=_keys("userId", "id"),
        attribute_definitions=_strings("userId", "id"),
        ttl_attribute="expiresAt",
    )


ALL_TABLES = (connections_table, comments_table, idempotency_table, notifications_table)


def create_tables(client: Any, *specs: TableSpec) -> None:
    """Create each table that ``client`` does not list yet."""
    existing = set(client.list_tables()["TableNames"])
    for spec in specs:
        if spec.name not in existing:
            create_table(client, spec)
