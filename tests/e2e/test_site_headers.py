"""The page's security headers (realtime_comments.site_headers): the local runtime sends, on every
response of the frontend's origin, exactly the headers of StaticSite's CloudFront policy, with
the local API and WebSocket origins as connect-src (tests/infra/test_infra_static_site.py
asserts the same module's values in the template)."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from realtime_comments.site_headers import content_security_policy, origin_of, security_headers

HEADERS = (
    "Content-Security-Policy",
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
)


def test_the_policy_allows_only_its_own_origin_and_the_listed_ones():
    csp = content_security_policy(
        ["https://api.example.com", "wss://ws.example.com", "https://api.example.com"]
    )
    directives = dict(d.split(" ", 1) for d in csp.split("; "))
    assert directives["connect-src"] == "'self' https://api.example.com wss://ws.example.com"
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no hashes
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'"
    assert "unsafe" not in csp


@pytest.mark.parametrize(
    "bad", ["https://api.example.com/prod", "api.example.com", "ftp://x", "https://a b", "*"]
)
def test_a_connect_origin_with_a_path_or_no_scheme_is_refused(bad):
    with pytest.raises(ValueError, match="connect-src origin"):
        content_security_policy([bad])


def test_origin_of_drops_the_path():
    assert origin_of("wss://abc.execute-api.eu-west-1.amazonaws.com/prod") == (
        "wss://abc.execute-api.eu-west-1.amazonaws.com"
    )
    assert origin_of("http://127.0.0.1:3002/") == "http://127.0.0.1:3002"
    with pytest.raises(ValueError):
        origin_of("/relative")


def _get(url: str) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback only
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers)


def test_the_runtime_serves_the_headers_on_every_frontend_response(urls: dict[str, str]) -> None:
    expected = security_headers([origin_of(urls["apiUrl"]), origin_of(urls["websocketUrl"])])
    assert (
        f"connect-src 'self' {origin_of(urls['apiUrl'])} {origin_of(urls['websocketUrl'])};"
        in (expected["Content-Security-Policy"])
    )
    front = urls["frontendUrl"]
    for path, status in (("/", 200), ("/posts/first", 200), ("/runtime-config.json", 200), ("/nope", 404)):
        got, headers = _get(f"{front}{path}")
        assert got == status, path
        assert {name: headers.get(name) for name in HEADERS} == expected, path
    # The API's own responses are JSON for scripts, not documents: no page policy there.
    got, headers = _get(f"{urls['apiUrl']}/api/v1/websocket/connections")
    assert got == 200 and "Content-Security-Policy" not in headers
