"""Time as a parameter.

Sans-IO cores (L1) and call logic (L2) never read a clock: every entry point takes ``now`` (seconds,
float, monotonic origin chosen by the caller).  Adapters read a :class:`SystemClock`; tests and fast
scenario runs use a :class:`VirtualClock` they step by hand.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    """Monotonic wall time for the asyncio adapters (L3/L4 only)."""

    __slots__ = ()

    def now(self) -> float:
        return time.monotonic()


class VirtualClock:
    """A clock that only moves when told to: tests step it through timers deterministically."""

    __slots__ = ("_now",)

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a virtual clock never goes backwards")
        self._now += seconds
        return self._now

    def set(self, when: float) -> float:
        if when < self._now:
            raise ValueError("a virtual clock never goes backwards")
        self._now = when
        return self._now
