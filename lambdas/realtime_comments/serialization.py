"""Conversions between DynamoDB attribute values and plain JSON-ready Python values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def plain(value: Any) -> Any:
    """Decimals become int (or float when fractional), recursively; everything else is unchanged."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(item) for item in value]
    return value


def from_attributes(item: dict[str, Any]) -> dict[str, Any]:
    """A low-level DynamoDB item ({"a": {"S": "x"}}) as plain values."""
    return {key: plain(_deserializer.deserialize(value)) for key, value in item.items()}


def to_attributes(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values as a low-level DynamoDB item; None values are left out."""
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}
