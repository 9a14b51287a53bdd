"""Shared plumbing of the simulated devices: an agenda of timed actions and recorded events.

A simulated device has the sans-IO shape of the cores it is built from (``receive_data``,
``data_to_send``, ``get_timer``, ``handle_timer``, all taking ``now``) plus ``audio_tick(now)``,
called every 20 ms by its runner, and ``plugged(now)`` when a new pty appears (a power-up).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Protocol

from hardware.sim.events import DeviceEvent, DeviceObserver


class SimDevice(Protocol):
    name: str

    def plugged(self, now: float) -> None: ...

    def receive_data(self, data: bytes, now: float) -> None: ...

    def data_to_send(self, now: float) -> bytes: ...

    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...

    def audio_tick(self, now: float) -> None: ...

    def set_observer(self, observer: DeviceObserver | None) -> None: ...


class Agenda:
    """Actions due at given times, run in time order (ties in the order they were added)."""

    __slots__ = ("_counter", "_heap")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[float], None]]] = []
        self._counter = itertools.count()

    def at(self, when: float, action: Callable[[float], None]) -> None:
        heapq.heappush(self._heap, (when, next(self._counter), action))

    def clear(self) -> None:
        self._heap.clear()

    def next_time(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def run_due(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            _when, _order, action = heapq.heappop(self._heap)
            action(now)


class EventLog:
    """The events of one device, kept in order and passed to an observer as they happen."""

    __slots__ = ("_device", "_observer", "events")

    def __init__(self, device: str) -> None:
        self._device = device
        self._observer: DeviceObserver | None = None
        self.events: list[DeviceEvent] = []

    def set_observer(self, observer: DeviceObserver | None) -> None:
        self._observer = observer

    def record(self, now: float, kind: str, value: str = "") -> None:
        event = DeviceEvent(now, self._device, kind, value)
        self.events.append(event)
        if self._observer is not None:
            self._observer(event)

    def values(self, kind: str) -> list[str]:
        return [event.value for event in self.events if event.kind == kind]
