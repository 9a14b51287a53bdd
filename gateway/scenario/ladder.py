"""Ladder arrows from trace events: one arrow per SIP or Q.931 message, named by node.

Every node of a run traces what it sends (``out``) and what it receives (``in``, or ``drop`` when
it discarded it), so a message between two nodes of the run is seen twice.  The two sightings
are one arrow: an ``in``/``drop`` is paired with the earliest unpaired ``out`` of the same bytes
between the same two ports.  Addresses become node names through the local addresses each node
traces (plus ``aliases`` for addresses a node uses that it never traces, like a relay's); an
address nobody claims is shown as ``host:port``.

A SIP message sent again with the same bytes from the same port to the same port is a
retransmission (RFC 3261 s17: requests and 2xx responses are retransmitted unchanged).
:class:`LadderBuilder` works incrementally (live ladders); :func:`extract_ladder` is the offline
form used by the expectation engine and the renderers.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Final, Literal

from gateway.calls.causes import q850_cause_from_headers
from gateway.errors import GwemuError
from gateway.sdp import SessionDescription
from gateway.sip.message import Request, Response
from gateway.sip.parser import parse_datagram
from gateway.trace import Address, TraceEvent
from pbx_sim.q931.describe import describe
from pbx_sim.q931.message import Message as Q931Message

__all__ = [
    "AddressBook",
    "Arrow",
    "LadderBuilder",
    "Note",
    "address_book",
    "extract_ladder",
    "sdp_codecs",
]

LadderProtocol = Literal["sip", "q931"]
Delivery = Literal["received", "dropped", "unknown"]
LADDER_PROTOCOLS: Final = ("sip", "q931")
_TPKT_HEADER = 4
# RFC 3551 s6: static payload types a ladder names without an rtpmap.
STATIC_CODECS: Final = {0: "PCMU", 3: "GSM", 4: "G723", 8: "PCMA", 9: "G722", 18: "G729"}


@dataclass(frozen=True, slots=True)
class Arrow:
    """One message between two nodes, as a ladder draws it."""

    time: float
    source: str
    target: str
    protocol: LadderProtocol
    name: str  # "INVITE", "180", "SETUP", "CALL PROCEEDING"; "?" when unreadable
    label: str  # short: "INVITE (SDP PCMU,PCMA,101)", "DISCONNECT cause=16"
    text: str  # the whole message, readable
    call_id: str | None = None
    retransmission: bool = False
    delivery: Delivery = "unknown"
    drop_reason: str = ""
    status: int | None = None
    cseq_method: str | None = None
    cause: int | None = None
    progress: tuple[int, ...] = ()
    codecs: tuple[str, ...] | None = None  # SDP formats in m= order; None: no SDP
    called: str | None = None
    calling: str | None = None
    call_ref: int | None = None  # Q.931 call reference value (the flag bit left out)
    keypad: str | None = None
    raw: bytes = b""
    transport: str = "none"

    @property
    def link(self) -> frozenset[str]:
        return frozenset((self.source, self.target))


@dataclass(frozen=True, slots=True)
class Note:
    """Something a node noted (a timer expired, a link went down): a mark on its column."""

    time: float
    node: str
    protocol: str
    text: str


# ------------------------------------------------------------------------------ addresses


class AddressBook:
    """Which node owns an address: exact (host, port) first, then the port alone (loopback
    runs bind wildcard addresses that peers reach as 127.0.0.1).

    ``ports`` maps a relay's port to the port it stands for (gateway/scenario/relay.py): both
    ends of a relayed link see the relay, and :meth:`canonical` undoes that.  The mapping is
    read live, so a relay may add to it while a run goes.
    """

    __slots__ = ("by_address", "by_port", "ports")

    def __init__(self, aliases: Mapping[Address, str], ports: Mapping[int, int] = {}) -> None:
        self.by_address: dict[Address, str] = {}
        self.by_port: dict[int, str] = {}
        self.ports = ports
        for address, node in aliases.items():
            self.learn(address, node)

    def learn(self, address: Address, node: str) -> None:
        self.by_address.setdefault(address, node)
        self.by_port.setdefault(address[1], node)

    def canonical(self, port: int) -> int:
        return self.ports.get(port, port)

    def name(self, address: Address | None) -> str:
        if address is None:
            return "?"
        node = self.by_address.get(address) or self.by_port.get(self.canonical(address[1]))
        if node is not None:
            return node
        host, port = address
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def address_book(
    events: Iterable[TraceEvent], aliases: Mapping[Address, str] = {},
    ports: Mapping[int, int] = {},
) -> AddressBook:
    """Every address the events' nodes claim as local, plus ``aliases``."""
    book = AddressBook(aliases, ports)
    for event in events:
        if event.local is not None:
            book.learn(event.local, event.node)
    return book


