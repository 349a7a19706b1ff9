"""Which asyncio event loop runs the runtime process: uvloop when it is installed, else asyncio's own.

The runtime process is the hot path of every broadcast: each ``@connections`` request and each
WebSocket frame is a callback on its loop. uvloop (libuv) runs those callbacks and their socket
calls at a fraction of the CPU of asyncio's pure-Python selector loop: at 250 clients x 20
comments/s the runtime process used 0.50 of a core with asyncio and 0.36-0.39 with uvloop on the
same machine (benchmarks/README.md). Nothing else changes: the same protocols, aiohttp and
timeouts run on either loop, and ``--event-loop asyncio`` selects the standard loop, for example to
rule the loop out while debugging. uvloop has no Windows build; there ``auto`` means asyncio.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Coroutine
from typing import Any

CHOICES = ("auto", "uvloop", "asyncio")


def resolve(choice: str) -> str:
    """The loop ``choice`` means on this machine: ``uvloop`` or ``asyncio``."""
    if choice not in CHOICES:
        raise ValueError(f"unknown event loop {choice!r}; expected one of {', '.join(CHOICES)}")
    if choice == "auto":
        return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"
    if choice == "uvloop" and importlib.util.find_spec("uvloop") is None:
        raise ValueError("--event-loop uvloop: uvloop is not installed (pip install -r requirements-dev.txt)")
    return choice


def run(main: Coroutine[Any, Any, int], loop: str) -> int:
    """Run ``main`` to completion on ``loop`` (a value of :func:`resolve`) and return its result."""
    if loop == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
