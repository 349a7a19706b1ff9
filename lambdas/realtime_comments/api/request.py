"""Reading an HTTP API (payload v2) request: JSON body, claims, query parameters."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from realtime_comments.api.errors import ApiError, bad_request, describe_validation_error

if TYPE_CHECKING:
    from pydantic import BaseModel

# Pydantic is imported by the first body validation, not by every handler that reads requests.
Model = TypeVar("Model", bound="BaseModel")


def json_object(event: APIGatewayProxyEventV2) -> dict[str, Any]:
    try:
        raw = event.decoded_body if event.body is not None else ""
    except (ValueError, TypeError) as exc:  # bad base64 or bytes that are not UTF-8
        raise bad_request("the request body is not valid UTF-8 JSON", "INVALID_JSON") from exc
    if not raw:
        raise bad_request("the request body must be a JSON object", "INVALID_JSON")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise bad_request("the request body is not valid JSON", "INVALID_JSON") from exc
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object", "INVALID_JSON")
    return body


def parse_body(event: APIGatewayProxyEventV2, model: type[Model]) -> Model:
    """The body validated by a Pydantic model (Powertools parser); 400 with every problem listed."""
    from pydantic import ValidationError

    try:
        return model.model_validate(json_object(event))
    except ValidationError as exc:
        raise bad_request(describe_validation_error(exc)) from exc


def caller_id(event: APIGatewayProxyEventV2) -> str:
    """The `sub` claim the HTTP API's JWT authorizer verified; never anything from the body."""
    authorizer = (event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    claims = ((authorizer.get("jwt") or {}).get("claims") or {}) if isinstance(authorizer, dict) else {}
    sub = claims.get("sub") if isinstance(claims, dict) else None
    if not isinstance(sub, str) or not sub:
        raise ApiError(401, "UNAUTHORIZED", "a valid bearer token is required")
    return sub


def header(event: APIGatewayProxyEventV2, name: str) -> str | None:
    wanted = name.lower()
    for key, value in (event.raw_event.get("headers") or {}).items():
        if isinstance(key, str) and key.lower() == wanted:
            return value
    return None


def query_int(
    event: APIGatewayProxyEventV2, name: str, *, minimum: int, maximum: int | None = None
) -> int | None:
    raw = (event.query_string_parameters or {}).get(name)
    if raw is None:
        return None
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 15:
        raise bad_request(f"{name} must be a non-negative integer")
    value = int(text)
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise bad_request(f"{name} must be {bounds}")
    return value
