"""DeadlineTimer: one loop timer that follows a core's next deadline."""

from __future__ import annotations

import asyncio

from gateway.aio.deadline import DeadlineTimer


def test_it_fires_once_at_the_latest_deadline_with_that_deadline() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        timer = DeadlineTimer(fired.append)
        start = loop.time()
        timer.arm(start + 0.05, loop)
        timer.arm(start + 0.05, loop)  # unchanged: still one timer
        timer.arm(start + 0.02, loop)  # moved earlier: the first is cancelled
        assert timer.armed == start + 0.02
        await asyncio.sleep(0.1)
        assert fired == [start + 0.02]
        assert timer.armed is None

    asyncio.run(main())


def test_none_or_cancel_leaves_nothing_armed_and_no_loop_arms_nothing() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        fired: list[float] = []
        timer = DeadlineTimer(fired.append)
        timer.arm(loop.time() + 0.01, loop)
        timer.arm(None, loop)
        timer.arm(loop.time() + 0.01, None)  # not started yet: nothing to arm on
        assert timer.armed is None
        timer.arm(loop.time() + 0.01, loop)
        timer.cancel()
        await asyncio.sleep(0.05)
        assert fired == [] and timer.armed is None

    asyncio.run(main())
