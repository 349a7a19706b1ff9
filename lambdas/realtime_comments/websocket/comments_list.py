"""The `comments.list` reply to `subscribe`, kept under API Gateway's 128 KB message limit."""

from __future__ import annotations

from typing import Any

from realtime_comments.comments.model import Comment
from realtime_comments.comments.repository import CommentsRepository
from realtime_comments.envelope import COMMENTS_LIST, MAX_MESSAGE_BYTES, build_message, byte_size, to_json


def comments_list_message(
    repository: CommentsRepository, post_id: str, *, limit: int, since: int | None
) -> str:
    """Latest `limit` comments oldest first, or with `since` the first `limit` after that seq."""
    if since is None:
        comments, has_more = repository.latest(post_id, limit)
        keep_newest = True
    else:
        comments, has_more = repository.page_after(post_id, since, limit)
        keep_newest = False
    return bounded_comments_list(post_id, comments, has_more=has_more, keep_newest=keep_newest)


def _message(post_id: str, comments: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    data = {"postId": post_id, "comments": comments, "count": len(comments), "hasMore": has_more}
    return build_message(COMMENTS_LIST, data)


def bounded_comments_list(
    post_id: str,
    comments: list[Comment],
    *,
    has_more: bool,
    keep_newest: bool,
    max_bytes: int = MAX_MESSAGE_BYTES,
) -> str:
    """Serialize the list, dropping comments until the message fits; then `hasMore` is true.

    Without `since` the newest comments are kept (older ones are paged over REST); with `since`
    the oldest are kept, so the client's next REST page starts right after the last one it has.
    """
    bodies = [comment.to_api() for comment in comments]
    text = to_json(_message(post_id, bodies, has_more))
    if byte_size(text) <= max_bytes:
        return text
    # Keep whole comments only: measure each once, then cut at the first that no longer fits.
    envelope_bytes = byte_size(to_json(_message(post_id, [], True))) + len(str(len(bodies)))
    budget = max_bytes - envelope_bytes
    ordered = list(reversed(bodies)) if keep_newest else bodies
    kept: list[dict[str, Any]] = []
    for body in ordered:
        cost = byte_size(to_json(body)) + 1  # the comma between array items
        if cost > budget:
            break
        kept.append(body)
        budget -= cost
    if keep_newest:
        kept.reverse()
    return to_json(_message(post_id, kept, True))
