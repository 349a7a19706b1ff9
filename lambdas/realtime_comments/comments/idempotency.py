"""Idempotent comment creation: a retried POST with the same Idempotency-Key returns the first result.

Powertools idempotency with a DynamoDB persistence layer (IDEMPOTENCY_TABLE_NAME, key `id`, TTL
`expiration`). The key hashes userId + postId + the header, so two users (or two posts) never
share a key; the stripped content and the parentId are the validated payload, so reusing a key
for a different comment is refused (IdempotencyValidationError) rather than silently answered
with the old one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from realtime_comments import aws_clients
from realtime_comments.comments.repository import CommentsRepository
from realtime_comments.comments.service import create_comment
from realtime_comments.settings import Settings

IDEMPOTENCY_TTL_SECONDS = 24 * 3600

CONFIG = IdempotencyConfig(
    event_key_jmespath="[userId, postId, idempotencyKey]",
    payload_validation_jmespath="[content, parentId]",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
)


def _create(request: dict[str, Any]) -> dict[str, Any]:
    settings = Settings.from_env()
    repository = CommentsRepository(settings.comments_table_name, aws_clients.dynamodb(settings))
    return create_comment(
        repository, request["postId"], request["userId"], request["content"], request.get("parentId")
    ).to_api()


@functools.cache
def _idempotent_create(table_name: str, region: str) -> Callable[..., dict[str, Any]]:
    persistence = DynamoDBPersistenceLayer(
        table_name=table_name, boto3_client=aws_clients.dynamodb(Settings.from_env())
    )
    return idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=CONFIG)(
        _create
    )


def create_comment_once(
    post_id: str, user_id: str, content: str, parent_id: str | None, idempotency_key: str
) -> dict[str, Any]:
    """Create the comment, or return the one created earlier under the same key (as the API dict)."""
    settings = Settings.from_env()
    create = _idempotent_create(settings.idempotency_table_name, settings.region)
    request = {
        "userId": user_id,
        "postId": post_id,
        "idempotencyKey": idempotency_key,
        "content": content,
        "parentId": parent_id,
    }
    return create(request=request)
