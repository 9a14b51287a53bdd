"""Run a simulated device behind a pty on the event loop: bytes, one timer, a 20 ms audio clock.

:class:`DeviceRunner` is the adapter of a :class:`~hardware.sim.device.SimDevice`, shaped like
every adapter of a sans-IO core: bytes from the pty go to ``receive_data``, and after every input,
timer or audio tick it writes ``data_to_send`` to the pty and re-arms one ``loop.call_at`` at
``get_timer()``.  :meth:`DeviceRunner.unplug` and :meth:`DeviceRunner.replug` take the device away
and bring it back (a new pty behind the same symlink), and :meth:`DeviceRunner.wait_for` lets a
test or script wait for a device event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Final

from gateway.aio.deadline import DeadlineTimer
from hardware.sim.device import SimDevice
from hardware.sim.events import DeviceEvent, DeviceObserver
from hardware.sim.pty_port import PtyPort

AUDIO_PERIOD: Final = 0.020
_MAX_CATCH_UP: Final = 5

EventTest = Callable[[DeviceEvent], bool]


class DeviceRunner:
    """One simulated device on one pty (see the module docstring)."""

    def __init__(self, device: SimDevice, *, link: str | Path | None = None,
                 observer: DeviceObserver | None = None) -> None:
        self.device = device
        self._observer = observer
        self._port = PtyPort(self._data, link=link)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer = DeadlineTimer(self._on_timer)
        self._audio: asyncio.TimerHandle | None = None
        self._audio_due = 0.0
        self._waiters: list[tuple[EventTest, asyncio.Future[DeviceEvent]]] = []
        self._servicing = False
        self.events: list[DeviceEvent] = []
        device.set_observer(self._record)

    def set_observer(self, observer: DeviceObserver | None, *, replay: bool = False) -> None:
        """Report events to ``observer`` from now on (``replay``: the earlier ones first)."""
        self._observer = observer
        if replay and observer is not None:
            for event in self.events:
                observer(event)

    @property
    def path(self) -> str:
        """The tty a driver opens (the symlink when one was asked for)."""
        return self._port.path

    @property
    def slave_path(self) -> str:
        return self._port.slave_path

    @property
    def plugged(self) -> bool:
        return self._port.plugged

    def now(self) -> float:
        loop = self._loop
        return loop.time() if loop is not None else 0.0

    async def start(self) -> str:
        self._loop = asyncio.get_running_loop()
        path = self._port.open()
        self.device.plugged(self.now())
        self._audio_due = self.now() + AUDIO_PERIOD
        self._audio = self._loop.call_at(self._audio_due, self._audio_tick)
        self.service()
        return path

    async def stop(self) -> None:
        self._timer.cancel()
        if self._audio is not None:
            self._audio.cancel()
            self._audio = None
        self._port.close()
        for _test, future in self._waiters:
            future.cancel()
        self._waiters.clear()

    async def __aenter__(self) -> DeviceRunner:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    def unplug(self) -> None:
        """The device disappears (the driver's next read fails)."""
        self._port.unplug()
        self._record(DeviceEvent(self.now(), self.device.name, "unplugged"))

    def replug(self) -> str:
        """The device comes back on a new pty behind the same link; it powers up afresh."""
        path = self._port.replug()
        self.device.plugged(self.now())
        self.service()
        return path

    def act(self, action: Callable[[float], object]) -> None:
        """Run ``action(now)`` on the device (a script step), then send what it produced."""
        action(self.now())
        self.service()

    async def wait_for(self, test: EventTest, timeout: float = 5.0, *,
                       since: int = 0) -> DeviceEvent:
        """The first event from index ``since`` of :attr:`events` on that passes ``test``."""
        for event in self.events[since:]:
            if test(event):
                return event
        future: asyncio.Future[DeviceEvent] = asyncio.get_running_loop().create_future()
        entry = (test, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    async def wait_event(self, kind: str, value: str | None = None, timeout: float = 5.0, *,
                         since: int = 0) -> DeviceEvent:
        return await self.wait_for(
            lambda e: e.kind == kind and (value is None or e.value == value), timeout,
            since=since)

    # ------------------------------------------------------------------------------ pump

    def service(self) -> None:
        if self._servicing or self._loop is None:
            return
        self._servicing = True
        try:
            now = self.now()
            data = self.device.data_to_send(now)
            if data:
                self._port.write(data)
            self._arm()
        finally:
            self._servicing = False

    def _data(self, data: bytes) -> None:
        self.device.receive_data(data, self.now())
        self.service()

    def _arm(self) -> None:
        self._timer.arm(self.device.get_timer(), self._loop)

    def _on_timer(self, deadline: float) -> None:
        # The loop may call a hair early (clock resolution): the deadline has come.
        now = max(self.now(), deadline)
        self.device.handle_timer(now)
        self.service()

    def _audio_tick(self) -> None:
        loop = self._loop
        if loop is None:
            return
        now = self.now()
        ticks = 0
        while self._audio_due <= now + 1e-6 and ticks < _MAX_CATCH_UP:
            if self._port.plugged:
                self.device.audio_tick(now)
            self._audio_due += AUDIO_PERIOD
            ticks += 1
        if self._audio_due <= now:
            self._audio_due = now + AUDIO_PERIOD
        self.service()
        self._audio = loop.call_at(self._audio_due, self._audio_tick)

    def _record(self, event: DeviceEvent) -> None:
        self.events.append(event)
        if self._observer is not None:
            self._observer(event)
        for test, future in list(self._waiters):
            if not future.done() and test(event):
                future.set_result(event)
