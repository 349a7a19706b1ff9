"""Comment use cases shared by the REST API and the WebSocket actions (no HTTP or Lambda types here)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from realtime_comments.comments.cursor import decode_cursor, encode_cursor
from realtime_comments.comments.model import Comment
from realtime_comments.comments.repository import CommentConflict, CommentsRepository
from realtime_comments.envelope import utc_timestamp
from realtime_comments.validation import InvalidParameter, validate_comment_id, validate_text

MAX_PAGE_SIZE = 100

# `admit` runs right before a write, once the request is known to be valid and allowed: the
# caller's rate limit goes there, so requests refused for any other reason cost no quota.
Admit = Callable[[], None]


def _admit_all() -> None:
    return None


class CommentNotFound(LookupError):
    pass


class NotCommentAuthor(PermissionError):
    pass


class InvalidParent(ValueError):
    """`parentId` names no live comment of the post (or is malformed); nothing was written."""


@dataclass(frozen=True)
class CommentPage:
    post_id: str
    comments: list[Comment]
    next_cursor: str | None

    def to_api(self) -> dict:
        return {
            "postId": self.post_id,
            "comments": [comment.to_api() for comment in self.comments],
            "count": len(self.comments),
            "nextCursor": self.next_cursor,
        }


def parent_id_of(value: object) -> str | None:
    """The body's `parentId` (absent or null: a top-level comment); malformed is InvalidParent."""
    if value is None:
        return None
    try:
        return validate_comment_id(value)
    except InvalidParameter as exc:
        raise InvalidParent(f"parentId is malformed: {exc}") from exc


def create_comment(
    repository: CommentsRepository,
    post_id: str,
    user_id: str,
    content: str,
    parent_id: str | None = None,
    *,
    admit: Admit = _admit_all,
) -> Comment:
    """Reserve the next seq atomically, then write the comment under it.

    Text that cannot be stored is refused first (InvalidParameter), and so is a reply whose
    parent is not a live comment of the post (InvalidParent), so a refused comment never uses up
    a seq and leaves no gap in the post's sequence.
    """
    validate_text(content, "content")
    if parent_id is not None:
        # Checked before the rate limit, so a refused reply costs no quota; claim_parent below
        # checks again atomically, as it counts the reply (a write, hence after the limit).
        known = repository.find_by_id(post_id, parent_id)
        if known is None or known.deleted:
            raise InvalidParent(f"parentId {parent_id} is not a comment of post {post_id}")
    admit()
    parent_user_id = None
    if parent_id is not None:
        parent = repository.claim_parent(post_id, parent_id)
        if parent is None:
            raise InvalidParent(f"parentId {parent_id} is not a comment of post {post_id}")
        parent_user_id = parent.user_id
    seq = repository.next_seq(post_id)
    comment = Comment(
        id=str(uuid.uuid4()),
        post_id=post_id,
        seq=seq,
        content=content,
        user_id=user_id,
        created_at=utc_timestamp(),
        parent_id=parent_id,
    )
    repository.insert(comment, parent_user_id=parent_user_id)
    return comment


def list_comments(
    repository: CommentsRepository,
    post_id: str,
    *,
    limit: int,
    after: int | None = None,
    cursor: str | None = None,
) -> CommentPage:
    """Oldest first from `after` (or the cursor); `next_cursor` is None on the last page."""
    start = decode_cursor(post_id, cursor) if cursor else (after or 0)
    comments, has_more = repository.page_after(post_id, start, limit)
    next_cursor = encode_cursor(post_id, comments[-1].seq) if has_more and comments else None
    return CommentPage(post_id=post_id, comments=comments, next_cursor=next_cursor)


def _owned_comment(repository: CommentsRepository, post_id: str, comment_id: str, user_id: str) -> Comment:
    comment = repository.find_by_id(post_id, comment_id)
    if comment is None or comment.deleted:
        raise CommentNotFound(f"comment {comment_id} not found")
    if comment.user_id != user_id:
        raise NotCommentAuthor("only the author may change this comment")
    return comment


def update_comment(
    repository: CommentsRepository,
    post_id: str,
    comment_id: str,
    user_id: str,
    content: str,
    admit: Admit = _admit_all,
) -> Comment:
    validate_text(content, "content")
    comment = _owned_comment(repository, post_id, comment_id, user_id)
    admit()
    try:
        return repository.update_content(comment, content, utc_timestamp())
    except CommentConflict as exc:
        # Deleted between the read and the write: to the caller it is simply gone.
        raise CommentNotFound(f"comment {comment_id} not found") from exc


def delete_comment(
    repository: CommentsRepository, post_id: str, comment_id: str, user_id: str, admit: Admit = _admit_all
) -> None:
    """A comment nobody replied to goes; one with replies becomes a tombstone so they keep their
    parent. A reply that lands between the read and the delete makes the delete a tombstone."""
    comment = _owned_comment(repository, post_id, comment_id, user_id)
    admit()
    try:
        if comment.reply_count == 0:
            try:
                repository.delete(comment)
                return
            except CommentConflict:
                comment = _owned_comment(repository, post_id, comment_id, user_id)
            if comment.reply_count == 0:  # it was edited in between, not replied to
                repository.delete(comment)
                return
        repository.tombstone(comment, utc_timestamp())
    except CommentConflict as exc:
        raise CommentNotFound(f"comment {comment_id} not found") from exc
