"""Idempotent comment creation: a retried POST with the same Idempotency-Key returns the first result.

Powertools idempotency with a DynamoDB persistence layer (IDEMPOTENCY_TABLE_NAME, key `id`, TTL
`expiration`). The key hashes userId + postId + the header, so two users (or two posts) never
share a key; the stripped content and the parentId are the validated payload, so reusing a key
for a different comment is refused (IdempotencyValidationError) rather than silently answered
with the old one.

A retry of a request that already succeeded is answered from its record before `admit` (the
caller's rate limit) runs, so replays never count against the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyItemNotFoundError
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS
from realtime_comments.comments.repository import CommentsRepository
from realtime_comments.comments.service import Admit, create_comment

IDEMPOTENCY_TTL_SECONDS = 24 * 3600

CONFIG = IdempotencyConfig(
    event_key_jmespath="[userId, postId, idempotencyKey]",
    payload_validation_jmespath="[content, parentId]",
    raise_on_no_idempotency_key=True,
    expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
)


def _create(request: dict[str, Any], repository: CommentsRepository) -> dict[str, Any]:
    return create_comment(
        repository, request["postId"], request["userId"], request["content"], request.get("parentId")
    ).to_api()


@dataclass(frozen=True)
class CreateOnce:
    """`_create` behind the idempotency records of one table, and that table's persistence layer
    (read for replays before the caller is admitted)."""

    persistence: DynamoDBPersistenceLayer
    create: Callable[..., dict[str, Any]]


def idempotent_create(idempotency_table_name: str, dynamodb_client: Any) -> CreateOnce:
    """Build `CreateOnce` for `idempotency_table_name` (once per container)."""
    persistence = DynamoDBPersistenceLayer(table_name=idempotency_table_name, boto3_client=dynamodb_client)
    create = idempotent_function(
        data_keyword_argument="request", persistence_store=persistence, config=CONFIG
    )(_create)
    return CreateOnce(persistence=persistence, create=create)


def _completed(persistence: DynamoDBPersistenceLayer, request: dict[str, Any]) -> dict[str, Any] | None:
    """The stored response of a request that already succeeded under this key, else None.
    (Raises IdempotencyValidationError when the key was used for another comment.)"""
    # The same function name as idempotent_function gives it, so the record key is the same.
    persistence.configure(CONFIG, function_name=f"{_create.__module__}.{_create.__qualname__}")
    try:
        record = persistence.get_record(data=request)
    except IdempotencyItemNotFoundError:
        return None
    if record is None or record.status != STATUS_CONSTANTS["COMPLETED"]:
        return None
    return record.response_json_as_dict()


def create_comment_once(
    once: CreateOnce,
    repository: CommentsRepository,
    post_id: str,
    user_id: str,
    content: str,
    parent_id: str | None,
    idempotency_key: str,
    admit: Admit,
) -> dict[str, Any]:
    """Create the comment, or return the one created earlier under the same key (as the API dict).
    `admit` runs only before a real write and may raise to refuse it (the rate limit); a replay
    is answered before it runs."""
    request = {
        "userId": user_id,
        "postId": post_id,
        "idempotencyKey": idempotency_key,
        "content": content,
        "parentId": parent_id,
    }
    replay = _completed(once.persistence, request)
    if replay is not None:
        return replay
    # Before the in-progress record is written: a refused request writes nothing at all.
    admit()
    return once.create(request=request, repository=repository)
