"""Powertools Logger, Tracer and Metrics shared by every handler of a container.

Service name, namespace and log level come from POWERTOOLS_* variables (docs/design.md); the
defaults below only matter when those are unset (tests, ad-hoc runs).

The Tracer is created only where it can trace (inside Lambda, POWERTOOLS_TRACE_DISABLED unset):
constructing it imports the X-Ray SDK (~100+ ms) even when it then disables itself, which would
otherwise be paid on every cold start of the local runtime and of the tests for nothing.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "realtime-comments")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "RealtimeComments")

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)

__all__ = ["MetricUnit", "entry_point", "logger", "metrics", "tracer", "tracing_enabled"]

Handler = Callable[[dict[str, Any], Any], Any]


def tracing_enabled() -> bool:
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }
    in_lambda = bool(os.environ.get("LAMBDA_TASK_ROOT")) and not os.environ.get("AWS_SAM_LOCAL")
    return in_lambda and not disabled


def _make_tracer() -> Any:
    if not tracing_enabled():
        return None
    from aws_lambda_powertools import Tracer

    # botocore only: it is the one library here X-Ray can patch that the functions use (the
    # @connections transport writes to its own sockets). Patching every supported library
    # imports them all: ~55-70 ms of CPU per cold start against ~25-35 ms (make bench, cold start).
    return Tracer(service=SERVICE, patch_modules=("botocore",))


# Patches boto3/botocore for X-Ray at import time, as Powertools does, so every AWS call is traced.
tracer = _make_tracer()


def entry_point(handler: Handler) -> Handler:
    """Wrap a Lambda handler: request id in every log line, a trace segment, metrics flushed.

    It tolerates any context object (or None), so the local runtime and tests can call handlers
    without a full LambdaContext.
    """

    @functools.wraps(handler)
    def wrapper(event: dict[str, Any], context: Any = None) -> Any:
        logger.append_keys(function_request_id=getattr(context, "aws_request_id", None))
        try:
            return handler(event, context)
        finally:
            # Handlers that measured nothing (connect, ping...) publish nothing and stay quiet.
            if metrics.metric_set:
                metrics.flush_metrics(raise_on_empty_metrics=False)

    if tracer is None:
        return wrapper
    return tracer.capture_lambda_handler(wrapper, capture_response=False)
