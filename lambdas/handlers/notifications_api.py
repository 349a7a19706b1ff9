"""Notifications REST API (HTTP API payload v2, JWT): the caller's own notifications only."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from realtime_comments import aws_clients
from realtime_comments.api.errors import bad_request, json_response, register_error_handlers
from realtime_comments.api.request import caller_id, parse_body, query_int
from realtime_comments.dependencies import once_per_container
from realtime_comments.notifications import NotificationsRepository
from realtime_comments.observability import entry_point, logger
from realtime_comments.settings import NotificationsApiSettings
from realtime_comments.validation import InvalidParameter

aws_clients.preload("dynamodb")  # parsed in the init phase, not in the first request

app = APIGatewayHttpResolver()

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@once_per_container
def _notifications() -> NotificationsRepository:
    settings = NotificationsApiSettings.from_env()
    return NotificationsRepository(settings.notifications_table_name, aws_clients.dynamodb(settings.region))


@app.get("/api/v1/notifications")
def list_notifications() -> Response:
    user_id = caller_id(app.current_event)
    event = app.current_event
    limit = query_int(event, "limit", minimum=1, maximum=MAX_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    cursor = (event.query_string_parameters or {}).get("cursor") or None
    try:
        page = _notifications().page(user_id, limit, cursor)
    except InvalidParameter as exc:
        raise bad_request(str(exc)) from exc
    return json_response(200, page.to_api())


@app.post("/api/v1/notifications/read")
def mark_read() -> Response:
    user_id = caller_id(app.current_event)
    from realtime_comments.notifications.requests import MarkRead  # Pydantic: only where a body is read

    body = parse_body(app.current_event, MarkRead)
    notifications = _notifications()
    if body.all:
        notifications.mark_all_read(user_id)
    else:
        notifications.mark_read(user_id, body.ids or [])
    return json_response(200, {"unreadCount": notifications.unread_count(user_id)})


register_error_handlers(app, logger)


@entry_point
def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return app.resolve(event, context)
