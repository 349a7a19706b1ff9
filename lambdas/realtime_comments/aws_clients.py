"""boto3 clients, created lazily once per container and shared by every invocation.

Endpoints come from botocore's own `AWS_ENDPOINT_URL_<SERVICE>` support, so the code never
special-cases the local runtime; only the @connections endpoint is explicit (it is per API).
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

# DynamoDB and SQS calls are idempotent-safe here, so botocore's standard retry mode handles their
# throttling. The @connections client does not retry by itself: the delivery module owns that
# loop (bounded, with jitter, and counted), and retrying twice over would multiply the delay.
_DEFAULT_POOL = 10


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session()


@functools.cache
def _client(service: str, region: str, endpoint_url: str | None, pool_size: int, max_attempts: int) -> Any:
    config = Config(
        region_name=region,
        max_pool_connections=pool_size,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=5,
        read_timeout=10,
        tcp_keepalive=True,
    )
    kwargs: dict[str, Any] = {"config": config}
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    return _session().client(service, **kwargs)


def preload(*services: str) -> None:
    """Read botocore's data files for ``services`` (service model, endpoint rules, endpoints)
    into the shared session now, so that the first request's client is built from memory.

    Handlers call it at import, in the init phase, for the clients their first request builds:
    the work is the same, but a cold container no longer spends ~0.1 s of JSON parsing per
    service inside that request (and a SnapStart snapshot holds it). Needs no region or
    credentials."""
    session = _session()._session  # botocore's: boto3's Session does not expose its loader
    loader = session.get_component("data_loader")
    for service in services:
        session.get_service_model(service)
        loader.load_service_model(service, "endpoint-rule-set-1")
    for data in ("endpoints", "partitions", "sdk-default-configuration", "_retry"):
        loader.load_data(data)


def pool_size(send_concurrency: int = 0) -> int:
    """Connections a client needs when ``send_concurrency`` threads may use it at once (every
    sending thread may also clean up a gone connection in DynamoDB concurrently)."""
    return max(_DEFAULT_POOL, send_concurrency + 4)


def dynamodb(region: str, *, max_connections: int = _DEFAULT_POOL) -> Any:
    return _client("dynamodb", region, None, max_connections, 3)


def sqs(region: str) -> Any:
    return _client("sqs", region, None, _DEFAULT_POOL, 3)


def management_api(endpoint_url: str, region: str, *, max_connections: int = _DEFAULT_POOL) -> Any:
    """The boto3 `apigatewaymanagementapi` client of one WebSocket API (`{url}/@connections/{id}`)."""
    return _client("apigatewaymanagementapi", region, endpoint_url, max_connections, 1)


def frozen_credentials() -> Any:
    """The container's current credentials (refreshed by botocore when they rotate)."""
    credentials = _session().get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials found")
    return credentials.get_frozen_credentials()


@functools.cache
def _connections_transport(endpoint_url: str, region: str) -> Any:
    from realtime_comments.delivery.transport import SignedHttpTransport

    return SignedHttpTransport(endpoint_url, region, frozen_credentials)


def connections_transport(endpoint_url: str, region: str) -> Any:
    """The shared signed-HTTP transport to a WebSocket API's callback URL, used by the delivery module."""
    return _connections_transport(endpoint_url.rstrip("/"), region)


def clear_cache() -> None:
    """Drop every cached client (tests that change credentials or endpoints call this)."""
    _client.cache_clear()
    _session.cache_clear()
    _connections_transport.cache_clear()


def after_snapshot_restore() -> None:
    """Lambda SnapStart's restore hook: the snapshot holds the init's pooled sockets (long closed
    by the other end), its credentials (they expire) and signing keys. Drop them all; the next
    call builds fresh ones."""
    clear_cache()


try:  # in Lambda's Python runtimes (3.12+), which run this hook after each restore from a snapshot
    from snapshot_restore_py import register_after_restore
except ImportError:  # locally and in tests nothing is ever restored
    pass
else:
    register_after_restore(after_snapshot_restore)
