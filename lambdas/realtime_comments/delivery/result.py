"""What happened to one delivery: how many were sent, found gone, or failed."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DeliveryResult:
    sent: int = 0
    gone: int = 0
    failed: int = 0
    throttle_retries: int = 0
    # Connections that still failed for a transient reason (throttling, 5xx, network) after the
    # bounded retries: the caller reports its record as failed so that the platform retries it.
    transient_failed_ids: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.sent + self.gone + self.failed

    @property
    def has_transient_failures(self) -> bool:
        return bool(self.transient_failed_ids)

    def merge(self, other: DeliveryResult) -> DeliveryResult:
        self.sent += other.sent
        self.gone += other.gone
        self.failed += other.failed
        self.throttle_retries += other.throttle_retries
        self.transient_failed_ids.extend(other.transient_failed_ids)
        return self
