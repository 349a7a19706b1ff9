"""How many delivery threads SendPace allows, from measured round trips and CPU per send."""

from __future__ import annotations

from realtime_comments.delivery.pace import SendPace


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_nothing_measured_yet_means_the_configured_limit() -> None:
    assert SendPace(Clock()).threads(128) == 128


def test_loopback_round_trips_need_few_threads() -> None:
    pace = SendPace(Clock())
    for rtt in (0.0009, 0.0005, 0.0031):  # the larger ones include waiting for the GIL
        pace.record(rtt, 0.0001)
    assert pace.threads(128) == 18  # 3 x (1 + 0.5 ms / 0.1 ms)


def test_api_gateway_round_trips_use_the_limit() -> None:
    pace = SendPace(Clock())
    pace.record(0.020, 0.0001)
    assert pace.threads(128) == 128


def test_never_fewer_than_four_nor_more_than_the_limit() -> None:
    pace = SendPace(Clock())
    pace.record(0.00001, 0.001)
    assert pace.threads(128) == 4
    assert pace.threads(2) == 2


def test_a_slower_network_is_seen_within_two_windows() -> None:
    clock = Clock()
    pace = SendPace(clock)
    pace.record(0.0005, 0.0001)
    assert pace.threads(128) == 18
    for _ in range(3):
        clock.now += 11
        pace.record(0.010, 0.0001)
    assert pace.threads(128) == 128
