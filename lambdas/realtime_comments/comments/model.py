"""The comment as the contract shows it: {id, postId, content, userId, createdAt, seq, updatedAt?,
parentId?, deleted?} (docs/contract.md, "Replies").

Two attributes of the stored item are bookkeeping, never shown: `replyCount` on a comment that was
replied to (how many replies claimed it; a deleted comment with replies becomes a tombstone), and
`parentUserId` on a reply (the parent's author, whom the notifier tells).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_CONTENT_LENGTH = 4000


@dataclass(frozen=True)
class Comment:
    id: str
    post_id: str
    seq: int
    content: str
    user_id: str
    created_at: str
    updated_at: str | None = None
    parent_id: str | None = None
    deleted: bool = False
    reply_count: int = 0

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Comment:
        """From a plain (already deserialized) table item."""
        return cls(
            id=str(item["id"]),
            post_id=str(item["postId"]),
            seq=int(item["seq"]),
            content=str(item.get("content", "")),
            user_id=str(item.get("userId", "")),
            created_at=str(item.get("createdAt", "")),
            updated_at=str(item["updatedAt"]) if item.get("updatedAt") else None,
            parent_id=str(item["parentId"]) if item.get("parentId") else None,
            deleted=bool(item.get("deleted", False)),
            reply_count=int(item.get("replyCount", 0)),
        )

    def to_item(self) -> dict[str, Any]:
        item = self.to_api()
        item["seq"] = self.seq
        return item

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "postId": self.post_id,
            "content": self.content,
            "userId": self.user_id,
            "createdAt": self.created_at,
            "seq": self.seq,
        }
        if self.updated_at:
            body["updatedAt"] = self.updated_at
        if self.parent_id:
            body["parentId"] = self.parent_id
        if self.deleted:
            body["deleted"] = True
        return body
