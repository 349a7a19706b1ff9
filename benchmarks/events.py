"""Lambda events as API Gateway, DynamoDB Streams and SQS shape them, plus a local JWT issuer.

Shared by the warm-cost benchmark and tests/reliability (bad input, faults).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any

from local_runtime.identity import Identity, JwksServer

ACCOUNT = "123456789012"
API_ID = "localapi"


class FakeContext:
    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:bench"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


# ------------------------------------------------------------------------------------- WebSocket
def ws_event(
    connection_id: str,
    route_key: str,
    body: Any = None,
    *,
    user_id: str | None = "alice",
    event_type: str = "MESSAGE",
    is_base64: bool = False,
) -> dict[str, Any]:
    now = int(time.time() * 1000)
    request_context: dict[str, Any] = {
        "connectionId": connection_id,
        "routeKey": route_key,
        "eventType": event_type,
        "domainName": "127.0.0.1",
        "stage": "local",
        "apiId": API_ID,
        "requestId": str(uuid.uuid4()),
        "connectedAt": now,
        "requestTimeEpoch": now,
        "messageDirection": "IN",
        "identity": {"sourceIp": "127.0.0.1"},
    }
    if user_id is not None:
        request_context["authorizer"] = {"userId": user_id, "principalId": user_id}
    event: dict[str, Any] = {"requestContext": request_context, "isBase64Encoded": is_base64}
    if body is not None:
        event["body"] = body
    return event


def connect_event(connection_id: str, user_id: str | None = "alice") -> dict[str, Any]:
    event = ws_event(connection_id, "$connect", None, user_id=user_id, event_type="CONNECT")
    event["headers"] = {"Host": "127.0.0.1", "Origin": "http://localhost:3000"}
    event["queryStringParameters"] = {"token": "x"}
    return event


def authorizer_event(
    token: str | None,
    origin: str | None = "http://localhost:3000",
    headers: dict[str, Any] | None = None,
    query: dict[str, Any] | None = None,
) -> dict[str, Any]:
    hdrs: dict[str, Any] = {"Host": "127.0.0.1"}
    if origin is not None:
        hdrs["Origin"] = origin
    if headers:
        hdrs.update(headers)
    qs: dict[str, Any] = {} if token is None else {"token": token}
    if query:
        qs.update(query)
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{API_ID}/local/$connect",
        "headers": hdrs,
        "multiValueHeaders": {k: [v] for k, v in hdrs.items()},
        "queryStringParameters": qs,
        "multiValueQueryStringParameters": {k: [v] for k, v in qs.items()},
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "connectionId": "authz-conn",
            "domainName": "127.0.0.1",
            "stage": "local",
            "apiId": API_ID,
            "requestId": str(uuid.uuid4()),
        },
    }


# ------------------------------------------------------------------------------------ HTTP API v2
def http_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    route_key: str | None = None,
    path_params: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    claims: dict[str, Any] | None = None,
    is_base64: bool = False,
) -> dict[str, Any]:
    now = int(time.time() * 1000)
    hdrs = {"content-type": "application/json", "host": "127.0.0.1"}
    hdrs.update(headers or {})
    raw_query = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    request_context: dict[str, Any] = {
        "accountId": ACCOUNT,
        "apiId": API_ID,
        "domainName": "127.0.0.1",
        "domainPrefix": "local",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": "bench",
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": route_key or f"{method} {path}",
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
        "timeEpoch": now,
    }
    if claims is not None:
        request_context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": hdrs,
        "requestContext": request_context,
        "isBase64Encoded": is_base64,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if path_params:
        event["pathParameters"] = dict(path_params)
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


COMMENTS_ROUTE = "/api/v1/posts/{postId}/comments"
COMMENT_ROUTE = "/api/v1/posts/{postId}/comments/{commentId}"


def comments_event(
    method: str,
    post_id: str,
    *,
    comment_id: str | None = None,
    body: Any = None,
    claims: dict[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    if comment_id is None:
        path, route = f"/api/v1/posts/{post_id}/comments", COMMENTS_ROUTE
        params = {"postId": post_id}
    else:
        path, route = f"/api/v1/posts/{post_id}/comments/{comment_id}", COMMENT_ROUTE
        params = {"postId": post_id, "commentId": comment_id}
    return http_event(
        method, path, body=body, route_key=f"{method} {route}", path_params=params, claims=claims, **kwargs
    )


def broadcast_event(body: Any) -> dict[str, Any]:
    return http_event("POST", "/api/v1/broadcast", body=body, route_key="POST /api/v1/broadcast")


# ------------------------------------------------------------------------------- streams and SQS
def _attr(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    return {"S": str(value)}


def stream_record(
    event_name: str,
    comment: dict[str, Any],
    *,
    seq_no: int = 1,
    old: dict[str, Any] | None = None,
    ttl: bool = False,
) -> dict[str, Any]:
    keys = {"postId": _attr(comment["postId"]), "seq": _attr(comment["seq"])}
    stream: dict[str, Any] = {
        "ApproximateCreationDateTime": time.time(),
        "Keys": keys,
        "SequenceNumber": f"{seq_no:021d}",
        "SizeBytes": 200,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if event_name != "REMOVE":
        stream["NewImage"] = {k: _attr(v) for k, v in comment.items()}
    if old is not None or event_name == "REMOVE":
        stream["OldImage"] = {k: _attr(v) for k, v in (old or comment).items()}
    record: dict[str, Any] = {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": stream,
        "eventSourceARN": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/comments/stream/2026-01-01T00:00:00",
    }
    if ttl:
        record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return record


def comment_item(post_id: str, seq: int, content: str = "hello", user_id: str = "alice") -> dict[str, Any]:
    return {
        "postId": post_id,
        "seq": seq,
        "id": f"cmt-{post_id}-{seq:06d}",
        "content": content,
        "userId": user_id,
        "createdAt": "2026-01-01T00:00:00.000Z",
    }


def sqs_record(body: str, message_id: str | None = None) -> dict[str, Any]:
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "rh-" + uuid.uuid4().hex,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(int(time.time() * 1000)),
            "SenderId": ACCOUNT,
            "ApproximateFirstReceiveTimestamp": "0",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:{ACCOUNT}:fanout",
        "awsRegion": "us-east-1",
    }


# ---------------------------------------------------------------------------- a local JWT issuer
class LocalIssuer(Identity):
    """local_runtime's in-memory `Identity`, its JWKS on a loopback `JwksServer` (thread)."""

    def __init__(self, audience: str = "bench-client") -> None:
        self.server = JwksServer(path="/issuer")
        super().__init__(None, self.server.url, audience, kid="bench-key")
        self.server.jwks = self.jwks

    def env(self) -> dict[str, str]:
        return {"JWT_ISSUER": self.issuer, "JWT_AUDIENCE": self.audience, "JWKS_URL": self.jwks_url}

    def token(self, sub: str = "alice", **overrides: Any) -> str:
        return self.issue(sub, **overrides)

    def close(self) -> None:
        self.server.close()
