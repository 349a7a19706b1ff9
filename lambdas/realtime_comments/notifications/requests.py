"""Request body of POST /api/v1/notifications/read: {"ids": [...]} or {"all": true}."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_IDS_PER_REQUEST = 100


class MarkRead(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    ids: list[str] | None = Field(default=None, min_length=1, max_length=MAX_IDS_PER_REQUEST)
    all: Literal[True] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> MarkRead:
        if (self.ids is None) == (self.all is None):
            raise ValueError('give either "ids" (a list of notification ids) or "all": true')
        return self
