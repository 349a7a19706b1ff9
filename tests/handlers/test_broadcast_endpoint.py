"""POST /api/v1/broadcast and the SigV4-signing WebSocketService client."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from events import http_event
from handler_helpers import seed_subscribers
from handlers import broadcast_endpoint

from realtime_comments_client import BroadcastError, WebSocketService

ACCESS_KEY, SECRET_KEY = "AKIDBROADCAST", "broadcast-secret-key"


def call(body=None, raw_body=None, caller=True):
    event = http_event("POST", "/api/v1/broadcast", body=body, raw_body=raw_body, iam=caller)
    response = broadcast_endpoint.handler(event, None)
    return response["statusCode"], json.loads(response["body"])


def test_broadcast_to_post_subscribers(connections_sink):
    seed_subscribers("post-1", ["s1", "s2"])
    seed_subscribers("post-2", ["s3"])
    comment = {"id": "c1", "postId": "post-1", "content": "hi", "userId": "u", "createdAt": "x", "seq": 1}
    status, body = call(
        {"type": "comment.created", "data": {"postId": "post-1", "comment": comment}, "postId": "post-1"}
    )
    assert (status, body) == (202, {"status": "accepted", "recipients": 2})
    assert sorted(connections_sink.recipients()) == ["s1", "s2"]
    message = connections_sink.messages_for("s1")[0]
    assert message["type"] == "comment.created" and message["data"]["comment"] == comment


def test_broadcast_without_post_goes_to_every_connection(connections_sink):
    seed_subscribers("post-1", ["s1", "s2"])
    seed_subscribers("post-2", ["s3"])
    status, body = call({"type": "test", "data": {"message": "maintenance at noon"}})
    assert (status, body) == (202, {"status": "accepted", "recipients": 3})
    assert sorted(connections_sink.recipients()) == ["s1", "s2", "s3"]  # once each, not once per subscription
    assert connections_sink.messages_for("s3")[0]["data"] == {"message": "maintenance at noon"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"body": {"type": "made.up", "data": {}}},
        {"body": {"type": "test", "data": "not an object"}},
        {"body": {"type": "test"}},
        {"body": {"data": {}}},
        {"body": {"type": "test", "data": {}, "postId": ""}},
        {"body": {"type": "test", "data": {}, "postId": 7}},
        {"body": {"type": "test", "data": {}, "extra": True}},
        {"raw_body": "{nope"},
        {"raw_body": "[]"},
    ],
)
def test_bad_broadcasts_are_400_and_send_nothing(connections_sink, kwargs):
    seed_subscribers("post-1", ["s1"])
    status, body = call(**kwargs)
    assert status == 400
    assert set(body["error"]) == {"code", "message"} and body["error"]["message"]
    assert connections_sink.posts == []


@pytest.mark.parametrize(
    "caller",
    [
        "arn:aws:sts::123456789012:assumed-role/other-role/orders-service",  # another role
        "arn:aws:sts::210987654321:assumed-role/broadcaster/orders-service",  # same name, other account
        "arn:aws:iam::123456789012:user/broadcaster",  # a user named like the role
        "arn:aws:iam::123456789012:root",
        "",
        None,
    ],
)
def test_a_caller_not_on_the_list_gets_403_and_sends_nothing(connections_sink, caller):
    seed_subscribers("post-1", ["s1"])
    event = http_event(
        "POST", "/api/v1/broadcast", body={"type": "test", "data": {"message": "forged"}}, iam=True
    )
    event["requestContext"]["authorizer"]["iam"]["userArn"] = caller
    response = broadcast_endpoint.handler(event, None)
    assert response["statusCode"] == 403
    assert json.loads(response["body"])["error"]["code"] == "FORBIDDEN"
    assert connections_sink.posts == []


def test_a_request_without_iam_context_gets_403(connections_sink):
    seed_subscribers("post-1", ["s1"])
    event = http_event("POST", "/api/v1/broadcast", body={"type": "test", "data": {}})
    assert broadcast_endpoint.handler(event, None)["statusCode"] == 403
    assert connections_sink.posts == []


def test_only_the_allowed_message_types_go_out(connections_sink, configure):
    configure(BROADCAST_MESSAGE_TYPES="test")
    seed_subscribers("post-1", ["s1"])
    comment = {"id": "c1", "postId": "post-1", "content": "forged", "userId": "u", "createdAt": "x", "seq": 9}
    status, body = call({"type": "comment.created", "data": {"postId": "post-1", "comment": comment}})
    assert (
        status == 400 and body["error"]["code"] == "VALIDATION_ERROR" and "test" in body["error"]["message"]
    )
    assert connections_sink.posts == []
    assert call({"type": "test", "data": {"message": "ok"}})[0] == 202


def test_an_allowed_iam_user_may_broadcast(connections_sink, configure):
    configure(BROADCAST_PRINCIPALS="arn:aws:iam::123456789012:user/ops/alice")
    seed_subscribers("post-1", ["s1"])
    assert call({"type": "test", "data": {}}, caller="arn:aws:iam::123456789012:user/ops/alice")[0] == 202
    assert call({"type": "test", "data": {}})[0] == 403  # the role is no longer listed


def test_principal_allow_list_parsing():
    from realtime_comments.auth.iam_principals import PrincipalAllowList

    allow = PrincipalAllowList.from_arns(["arn:aws-cn:iam::123456789012:role/a/b/worker"])
    assert allow.allows("arn:aws-cn:sts::123456789012:assumed-role/worker/s")
    assert not allow.allows("arn:aws:sts::123456789012:assumed-role/worker/s")
    for bad in (
        "*",
        "arn:aws:iam::123456789012:*",
        "arn:aws:iam::123456789012:root",
        "arn:aws:iam::1:role/x",
    ):
        with pytest.raises(ValueError):
            PrincipalAllowList.from_arns([bad])


def test_oversized_broadcast_is_refused(connections_sink):
    seed_subscribers("post-1", ["s1"])
    status, body = call({"type": "test", "data": {"message": "x" * (130 * 1024)}})
    assert status == 413 and body["error"]["code"] == "MESSAGE_TOO_LARGE"
    assert connections_sink.posts == []


# --- WebSocketService against a server that checks the SigV4 signature --------------------------
def _signature_is_valid(method: str, url: str, headers: dict[str, str], body: bytes) -> bool:
    authorization = headers.get("authorization", "")
    match = re.match(
        r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/execute-api/aws4_request, "
        r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$",
        authorization,
    )
    if not match or match.group(1) != ACCESS_KEY:
        return False
    signed = match.group(4).split(";")
    request = AWSRequest(
        method=method, url=url, data=body, headers={h: headers[h] for h in signed if h != "host"}
    )
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "execute-api", match.group(3))
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    return expected == match.group(5)


@pytest.fixture
def signed_api():
    """A stand-in for the IAM-authorized HTTP API: verifies SigV4, then invokes the handler."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002
            return

        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            valid = _signature_is_valid("POST", f"http://{headers['host']}{self.path}", headers, body)
            seen.append({"path": self.path, "valid": valid})
            if not valid:
                status, payload = 403, json.dumps({"message": "Forbidden"}).encode()
            else:
                event = http_event("POST", self.path, raw_body=body.decode(), iam=True)
                response = broadcast_endpoint.handler(event, None)
                status, payload = response["statusCode"], response["body"].encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def _service(url: str, secret: str = SECRET_KEY) -> WebSocketService:
    session = boto3.session.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=secret)
    return WebSocketService(url, region="eu-west-1", session=session)


