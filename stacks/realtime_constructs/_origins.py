"""The allowed-origins prop shared by WebSocketApi and CommentsApi: required, never a silent "*"."""

from __future__ import annotations

import re
from collections.abc import Sequence

from aws_cdk import Token

_ORIGIN = re.compile(r"https?://[^/\s*]+")


def check_allowed_origins(construct: str, origins: Sequence[str]) -> tuple[str, ...]:
    """The origins as a tuple; each is ``scheme://host[:port]``, or the whole list is ``("*",)``."""
    if isinstance(origins, str):
        raise TypeError(f"{construct}: allowed_origins is a sequence of origins, not one string")
    values = tuple(origins)
    if not values:
        raise ValueError(f"{construct}: allowed_origins must list at least one origin (or be ('*',))")
    if "*" in values and len(values) > 1:
        raise ValueError(f"{construct}: '*' allows every origin; pass it alone")
    for origin in values:
        if origin != "*" and not Token.is_unresolved(origin) and not _ORIGIN.fullmatch(origin):
            raise ValueError(f"{construct}: invalid origin {origin!r}; expected scheme://host[:port]")
    return values
