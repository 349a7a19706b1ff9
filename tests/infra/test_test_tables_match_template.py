"""The tables the handler tests and the benchmarks create (benchmarks/tables.py) are the tables the
stack deploys.

They run against hand-built tables for speed; this keeps those definitions from drifting away from
the synthesized template (keys, attribute types, indexes, stream, TTL)."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.tables import ALL_TABLES


def _indexes(indexes: list[dict[str, Any]] | None) -> dict[str, tuple]:
    return {
        index["IndexName"]: (
            tuple((key["AttributeName"], key["KeyType"]) for key in index["KeySchema"]),
            index["Projection"]["ProjectionType"],
        )
        for index in indexes or []
    }


def _attribute_types(definitions: list[dict[str, str]]) -> dict[str, str]:
    return {item["AttributeName"]: item["AttributeType"] for item in definitions}


@pytest.mark.parametrize("table_spec", ALL_TABLES, ids=lambda build: build.__name__)
def test_test_tables_match_the_dev_template(synthesized, table_spec) -> None:
    built = table_spec("test-table")
    table = synthesized.template_json("dev")["Resources"][built.logical_id]["Properties"]

    assert built.key_schema == table["KeySchema"]
    assert _attribute_types(built.attribute_definitions) == _attribute_types(table["AttributeDefinitions"])
    assert _indexes(built.gsis) == _indexes(table.get("GlobalSecondaryIndexes"))
    assert _indexes(built.lsis) == _indexes(table.get("LocalSecondaryIndexes"))
    assert built.stream_view_type == table.get("StreamSpecification", {}).get("StreamViewType")
    template_ttl = table.get("TimeToLiveSpecification") or {}
    assert built.ttl_attribute == (template_ttl.get("AttributeName") if template_ttl.get("Enabled") else None)
