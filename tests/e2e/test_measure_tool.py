"""`python -m local_runtime.measure` (docs/local-runtime.md) against the suite's runtime."""

from __future__ import annotations

import asyncio

import aiohttp

from local_runtime.measure import _measure
from tests.e2e.client import get_json

WRITE_BURST = 20  # comment writes per user before 429 (docs/security.md)


def test_measure_times_every_comment_each_by_a_writer_of_its_own(urls: dict[str, str]) -> None:
    """More comments than one user's write burst: one writer posting them all back to back would
    be refused (429) once its burst is spent, so each comment has a writer of its own."""
    n = WRITE_BURST + 5
    result = asyncio.run(asyncio.wait_for(_measure(urls, n), 60))
    latencies, post_times = result["latencies"], result["post_times"]
    assert isinstance(latencies, list) and isinstance(post_times, list)
    assert len(latencies) == len(post_times) == n
    assert all(0 < ms < 10_000 for ms in latencies + post_times)

    async def comments() -> list[dict]:
        async with aiohttp.ClientSession() as s:
            page = await get_json(s, urls, f"/api/v1/posts/{result['post_id']}/comments?limit=100")
            return list(page["comments"])

    listed = asyncio.run(comments())
    assert len(listed) == n
    assert len({c["userId"] for c in listed}) == n