# ------------------------------------------------------------------------------ decoding


def sdp_codecs(body: bytes) -> tuple[str, ...] | None:
    """The audio formats of an SDP body in ``m=`` order: static ones by name, dynamic ones by
    rtpmap name, telephone-event by its payload type number (as ladders show it)."""
    try:
        description = SessionDescription.parse(body)
    except (GwemuError, ValueError):
        return None
    for media in description.media:
        if media.media != "audio":
            continue
        if media.port == 0:
            return ()
        names: list[str] = []
        for fmt in media.formats:
            if not fmt.isdigit():
                names.append(fmt)
                continue
            payload = media.payload_format(int(fmt))
            if payload is None or payload.is_telephone_event:
                names.append(fmt)
            else:
                names.append(payload.encoding_name.upper())
        return tuple(names)
    return ()


@dataclass(frozen=True, slots=True)
class _Decoded:
    name: str
    label: str
    text: str
    status: int | None = None
    cseq_method: str | None = None
    cause: int | None = None
    progress: tuple[int, ...] = ()
    codecs: tuple[str, ...] | None = None
    called: str | None = None
    calling: str | None = None
    call_id: str | None = None
    call_ref: int | None = None
    keypad: str | None = None


def _decode_sip(raw: bytes, summary: str) -> _Decoded:
    try:
        message = parse_datagram(raw)
    except GwemuError:
        return _Decoded("?", summary or "unreadable SIP", raw.decode("utf-8", "replace"))
    text = raw.decode("utf-8", "replace")
    codecs = None
    content_type = (message.headers.get("content-type") or "").lower()
    if message.body and content_type.startswith("application/sdp"):
        codecs = sdp_codecs(message.body)
    cause = q850_cause_from_headers(message.headers.get_all("reason"))
    call_id = message.headers.get("call-id")
    if isinstance(message, Request):
        name = message.method
        label = name
        cseq_method = message.method
        status = None
    else:
        assert isinstance(message, Response)
        name = str(message.status)
        label = f"{message.status} {message.reason}".strip()
        status = message.status
        try:
            cseq_method = message.cseq.method
        except GwemuError:
            cseq_method = None
        if cseq_method is not None and cseq_method != "INVITE":
            label += f" ({cseq_method})"
    if codecs is not None:
        label += f" (SDP {','.join(codecs) or 'no audio'})"
    if cause is not None:
        label += f" cause={cause}"
    return _Decoded(name, label, text, status, cseq_method, cause, (), codecs, call_id=call_id)


def _decode_q931(raw: bytes, summary: str) -> _Decoded:
    payload = raw[_TPKT_HEADER:] if raw[:1] == b"\x03" and len(raw) > _TPKT_HEADER else raw
    try:
        message = Q931Message.parse(payload, lenient=True)
    except (GwemuError, ValueError, IndexError, struct.error):
        return _Decoded("?", summary or "unreadable Q.931", raw.hex(" "))
    name = message.name
    label = name
    cause = message.cause.value if message.cause is not None else None
    progress = tuple(p.description for p in message.progress)
    if cause is not None:
        label += f" cause={cause}"
    for value in progress:
        label += f" pi={value}"
    if message.keypad:
        label += f" keypad={message.keypad}"
    called = message.called.digits if message.called is not None else None
    calling = message.calling.digits if message.calling is not None else None
    return _Decoded(name, label, describe(message), cause=cause, progress=progress,
                    called=called, calling=calling, call_ref=message.call_ref.value,
                    keypad=message.keypad)


def _decode(event: TraceEvent) -> _Decoded:
    if event.protocol == "sip":
        return _decode_sip(event.raw, event.summary)
    return _decode_q931(event.raw, event.summary)


# ------------------------------------------------------------------------------ building