def test_service_methods_are_signed_and_delivered(signed_api, connections_sink):
    url, seen = signed_api
    seed_subscribers("post-1", ["s1"])
    service = _service(url)
    comment = {"id": "c1", "postId": "post-1", "content": "hi", "userId": "u", "createdAt": "x", "seq": 1}

    assert service.broadcast_new_comment("post-1", comment) == {"status": "accepted", "recipients": 1}
    service.broadcast_comment_update("post-1", {**comment, "content": "edited", "updatedAt": "y"})
    service.broadcast_comments_list("post-1", [comment])
    assert service.broadcast_to_all("test", {"message": "hello all"})["recipients"] == 1

    assert all(request["valid"] and request["path"] == "/api/v1/broadcast" for request in seen)
    types = [m["type"] for m in connections_sink.messages_for("s1")]
    assert types == ["comment.created", "comment.updated", "comments.list", "test"]
    listing = connections_sink.messages_for("s1")[2]["data"]
    assert listing == {"postId": "post-1", "comments": [comment], "count": 1, "hasMore": False}


def test_service_accepts_the_full_endpoint_url(signed_api, connections_sink):
    url, seen = signed_api
    _service(url + "/api/v1/broadcast").broadcast_to_all("test", {"message": "x"})
    assert seen[0]["path"] == "/api/v1/broadcast"


def test_wrong_credentials_fail_with_a_clear_error(signed_api):
    url, seen = signed_api
    with pytest.raises(BroadcastError) as raised:
        _service(url, secret="wrong-secret").broadcast_to_all("test", {"message": "x"})  # noqa: S106
    assert raised.value.status == 403 and seen[0]["valid"] is False


def test_rejected_payload_raises_with_the_status(signed_api):
    url, _ = signed_api
    with pytest.raises(BroadcastError) as raised:
        _service(url).broadcast_to_all("not.a.type", {})
    assert raised.value.status == 400 and "error" in raised.value.body


def test_unreachable_endpoint_raises():
    with pytest.raises(BroadcastError):
        _service("http://127.0.0.1:9").broadcast_to_all("test", {"message": "x"})
