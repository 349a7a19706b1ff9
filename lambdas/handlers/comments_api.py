"""Comments REST API (HTTP API payload v2): routes in docs/design.md, behaviour in docs/contract.md.

Imported at cold start: only what every route needs. The Pydantic request models are imported by
the routes that validate a body (POST, PATCH) and the idempotency utility only when a request
carries an Idempotency-Key: GET, DELETE and the health count never pay for them (`make bench`,
cold start rows).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from realtime_comments import aws_clients
from realtime_comments.api.errors import (
    ApiError,
    bad_request,
    error_response,
    json_response,
    register_error_handlers,
)
from realtime_comments.api.request import caller_id, header, parse_body, query_int
from realtime_comments.comments import service
from realtime_comments.comments.repository import CommentsRepository
from realtime_comments.connections import ConnectionsRepository
from realtime_comments.dependencies import once_per_container
from realtime_comments.limits import (
    RateLimit,
    RateLimited,
    RateLimiter,
    comment_write_key,
    retry_after_header,
)
from realtime_comments.observability import MetricUnit, entry_point, logger, metrics
from realtime_comments.settings import CommentsApiSettings
from realtime_comments.validation import InvalidParameter, validate_comment_id, validate_post_id

aws_clients.preload("dynamodb")  # parsed in the init phase, not in the first request

app = APIGatewayHttpResolver()

COMMENTS_PATH = "/api/v1/posts/<postId>/comments"
MAX_IDEMPOTENCY_KEY_LENGTH = 128
COMMENT_PATH = "/api/v1/posts/<postId>/comments/<commentId>"


@dataclass(frozen=True)
class Dependencies:
    settings: CommentsApiSettings
    comments: CommentsRepository
    connections: ConnectionsRepository
    comment_writes: RateLimiter


@once_per_container
def dependencies() -> Dependencies:
    settings = CommentsApiSettings.from_env()
    dynamodb = aws_clients.dynamodb(settings.region)
    return Dependencies(
        settings=settings,
        comments=CommentsRepository(settings.comments_table_name, dynamodb),
        connections=ConnectionsRepository(settings.connections_table_name, dynamodb),
        comment_writes=RateLimiter(
            dynamodb,
            settings.connections_table_name,
            RateLimit(per_second=settings.comment_write_rate, burst=settings.comment_write_burst),
            expiry_attribute="expiresAt",
        ),
    )


@once_per_container
def _idempotent_create() -> Any:
    """The idempotent create, built (and its utility imported) on the first request with a key."""
    from realtime_comments.comments import idempotency

    settings = dependencies().settings
    dynamodb = aws_clients.dynamodb(settings.region)
    return idempotency.idempotent_create(settings.idempotency_table_name, dynamodb)


def _comments() -> CommentsRepository:
    return dependencies().comments


def _admit_write(user_id: str) -> None:
    """The caller's comment-write rate (POST, PATCH and DELETE together); raises RateLimited."""
    dependencies().comment_writes.admit(comment_write_key(user_id))


def _post_id(value: str) -> str:
    try:
        return validate_post_id(value)
    except InvalidParameter as exc:
        raise bad_request(str(exc)) from exc


def _comment_id(value: str) -> str:
    try:
        return validate_comment_id(value)
    except InvalidParameter as exc:
        raise bad_request(str(exc)) from exc


