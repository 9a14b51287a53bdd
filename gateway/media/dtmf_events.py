"""RFC 4733 telephone-events: the event payload, a sender and a receiver.

Payload (RFC 4733 section 2.3), one 4-byte block per event::

    event (8) | E (1) | R (1) | volume (6) | duration (16)

Events 0-15 are the DTMF digits 0-9 * # A-D and 16 is flash (section 3.2).  gwemu sends and
accepts flash only when configured to (``flash=True``): a peer that did not negotiate it must not
see a hook flash appear from nowhere.

Sending (section 2.5.1): the first packet of an event carries the marker bit; every packet of the
event carries the RTP timestamp of its start and a duration that grows each packet interval; the
final packet has the E bit and is sent three times (2.5.1.4).  An event longer than 0xFFFF
timestamp units is cut into segments (2.5.1.3): a segment ends with duration 0xFFFF (no E bit) and
the next one starts at the old timestamp + 0xFFFF, without the marker.

Receiving (section 2.5.2): packets for an event already reported are duplicates, recognised by
their timestamp; the end of an event is its first E packet, or - when every end packet was lost -
a packet for a new event or a silence longer than ``end_timeout``.  A new timestamp exactly 0xFFFF
after the current one for the same event continues it (2.5.2.3).  Several blocks in one packet
(2.5.1.5) follow one another: block n+1 starts at block n's timestamp plus its duration.
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass
from typing import Final

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.trace import TraceEvent, TraceSink, discard

__all__ = [
    "DEFAULT_VOLUME",
    "DTMF_EVENT_DIGITS",
    "FLASH",
    "MAX_DURATION",
    "EventPacket",
    "TelephoneEvent",
    "TelephoneEventEnded",
    "TelephoneEventReceiver",
    "TelephoneEventSender",
    "TelephoneEventStarted",
    "digit_to_event",
    "event_to_digit",
    "packets_for_digit",
]

DTMF_EVENT_DIGITS: Final = "0123456789*#ABCD"  # event code = index (RFC 4733 section 3.2)
FLASH: Final = 16
FLASH_DIGIT: Final = "!"  # how gwemu writes a hook flash inside a digit string
MAX_DURATION: Final = 0xFFFF
DEFAULT_VOLUME: Final = 10  # -10 dBm0, a typical DTMF level (the field is the level's negation)
_BLOCK: Final = struct.Struct("!BBH")
_TIMESTAMP_MODULUS: Final = 1 << 32
_END_PACKETS: Final = 3


def digit_to_event(digit: str, *, flash: bool = False) -> int:
    """Event code of a DTMF digit (0-9, *, #, A-D, a-d), or 16 for ``!`` when flash is on."""
    if digit == FLASH_DIGIT:
        if flash:
            return FLASH
        raise LocalProtocolError("flash ('!', event 16) is not enabled for this stream")
    index = DTMF_EVENT_DIGITS.find(digit.upper()) if len(digit) == 1 else -1
    if index < 0:
        allowed = "0-9, *, #, A-D" + (", ! (flash)" if flash else "")
        raise LocalProtocolError(f"{digit!r} is not a telephone-event digit ({allowed})")
    return index


def event_to_digit(event: int) -> str | None:
    """The digit of an event code (``!`` for flash); ``None`` for other events."""
    if 0 <= event < len(DTMF_EVENT_DIGITS):
        return DTMF_EVENT_DIGITS[event]
    return FLASH_DIGIT if event == FLASH else None


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """One event block.  ``reserved`` is kept so parsed input serializes back byte for byte."""

    event: int
    end: bool
    volume: int
    duration: int
    reserved: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.event <= 255:
            raise LocalProtocolError(f"event code {self.event} does not fit 8 bits")
        if not 0 <= self.volume <= 63:
            raise LocalProtocolError(f"volume {self.volume} does not fit 6 bits")
        if not 0 <= self.duration <= MAX_DURATION:
            raise LocalProtocolError(f"duration {self.duration} does not fit 16 bits")

    @classmethod
    def parse(cls, data: bytes) -> TelephoneEvent:
        """Parse exactly one 4-byte block."""
        if len(data) != _BLOCK.size:
            raise RemoteProtocolError(
                f"telephone-event block is {len(data)} bytes, not 4", status_hint=None
            )
        event, flags, duration = _BLOCK.unpack(data)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration, bool(flags & 0x40))

    @classmethod
    def parse_payload(cls, payload: bytes) -> tuple[TelephoneEvent, ...]:
        """All blocks of an RTP payload (one or more, RFC 4733 section 2.5.1.5)."""
        if not payload or len(payload) % _BLOCK.size:
            raise RemoteProtocolError(
                f"telephone-event payload of {len(payload)} bytes is not a whole number "
                "of 4-byte event blocks",
                status_hint=None,
            )
        return tuple(
            cls.parse(payload[offset : offset + _BLOCK.size])
            for offset in range(0, len(payload), _BLOCK.size)
        )

    def __bytes__(self) -> bytes:
        flags = (0x80 if self.end else 0) | (0x40 if self.reserved else 0) | self.volume
        return _BLOCK.pack(self.event, flags, self.duration)

    @property
    def digit(self) -> str | None:
        return event_to_digit(self.event)


