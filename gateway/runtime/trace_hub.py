"""The node's trace: every SIP, Q.931 and media event, numbered, kept in a bounded window.

The gateway's cores all write into one :class:`TraceHub` (it is their ``TraceSink``).  It keeps
the last ``limit`` events with a running sequence number, so ``show trace`` clients page through
them (``since`` = the number after the last one seen, like ``debug ccsip messages`` following
the live stream), optionally records everything for a pcap at the end, and tells listeners (the
console) about each event as it happens.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Final

from gateway.trace import TraceEvent
from pbx_sim.q931 import Message, Q931Error, describe
from pbx_sim.q931.tpkt import HEADER_LENGTH

__all__ = ["TraceHub", "event_text"]

DEFAULT_LIMIT: Final = 20_000


class TraceHub:
    """A TraceSink with a numbered window of recent events and live listeners."""

    __slots__ = ("_first", "_listeners", "_recent", "recorded")

    def __init__(self, *, limit: int = DEFAULT_LIMIT, record: bool = False) -> None:
        self._recent: deque[TraceEvent] = deque(maxlen=limit)
        self._first = 0  # sequence number of _recent[0]
        self._listeners: list[Callable[[int, TraceEvent], None]] = []
        self.recorded: list[TraceEvent] | None = [] if record else None

    def __call__(self, event: TraceEvent) -> None:
        recent = self._recent
        if len(recent) == recent.maxlen:
            self._first += 1
        recent.append(event)
        if self.recorded is not None:
            self.recorded.append(event)
        if self._listeners:
            number = self._first + len(recent) - 1
            for listener in self._listeners:
                listener(number, event)

    @property
    def next_number(self) -> int:
        """The number the next event will get (pass it as ``since`` to see only newer ones)."""
        return self._first + len(self._recent)

    def add_listener(self, listener: Callable[[int, TraceEvent], None]) -> None:
        self._listeners.append(listener)

    def since(self, number: int, limit: int = 1000) -> tuple[int, list[tuple[int, TraceEvent]]]:
        """Events numbered ``number`` and later (at most ``limit``) and the next number to ask
        for.  Events that fell out of the window are skipped."""
        start = max(number, self._first) - self._first
        chosen = list(self._recent)[start : start + limit]
        first = self._first + start
        return first + len(chosen), [(first + i, event) for i, event in enumerate(chosen)]


def event_text(event: TraceEvent) -> str:
    """The full text of a traced message: SIP as sent, Q.931 decoded element by element."""
    if event.protocol == "sip" and event.raw:
        return event.raw.decode("utf-8", errors="replace")
    if event.protocol == "q931" and event.raw:
        return _q931_text(event.raw)
    return event.summary


def _q931_text(raw: bytes) -> str:
    try:
        message = Message.parse(raw[HEADER_LENGTH:], lenient=True)
    except Q931Error as exc:
        return f"(undecodable Q.931: {exc}) {raw.hex(' ')}"
    return describe(message)
