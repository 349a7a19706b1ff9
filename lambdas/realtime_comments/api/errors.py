"""HTTP errors with the contract's body: {"error": {"code": ..., "message": ...}}."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

if TYPE_CHECKING:
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


def register_error_handlers(app: APIGatewayHttpResolver, logger: Logger) -> None:
    """The error mapping every HTTP handler shares: ApiError as itself, unknown routes as 404,
    anything unexpected as a 500 whose stack goes to the log only (never to the client)."""

    @app.exception_handler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return error_response(error.status, error.code, error.message)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unexpected error")
        return error_response(500, "INTERNAL_ERROR", "internal error")

    @app.not_found
    def _no_route(error: Exception) -> Response:
        return error_response(404, "NOT_FOUND", "no such route")