@dataclass(frozen=True, slots=True)
class EventPacket:
    """One RTP packet's worth of telephone-event: payload block, RTP timestamp and marker."""

    event: TelephoneEvent
    timestamp: int
    marker: bool

    @property
    def payload(self) -> bytes:
        return bytes(self.event)


class TelephoneEventSender:
    """Produces the packets of one event at a time, one call to :meth:`tick` per packet interval.

    ``start(digit, timestamp)`` begins an event at an RTP timestamp (that of the media the event
    replaces); ``duration`` (timestamp units) ends it by itself, otherwise :meth:`stop` does.  Each
    :meth:`tick` returns the packets due in that interval: the first carries duration
    ``interval``, and after the event ends the final packet is repeated on the next two ticks.
    """

    __slots__ = (
        "_duration",
        "_elapsed",
        "_end_repeats",
        "_event",
        "_final",
        "_first",
        "_flash",
        "_interval",
        "_segment_end_repeats",
        "_segment_final",
        "_segment_start",
        "_timestamp",
        "volume",
    )

    def __init__(
        self, *, interval: int = 160, volume: int = DEFAULT_VOLUME, flash: bool = False
    ) -> None:
        if interval <= 0:
            raise LocalProtocolError("the packet interval must be positive")
        if not 0 <= volume <= 63:
            raise LocalProtocolError(f"volume {volume} does not fit 6 bits")
        self._interval = interval
        self.volume = volume
        self._flash = flash
        self._event: int | None = None
        self._timestamp = 0
        self._segment_start = 0  # elapsed time at which the current segment began
        self._elapsed = 0
        self._duration: int | None = None
        self._first = False
        self._final: EventPacket | None = None
        self._end_repeats = 0
        self._segment_final: EventPacket | None = None
        self._segment_end_repeats = 0

    @property
    def busy(self) -> bool:
        """True from :meth:`start` until the last end packet has been handed out."""
        return self._event is not None or self._end_repeats > 0 or self._segment_end_repeats > 0

    def start(self, digit: str | int, timestamp: int, *, duration: int | None = None) -> None:
        if self.busy:
            raise LocalProtocolError("a telephone-event is still being sent")
        event = digit if isinstance(digit, int) else digit_to_event(digit, flash=self._flash)
        if event == FLASH and not self._flash:
            raise LocalProtocolError("flash (event 16) is not enabled for this stream")
        if not 0 <= event <= 255:
            raise LocalProtocolError(f"event code {event} does not fit 8 bits")
        if duration is not None and duration <= 0:
            raise LocalProtocolError("an event lasts a positive time")
        self._event = event
        self._timestamp = timestamp % _TIMESTAMP_MODULUS
        self._segment_start = 0
        self._elapsed = 0
        self._duration = duration
        self._first = True
        self._segment_final = None
        self._segment_end_repeats = 0

    def stop(self) -> None:
        """End the event at the next tick (its duration is the time sent so far plus a tick)."""
        if self._event is None:
            raise LocalProtocolError("no telephone-event is being sent")
        self._duration = self._elapsed + self._interval

    def tick(self) -> list[EventPacket]:
        packets: list[EventPacket] = []
        if self._segment_end_repeats:
            assert self._segment_final is not None
            packets.append(self._segment_final)
            self._segment_end_repeats -= 1
        if self._event is None:
            if self._end_repeats:
                assert self._final is not None
                packets.append(self._final)
                self._end_repeats -= 1
            return packets
        elapsed = self._elapsed + self._interval
        ended = self._duration is not None and elapsed >= self._duration
        if self._duration is not None and ended:
            elapsed = self._duration
        if elapsed - self._segment_start > MAX_DURATION:
            # RFC 4733 2.5.1.3: the segment ends at 0xFFFF (sent three times like any final
            # packet, 2.5.1.4) and the next one starts right where it stopped.
            segment_final = self._packet(MAX_DURATION, end=False)
            packets.append(segment_final)
            self._segment_final = segment_final
            self._segment_end_repeats = _END_PACKETS - 1
            self._timestamp = (self._timestamp + MAX_DURATION) % _TIMESTAMP_MODULUS
            self._segment_start += MAX_DURATION
        self._elapsed = elapsed
        packet = self._packet(elapsed - self._segment_start, end=ended)
        packets.append(packet)
        if ended:
            # The repeats are the same packet, except that only the very first one is marked.
            self._final = EventPacket(packet.event, packet.timestamp, False)
            self._end_repeats = _END_PACKETS - 1
            self._event = None
        return packets

    def _packet(self, duration: int, *, end: bool) -> EventPacket:
        assert self._event is not None
        marker = self._first
        self._first = False
        return EventPacket(
            TelephoneEvent(self._event, end, self.volume, duration), self._timestamp, marker
        )


