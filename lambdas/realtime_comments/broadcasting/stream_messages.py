"""DynamoDB stream records of the comments table -> comment.created / updated / deleted messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from realtime_comments.comments.model import Comment
from realtime_comments.envelope import COMMENT_CREATED, COMMENT_DELETED, COMMENT_UPDATED, encode_message
from realtime_comments.serialization import from_attributes

_MESSAGE_TYPES = {"INSERT": COMMENT_CREATED, "MODIFY": COMMENT_UPDATED, "REMOVE": COMMENT_DELETED}


@dataclass(frozen=True)
class PostMessage:
    post_id: str
    message_type: str
    message: str  # the envelope as JSON text, ready to send


def is_ttl_removal(record: dict[str, Any]) -> bool:
    """A REMOVE made by DynamoDB's TTL sweeper rather than by a user's delete."""
    identity = record.get("userIdentity") or {}
    return identity.get("type") == "Service" and identity.get("principalId") == "dynamodb.amazonaws.com"


def message_for_record(record: dict[str, Any]) -> PostMessage | None:
    """The message for one raw stream record, or None for records that notify nobody.

    Skipped: the per-post counter item (seq 0), TTL deletions, records without an image, and
    changes no client can see (a reply claiming its parent bumps only the parent's `replyCount`).
    A MODIFY that makes a tombstone is `comment.deleted` carrying the tombstone.
    """
    event_name = record.get("eventName")
    message_type = _MESSAGE_TYPES.get(str(event_name))
    if message_type is None or (event_name == "REMOVE" and is_ttl_removal(record)):
        return None
    stream = record.get("dynamodb") or {}
    image_key = "OldImage" if event_name == "REMOVE" else "NewImage"
    image = stream.get(image_key) or {}
    if not image:
        return None
    item = from_attributes(image)
    if int(item.get("seq", 0)) == 0 or "id" not in item:
        return None
    comment = Comment.from_item(item)
    if event_name == "MODIFY":
        old_image = stream.get("OldImage") or {}
        before = Comment.from_item(from_attributes(old_image)).to_api() if old_image else None
        if before == comment.to_api():
            return None
        if comment.deleted:
            message_type = COMMENT_DELETED
            data: dict[str, Any] = {
                "postId": comment.post_id,
                "commentId": comment.id,
                "comment": comment.to_api(),
            }
            return PostMessage(comment.post_id, message_type, encode_message(message_type, data))
    if message_type == COMMENT_DELETED:
        data = {"postId": comment.post_id, "commentId": comment.id}
    else:
        data = {"postId": comment.post_id, "comment": comment.to_api()}
    return PostMessage(comment.post_id, message_type, encode_message(message_type, data))
