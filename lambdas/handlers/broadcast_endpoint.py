"""POST /api/v1/broadcast (IAM-authorized by API Gateway): other services push a message.

Body {"type", "data", "postId"?}: to the post's subscribers, or to every connection without postId.
API Gateway proves who signed the request; only callers on BROADCAST_PRINCIPALS may use it
(403 for anyone else, whatever their IAM policy allows), and only with BROADCAST_MESSAGE_TYPES.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from pydantic import BaseModel, ConfigDict, field_validator
from realtime_comments import aws_clients
from realtime_comments.api.errors import ApiError, json_response, register_error_handlers
from realtime_comments.api.request import parse_body
from realtime_comments.auth.iam_principals import PrincipalAllowList
from realtime_comments.broadcasting.publish import publish
from realtime_comments.broadcasting.recipients import Audience, recipients
from realtime_comments.delivery import Fanout
from realtime_comments.dependencies import connections_repository, fanout, once_per_container
from realtime_comments.envelope import MAX_MESSAGE_BYTES, byte_size, encode_message
from realtime_comments.observability import entry_point, logger
from realtime_comments.settings import BroadcastEndpointSettings
from realtime_comments.validation import json_problem, validate_post_id

aws_clients.preload("dynamodb")  # parsed in the init phase, not in the first request

app = APIGatewayHttpResolver()


@dataclass(frozen=True)
class Dependencies:
    settings: BroadcastEndpointSettings
    allowed_callers: PrincipalAllowList
    fanout: Fanout
    audience: Audience


@once_per_container
def dependencies() -> Dependencies:
    settings = BroadcastEndpointSettings.from_env()
    connections = connections_repository(settings, send_concurrency=settings.fanout.send_concurrency)
    return Dependencies(
        settings=settings,
        allowed_callers=PrincipalAllowList.from_arns(settings.broadcast_principals),
        fanout=fanout(settings),
        audience=functools.partial(recipients, connections),
    )


class BroadcastRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    type: Literal["comment.created", "comment.updated", "comment.deleted", "comments.list", "test"]
    data: dict[str, Any]
    postId: str | None = None  # noqa: N815 - the contract's field name

    @field_validator("data")
    @classmethod
    def _sendable_data(cls, value: dict[str, Any]) -> dict[str, Any]:
        problem = json_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("postId")
    @classmethod
    def _valid_post_id(cls, value: str | None) -> str | None:
        return None if value is None else validate_post_id(value)


def _caller_arn() -> object:
    authorizer = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer") or {}
    iam = authorizer.get("iam") if isinstance(authorizer, dict) else None
    return iam.get("userArn") if isinstance(iam, dict) else None


@app.post("/api/v1/broadcast")
def broadcast() -> Response:
    deps = dependencies()
    settings = deps.settings
    caller = _caller_arn()
    if not deps.allowed_callers.allows(caller):
        logger.warning("broadcast refused: caller not allowed", extra={"caller": str(caller)[:256]})
        raise ApiError(403, "FORBIDDEN", "this principal may not broadcast")
    request = parse_body(app.current_event, BroadcastRequest)
    if request.type not in settings.broadcast_message_types:
        allowed = ", ".join(settings.broadcast_message_types) or "none"
        raise ApiError(400, "VALIDATION_ERROR", f"type: this endpoint accepts only {allowed}")
    message = encode_message(request.type, request.data)
    if byte_size(message) > MAX_MESSAGE_BYTES:
        raise ApiError(413, "MESSAGE_TOO_LARGE", f"the message exceeds {MAX_MESSAGE_BYTES} bytes")
    outcome = publish(message, request.postId, deps.audience, deps.fanout)
    return json_response(202, {"status": "accepted", "recipients": outcome.recipients})


register_error_handlers(app, logger)


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return app.resolve(event, context)