def packets_for_digit(
    digit: str,
    duration: int,
    timestamp: int,
    *,
    interval: int = 160,
    volume: int = DEFAULT_VOLUME,
    flash: bool = False,
) -> list[list[EventPacket]]:
    """The whole packet sequence of one event, grouped by packet interval (tick)."""
    sender = TelephoneEventSender(interval=interval, volume=volume, flash=flash)
    sender.start(digit, timestamp, duration=duration)
    ticks = []
    while sender.busy:
        ticks.append(sender.tick())
    return ticks


@dataclass(frozen=True, slots=True)
class TelephoneEventStarted:
    event: int
    timestamp: int
    volume: int
    time: float

    @property
    def digit(self) -> str | None:
        return event_to_digit(self.event)


@dataclass(frozen=True, slots=True)
class TelephoneEventEnded:
    """``duration`` in timestamp units; ``end_seen`` is False when the end was inferred."""

    event: int
    timestamp: int
    duration: int
    volume: int
    end_seen: bool
    time: float

    @property
    def digit(self) -> str | None:
        return event_to_digit(self.event)


ReceivedEvent = TelephoneEventStarted | TelephoneEventEnded


class _Incoming:
    """The event being received."""

    __slots__ = ("duration", "earlier", "event", "heard", "timestamp", "volume")

    def __init__(self, block: TelephoneEvent, timestamp: int, now: float) -> None:
        self.event = block.event
        self.timestamp = timestamp  # of the current segment
        self.duration = block.duration  # within the current segment
        self.earlier = 0  # total duration of the segments before this one
        self.volume = block.volume
        self.heard = now


