"""Which asyncio event loop runs the runtime process: uvloop when it is installed, else asyncio's own.

Every ``@connections`` request and WebSocket frame is a callback on the runtime process's loop
plus two or three socket calls; uvloop (libuv) runs the loop's part in C. Measured on a 2-vCPU VM
(one 10 s step of 250 clients x 10 comments/s, CPU per process from /proc, the two loops
alternating): the runtime process used 0.30-0.33 of a core on asyncio and 0.26-0.28 on uvloop.
The protocols, aiohttp and every timeout are the same on both loops; ``--event-loop asyncio``
selects the standard one, for example to rule the loop out while debugging. The end-to-end
benchmark's load generator uses the same choice. uvloop has no Windows build; there ``auto``
means asyncio.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

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


def run(main: Coroutine[Any, Any, T], loop: str) -> T:
    """Run ``main`` to completion on ``loop`` (a value of :func:`resolve`) and return its result."""
    if loop == "uvloop":
        import uvloop

        return uvloop.run(main)
    return asyncio.run(main)
