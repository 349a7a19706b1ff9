"""Sending one message to many WebSocket connections through the @connections API.

Public API:
- `deliver(message, connection_ids, ...) -> DeliveryResult`: concurrent send with 410 cleanup and
  bounded 429/throttling retries (see `sender.py`);
- `send_to_connection(connection_id, message, ...) -> DeliveryResult`: one reply to one caller;
- `fan_out(message, connection_ids, settings, ...) -> FanoutResult`: inline delivery, or SQS
  batches for the fan-out worker above FANOUT_INLINE_LIMIT (see `fanout.py`).
"""

from realtime_comments.delivery.fanout import FanoutEnqueueError, FanoutResult, enqueue_batches, fan_out
from realtime_comments.delivery.result import DeliveryResult
from realtime_comments.delivery.retry import RetryPolicy
from realtime_comments.delivery.sender import deliver, send_to_connection

__all__ = [
    "DeliveryResult",
    "FanoutEnqueueError",
    "FanoutResult",
    "RetryPolicy",
    "deliver",
    "enqueue_batches",
    "fan_out",
    "send_to_connection",
]