class TelephoneEventReceiver:
    """Turns the telephone-event payloads of one RTP stream into started/ended events.

    Feed every telephone-event payload with its RTP timestamp and the arrival time; read results
    with :meth:`next_event`; arm :meth:`get_timer` so an event whose end packets were all lost
    still ends.  Garbage payloads are dropped with a trace event, never raised.
    """

    __slots__ = ("_accepted", "_current", "_end_timeout", "_events", "_finished", "_node", "_trace")

    def __init__(
        self,
        *,
        flash: bool = False,
        end_timeout: float = 0.5,
        trace: TraceSink = discard,
        node: str = "media",
    ) -> None:
        self._accepted = frozenset(range(16)) | ({FLASH} if flash else frozenset())
        self._end_timeout = end_timeout
        self._trace = trace
        self._node = node
        self._events: deque[ReceivedEvent] = deque()
        self._current: _Incoming | None = None
        # Segment timestamps of recently finished events: their late and repeated packets are
        # recognised and dropped.
        self._finished: deque[int] = deque(maxlen=16)

    def receive(self, payload: bytes, timestamp: int, now: float, *, marker: bool = False) -> None:
        """One telephone-event RTP payload.  ``marker`` is informative only: timestamps decide,
        because the marked first packet may be the one that was lost."""
        try:
            blocks = TelephoneEvent.parse_payload(payload)
        except RemoteProtocolError as exc:
            self._drop(now, exc.reason, payload)
            return
        start = timestamp % _TIMESTAMP_MODULUS
        for block in blocks:
            self._receive_block(block, start, now, payload)
            start = (start + block.duration) % _TIMESTAMP_MODULUS

    def next_event(self) -> ReceivedEvent | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        if self._current is None:
            return None
        return self._current.heard + self._end_timeout

    def handle_timer(self, now: float) -> None:
        deadline = self.get_timer()
        if deadline is not None and now >= deadline:
            self._end_current(now, end_seen=False)

    def _receive_block(self, block: TelephoneEvent, timestamp: int, now: float, raw: bytes) -> None:
        if block.event not in self._accepted:
            self._drop(now, f"telephone-event {block.event} not supported on this stream", raw)
            return
        if timestamp in self._finished:
            return  # a repeated end packet, or a late update of an event already over
        current = self._current
        if current is not None and timestamp != current.timestamp:
            if (
                block.event == current.event
                and timestamp == (current.timestamp + MAX_DURATION) % _TIMESTAMP_MODULUS
            ):
                # RFC 4733 2.5.2.3: the next segment of the same long event (even if the
                # segment's closing 0xFFFF packets were lost).
                self._finished.append(current.timestamp)
                current.earlier += MAX_DURATION
                current.timestamp = timestamp
                current.duration = 0
            elif _is_older(timestamp, current.timestamp):
                self._drop(now, "telephone-event packet older than the current event", raw)
                return
            else:
                self._end_current(now, end_seen=False)
                current = None
        if current is None:
            current = _Incoming(block, timestamp, now)
            self._current = current
            self._events.append(TelephoneEventStarted(block.event, timestamp, block.volume, now))
        current.duration = max(current.duration, block.duration)
        current.heard = now
        if block.end:
            self._end_current(now, end_seen=True)

    def _end_current(self, now: float, *, end_seen: bool) -> None:
        current = self._current
        if current is None:
            return
        first_timestamp = (current.timestamp - current.earlier) % _TIMESTAMP_MODULUS
        self._events.append(
            TelephoneEventEnded(
                current.event,
                first_timestamp,
                current.earlier + current.duration,
                current.volume,
                end_seen,
                now,
            )
        )
        self._finished.append(current.timestamp)
        self._current = None

    def _drop(self, now: float, reason: str, raw: bytes) -> None:
        self._trace(TraceEvent(now, self._node, "rtp", "drop", reason, raw))


def _is_older(timestamp: int, reference: int) -> bool:
    """Serial-number comparison of RTP timestamps (they wrap at 2**32)."""
    return 0 < (reference - timestamp) % _TIMESTAMP_MODULUS < _TIMESTAMP_MODULUS // 2