class LadderBuilder:
    """Turns trace events into arrows as they come.

    :meth:`feed` returns the arrows (and notes) it can complete now: an ``out`` waits for its
    ``in`` (that names the receiving node for sure) and is completed by it, or by :meth:`flush`
    at the end.  :attr:`arrows` holds every arrow in send order.
    """

    def __init__(self, aliases: Mapping[Address, str] = {}, *, notes: bool = True,
                 ports: Mapping[int, int] = {}) -> None:
        self.book = AddressBook(aliases, ports)
        self._pending: dict[tuple[str, bytes, int, int], list[int]] = {}
        self._arrows: list[Arrow | None] = []
        self._done: list[bool] = []
        self._sent: set[tuple[int, int, bytes]] = set()
        self._remotes: dict[int, Address] = {}  # where each out-arrow was sent
        self._notes = notes
        self.notes: list[Note] = []

    @property
    def arrows(self) -> list[Arrow]:
        return [arrow for arrow in self._arrows if arrow is not None]

    def feed(self, event: TraceEvent) -> list[Arrow | Note]:
        if event.protocol not in LADDER_PROTOCOLS:
            return []
        if event.local is not None:
            self.book.learn(event.local, event.node)
        if event.direction == "note":
            if not self._notes:
                return []
            note = Note(event.time, event.node, event.protocol, event.summary)
            self.notes.append(note)
            return [note]
        if not event.raw or event.local is None or event.remote is None:
            return []
        if event.direction == "out":
            self._add_out(event)
            return []
        return self._add_in(event)

    def flush(self) -> list[Arrow]:
        """Complete every arrow still waiting for its receiver."""
        out: list[Arrow] = []
        for index, arrow in enumerate(self._arrows):
            if arrow is not None and not self._done[index]:
                target = self.book.name(self._remotes.get(index))
                out.append(self._finish(index, replace(arrow, target=target)))
        self._pending.clear()
        return out

    # -------------------------------------------------------------------- internals

    def _add_out(self, event: TraceEvent) -> None:
        assert event.local is not None and event.remote is not None
        arrow = self._mark(_arrow(event, _decode(event), event.node, "", "unknown"),
                           (event.local[1], event.remote[1]))
        index = len(self._arrows)
        self._arrows.append(arrow)
        self._done.append(False)
        canonical = self.book.canonical
        key = (event.protocol, event.raw, canonical(event.local[1]),
               canonical(event.remote[1]))
        self._pending.setdefault(key, []).append(index)
        self._remotes[index] = event.remote

    def _add_in(self, event: TraceEvent) -> list[Arrow | Note]:
        assert event.local is not None and event.remote is not None
        canonical = self.book.canonical
        key = (event.protocol, event.raw, canonical(event.remote[1]),
               canonical(event.local[1]))
        pending = self._pending.get(key)
        delivery: Delivery = "dropped" if event.direction == "drop" else "received"
        reason = event.summary if event.direction == "drop" else ""
        if pending:
            # The latest copy sent: an earlier copy of a retransmitted message, had it arrived,
            # would have been reported before this one was sent.
            index = pending.pop()
            if not pending:
                del self._pending[key]
            arrow = self._arrows[index]
            assert arrow is not None
            return [self._finish(index, replace(arrow, target=event.node, delivery=delivery,
                                                drop_reason=reason))]
        # Nobody in the run traced sending it: an outside peer (or a node without a trace).
        source = self.book.name(event.remote)
        arrow = self._mark(replace(_arrow(event, _decode(event), source, event.node, delivery),
                                   drop_reason=reason), (event.remote[1], event.local[1]))
        index = len(self._arrows)
        self._arrows.append(None)
        self._done.append(False)
        return [self._finish(index, arrow)]

    def _mark(self, arrow: Arrow, ports: tuple[int, int]) -> Arrow:
        """Flag a SIP message sent again, byte for byte, between the same two ports."""
        if arrow.protocol != "sip" or arrow.transport != "udp":
            return arrow
        key = (*ports, arrow.raw)
        if key in self._sent:
            return replace(arrow, retransmission=True, label=arrow.label + " (retransmission)")
        self._sent.add(key)
        return arrow

    def _finish(self, index: int, arrow: Arrow) -> Arrow:
        self._arrows[index] = arrow
        self._done[index] = True
        return arrow


def _arrow(
    event: TraceEvent, decoded: _Decoded, source: str, target: str, delivery: Delivery
) -> Arrow:
    return Arrow(
        time=event.time,
        source=source,
        target=target,
        protocol="sip" if event.protocol == "sip" else "q931",
        name=decoded.name,
        label=decoded.label,
        text=decoded.text,
        call_id=decoded.call_id or event.call_id,
        delivery=delivery,
        status=decoded.status,
        cseq_method=decoded.cseq_method,
        cause=decoded.cause,
        progress=decoded.progress,
        codecs=decoded.codecs,
        called=decoded.called,
        calling=decoded.calling,
        call_ref=decoded.call_ref,
        keypad=decoded.keypad,
        raw=event.raw,
        transport=event.transport,
    )


def extract_ladder(
    events: Iterable[TraceEvent], aliases: Mapping[Address, str] = {},
    ports: Mapping[int, int] = {},
) -> tuple[list[Arrow], list[Note]]:
    """All arrows and notes of a finished run, in trace order.

    Trace order, not time order: the nodes of a run share one thread, so the trace is causal,
    while two nodes' clocks may disagree in the last bit (a node stamps a timer's work with
    the deadline, another with the loop's clock read a hair earlier).
    """
    items = list(events)
    builder = LadderBuilder(address_book(items, aliases).by_address, ports=ports)
    for event in items:
        builder.feed(event)
    builder.flush()
    return builder.arrows, builder.notes
