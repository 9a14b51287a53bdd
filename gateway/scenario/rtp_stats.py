"""Per-stream RTP statistics computed from the packets in a run's trace.

A stream is one SSRC from one address to another.  The sender's ``out`` events give what was
sent; the receiver's ``in`` events give what arrived and when, from which loss (RFC 3550 A.3:
expected from the extended sequence numbers, minus received) and interarrival jitter (RFC 3550
A.8, in seconds) follow.  When the receiver is not a traced node, arrival figures are unknown
(``None``).  Telephone-event packets (RFC 4733) are counted and decoded to digits but kept out of
the jitter (their timestamp is the event's start, not the packet's).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from gateway.errors import GwemuError
from gateway.scenario.ladder import STATIC_CODECS, AddressBook, Arrow, address_book
from gateway.sdp import SessionDescription
from gateway.trace import Address, TraceEvent

__all__ = ["RtpStream", "rtp_streams"]

_HEADER: Final = struct.Struct("!BBHII")
_DTMF_NAMES: Final = "0123456789*#ABCD"
_EVENT_END: Final = 0x80


@dataclass(slots=True)
class _Receiver:
    received: int = 0
    base_seq: int | None = None
    max_extended: int = 0
    jitter: float = 0.0
    transit: float | None = None
    duplicates: int = 0
    seen: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class RtpStream:
    """One direction of one RTP stream; times are scenario times (trace times)."""

    source: str
    target: str
    source_address: Address
    target_address: Address
    ssrc: int
    codec: str
    payload_types: tuple[int, ...]
    sent: int
    received: int | None
    lost: int | None
    jitter: float | None  # seconds
    first: float
    last: float
    events: str  # RFC 4733 digits, in order

    @property
    def loss_percent(self) -> float | None:
        if self.lost is None or self.received is None:
            return None
        expected = self.received + self.lost
        return 100.0 * max(self.lost, 0) / expected if expected else 0.0

    def as_record(self, start: float = 0.0) -> dict[str, object]:
        return {
            "from": self.source, "to": self.target,
            "from_address": f"{self.source_address[0]}:{self.source_address[1]}",
            "to_address": f"{self.target_address[0]}:{self.target_address[1]}",
            "ssrc": f"0x{self.ssrc:08x}", "codec": self.codec,
            "payload_types": list(self.payload_types), "sent": self.sent,
            "received": self.received, "lost": self.lost,
            "loss_percent": self.loss_percent,
            "jitter_ms": None if self.jitter is None else round(self.jitter * 1000, 3),
            "first": round(self.first - start, 6), "last": round(self.last - start, 6),
            "events": self.events,
        }  # fmt: skip


@dataclass(slots=True)
class _Builder:
    source_address: Address
    target_address: Address
    ssrc: int
    sent: int = 0
    first: float | None = None
    last: float = 0.0
    payload_types: dict[int, int] = field(default_factory=dict)
    receiver: _Receiver | None = None
    events: list[str] = field(default_factory=list)
    event_stamps: set[int] = field(default_factory=set)

    def saw(self, time: float, payload_type: int) -> None:
        if self.first is None or time < self.first:
            self.first = time
        self.last = max(self.last, time)
        self.payload_types[payload_type] = self.payload_types.get(payload_type, 0) + 1


def _parse(raw: bytes) -> tuple[int, int, int, int, bytes] | None:
    """(payload type, sequence, timestamp, SSRC, payload) of an RTP packet, or None."""
    if len(raw) < _HEADER.size:
        return None
    first, second, seq, stamp, ssrc = _HEADER.unpack_from(raw)
    if first >> 6 != 2:
        return None
    payload_type = second & 0x7F
    if 72 <= payload_type <= 76:  # RTCP packet types 200-204 seen through an RTP lens
        return None
    offset = _HEADER.size + 4 * (first & 0x0F)
    if first & 0x10:  # header extension (RFC 3550 s5.3.1)
        if len(raw) < offset + 4:
            return None
        (words,) = struct.unpack_from("!2xH", raw, offset)
        offset += 4 + 4 * words
    end = len(raw)
    if first & 0x20 and end > offset:  # padding: the last octet counts it
        end -= raw[-1]
    if offset > end:
        return None
    return payload_type, seq, stamp, ssrc, raw[offset:end]


def _dynamic_names(arrows: Iterable[Arrow]) -> dict[int, str]:
    """Dynamic payload type -> encoding name from the rtpmaps in the run's SDP."""
    names: dict[int, str] = {}
    for arrow in arrows:
        if arrow.codecs is None or arrow.protocol != "sip":
            continue
        body = arrow.raw.partition(b"\r\n\r\n")[2]
        try:
            description = SessionDescription.parse(body)
        except (GwemuError, ValueError):  # a broken SDP only loses a codec name
            continue
        for media in description.media:
            for rtpmap in media.rtpmaps:
                names.setdefault(rtpmap.payload_type, rtpmap.encoding_name)
    return names


