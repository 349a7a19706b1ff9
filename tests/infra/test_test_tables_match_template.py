"""The tables the handler tests create (tests/conftest.py) are the tables the stack deploys.

Handler tests run against hand-built tables for speed; this keeps those definitions from drifting
away from the synthesized template (keys, attribute types, indexes, stream, TTL)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import (
    create_comments_table,
    create_connections_table,
    create_idempotency_table,
    create_notifications_table,
)

LOGICAL_IDS = {
    "ConnectionsTable": create_connections_table,
    "CommentsTable": create_comments_table,
    "IdempotencyTable": create_idempotency_table,
    "NotificationsTable": create_notifications_table,
}


class RecordingClient:
    """Stands in for the DynamoDB client and keeps the requests the fixture would send."""

    def __init__(self) -> None:
        self.table_request: dict[str, Any] = {}
        self.time_to_live: dict[str, Any] | None = None

    def create_table(self, **request: Any) -> None:
        self.table_request = request

    def update_time_to_live(self, **request: Any) -> None:
        self.time_to_live = request["TimeToLiveSpecification"]


def _indexes(indexes: list[dict[str, Any]] | None) -> dict[str, tuple]:
    return {
        index["IndexName"]: (
            tuple((key["AttributeName"], key["KeyType"]) for key in index["KeySchema"]),
            index["Projection"]["ProjectionType"],
        )
        for index in indexes or []
    }


@pytest.mark.parametrize("logical_id", sorted(LOGICAL_IDS))
def test_handler_test_tables_match_the_dev_template(synthesized, logical_id: str) -> None:
    table = synthesized.template_json("dev")["Resources"][logical_id]["Properties"]
    client = RecordingClient()
    LOGICAL_IDS[logical_id](client, "test-table")
    built = client.table_request

    def attribute_types(definitions: list[dict[str, str]]) -> dict[str, str]:
        return {item["AttributeName"]: item["AttributeType"] for item in definitions}

    assert built["KeySchema"] == table["KeySchema"]
    assert attribute_types(built["AttributeDefinitions"]) == attribute_types(table["AttributeDefinitions"])
    assert _indexes(built.get("GlobalSecondaryIndexes")) == _indexes(table.get("GlobalSecondaryIndexes"))
    assert _indexes(built.get("LocalSecondaryIndexes")) == _indexes(table.get("LocalSecondaryIndexes"))
    template_stream = table.get("StreamSpecification", {}).get("StreamViewType")
    assert built.get("StreamSpecification", {}).get("StreamViewType") == template_stream
    template_ttl = table.get("TimeToLiveSpecification")
    if template_ttl:
        assert client.time_to_live == {"Enabled": True, "AttributeName": template_ttl["AttributeName"]}
    else:
        assert client.time_to_live is None


# The benchmarks' in-process servers build the tables their paths touch.
@pytest.mark.parametrize("logical_id", ["CommentsTable", "ConnectionsTable", "IdempotencyTable"])
def test_benchmark_tables_match_the_dev_template(synthesized, logical_id: str) -> None:
    from benchmarks.servers import _table_specs

    table = synthesized.template_json("dev")["Resources"][logical_id]["Properties"]
    # Named after their logical ids here, so each spec is found by the id under test.
    specs = {
        spec["TableName"]: spec
        for spec in _table_specs("ConnectionsTable", "CommentsTable", "IdempotencyTable")
    }
    built = specs[logical_id]
    assert built["KeySchema"] == table["KeySchema"]
    assert _indexes(built.get("GlobalSecondaryIndexes")) == _indexes(table.get("GlobalSecondaryIndexes"))
    assert _indexes(built.get("LocalSecondaryIndexes")) == _indexes(table.get("LocalSecondaryIndexes"))
    template_stream = table.get("StreamSpecification", {}).get("StreamViewType")
    assert built.get("StreamSpecification", {}).get("StreamViewType") == template_stream
