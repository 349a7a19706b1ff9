"""IAM policy documents returned by the $connect REQUEST authorizer."""

from __future__ import annotations

from typing import Any


def policy(
    principal_id: str, effect: str, resource: str, context: dict[str, Any] | None = None
) -> dict[str, Any]:
    response: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if context:
        response["context"] = context
    return response


def allow(principal_id: str, resource: str, user_id: str) -> dict[str, Any]:
    return policy(principal_id, "Allow", resource, {"userId": user_id})


def deny(principal_id: str, resource: str) -> dict[str, Any]:
    return policy(principal_id, "Deny", resource)
