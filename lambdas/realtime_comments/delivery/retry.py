"""Which @connections errors are worth retrying, and how long to wait between attempts."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum
from http.client import HTTPException

from botocore.exceptions import BotoCoreError, ClientError
from realtime_comments.delivery.transport import SendError

THROTTLING_CODES = frozenset(
    {
        "TooManyRequestsException",
        "TooManyRequests",
        "LimitExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)


class Outcome(Enum):
    SENT = "sent"
    GONE = "gone"
    THROTTLED = "throttled"  # retry with backoff
    TRANSIENT = "transient"  # 5xx or network: retry with backoff
    FAILED = "failed"  # permanent (403, 413, ...): retrying cannot help


def classify(error: Exception) -> Outcome:
    if isinstance(error, SendError):
        return _classify_status(error.status, error.code)
    if isinstance(error, ClientError):
        return _classify_status(
            error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0),
            error.response.get("Error", {}).get("Code", ""),
        )
    if isinstance(error, BotoCoreError | OSError | HTTPException):
        return Outcome.TRANSIENT  # network: refused, reset, timed out, bad status line
    return Outcome.FAILED


def _classify_status(status: int, code: str) -> Outcome:
    if code == "GoneException" or status == 410:
        return Outcome.GONE
    if code in THROTTLING_CODES or status == 429:
        return Outcome.THROTTLED
    if status >= 500:
        return Outcome.TRANSIENT
    return Outcome.FAILED


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded in attempts and in each wait."""

    max_attempts: int = 6
    base_delay: float = 0.05
    max_delay: float = 2.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based)."""
        # Full jitter spreads the retries of many threads that hit the rate limit together.
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))  # noqa: S311
