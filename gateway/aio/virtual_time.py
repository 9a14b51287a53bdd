"""An asyncio event loop whose clock is virtual: real sockets, simulated time.

Scenario fast mode runs the very same asyncio adapters and sans-IO cores as a normal run, but when
the loop has nothing to do it jumps its clock to the next timer instead of sleeping, so a
ring-no-answer scenario with a 30 s timer finishes in milliseconds.

Why this is sound on loopback: a ``sendto``/``send`` on 127.0.0.1 or ::1 lands in the receiving
socket's buffer before the system call returns, so "nothing readable right now" really means
"nothing in flight".  Work handed to a thread (``run_in_executor``: ``getaddrinfo`` for a ``dns:``
session target, say) is not: while any is running the clock stands still and the loop really
waits for it, so a name lookup takes no virtual time instead of being overtaken by the next timer
(which would time it out).  Requirement: no subprocess peers; real external peers need a real loop.
"""

from __future__ import annotations

import asyncio
import os
import selectors
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any, TypeVar, TypeVarTuple

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")


class _VirtualTimeSelector(selectors.BaseSelector):
    """Delegates to a real selector, but never waits: an idle wait advances the loop's clock."""

    def __init__(self, loop: VirtualTimeEventLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready:
            return ready
        # Give a loopback peer in this process one scheduling slot before declaring silence.
        os.sched_yield()
        ready = self._real.select(0)
        if ready:
            return ready
        if timeout is None:
            # Nothing is scheduled at all: only outside I/O can wake us, so really wait for it.
            return self._real.select(None)
        if self._loop.threads_running and timeout > 0:
            # A thread's answer is on its way (it wakes us through the loop's self-pipe): wait
            # for it in real time and keep the clock where it is.
            return self._real.select(timeout)
        if timeout > 0:
            self._loop.advance(timeout)
        return []

    def close(self) -> None:
        self._real.close()

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()


class VirtualTimeEventLoop(asyncio.SelectorEventLoop):
    """A selector event loop with a virtual ``time()`` that jumps over idle waits."""

    def __init__(self, start: float = 0.0) -> None:
        self._virtual_now = start
        self._threads_running = 0
        super().__init__(selector=_VirtualTimeSelector(self))

    def time(self) -> float:
        return self._virtual_now

    @property
    def threads_running(self) -> int:
        """Executor jobs whose results the loop has not received yet."""
        return self._threads_running

    def run_in_executor(
        self, executor: Executor | None, func: Callable[[*_Ts], _T], *args: *_Ts
    ) -> asyncio.Future[_T]:
        future = super().run_in_executor(executor, func, *args)
        self._threads_running += 1
        future.add_done_callback(self._thread_done)
        return future

    def _thread_done(self, _future: asyncio.Future[Any]) -> None:
        self._threads_running -= 1

    def advance(self, seconds: float) -> None:
        self._virtual_now += seconds


def run_virtual(main: Any, *, start: float = 0.0) -> Any:
    """Run a coroutine to completion on a fresh :class:`VirtualTimeEventLoop`."""
    loop = VirtualTimeEventLoop(start)
    try:
        return loop.run_until_complete(main)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