def _idempotency_key() -> str | None:
    key = header(app.current_event, "Idempotency-Key")
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not key.isprintable():
        raise bad_request(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable characters")
    return key


def _create_once(
    post_id: str, user_id: str, content: str, parent_id: str | None, key: str, admit: service.Admit
) -> dict[str, Any]:
    """Create through the idempotency utility (imported on the first request with a key)."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )
    from realtime_comments.comments import idempotency

    context = getattr(app, "lambda_context", None)
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        idempotency.CONFIG.register_lambda_context(context)
    try:
        return idempotency.create_comment_once(
            _idempotent_create(), _comments(), post_id, user_id, content, parent_id, key, admit
        )
    except IdempotencyValidationError as exc:
        raise ApiError(
            422, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was already used with a different content"
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise ApiError(
            409, "IDEMPOTENCY_IN_PROGRESS", "a request with this Idempotency-Key is in progress"
        ) from exc


@app.post(COMMENTS_PATH)
def create(postId: str) -> Response:  # noqa: N803 - the path parameter's name in the contract
    user_id = caller_id(app.current_event)
    post_id = _post_id(postId)
    from realtime_comments.comments.requests import NewComment

    body = parse_body(app.current_event, NewComment)
    parent_id = service.parent_id_of(body.parentId)
    key = _idempotency_key()
    admit = functools.partial(_admit_write, user_id)
    if key is None:
        comment = service.create_comment(
            _comments(), post_id, user_id, body.content, parent_id, admit=admit
        ).to_api()
    else:
        comment = _create_once(post_id, user_id, body.content, parent_id, key, admit)
    metrics.add_metric(name="CommentsCreated", unit=MetricUnit.Count, value=1)
    return json_response(201, comment)


@app.get(COMMENTS_PATH)
def list_comments(postId: str) -> Response:  # noqa: N803
    post_id = _post_id(postId)
    event = app.current_event
    limit = query_int(event, "limit", minimum=1, maximum=service.MAX_PAGE_SIZE)
    after = query_int(event, "after", minimum=0)
    cursor = (event.query_string_parameters or {}).get("cursor") or None
    try:
        page = service.list_comments(
            _comments(),
            post_id,
            limit=limit or min(dependencies().settings.comments_page_size, service.MAX_PAGE_SIZE),
            after=after,
            cursor=cursor,
        )
    except InvalidParameter as exc:
        raise bad_request(str(exc)) from exc
    return json_response(200, page.to_api())


@app.patch(COMMENT_PATH)
def update(postId: str, commentId: str) -> Response:  # noqa: N803
    user_id = caller_id(app.current_event)
    post_id = _post_id(postId)
    comment_id = _comment_id(commentId)
    from realtime_comments.comments.requests import CommentContent

    content = parse_body(app.current_event, CommentContent).content
    admit = functools.partial(_admit_write, user_id)
    comment = service.update_comment(_comments(), post_id, comment_id, user_id, content, admit)
    return json_response(200, comment.to_api())


@app.delete(COMMENT_PATH)
def delete(postId: str, commentId: str) -> Response:  # noqa: N803
    user_id = caller_id(app.current_event)
    post_id = _post_id(postId)
    admit = functools.partial(_admit_write, user_id)
    service.delete_comment(_comments(), post_id, _comment_id(commentId), user_id, admit)
    return Response(status_code=204, content_type="application/json", body="")


@app.get("/api/v1/websocket/connections")
def connection_count() -> Response:
    return json_response(200, {"status": "ok", "count": dependencies().connections.count_connections()})


@app.exception_handler(InvalidParameter)
def _invalid(error: InvalidParameter) -> Response:
    # The request models refuse bad input first; this is the service's own guard (e.g. content
    # that cannot be stored), still a 400 that writes nothing.
    return error_response(400, "VALIDATION_ERROR", str(error))


@app.exception_handler(service.CommentNotFound)
def _not_found(error: service.CommentNotFound) -> Response:
    return error_response(404, "NOT_FOUND", "comment not found")


@app.exception_handler(service.InvalidParent)
def _invalid_parent(error: service.InvalidParent) -> Response:
    return error_response(400, "INVALID_PARENT", str(error))


@app.exception_handler(service.NotCommentAuthor)
def _forbidden(error: service.NotCommentAuthor) -> Response:
    return error_response(403, "FORBIDDEN", "only the author may change or delete this comment")


@app.exception_handler(RateLimited)
def _rate_limited(error: RateLimited) -> Response:
    response = error_response(
        429, "RATE_LIMITED", "too many comment writes; retry after the Retry-After delay"
    )
    response.headers["Retry-After"] = retry_after_header(error.retry_after)
    return response


register_error_handlers(app, logger)


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return app.resolve(event, context)
