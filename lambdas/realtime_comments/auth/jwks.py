"""The issuer's signing keys (JWKS), cached per container, with refetches rate-limited.

A token whose `kid` is not in the cached set may mean that the issuer rotated its keys, so the
set is fetched again, but at most once per `refetch_interval` (60 s): within that minute every
other unknown `kid` is refused without a fetch. Random `kid`s on unauthenticated `$connect`s
therefore cannot multiply outbound calls or authorizer time. The whole set is also refreshed
after `max_age` (1 hour); if that refresh fails, the keys already held stay in use.

Until a first fetch succeeds (a cold container while the issuer is unreachable) a fetch is
retried at most once per `cold_retry_interval` (5 s) rather than once a minute, so that one
failed request does not lock the container out for a minute.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import jwt

REFETCH_INTERVAL_SECONDS = 60.0
MAX_AGE_SECONDS = 3600.0
COLD_RETRY_INTERVAL_SECONDS = 5.0
FETCH_TIMEOUT_SECONDS = 5

Fetch = Callable[[], Any]


class UnknownSigningKey(Exception):
    """No key of the issuer's set has this `kid` (or the set could not be fetched)."""


def http_fetcher(jwks_url: str, timeout: float = FETCH_TIMEOUT_SECONDS) -> Fetch:
    """A fetch of the JWKS document over HTTPS (PyJWT's client, its own caches off)."""
    client = jwt.PyJWKClient(jwks_url, cache_jwk_set=False, cache_keys=False, timeout=timeout)
    return client.fetch_data


def _signing_keys(document: Any) -> dict[str, jwt.PyJWK]:
    if not isinstance(document, dict):
        raise ValueError("the JWKS endpoint did not return a JSON object")
    key_set = jwt.PyJWKSet.from_dict(document)
    return {key.key_id: key for key in key_set.keys if key.key_id and key.public_key_use in ("sig", None)}


class JwksCache:
    def __init__(
        self,
        fetch: Fetch,
        *,
        clock: Callable[[], float] = time.monotonic,
        refetch_interval: float = REFETCH_INTERVAL_SECONDS,
        max_age: float = MAX_AGE_SECONDS,
        cold_retry_interval: float = COLD_RETRY_INTERVAL_SECONDS,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self.refetch_interval = refetch_interval
        self.max_age = max_age
        self.cold_retry_interval = cold_retry_interval
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch, successful or not
        self._lock = threading.Lock()
        self.fetches = 0  # how many fetches were made (for tests and metrics)

    def signing_key(self, kid: str) -> jwt.PyJWK:
        """The key for `kid`; UnknownSigningKey if the set (fetched at most once a minute for
        unknown kids) does not have it."""
        with self._lock:
            now = self._clock()
            fresh = self._loaded_at is not None and now - self._loaded_at < self.max_age
            key = self._keys.get(kid)
            if key is not None and fresh:
                return key
            if self._may_fetch(now):
                self._refresh(now)
                key = self._keys.get(kid)
            if key is None:
                raise UnknownSigningKey(kid)
            return key

    def _may_fetch(self, now: float) -> bool:
        if self._attempted_at is None:
            return True
        interval = self.refetch_interval if self._loaded_at is not None else self.cold_retry_interval
        return now - self._attempted_at >= interval

    def _refresh(self, now: float) -> None:
        self._attempted_at = now
        self.fetches += 1
        try:
            keys = _signing_keys(self._fetch())
        except (jwt.PyJWTError, ValueError, OSError):
            return  # keep what is held; the next attempt waits for the interval
        self._keys = keys
        self._loaded_at = now
