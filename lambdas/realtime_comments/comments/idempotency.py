"""Idempotent comment creation: a retried POST with the same Idempotency-Key returns the first result.

Powertools idempotency with a DynamoDB persistence layer (IDEMPOTENCY_TABLE_NAME, key `id`, TTL
`expiration`). The key hashes userId + postId + the header, so two users (or two posts) never
share a key; the stripped content and the parentId are the validated payload, so reusing a key
for a different comment is refused (IdempotencyValidationError) rather than silently answered
with the old one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from realtime_comments.comments.repository import CommentsRepository
from realtime_comments.comments.service import create_comment

IDEMPOTENCY_TTL_SECONDS = 24 * 3600

CONFIG = IdempotencyConfig(
    event_key_jmespath="[userId, postId, idempotencyKey]",
    payload_validation_jmespath="[content, parentId]",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
)

CreateOnce = Callable[..., dict[str, Any]]


def _create(request: dict[str, Any], repository: CommentsRepository) -> dict[str, Any]:
    return create_comment(
        repository, request["postId"], request["userId"], request["content"], request.get("parentId")
    ).to_api()


def idempotent_create(idempotency_table_name: str, dynamodb_client: Any) -> CreateOnce:
    """`_create` behind the idempotency records of `idempotency_table_name` (built once per container)."""
    persistence = DynamoDBPersistenceLayer(table_name=idempotency_table_name, boto3_client=dynamodb_client)
    return idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=CONFIG)(
        _create
    )


def create_comment_once(
    create: CreateOnce,
    repository: CommentsRepository,
    post_id: str,
    user_id: str,
    content: str,
    parent_id: str | None,
    idempotency_key: str,
) -> dict[str, Any]:
    """Create the comment, or return the one created earlier under the same key (as the API dict)."""
    request = {
        "userId": user_id,
        "postId": post_id,
        "idempotencyKey": idempotency_key,
        "content": content,
        "parentId": parent_id,
    }
    return create(request=request, repository=repository)
