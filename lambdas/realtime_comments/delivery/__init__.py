"""Sending one message to many WebSocket connections through the @connections API.

Public API:
- `deliver(message, connection_ids, ...) -> DeliveryResult`: concurrent send with 410 cleanup and
  bounded 429/throttling retries (see `sender.py`);
- `fan_out(message, connection_ids, fanout) -> FanoutResult`: inline delivery, or SQS
  batches for the fan-out worker above the inline limit (`Fanout`, see `fanout.py`).
"""

from realtime_comments.delivery.fanout import (
    Fanout,
    FanoutEnqueueError,
    FanoutResult,
    enqueue_batches,
    fan_out,
)
from realtime_comments.delivery.result import DeliveryResult
from realtime_comments.delivery.retry import RetryPolicy
from realtime_comments.delivery.sender import deliver

__all__ = [
    "DeliveryResult",
    "Fanout",
    "FanoutEnqueueError",
    "FanoutResult",
    "RetryPolicy",
    "deliver",
    "enqueue_batches",
    "fan_out",
]
