"""The delivery module: concurrency, 410 cleanup, 429 retries, failures, and the signed transport."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from handler_helpers import connections_repository, deliver, seed_subscribers
from realtime_comments import aws_clients
from realtime_comments.delivery import DeliveryResult, RetryPolicy
from realtime_comments.delivery.retry import Outcome, classify
from realtime_comments.delivery.transport import SendError, SignedHttpTransport

FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.005)


def test_delivers_to_every_connection_concurrently(connections_sink):
    ids = [f"conn-{i}" for i in range(200)]
    result = deliver('{"type":"test"}', ids, concurrency=16)
    assert result == DeliveryResult(sent=200)
    assert sorted(connections_sink.recipients()) == sorted(ids)
    assert all(body == b'{"type":"test"}' for _, body in connections_sink.posts)


def test_empty_recipient_list_sends_nothing(connections_sink):
    assert deliver("x", []) == DeliveryResult()
    assert connections_sink.posts == []


def test_gone_connection_is_deleted_with_its_subscriptions(tables, connections_sink):
    seed_subscribers("post-1", ["alive", "dead"])
    connections_repository().subscribe("dead", "post-2", limit=50)
    connections_sink.gone.add("dead")

    result = deliver("hello", ["alive", "dead"])

    assert (result.sent, result.gone, result.failed) == (1, 1, 0)
    remaining = {item["connectionId"]["S"] for item in tables.connection_items()}
    assert remaining == {"alive"}


def test_throttled_sends_are_retried_until_they_succeed(connections_sink):
    connections_sink.throttle("busy", 2)
    result = deliver("hello", ["busy", "calm"], retry=FAST_RETRY)
    assert (result.sent, result.failed, result.throttle_retries) == (2, 0, 2)
    assert connections_sink.recipients().count("busy") == 1
    assert [r["id"] for r in connections_sink.requests].count("busy") == 3


def test_retries_are_bounded_and_reported_as_transient(connections_sink):
    connections_sink.throttle("stuck", 100)
    result = deliver("hello", ["stuck", "fine"], retry=FAST_RETRY)
    assert (result.sent, result.failed) == (1, 1)
    assert result.transient_failed_ids == ["stuck"] and result.has_transient_failures
    assert [r["id"] for r in connections_sink.requests].count("stuck") == FAST_RETRY.max_attempts


def test_backoff_waits_grow_and_are_bounded(connections_sink):
    connections_sink.throttle("stuck", 100)
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=5, base_delay=0.1, max_delay=0.3)
    deliver("hello", ["stuck"], retry=policy, sleep=waits.append)
    assert len(waits) == policy.max_attempts - 1
    assert all(0 <= wait <= 0.3 for wait in waits)


def test_server_errors_are_transient(connections_sink):
    connections_sink.error_status["broken"] = 500
    result = deliver("hello", ["broken"], retry=FAST_RETRY)
    assert result.failed == 1 and result.transient_failed_ids == ["broken"]


def test_client_errors_are_permanent_and_not_retried(connections_sink):
    connections_sink.error_status["forbidden"] = 403
    result = deliver("hello", ["forbidden"], retry=FAST_RETRY)
    assert result.failed == 1 and not result.has_transient_failures
    assert len(connections_sink.requests) == 1


def test_unreachable_endpoint_is_transient(configure):
    configure(WEBSOCKET_CALLBACK_URL="http://127.0.0.1:9")  # discard port: nothing listens
    result = deliver("hello", ["x"], retry=FAST_RETRY)
    assert result.transient_failed_ids == ["x"]


def test_a_reply_is_a_single_delivery(connections_sink):
    from realtime_comments.dependencies import replies
    from realtime_comments.settings import ReplySettings

    result = replies(ReplySettings.from_env()).send("caller", '{"type":"pong"}')
    assert result.sent == 1 and connections_sink.messages_for("caller") == [{"type": "pong"}]


def test_connection_ids_with_reserved_characters_are_encoded(connections_sink):
    odd = "Ab+/cd=="
    assert deliver("x", [odd]).sent == 1
    assert connections_sink.recipients() == [odd]


def test_boto3_client_path_behaves_the_same(tables, connections_sink):
    seed_subscribers("post-1", ["dead"])
    connections_sink.gone.add("dead")
    connections_sink.throttle("busy", 1)
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=connections_sink.url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    result = deliver("hello", ["ok", "busy", "dead"], client=client, retry=FAST_RETRY)
    assert (result.sent, result.gone, result.failed) == (2, 1, 0)
    assert tables.connection_items() == []


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (SendError(410, "GoneException"), Outcome.GONE),
        (SendError(429, "TooManyRequestsException"), Outcome.THROTTLED),
        (SendError(400, "LimitExceededException"), Outcome.THROTTLED),
        (SendError(502, "HTTP502"), Outcome.TRANSIENT),
        (SendError(413, "PayloadTooLargeException"), Outcome.FAILED),
        (ConnectionRefusedError(), Outcome.TRANSIENT),
        (ValueError("bug"), Outcome.FAILED),
    ],
)
def test_error_classification(error, outcome):
    assert classify(error) is outcome


def test_signed_transport_signature_matches_botocore_sigv4(connections_sink):
    """Recompute the signature of a request the sink received with botocore's own SigV4Auth."""
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    base = connections_sink.url + "/dev"
    transport = SignedHttpTransport(
        base, "eu-west-1", credentials.get_frozen_credentials, clock=lambda: moment
    )
    data = json.dumps({"type": "test", "data": {"message": "héllo"}}).encode()
    transport.post("Ab+/c=", data)
    (received,) = connections_sink.requests
    headers = {name.lower(): value for name, value in received["headers"].items()}
    assert received["path"] == "/dev/@connections/Ab%2B%2Fc%3D"
    assert received["body"] == data

    expected = AWSRequest(
        method="POST",
        url=base + "/@connections/Ab%2B%2Fc%3D",
        data=data,
        headers={"X-Amz-Date": headers["x-amz-date"], "X-Amz-Security-Token": "session-token"},
    )
    expected.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(credentials.get_frozen_credentials(), "execute-api", "eu-west-1")
    canonical = signer.canonical_request(expected)
    signature = signer.signature(signer.string_to_sign(expected, canonical), expected)
    assert headers["x-amz-date"] == "20260102T030405Z"
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260102/eu-west-1/execute-api/aws4_request, "
        f"SignedHeaders=host;x-amz-date;x-amz-security-token, Signature={signature}"
    )


def test_signed_transport_reuses_keep_alive_connections(connections_sink):
    transport = SignedHttpTransport(connections_sink.url, "us-east-1", aws_clients.frozen_credentials)
    for index in range(5):
        transport.post(f"c{index}", b"x")
    assert len(transport._connections) == 1  # one socket served all five sequential sends
