"""JWKS: an unknown `kid` is refetched at most once a minute; other unknown kids within that
minute are refused without a fetch (auth/jwks.py)."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from events import authorizer_event
from handler_helpers import ALLOWED_ORIGIN
from handlers import authorizer
from jwt.algorithms import RSAAlgorithm
from realtime_comments.auth.jwks import JwksCache, UnknownSigningKey


def _jwks(issuer: Any, kids: tuple[str, ...]) -> dict[str, Any]:
    public = json.loads(RSAAlgorithm.to_jwk(issuer.private_key.public_key()))
    return {"keys": [{**public, "kid": kid, "use": "sig", "alg": "RS256"} for kid in kids]}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingFetch:
    def __init__(self, document: Any) -> None:
        self.document = document
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        if isinstance(self.document, Exception):
            raise self.document
        return self.document


def test_unknown_kids_refetch_at_most_once_a_minute(jwt_issuer):
    fetch, clock = CountingFetch(_jwks(jwt_issuer, ("k1",))), Clock()
    cache = JwksCache(fetch, clock=clock)
    assert cache.signing_key("k1").key_id == "k1"
    assert fetch.calls == 1
    for _ in range(100):  # random kids within the minute: refused, no fetch
        with pytest.raises(UnknownSigningKey):
            cache.signing_key(uuid.uuid4().hex)
    assert fetch.calls == 1
    assert cache.signing_key("k1").key_id == "k1" and fetch.calls == 1  # known kids still served

    clock.now += 60  # a minute later: one refetch for the next unknown kid, then quiet again
    with pytest.raises(UnknownSigningKey):
        cache.signing_key("nope-1")
    with pytest.raises(UnknownSigningKey):
        cache.signing_key("nope-2")
    assert fetch.calls == 2

    fetch.document = _jwks(jwt_issuer, ("k1", "k2"))  # the issuer rotates its keys
    clock.now += 30
    with pytest.raises(UnknownSigningKey):
        cache.signing_key("k2")  # within the minute of the last fetch: not fetched yet
    assert fetch.calls == 2
    clock.now += 30
    assert cache.signing_key("k2").key_id == "k2"
    assert fetch.calls == 3


def test_the_set_is_refreshed_after_an_hour_and_kept_if_that_fails(jwt_issuer):
    fetch, clock = CountingFetch(_jwks(jwt_issuer, ("k1",))), Clock()
    cache = JwksCache(fetch, clock=clock)
    cache.signing_key("k1")
    clock.now += 3600
    fetch.document = OSError("issuer unreachable")
    assert cache.signing_key("k1").key_id == "k1"  # stale but held: still verifies
    assert fetch.calls == 2
    assert cache.signing_key("k1") and fetch.calls == 2  # no retry within the minute


def test_a_failed_cold_fetch_is_retried_after_seconds_not_every_request(jwt_issuer):
    fetch, clock = CountingFetch(OSError("down")), Clock()
    cache = JwksCache(fetch, clock=clock)
    for _ in range(20):
        with pytest.raises(UnknownSigningKey):
            cache.signing_key("k1")
    assert fetch.calls == 1
    clock.now += 5
    fetch.document = _jwks(jwt_issuer, ("k1",))
    assert cache.signing_key("k1").key_id == "k1"
    assert fetch.calls == 2


def test_a_malformed_jwks_counts_as_a_failed_fetch(jwt_issuer):
    fetch, clock = CountingFetch(["not", "an", "object"]), Clock()
    cache = JwksCache(fetch, clock=clock)
    with pytest.raises(UnknownSigningKey):
        cache.signing_key("k1")
    with pytest.raises(UnknownSigningKey):
        cache.signing_key("k2")
    assert fetch.calls == 1


@pytest.fixture
def counting_jwks_server(jwt_issuer):
    """The issuer's key at a fresh URL (so a fresh per-container cache), counting every GET."""
    body = json.dumps(_jwks(jwt_issuer, (jwt_issuer.kid,))).encode()
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{uuid.uuid4().hex}/jwks.json", hits
    finally:
        server.shutdown()
        server.server_close()


def test_authorizer_random_kids_cost_no_fetches(jwt_issuer, configure, counting_jwks_server):
    """Through the handler and over HTTP: 30 $connects with random kids, one JWKS GET in all."""
    url, hits = counting_jwks_server
    configure(JWKS_URL=url)
    allowed = authorizer.handler(authorizer_event(jwt_issuer.mint(), ALLOWED_ORIGIN), None)
    assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert len(hits) == 1
    for _ in range(30):
        with pytest.raises(Exception, match="^Unauthorized$"):
            authorizer.handler(authorizer_event(jwt_issuer.mint(kid=uuid.uuid4().hex), ALLOWED_ORIGIN), None)
    assert len(hits) == 1
    again = authorizer.handler(authorizer_event(jwt_issuer.mint(), ALLOWED_ORIGIN), None)
    assert again["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert len(hits) == 1


def test_token_without_kid_is_refused_without_a_fetch(jwt_issuer, configure, counting_jwks_server):
    import jwt as pyjwt

    url, hits = counting_jwks_server
    configure(JWKS_URL=url)
    token = pyjwt.encode(jwt_issuer.claims(), jwt_issuer.private_key, algorithm="RS256")
    with pytest.raises(Exception, match="^Unauthorized$"):
        authorizer.handler(authorizer_event(token, ALLOWED_ORIGIN), None)
    assert hits == []
