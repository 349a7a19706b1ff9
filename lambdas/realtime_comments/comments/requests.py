"""Request bodies of the comments API (Pydantic, unknown fields refused)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from realtime_comments.comments.model import MAX_CONTENT_LENGTH
from realtime_comments.validation import text_problem


class CommentContent(BaseModel):
    """Body of POST and PATCH: {"content": "..."}; the text is stored stripped."""

    model_config = ConfigDict(extra="forbid", strict=True)

    content: str

    @field_validator("content")
    @classmethod
    def _stripped_and_bounded(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty or whitespace")
        if len(value) > MAX_CONTENT_LENGTH:
            raise ValueError(f"must be at most {MAX_CONTENT_LENGTH} characters")
        problem = text_problem(value)
        if problem is not None:
            # Refused here, before anything is written: the post's seq counter does not move.
            raise ValueError(problem)
        return value


class NewComment(CommentContent):
    """Body of POST: {"content": "...", "parentId"?: "..."}.

    `parentId` is taken as any JSON value here and checked by the service, so that a malformed
    one is `INVALID_PARENT` like an unknown one, not a generic validation error.
    """

    parentId: Any = None  # noqa: N815 - the contract's field name
