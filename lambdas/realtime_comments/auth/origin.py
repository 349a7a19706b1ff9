"""The WebSocket Origin check: browsers send Origin, so a page from another site cannot connect."""

from __future__ import annotations

from collections.abc import Iterable


def is_origin_allowed(origin: str | None, allowed_origins: Iterable[str]) -> bool:
    """True for an allowed origin, for any origin with "*", and when no Origin was sent.

    A request without Origin comes from a non-browser client, which could forge any Origin
    anyway; the token is what authenticates it.
    """
    if origin is None:
        return True
    allowed = {entry.rstrip("/").lower() for entry in allowed_origins}
    return "*" in allowed or origin.rstrip("/").lower() in allowed
