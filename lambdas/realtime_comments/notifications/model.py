"""The notification as stored and sent:
{"id","type":"reply","postId","commentId","parentId","actorId","createdAt","read"}."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REPLY = "reply"


@dataclass(frozen=True)
class Notification:
    user_id: str  # whom it is for (the table's partition key; not part of the message)
    id: str
    type: str
    post_id: str
    comment_id: str
    parent_id: str
    actor_id: str
    created_at: str
    read: bool = False

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Notification:
        return cls(
            user_id=str(item["userId"]),
            id=str(item["id"]),
            type=str(item.get("type", REPLY)),
            post_id=str(item.get("postId", "")),
            comment_id=str(item.get("commentId", "")),
            parent_id=str(item.get("parentId", "")),
            actor_id=str(item.get("actorId", "")),
            created_at=str(item.get("createdAt", "")),
            read=bool(item.get("read", False)),
        )

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "postId": self.post_id,
            "commentId": self.comment_id,
            "parentId": self.parent_id,
            "actorId": self.actor_id,
            "createdAt": self.created_at,
            "read": self.read,
        }

    def to_item(self, expires_at: int) -> dict[str, Any]:
        return {**self.to_api(), "userId": self.user_id, "expiresAt": expires_at}


def notification_for_reply(reply: dict[str, Any]) -> Notification | None:
    """The notification a stored reply makes for its parent's author, or None (not a reply, or a
    reply to one's own comment).

    The id is the reply's creation time and id: sorted newest first within the user's partition,
    and the same for a redelivered stream record, so the conditional put stores it once.
    """
    parent_user = reply.get("parentUserId")
    parent_id = reply.get("parentId")
    actor = reply.get("userId")
    if not parent_user or not parent_id or not actor or parent_user == actor:
        return None
    created_at = str(reply.get("createdAt", ""))
    return Notification(
        user_id=str(parent_user),
        id=f"{created_at}#{reply['id']}",
        type=REPLY,
        post_id=str(reply["postId"]),
        comment_id=str(reply["id"]),
        parent_id=str(parent_id),
        actor_id=str(actor),
        created_at=created_at,
    )
