"""Trace events: the single record of what crossed the wire.

Every protocol core emits a :class:`TraceEvent` for each message in or out (and for each drop),
stamped with the injected ``now``.  Ladder diagrams, pcap files, JSON reports and the live message
trace (``debug ccsip messages``) are all renderings of these events -- never a second bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Address = tuple[str, int]
Direction = Literal["in", "out", "drop", "note"]
Protocol = Literal["sip", "rtp", "rtcp", "q931", "at", "fxs", "media"]
Transport = Literal["udp", "tcp", "tls", "serial", "none"]


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One message seen by one node.

    ``local`` and ``remote`` are transport addresses (``(host, port)``) where the protocol has them,
    so a pcap writer can rebuild true IP/UDP/TCP framing; ``raw`` holds the exact bytes on the wire.
    ``direction`` is ``in``/``out`` for traffic, ``drop`` for input that was discarded (``summary``
    says why) and ``note`` for a state change worth a line in a ladder.
    """

    time: float
    node: str
    protocol: Protocol
    direction: Direction
    summary: str
    raw: bytes = b""
    local: Address | None = None
    remote: Address | None = None
    transport: Transport = "none"
    call_id: str | None = None


TraceSink = Callable[[TraceEvent], None]


def discard(_event: TraceEvent) -> None:
    """A sink that keeps nothing (the default when nobody asked for a trace)."""


class TraceRecorder:
    """A sink that keeps every event in order; scenario runs and tests read ``events``."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []

    def __call__(self, event: TraceEvent) -> None:
        self.events.append(event)

    def of(self, protocol: Protocol) -> list[TraceEvent]:
        return [e for e in self.events if e.protocol == protocol]
