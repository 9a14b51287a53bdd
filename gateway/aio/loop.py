"""Which asyncio event loop gwemu runs on: uvloop when it is importable, the stdlib otherwise.

uvloop matters for SIP load: the stdlib selector loop wakes up once per datagram, uvloop (libuv)
reads them in batches and costs a fraction per callback.  Everything in ``gateway.aio`` also runs
on the stdlib loop (and on :class:`~gateway.aio.virtual_time.VirtualTimeEventLoop`); callers that
want a specific loop say so with ``use_uvloop``.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = [
    "loop_factory",
    "loop_name",
    "new_event_loop",
    "run",
    "signalling_gc",
    "uvloop_available",
]

T = TypeVar("T")


def uvloop_available() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def loop_factory(use_uvloop: bool | None = None) -> Callable[[], asyncio.AbstractEventLoop]:
    """A loop factory: uvloop if asked (or, with None, if available), else the stdlib loop.

    ``use_uvloop=True`` without uvloop installed raises ImportError.
    """
    if use_uvloop is None:
        use_uvloop = uvloop_available()
    if use_uvloop:
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def new_event_loop(use_uvloop: bool | None = None) -> asyncio.AbstractEventLoop:
    return loop_factory(use_uvloop)()


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio`` (for summaries and benchmark reports)."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def run(main: Coroutine[Any, Any, T], *, use_uvloop: bool | None = None) -> T:
    """Run ``main`` to completion on a fresh loop chosen as :func:`loop_factory` says."""
    with asyncio.Runner(loop_factory=loop_factory(use_uvloop)) as runner:
        return runner.run(main)


@contextmanager
def signalling_gc() -> Iterator[None]:
    """Make full garbage collections rare while a process carries SIP load (then restore).

    Transactions linger 64*T1 = 32 s after their call (Timers J and L), so at 1000 calls/s
    the heap holds a few million tracked objects, and every full (generation 2) collection
    walks all of them: measured 100-260 ms stalls, during which SIPp retransmits and latency
    explodes.  The endpoint's steady state creates no reference cycles (a test checks it), so
    the young generations, collected often, still catch what little cyclic garbage asyncio
    makes.  The heap built so far is frozen out of every collection; the thresholds make a
    young collection rarer (20 000 net allocations), keep the middle generation small (a
    collection of it stays in the tens of milliseconds) and leave full collections to the end
    of the block -- the automatic trigger would need 10**8 net allocations.
    """
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 5, 1000)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
