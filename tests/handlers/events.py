"""Factories for realistic API Gateway / DynamoDB Streams / SQS events (shapes as AWS sends them)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

from boto3.dynamodb.types import TypeSerializer

REGION = "us-east-1"
ACCOUNT = "123456789012"
# A session of the role the handler environment allows to broadcast (role path not in the ARN).
BROADCASTER_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/broadcaster/orders-service"
API_ID = "abcdef1234"
_serializer = TypeSerializer()


def _epoch_ms() -> int:
    return int(time.time() * 1000)


def authorizer_event(
    token: str | None = None,
    origin: str | None = None,
    *,
    header_case: str = "Origin",
    extra_headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """WebSocket $connect REQUEST authorizer event."""
    headers = {"Host": f"{API_ID}.execute-api.{REGION}.amazonaws.com", "Sec-WebSocket-Version": "13"}
    if origin is not None:
        headers[header_case] = origin
    headers.update(extra_headers or {})
    query = {"token": token} if token is not None else None
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/dev/$connect",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "stageVariables": None,
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "extendedRequestId": "req",
            "requestTime": "01/Jan/2026:00:00:00 +0000",
            "messageDirection": "IN",
            "stage": "dev",
            "connectedAt": _epoch_ms(),
            "requestTimeEpoch": _epoch_ms(),
            "requestId": "req",
            "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
            "connectionId": "conn-authorizing=",
            "apiId": API_ID,
        },
    }


def ws_event(
    route_key: str,
    connection_id: str,
    body: Any = None,
    *,
    user_id: str | None = "alice",
    raw_body: str | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """A WebSocket route event ($connect, $disconnect, $default or a named action)."""
    event_types = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_types.get(route_key, "MESSAGE"),
        "messageDirection": "IN",
        "stage": "dev",
        "connectedAt": _epoch_ms(),
        "requestTimeEpoch": _epoch_ms(),
        "requestId": uuid.uuid4().hex,
        "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
        "connectionId": connection_id,
        "apiId": API_ID,
    }
    if user_id is not None:
        context["authorizer"] = {"userId": user_id, "principalId": user_id, "integrationLatency": 12}
    event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    if text is not None and route_key not in event_types:
        if base64_body:
            event["body"] = base64.b64encode(text.encode()).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    if route_key == "$connect":
        event["headers"] = {"Origin": "https://app.example.com"}
        event["queryStringParameters"] = {"token": "<jwt>"}
    if route_key == "$disconnect":
        context["disconnectStatusCode"] = 1000
        context["disconnectReason"] = "Client closed"
    return event


def http_event(
    method: str,
    path: str,
    *,
    route: str | None = None,
    path_parameters: dict[str, str] | None = None,
    body: Any = None,
    raw_body: str | None = None,
    claims: dict[str, Any] | None = None,
    user_id: str | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    iam: bool | str = False,
) -> dict[str, Any]:
    """HTTP API (payload format 2.0) event; `user_id` adds JWT authorizer claims with that sub."""
    if user_id is not None:
        claims = {"sub": user_id, "token_use": "id", "aud": "test-client-id", **(claims or {})}
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    request_headers = {
        "content-type": "application/json",
        "host": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
    }
    request_headers.update({name.lower(): value for name, value in (headers or {}).items()})
    context: dict[str, Any] = {
        "accountId": ACCOUNT,
        "apiId": API_ID,
        "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
        "domainPrefix": API_ID,
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": "pytest",
        },
        "requestId": uuid.uuid4().hex,
        "routeKey": f"{method} {route or path}",
        "stage": "$default",
        "time": "01/Jan/2026:00:00:00 +0000",
        "timeEpoch": _epoch_ms(),
    }
    if claims is not None:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    if iam:
        # `iam=True` signs as the allowed broadcaster; a string is the caller's userArn.
        caller = BROADCASTER_SESSION if iam is True else iam
        context["authorizer"] = {"iam": {"accessKey": "AKIA", "accountId": ACCOUNT, "userArn": caller}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {route or path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": request_headers,
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if text is not None:
        event["body"] = text
    return event


def comments_path(post_id: str, comment_id: str | None = None) -> tuple[str, str, dict[str, str]]:
    """(path, route, pathParameters) for the comments routes."""
    if comment_id is None:
        return (
            f"/api/v1/posts/{post_id}/comments",
            "/api/v1/posts/{postId}/comments",
            {"postId": post_id},
        )
    return (
        f"/api/v1/posts/{post_id}/comments/{comment_id}",
        "/api/v1/posts/{postId}/comments/{commentId}",
        {"postId": post_id, "commentId": comment_id},
    )


def attributes(values: dict[str, Any]) -> dict[str, Any]:
    return {key: _serializer.serialize(value) for key, value in values.items() if value is not None}


def stream_record(
    event_name: str,
    *,
    new: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    ttl: bool = False,
    sequence_number: str | None = None,
    table_arn: str = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/comments/stream/2026-01-01T00:00:00.000",
) -> dict[str, Any]:
    """One DynamoDB Streams record (NEW_AND_OLD_IMAGES) of the comments table."""
    image = new or old or {}
    keys = {"postId": image.get("postId"), "seq": image.get("seq")}
    stream: dict[str, Any] = {
        "ApproximateCreationDateTime": int(time.time()),
        "Keys": attributes(keys),
        "SequenceNumber": sequence_number or str(uuid.uuid4().int)[:21],
        "SizeBytes": 256,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if new is not None:
        stream["NewImage"] = attributes(new)
    if old is not None:
        stream["OldImage"] = attributes(old)
    record: dict[str, Any] = {
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": stream,
        "eventSourceARN": table_arn,
    }
    if ttl:
        record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return record


def stream_event(*records: dict[str, Any]) -> dict[str, Any]:
    return {"Records": list(records)}


def comment_item(post_id: str = "post-1", seq: int = 1, **overrides: Any) -> dict[str, Any]:
    item = {
        "postId": post_id,
        "seq": seq,
        "id": f"comment-{post_id}-{seq}",
        "content": f"comment {seq}",
        "userId": "alice",
        "createdAt": "2026-01-01T00:00:00.000Z",
    }
    item.update(overrides)
    return item


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": str(_epoch_ms()),
                    "SenderId": ACCOUNT,
                    "ApproximateFirstReceiveTimestamp": str(_epoch_ms()),
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:fanout",
                "awsRegion": REGION,
            }
            for body in bodies
        ]
    }


class FakeLambdaContext:
    function_name = "test-function"
    memory_limit_in_mb = 1024
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:test-function"
    aws_request_id = "request-id"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000
