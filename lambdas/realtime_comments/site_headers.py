"""The page's security headers, written once: the ``StaticSite`` construct puts them in its
CloudFront response-headers policy, and the local runtime sends the same ones with every file of
``frontend/out`` (and ``/runtime-config.json``), so the browser tests run under the policy that a
deployed stage serves. Standard library only: the local runtime imports it without the CDK.

The only value that differs between the two is ``connect-src``: the stage's HTTP API and
WebSocket API origins (plus the Cognito hosted sign-in domain, whose ``/oauth2/token`` the page
calls) in the cloud, the local runtime's API and WebSocket origins locally.

The policy allows no inline script and no inline style: the static export's inline scripts are
moved into files at build time (``frontend/scripts/externalize-inline-scripts.mjs``), so
``script-src 'self'`` needs neither ``'unsafe-inline'`` nor per-build hashes (docs/security.md,
"The page's headers").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Two years, the HSTS preload list's minimum is one; subdomains included, no preload (submitting
# a domain to the preload list is the domain owner's decision, not this app's).
HSTS_MAX_AGE_SECONDS = 63_072_000
HSTS_INCLUDE_SUBDOMAINS = True
# Nothing in the app needs the Referer: API and WebSocket calls carry Origin, and the sign-in
# callback's ?code=&state= must not leak to any other site.
REFERRER_POLICY = "no-referrer"
FRAME_OPTIONS = "DENY"  # legacy twin of frame-ancestors 'none'
CONTENT_TYPE_OPTIONS = "nosniff"

# Fixed directives, in the order they are written; connect-src is inserted after style-src.
_BEFORE_CONNECT: tuple[tuple[str, str], ...] = (
    ("default-src", "'none'"),
    ("script-src", "'self'"),
    ("style-src", "'self'"),
    ("img-src", "'self' data:"),
    ("font-src", "'self'"),
)
_AFTER_CONNECT: tuple[tuple[str, str], ...] = (
    ("manifest-src", "'self'"),
    ("base-uri", "'none'"),
    ("form-action", "'self'"),
    ("frame-ancestors", "'none'"),
    ("object-src", "'none'"),
)

# scheme://host[:port], no path: CSP source expressions with a path match only that path. CDK
# tokens (``${Token[...]}``) are accepted as the host: they resolve to the API ids at deploy time.
_ORIGIN = re.compile(r"(https|wss|http|ws)://[^/\s;,']+")


def content_security_policy(connect_origins: Iterable[str]) -> str:
    """The Content-Security-Policy value, with ``connect-src 'self'`` plus ``connect_origins``
    (each ``scheme://host[:port]``, in order, duplicates dropped)."""
    origins: list[str] = []
    for origin in connect_origins:
        if not _ORIGIN.fullmatch(origin):
            raise ValueError(f"connect-src origin {origin!r}: expected scheme://host[:port] (no path)")
        if origin not in origins:
            origins.append(origin)
    directives = [*_BEFORE_CONNECT, ("connect-src", " ".join(["'self'", *origins])), *_AFTER_CONNECT]
    return "; ".join(f"{name} {value}" for name, value in directives)


def strict_transport_security() -> str:
    return f"max-age={HSTS_MAX_AGE_SECONDS}" + ("; includeSubDomains" if HSTS_INCLUDE_SUBDOMAINS else "")


def security_headers(connect_origins: Iterable[str]) -> dict[str, str]:
    """Every header of the response-headers policy, as a server sends it (the local runtime)."""
    return {
        "Content-Security-Policy": content_security_policy(connect_origins),
        "Strict-Transport-Security": strict_transport_security(),
        "X-Content-Type-Options": CONTENT_TYPE_OPTIONS,
        "X-Frame-Options": FRAME_OPTIONS,
        "Referrer-Policy": REFERRER_POLICY,
    }


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL (``wss://x.example.com/prod`` -> ``wss://x.example.com``)."""
    match = _ORIGIN.match(url)
    if match is None:
        raise ValueError(f"not an absolute http(s)/ws(s) URL: {url!r}")
    return match.group(0)
