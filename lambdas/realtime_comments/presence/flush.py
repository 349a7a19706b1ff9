"""Asking for a post's `presence` message to be sent: one SQS message on the fan-out queue,
delayed until a second has passed since the post's last one."""

from __future__ import annotations

import json
import math
from typing import Any

from realtime_comments.validation import InvalidParameter, validate_post_id

FLUSH_KEY = "presenceFlush"
MAX_DELAY_SECONDS = 900  # SQS's limit for DelaySeconds


def flush_request(post_id: str) -> str:
    return json.dumps({FLUSH_KEY: {"postId": post_id}}, separators=(",", ":"))


def parse_flush_request(body: Any) -> str | None:
    """The post id of a flush request (a parsed fan-out queue body), or None if it is not one."""
    if not isinstance(body, dict) or FLUSH_KEY not in body:
        return None
    request = body[FLUSH_KEY]
    try:
        return validate_post_id(request.get("postId") if isinstance(request, dict) else None)
    except InvalidParameter as exc:
        raise ValueError(f"malformed presence flush request: {exc}") from exc


class FlushScheduler:
    """Sends flush requests to the fan-out queue (SQS delays each message by whole seconds)."""

    def __init__(self, queue_url: str, sqs_client: Any) -> None:
        self.queue_url = queue_url
        self.sqs = sqs_client

    def schedule(self, post_id: str, delay_seconds: float) -> None:
        delay = min(MAX_DELAY_SECONDS, max(0, math.ceil(delay_seconds)))
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=flush_request(post_id), DelaySeconds=delay)