def rtp_streams(
    events: Iterable[TraceEvent],
    arrows: Iterable[Arrow] = (),
    aliases: Mapping[Address, str] = {},
    ports: Mapping[int, int] = {},
) -> list[RtpStream]:
    """Every RTP stream in ``events`` (those with the packets' bytes), in order of appearance."""
    items = [e for e in events if e.protocol == "rtp" and e.raw and e.local and e.remote]
    book = address_book(items, aliases, ports)
    names = _dynamic_names(arrows)
    streams: dict[tuple[int, int, int], _Builder] = {}
    for event in items:
        parsed = _parse(event.raw)
        if parsed is None:
            continue
        payload_type, seq, stamp, ssrc, payload = parsed
        assert event.local is not None and event.remote is not None
        if event.direction == "out":
            source, target = event.local, event.remote
        else:
            source, target = event.remote, event.local
        key = (source[1], target[1], ssrc)
        stream = streams.get(key)
        if stream is None:
            stream = streams[key] = _Builder(source, target, ssrc)
        is_event = names.get(payload_type, "").lower() == "telephone-event"
        if event.direction == "out":
            stream.sent += 1
            stream.saw(event.time, payload_type)
            if is_event:
                _note_event(stream, stamp, payload)
        elif event.direction == "in":
            stream.saw(event.time, payload_type)
            if stream.sent == 0 and is_event:  # the sender is not traced: decode on arrival
                _note_event(stream, stamp, payload)
            _arrival(stream, seq, stamp, event.time, None if is_event else 8000)
    return [_finish(builder, book, names) for builder in streams.values()]


def _note_event(stream: _Builder, stamp: int, payload: bytes) -> None:
    # RFC 4733 s2.3: event, E|R|volume, duration; one digit per timestamp, counted at its end.
    if len(payload) < 4 or not payload[1] & _EVENT_END or stamp in stream.event_stamps:
        return
    stream.event_stamps.add(stamp)
    if payload[0] < len(_DTMF_NAMES):
        stream.events.append(_DTMF_NAMES[payload[0]])


def _arrival(stream: _Builder, seq: int, stamp: int, time: float, clock: int | None) -> None:
    receiver = stream.receiver
    if receiver is None:
        receiver = stream.receiver = _Receiver(base_seq=seq, max_extended=seq)
    assert receiver.base_seq is not None
    # Extend the 16-bit sequence number around the highest one seen (RFC 3550 A.1).
    cycles = receiver.max_extended & ~0xFFFF
    candidates = (cycles - 0x10000 + seq, cycles + seq, cycles + 0x10000 + seq)
    extended = min(candidates, key=lambda value: abs(value - receiver.max_extended))
    if extended in receiver.seen:
        receiver.duplicates += 1
        return
    receiver.seen.add(extended)
    receiver.received += 1
    receiver.max_extended = max(receiver.max_extended, extended)
    receiver.base_seq = min(receiver.base_seq, extended)
    if clock is None:
        return
    transit = time - stamp / clock
    if receiver.transit is not None:
        # RFC 3550 A.8: J += (|D| - J) / 16, with D the change in transit time.
        difference = abs(transit - receiver.transit)
        if difference < 1000:  # the 32-bit timestamp wrapped: not jitter
            receiver.jitter += (difference - receiver.jitter) / 16
    receiver.transit = transit


def _finish(builder: _Builder, book: AddressBook, names: Mapping[int, str]) -> RtpStream:
    ordered = sorted(builder.payload_types, key=lambda pt: -builder.payload_types[pt])
    media = [pt for pt in ordered if names.get(pt, "").lower() != "telephone-event"]
    codec = ""
    if media:
        codec = names.get(media[0]) or STATIC_CODECS.get(media[0], str(media[0]))
    receiver = builder.receiver
    received = lost = None
    jitter = None
    if receiver is not None:
        assert receiver.base_seq is not None
        received = receiver.received
        lost = receiver.max_extended - receiver.base_seq + 1 - receiver.received
        jitter = receiver.jitter
    return RtpStream(
        source=book.name(builder.source_address),
        target=book.name(builder.target_address),
        source_address=builder.source_address,
        target_address=builder.target_address,
        ssrc=builder.ssrc,
        codec=codec.upper(),
        payload_types=tuple(sorted(builder.payload_types)),
        sent=builder.sent,
        received=received,
        lost=lost,
        jitter=jitter,
        first=builder.first or 0.0,
        last=builder.last,
        events="".join(builder.events),
    )
