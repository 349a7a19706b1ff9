"""A token bucket per key, as one number in one DynamoDB item (GCRA, the generic cell rate algorithm).

The item holds the bucket's "theoretical arrival time" `tat` in epoch milliseconds. A request at
`now` is allowed when `tat - now <= tolerance`, where the tolerance is `(burst - 1)` emission
intervals, and then moves `tat` to `max(tat, now) + interval`. Each request is one conditional
UpdateItem (two when the bucket is in use and the first guess was wrong); there is no read
before the write and no shared item: every key (a user, a connection) has its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_ATTEMPTS = 4


def wall_clock() -> float:
    """Seconds since the epoch; looked up at each call, so tests can stand a fake clock in."""
    return time.time()


@dataclass(frozen=True)
class RateLimit:
    """`per_second` requests per second on average, up to `burst` at once."""

    per_second: int
    burst: int

    def __post_init__(self) -> None:
        if self.per_second < 1 or self.burst < 1:
            raise ValueError("a rate limit needs per_second >= 1 and burst >= 1")

    @property
    def interval_ms(self) -> int:
        return max(1, round(1000 / self.per_second))

    @property
    def tolerance_ms(self) -> int:
        return self.interval_ms * (self.burst - 1)


class RateLimited(Exception):
    """Refused by a rate limit; `retry_after` is in seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited; retry after {retry_after:.3f} s")
        self.retry_after = retry_after


def retry_after_header(seconds: float) -> str:
    """Retry-After in whole seconds, never 0 (a client told 0 would retry at once and be refused)."""
    return str(max(1, math.ceil(seconds)))


class RateLimiter:
    """`acquire(key)` takes one request from the bucket stored in `attribute` of the item `key`.

    :param must_exist: the item must already exist (the bucket lives on a connection item):
        nothing is created, and a missing item is not limited (the connection is gone anyway).
    :param expiry_attribute: set on the item to when the bucket is full again (plus a minute), so
        the table's TTL removes idle buckets. Leave it None on items that carry their own TTL.
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        limit: RateLimit,
        *,
        attribute: str = "tat",
        must_exist: bool = False,
        expiry_attribute: str | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.client = client
        self.table_name = table_name
        self.limit = limit
        self.attribute = attribute
        self.must_exist = must_exist
        self.expiry_attribute = expiry_attribute
        self.clock = clock

    def admit(self, key: dict[str, Any]) -> None:
        """`acquire`, raising RateLimited when refused."""
        retry_after = self.acquire(key)
        if retry_after is not None:
            raise RateLimited(retry_after)

    def acquire(self, key: dict[str, Any]) -> float | None:
        """None when the request may go ahead; otherwise the seconds until one would be allowed.
        A refused request changes nothing."""
        interval, tolerance = self.limit.interval_ms, self.limit.tolerance_ms
        for _ in range(_ATTEMPTS):
            now = int((self.clock or wall_clock)() * 1000)
            # An idle bucket (tat in the past) is the common case: start it again from now.
            old = self._update(
                key,
                now + interval,
                "(attribute_not_exists(#tat) OR #tat < :now)",
                {":now": {"N": str(now)}},
            )
            if old is True:
                return None
            if old is None:
                return None  # must_exist and the item is gone: there is nothing left to protect
            tat = int(old[self.attribute]["N"]) if self.attribute in old else now - 1
            if tat < now:
                continue  # it became idle between the two reads: try the first form again
            if tat - now > tolerance:
                return (tat - tolerance - now) / 1000
            if self._update(key, tat + interval, "#tat = :old", {":old": {"N": str(tat)}}) is True:
                return None
        # Only under heavy contention on one key, which is what the limit is for.
        return interval / 1000

    def _update(self, key: dict[str, Any], tat: int, condition: str, values: dict[str, Any]) -> Any:
        """True when written; else the old item (None when it does not exist)."""
        names = {"#tat": self.attribute}
        expression = "SET #tat = :tat"
        values = {**values, ":tat": {"N": str(tat)}}
        if self.expiry_attribute:
            names["#expires"] = self.expiry_attribute
            expression += ", #expires = :expires"
            values[":expires"] = {"N": str(tat // 1000 + 60)}
        if self.must_exist:
            names["#pk"] = next(iter(key))
            condition = f"attribute_exists(#pk) AND {condition}"
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=key,
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return True
        except self.client.exceptions.ConditionalCheckFailedException as error:
            return error.response.get("Item")
