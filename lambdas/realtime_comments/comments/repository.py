"""Data access for the comments table (docs/design.md, "Comments").

Key: postId (S) + seq (N). Item seq=0 is the per-post counter `{postId, seq: 0, lastSeq}`;
comments have seq >= 1, so every comment Query uses `seq > :after` and never sees the counter.
"""

from __future__ import annotations

from typing import Any

from realtime_comments.comments.model import Comment
from realtime_comments.serialization import from_attributes, to_attributes

COUNTER_SEQ = 0
BY_COMMENT_ID_INDEX = "byCommentId"


class CommentConflict(RuntimeError):
    """A conditional write lost a race (the item changed or vanished in between)."""


class CommentsRepository:
    def __init__(self, table_name: str, client: Any) -> None:
        self.table_name = table_name
        self.client = client

    def next_seq(self, post_id: str) -> int:
        """Atomically reserve the post's next sequence number (ADD on the counter item)."""
        response = self.client.update_item(
            TableName=self.table_name,
            Key=to_attributes({"postId": post_id, "seq": COUNTER_SEQ}),
            UpdateExpression="ADD lastSeq :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["lastSeq"]["N"])

    def insert(self, comment: Comment) -> None:
        """Write a new comment; the condition guards against ever overwriting a seq."""
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_attributes(comment.to_item()),
                ConditionExpression="attribute_not_exists(postId)",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise CommentConflict(f"seq {comment.seq} of post {comment.post_id} already exists") from exc

    def page_after(self, post_id: str, after_seq: int, limit: int) -> tuple[list[Comment], bool]:
        """Up to `limit` comments with seq > after_seq, oldest first, and whether more follow."""
        items = self._query(post_id, after_seq, limit + 1, ascending=True)
        return [Comment.from_item(item) for item in items[:limit]], len(items) > limit

    def latest(self, post_id: str, limit: int) -> tuple[list[Comment], bool]:
        """The newest `limit` comments, oldest first, and whether older ones exist."""
        items = self._query(post_id, COUNTER_SEQ, limit + 1, ascending=False)
        newest = [Comment.from_item(item) for item in items[:limit]]
        newest.reverse()
        return newest, len(items) > limit

    def find_by_id(self, post_id: str, comment_id: str) -> Comment | None:
        """Find a comment by id: the LSI gives its seq (strongly consistent), then a GetItem."""
        response = self.client.query(
            TableName=self.table_name,
            IndexName=BY_COMMENT_ID_INDEX,
            KeyConditionExpression="postId = :post AND id = :id",
            ExpressionAttributeValues={":post": {"S": post_id}, ":id": {"S": comment_id}},
            ConsistentRead=True,
        )
        items = response.get("Items") or []
        if not items:
            return None
        seq = int(items[0]["seq"]["N"])
        found = self.client.get_item(
            TableName=self.table_name,
            Key=to_attributes({"postId": post_id, "seq": seq}),
            ConsistentRead=True,
        ).get("Item")
        return Comment.from_item(from_attributes(found)) if found else None

    def update_content(self, comment: Comment, content: str, updated_at: str) -> Comment:
        """Replace the content of `comment` if it still exists with the same id and author."""
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=to_attributes({"postId": comment.post_id, "seq": comment.seq}),
                UpdateExpression="SET content = :content, updatedAt = :updated",
                ConditionExpression="id = :id AND userId = :user",
                ExpressionAttributeValues=to_attributes(
                    {":content": content, ":updated": updated_at, ":id": comment.id, ":user": comment.user_id}
                ),
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise CommentConflict(f"comment {comment.id} changed or was deleted") from exc
        return Comment.from_item(from_attributes(response["Attributes"]))

    def delete(self, comment: Comment) -> None:
        """Hard delete (the stream's REMOVE becomes `comment.deleted`)."""
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=to_attributes({"postId": comment.post_id, "seq": comment.seq}),
                ConditionExpression="id = :id AND userId = :user",
                ExpressionAttributeValues=to_attributes({":id": comment.id, ":user": comment.user_id}),
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise CommentConflict(f"comment {comment.id} changed or was deleted") from exc

    def _query(self, post_id: str, after_seq: int, limit: int, *, ascending: bool) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "postId = :post AND seq > :after",
            "ExpressionAttributeValues": to_attributes({":post": post_id, ":after": after_seq}),
            "ScanIndexForward": ascending,
            "ConsistentRead": True,
        }
        # Limit bounds each page; a page may still come back short (1 MB), so keep going.
        while len(items) < limit:
            kwargs["Limit"] = limit - len(items)
            page = self.client.query(**kwargs)
            items.extend(from_attributes(item) for item in page.get("Items", []))
            if not page.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items
