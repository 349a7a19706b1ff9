"""HTTP errors with the contract's body: {"error": {"code": ..., "message": ...}}."""

from __future__ import annotations

import json

from aws_lambda_powertools.event_handler import Response
from pydantic import ValidationError


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad_request(message: str, code: str = "VALIDATION_ERROR") -> ApiError:
    return ApiError(400, code, message)


def error_response(status: int, code: str, message: str) -> Response:
    return Response(
        status_code=status,
        content_type="application/json",
        body=json.dumps({"error": {"code": code, "message": message}}),
    )


def json_response(status: int, body: object) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


def describe_validation_error(error: ValidationError) -> str:
    """One readable sentence per problem, e.g. "content: must not be empty"."""
    parts = []
    for problem in error.errors(include_url=False, include_input=False):
        location = ".".join(str(part) for part in problem.get("loc", ())) or "body"
        message = str(problem.get("msg", "is invalid"))
        if problem.get("type") == "extra_forbidden":
            message = "unknown field"
        parts.append(f"{location}: {message.removeprefix('Value error, ')}")
    return "; ".join(parts) or "invalid request body"
