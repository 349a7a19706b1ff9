"""WebSocketService: the Python client other services use to broadcast through the IAM-authorized endpoint.

Same method names as the reference design's service, but every request is signed with SigV4
(service `execute-api`) using the caller's AWS credentials, so the endpoint is not open.

    service = WebSocketService("https://abc.execute-api.eu-west-1.amazonaws.com", region="eu-west-1")
    service.broadcast_new_comment("post-1", comment)
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

BROADCAST_PATH = "/api/v1/broadcast"


class BroadcastError(RuntimeError):
    """The broadcast endpoint answered with a non-2xx status (or could not be reached)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"broadcast failed with HTTP {status}: {body[:500]}")
        self.status = status
        self.body = body


class WebSocketService:
    def __init__(
        self,
        endpoint_url: str,
        region: str = "us-east-1",
        session: boto3.session.Session | None = None,
        timeout: float = 10.0,
    ) -> None:
        base = endpoint_url.rstrip("/")
        # Accept either the API's base URL or the full BroadcastEndpointUrl stack output.
        self.url = base if base.endswith(BROADCAST_PATH) else base + BROADCAST_PATH
        self.region = region
        self.session = session or boto3.session.Session()
        self.timeout = timeout

    # --- the reference design's methods ---------------------------------------------------------
    def broadcast_to_all(self, message_type: str, data: dict[str, Any]) -> dict[str, Any]:
        """Send a message to every connection."""
        return self._post({"type": message_type, "data": data})

    def broadcast_new_comment(self, post_id: str, comment: dict[str, Any]) -> dict[str, Any]:
        return self._post(
            {"type": "comment.created", "data": {"postId": post_id, "comment": comment}, "postId": post_id}
        )

    def broadcast_comments_list(self, post_id: str, comments: list[dict[str, Any]]) -> dict[str, Any]:
        data = {"postId": post_id, "comments": comments, "count": len(comments), "hasMore": False}
        return self._post({"type": "comments.list", "data": data, "postId": post_id})

    def broadcast_comment_update(self, post_id: str, comment: dict[str, Any]) -> dict[str, Any]:
        return self._post(
            {"type": "comment.updated", "data": {"postId": post_id, "comment": comment}, "postId": post_id}
        )

    # --- signing and sending -------------------------------------------------------------------
    def signed_request(self, payload: dict[str, Any]) -> AWSRequest:
        credentials = self.session.get_credentials()
        if credentials is None:
            raise BroadcastError(0, "no AWS credentials available to sign the request")
        body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
        request = AWSRequest(
            method="POST", url=self.url, data=body, headers={"Content-Type": "application/json"}
        )
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", self.region).add_auth(request)
        return request

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        signed = self.signed_request(payload)
        http_request = urllib.request.Request(  # noqa: S310 - the URL is the configured https/http endpoint
            signed.url, data=signed.body, headers=dict(signed.headers.items()), method="POST"
        )
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout) as response:  # noqa: S310
                text = response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            raise BroadcastError(error.code, error.read().decode("utf-8", "replace")) from error
        except (urllib.error.URLError, OSError) as error:
            raise BroadcastError(0, f"could not reach {self.url}: {error}") from error
        try:
            parsed = json.loads(text) if text else {}
        except ValueError:
            parsed = {"raw": text}
        return parsed if isinstance(parsed, dict) else {"result": parsed}
