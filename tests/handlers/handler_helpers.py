"""Small helpers shared by the handler tests (seeding tables, reading replies)."""

from __future__ import annotations

import uuid
from typing import Any

from realtime_comments import aws_clients
from realtime_comments.comments.model import Comment
from realtime_comments.comments.repository import CommentsRepository
from realtime_comments.comments.service import create_comment
from realtime_comments.connections import ConnectionsRepository
from realtime_comments.delivery import DeliveryResult
from realtime_comments.delivery import deliver as deliver_with
from realtime_comments.delivery.transport import Boto3Transport
from realtime_comments.settings import CommentsApiSettings, FanoutWorkerSettings

# The origin the handler tests configure as allowed (see conftest.handler_env).
ALLOWED_ORIGIN = "https://app.example.com"


def comments_repository() -> CommentsRepository:
    settings = CommentsApiSettings.from_env()
    return CommentsRepository(settings.comments_table_name, aws_clients.dynamodb(settings.region))


def connections_repository() -> ConnectionsRepository:
    settings = CommentsApiSettings.from_env()
    return ConnectionsRepository(settings.connections_table_name, aws_clients.dynamodb(settings.region))


def dynamodb_calls_of(function: Any, client: Any) -> list[str]:
    """The DynamoDB operations ``function()`` sends through ``client``, in order."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    client.meta.events.register("before-call.dynamodb", record)
    try:
        function()
    finally:
        client.meta.events.unregister("before-call.dynamodb", record)
    return calls


def deliver(message: str, connection_ids: list[str], *, client: Any = None, **options: Any) -> DeliveryResult:
    """`delivery.deliver` wired as a handler wires it: the environment's @connections endpoint
    (or a boto3 `client`), 410 cleanup in the connections table, SEND_CONCURRENCY threads."""
    settings = FanoutWorkerSettings.from_env()
    transport = (
        Boto3Transport(client)
        if client is not None
        else aws_clients.connections_transport(settings.websocket_callback_url, settings.region)
    )
    return deliver_with(
        message,
        connection_ids,
        transport=transport,
        on_gone=connections_repository().delete_connection,
        send_concurrency=settings.fanout.send_concurrency,
        **options,
    )


def seed_comments(
    post_id: str, count: int, *, user_id: str = "alice", content: str | None = None, raw: bool = False
) -> list[Any]:
    """Comments created through the service; with `raw=True` written straight to the table, as
    data stored before today's input checks (control characters, say) would be."""
    repository = comments_repository()
    if not raw:
        return [
            create_comment(repository, post_id, user_id, content or f"comment number {index + 1}")
            for index in range(count)
        ]
    comments = []
    for index in range(count):
        comment = Comment(
            id=str(uuid.uuid4()),
            post_id=post_id,
            seq=repository.next_seq(post_id),
            content=content or f"comment number {index + 1}",
            user_id=user_id,
            created_at="2026-01-01T00:00:00.000Z",
        )
        repository.insert(comment)
        comments.append(comment)
    return comments


# High enough that seeding never meets the per-connection limit (tests/handlers/test_limits.py does).
SEED_SUBSCRIPTION_LIMIT = 1_000


def seed_subscribers(post_id: str, connection_ids: list[str], *, expires_at: int = 4_000_000_000) -> None:
    repository = connections_repository()
    for connection_id in connection_ids:
        repository.put_connection(connection_id, "user-" + connection_id, expires_at)
        repository.subscribe(connection_id, post_id, SEED_SUBSCRIPTION_LIMIT)


def types_of(messages: list[dict[str, Any]]) -> list[str]:
    return [message["type"] for message in messages]
