"""One loop timer kept at a sans-IO core's next deadline.

Every adapter drives its core the same way (ARCHITECTURE.md): after each input it asks
``get_timer()`` and keeps exactly one ``loop.call_at`` armed at that instant -- re-armed only when
the deadline moves, cancelled when there is none -- and when it fires, calls
``handle_timer(now)``.  :class:`DeadlineTimer` is that one timer.  It hands the deadline it was
armed for to the callback: a loop runs timers on its own clock grid (uvloop: whole
milliseconds), so a timer may fire a fraction early, and the callback should take the deadline
as "now" rather than re-arm for the rest, which would spin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["DeadlineTimer"]


class DeadlineTimer:
    """``arm(deadline, loop)`` after every input; ``fire(deadline)`` runs when it comes."""

    __slots__ = ("_fire", "_handle", "armed")

    def __init__(self, fire: Callable[[float], None]) -> None:
        self._fire = fire
        self._handle: asyncio.TimerHandle | None = None
        self.armed: float | None = None  # the deadline the pending timer is for

    def arm(self, deadline: float | None, loop: asyncio.AbstractEventLoop | None) -> None:
        """Keep the timer at ``deadline`` (None: no timer); nothing to do when it already is."""
        if deadline == self.armed:
            return
        self.cancel()
        if deadline is not None and loop is not None:
            self.armed = deadline
            self._handle = loop.call_at(deadline, self._run)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.armed = None

    def _run(self) -> None:
        deadline = self.armed
        self._handle = None
        self.armed = None
        if deadline is not None:
            self._fire(deadline)
