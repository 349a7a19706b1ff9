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
REPLY_COUNT_ATTRIBUTE = "replyCount"
PARENT_USER_ATTRIBUTE = "parentUserId"


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

    def insert(self, comment: Comment, parent_user_id: str | None = None) -> None:
        """Write a new comment; the condition guards against ever overwriting a seq.

        A reply also stores its parent's author (`parentUserId`), so that the notifier, reading
        the stream, knows whom to tell without reading the parent again.
        """
        item = comment.to_item()
        if parent_user_id is not None:
            item[PARENT_USER_ATTRIBUTE] = parent_user_id
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_attributes(item),
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

    def seq_of(self, post_id: str, comment_id: str) -> int | None:
        """The seq of a comment by id, from the LSI (strongly consistent), or None."""
        response = self.client.query(
            TableName=self.table_name,
            IndexName=BY_COMMENT_ID_INDEX,
            KeyConditionExpression="postId = :post AND id = :id",
            ExpressionAttributeValues={":post": {"S": post_id}, ":id": {"S": comment_id}},
            ConsistentRead=True,
        )
        items = response.get("Items") or []
        return int(items[0]["seq"]["N"]) if items else None

    def claim_parent(self, post_id: str, comment_id: str) -> Comment | None:
        """Count one more reply on a live comment of this post and return it, or None when there
        is no such comment (unknown id, another post's, or a tombstone).

        The claim is what makes a later delete keep the comment as a tombstone: a delete that
        races it either removes the comment first (then this condition fails and the reply is
        refused) or sees the count and leaves a tombstone.
        """
        seq = self.seq_of(post_id, comment_id)
        if seq is None:
            return None
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=to_attributes({"postId": post_id, "seq": seq}),
                UpdateExpression="ADD #replies :one",
                ConditionExpression="id = :id AND attribute_not_exists(deleted)",
                ExpressionAttributeNames={"#replies": REPLY_COUNT_ATTRIBUTE},
                ExpressionAttributeValues=to_attributes({":one": 1, ":id": comment_id}),
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return Comment.from_item(from_attributes(response["Attributes"]))

    def find_by_id(self, post_id: str, comment_id: str) -> Comment | None:
        """Find a comment by id: the LSI gives its seq (strongly consistent), then a GetItem."""
        seq = self.seq_of(post_id, comment_id)
        if seq is None:
            return None
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
                ConditionExpression="id = :id AND userId = :user AND attribute_not_exists(deleted)",
                ExpressionAttributeValues=to_attributes(
                    {":content": content, ":updated": updated_at, ":id": comment.id, ":user": comment.user_id}
                ),
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise CommentConflict(f"comment {comment.id} changed or was deleted") from exc
        return Comment.from_item(from_attributes(response["Attributes"]))

    def delete(self, comment: Comment) -> None:
        """Hard delete of a comment nobody replied to (the stream's REMOVE becomes
        `comment.deleted`). Raises CommentConflict if it changed, went, or was replied to since
        it was read."""
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key=to_attributes({"postId": comment.post_id, "seq": comment.seq}),
                ConditionExpression=(
                    "id = :id AND userId = :user AND attribute_not_exists(deleted)"
                    " AND (attribute_not_exists(#replies) OR #replies = :zero)"
                ),
                ExpressionAttributeNames={"#replies": REPLY_COUNT_ATTRIBUTE},
                ExpressionAttributeValues=to_attributes(
                    {":id": comment.id, ":user": comment.user_id, ":zero": 0}
                ),
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise CommentConflict(f"comment {comment.id} changed or was deleted") from exc

    def tombstone(self, comment: Comment, deleted_at: str) -> None:
        """Turn a comment that has replies into a tombstone: empty content, `deleted` set, the
        rest kept so its replies keep their parent (the stream's MODIFY becomes `comment.deleted`
        with the tombstone)."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=to_attributes({"postId": comment.post_id, "seq": comment.seq}),
                UpdateExpression="SET content = :empty, deleted = :true, updatedAt = :at",
                ConditionExpression="id = :id AND userId = :user AND attribute_not_exists(deleted)",
                ExpressionAttributeValues=to_attributes(
                    {
                        ":empty": "",
                        ":true": True,
                        ":at": deleted_at,
                        ":id": comment.id,
                        ":user": comment.user_id,
                    }
                ),
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
