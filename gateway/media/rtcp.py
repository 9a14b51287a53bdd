"""RTCP packets (RFC 3550 §6.4-§6.7) and compound packets (§6.1, validity checks of §A.2).

Values: :class:`SenderReport`, :class:`ReceiverReport` (with :class:`ReportBlock`),
:class:`SourceDescription` (chunks of :class:`SdesItem`), :class:`Goodbye`, :class:`AppPacket`,
and :class:`UnknownRtcpPacket` for every other packet type (feedback, XR, ...), kept opaque so a
compound we do not fully understand still round-trips byte for byte.  :class:`RtcpCompound` is
what travels in one datagram.

Text fields (SDES values, BYE reason) stay ``bytes``: RFC 3550 says UTF-8 but peers send other
things, and a value must re-serialize exactly.  ``text`` properties decode leniently.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from gateway.errors import LocalProtocolError, RemoteProtocolError

RTCP_VERSION = 2

SR = 200
RR = 201
SDES = 202
BYE = 203
APP = 204

# SDES item types (RFC 3550 §6.5).
SDES_END = 0
SDES_CNAME = 1
SDES_NAME = 2
SDES_EMAIL = 3
SDES_PHONE = 4
SDES_LOC = 5
SDES_TOOL = 6
SDES_NOTE = 7
SDES_PRIV = 8

NTP_UNIX_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP era 0) to 1970-01-01

_HEADER = struct.Struct("!BBH")
_WORD = struct.Struct("!I")
_SENDER_INFO = struct.Struct("!IQIII")  # SSRC, NTP, RTP timestamp, packet count, octet count
_REPORT_BLOCK = struct.Struct("!IIIIII")  # SSRC, fraction|lost, ext seq, jitter, LSR, DLSR
_APP_HEAD = struct.Struct("!I4s")

_T = TypeVar("_T")

_MAX_LOST = 0x7FFFFF
_MIN_LOST = -0x800000


def _reject(reason: str) -> RemoteProtocolError:
    return RemoteProtocolError(reason, status_hint=None)


def _pad_to_word(length: int) -> int:
    return -length % 4


def ntp_from_unix(seconds: float) -> int:
    """64-bit NTP timestamp (RFC 3550 §4) of a Unix time in seconds."""
    return int((seconds + NTP_UNIX_OFFSET) * 4294967296.0) & 0xFFFFFFFFFFFFFFFF


def ntp_middle(ntp: int) -> int:
    """The middle 32 bits of an NTP timestamp: the LSR/DLSR clock of §6.4.1 (1/65536 s units)."""
    return (ntp >> 16) & 0xFFFFFFFF


# --------------------------------------------------------------------------- report blocks


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """Reception report about one source (RFC 3550 §6.4.1), 24 octets.

    ``cumulative_lost`` is signed 24-bit (negative when duplicates outnumber losses);
    ``highest_sequence`` is the extended highest sequence number (cycles << 16 | max);
    ``jitter`` is in timestamp units; ``last_sr`` / ``delay_since_last_sr`` in 1/65536 s.
    """

    SIZE: ClassVar[int] = 24

    ssrc: int
    fraction_lost: int = 0
    cumulative_lost: int = 0
    highest_sequence: int = 0
    jitter: int = 0
    last_sr: int = 0
    delay_since_last_sr: int = 0

    @classmethod
    def parse(cls, data: bytes | memoryview, offset: int = 0) -> ReportBlock:
        if len(data) - offset < cls.SIZE:
            raise _reject("RTCP report block is shorter than 24 octets")
        ssrc, lost_word, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, offset)
        lost = lost_word & 0xFFFFFF
        if lost & 0x800000:
            lost -= 0x1000000
        return cls(ssrc, lost_word >> 24, lost, highest, jitter, lsr, dlsr)

    def __bytes__(self) -> bytes:
        if not 0 <= self.fraction_lost <= 255:
            raise LocalProtocolError(f"fraction lost {self.fraction_lost} is not in 0..255")
        if not _MIN_LOST <= self.cumulative_lost <= _MAX_LOST:
            raise LocalProtocolError(
                f"cumulative lost {self.cumulative_lost} does not fit a signed 24-bit field"
            )
        try:
            return _REPORT_BLOCK.pack(
                self.ssrc,
                (self.fraction_lost << 24) | (self.cumulative_lost & 0xFFFFFF),
                self.highest_sequence,
                self.jitter,
                self.last_sr,
                self.delay_since_last_sr,
            )
        except struct.error as error:
            raise LocalProtocolError(f"report block field out of range: {error}") from None


def clamp_cumulative_lost(lost: int) -> int:
    """Saturate a loss count to the signed 24-bit field (RFC 3550 §6.4.1, A.3)."""
    return max(_MIN_LOST, min(_MAX_LOST, lost))


def _parse_blocks(body: memoryview, offset: int, count: int) -> tuple[ReportBlock, ...]:
    return tuple(ReportBlock.parse(body, offset + i * ReportBlock.SIZE) for i in range(count))


def _blocks_bytes(blocks: tuple[ReportBlock, ...]) -> bytes:
    if len(blocks) > 31:
        raise LocalProtocolError(f"an RTCP report carries at most 31 blocks, not {len(blocks)}")
    return b"".join(bytes(block) for block in blocks)


def _check_extension(extension: bytes) -> None:
    if len(extension) % 4:
        raise LocalProtocolError("RTCP profile-specific extension must be whole 32-bit words")


# --------------------------------------------------------------------------- packets


@dataclass(frozen=True, slots=True)
class SenderReport:
    """SR (RFC 3550 §6.4.1): sender info and reception reports."""

    PACKET_TYPE: ClassVar[int] = SR

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> SenderReport:
        return _parse_single(data, cls)

    @classmethod
    def _from_body(cls, count: int, body: memoryview) -> SenderReport:
        needed = _SENDER_INFO.size + count * ReportBlock.SIZE
        if len(body) < needed:
            raise _reject(f"RTCP SR with {count} report blocks needs {needed + 4} octets")
        ssrc, ntp, rtp_ts, packets, octets = _SENDER_INFO.unpack_from(body)
        blocks = _parse_blocks(body, _SENDER_INFO.size, count)
        return cls(ssrc, ntp, rtp_ts, packets, octets, blocks, bytes(body[needed:]))

    def _body(self) -> tuple[int, bytes]:
        _check_extension(self.extension)
        try:
            info = _SENDER_INFO.pack(
                self.ssrc,
                self.ntp_timestamp,
                self.rtp_timestamp,
                self.packet_count,
                self.octet_count,
            )
        except struct.error as error:
            raise LocalProtocolError(f"SR field out of range: {error}") from None
        return len(self.reports), info + _blocks_bytes(self.reports) + self.extension

    def __bytes__(self) -> bytes:
        return _packet_bytes(self)


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """RR (RFC 3550 §6.4.2): reception reports from a participant that has not sent."""

    PACKET_TYPE: ClassVar[int] = RR

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> ReceiverReport:
        return _parse_single(data, cls)

    @classmethod
    def _from_body(cls, count: int, body: memoryview) -> ReceiverReport:
        needed = 4 + count * ReportBlock.SIZE
        if len(body) < needed:
            raise _reject(f"RTCP RR with {count} report blocks needs {needed + 4} octets")
        (ssrc,) = _WORD.unpack_from(body)
        return cls(ssrc, _parse_blocks(body, 4, count), bytes(body[needed:]))

    def _body(self) -> tuple[int, bytes]:
        _check_extension(self.extension)
        try:
            head = _WORD.pack(self.ssrc)
        except struct.error as error:
            raise LocalProtocolError(f"RR SSRC out of range: {error}") from None
        return len(self.reports), head + _blocks_bytes(self.reports) + self.extension

    def __bytes__(self) -> bytes:
        return _packet_bytes(self)


@dataclass(frozen=True, slots=True)
class SdesItem:
    """One SDES item (RFC 3550 §6.5): type 1..255 and up to 255 octets of value."""

    kind: int
    value: bytes

    @property
    def text(self) -> str:
        return self.value.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class SdesChunk:
    """The items describing one source; the null terminator and word padding are implicit."""

    ssrc: int
    items: tuple[SdesItem, ...] = ()

    def item(self, kind: int) -> SdesItem | None:
        for item in self.items:
            if item.kind == kind:
                return item
        return None

    def _bytes(self) -> bytes:
        parts = [_WORD.pack(self.ssrc)]
        length = 4
        for item in self.items:
            if not 1 <= item.kind <= 255:
                raise LocalProtocolError(f"SDES item type {item.kind} is not in 1..255")
            if len(item.value) > 255:
                raise LocalProtocolError(f"SDES item of {len(item.value)} octets exceeds 255")
            parts.append(bytes((item.kind, len(item.value))))
            parts.append(item.value)
            length += 2 + len(item.value)
        # The END item, then null octets up to the next 32-bit boundary (§6.5).
        parts.append(bytes(1 + _pad_to_word(length + 1)))
        return b"".join(parts)


@dataclass(frozen=True, slots=True)
class SourceDescription:
    """SDES (RFC 3550 §6.5): one chunk per source, each a list of items."""

    PACKET_TYPE: ClassVar[int] = SDES

    chunks: tuple[SdesChunk, ...] = ()

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> SourceDescription:
        return _parse_single(data, cls)

    @classmethod
    def _from_body(cls, count: int, body: memoryview) -> SourceDescription:
        chunks = []
        offset = 0
        size = len(body)
        for _ in range(count):
            if size - offset < 4:
                raise _reject("RTCP SDES chunk is cut short before its SSRC")
            (ssrc,) = _WORD.unpack_from(body, offset)
            start = offset
            offset += 4
            items = []
            while True:
                if offset >= size:
                    raise _reject("RTCP SDES chunk has no terminating null item")
                kind = body[offset]
                if kind == SDES_END:
                    break
                if offset + 2 > size or offset + 2 + body[offset + 1] > size:
                    raise _reject(f"RTCP SDES item type {kind} runs past the packet end")
                length = body[offset + 1]
                items.append(SdesItem(kind, bytes(body[offset + 2 : offset + 2 + length])))
                offset += 2 + length
            end = offset + 1 + _pad_to_word(offset + 1 - start)
            if end > size:
                raise _reject("RTCP SDES chunk padding runs past the packet end")
            if any(body[offset:end]):
                raise _reject("RTCP SDES chunk padding holds non-null octets")
            offset = end
            chunks.append(SdesChunk(ssrc, tuple(items)))
        if offset != size:
            raise _reject(f"RTCP SDES has {size - offset} octets after its {count} chunks")
        return cls(tuple(chunks))

    def _body(self) -> tuple[int, bytes]:
        if len(self.chunks) > 31:
            raise LocalProtocolError(f"SDES carries at most 31 chunks, not {len(self.chunks)}")
        try:
            return len(self.chunks), b"".join(chunk._bytes() for chunk in self.chunks)
        except struct.error as error:
            raise LocalProtocolError(f"SDES SSRC out of range: {error}") from None

    def __bytes__(self) -> bytes:
        return _packet_bytes(self)

    def cname(self, ssrc: int) -> str | None:
        """The CNAME of ``ssrc`` if this packet describes it."""
        for chunk in self.chunks:
            if chunk.ssrc == ssrc:
                item = chunk.item(SDES_CNAME)
                return item.text if item else None
        return None


@dataclass(frozen=True, slots=True)
class Goodbye:
    """BYE (RFC 3550 §6.6): sources leaving, with an optional reason (``None`` = absent)."""

    PACKET_TYPE: ClassVar[int] = BYE

    ssrcs: tuple[int, ...] = ()
    reason: bytes | None = None

    @property
    def text(self) -> str | None:
        return None if self.reason is None else self.reason.decode("utf-8", "replace")

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> Goodbye:
        return _parse_single(data, cls)

    @classmethod
    def _from_body(cls, count: int, body: memoryview) -> Goodbye:
        size = len(body)
        end = 4 * count
        if size < end:
            raise _reject(f"RTCP BYE announces {count} SSRCs but holds {size // 4}")
        ssrcs = struct.unpack_from(f"!{count}I", body)
        if end == size:
            return cls(ssrcs, None)
        length = body[end]
        text_end = end + 1 + length
        padded_end = text_end + _pad_to_word(1 + length)
        if padded_end != size:
            raise _reject("RTCP BYE reason length does not match the packet length")
        if any(body[text_end:padded_end]):
            raise _reject("RTCP BYE reason padding holds non-null octets")
        return cls(ssrcs, bytes(body[end + 1 : text_end]))

    def _body(self) -> tuple[int, bytes]:
        if len(self.ssrcs) > 31:
            raise LocalProtocolError(f"a BYE names at most 31 sources, not {len(self.ssrcs)}")
        try:
            body = struct.pack(f"!{len(self.ssrcs)}I", *self.ssrcs)
        except struct.error as error:
            raise LocalProtocolError(f"BYE SSRC out of range: {error}") from None
        if self.reason is not None:
            if len(self.reason) > 255:
                raise LocalProtocolError(f"BYE reason of {len(self.reason)} octets exceeds 255")
            body += bytes((len(self.reason),)) + self.reason
            body += bytes(_pad_to_word(1 + len(self.reason)))
        return len(self.ssrcs), body

    def __bytes__(self) -> bytes:
        return _packet_bytes(self)


@dataclass(frozen=True, slots=True)
class AppPacket:
    """APP (RFC 3550 §6.7): application-defined, kept opaque."""

    PACKET_TYPE: ClassVar[int] = APP

    subtype: int
    ssrc: int
    name: bytes
    data: bytes = b""

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> AppPacket:
        return _parse_single(data, cls)

    @classmethod
    def _from_body(cls, count: int, body: memoryview) -> AppPacket:
        if len(body) < _APP_HEAD.size:
            raise _reject("RTCP APP is shorter than its SSRC and name")
        ssrc, name = _APP_HEAD.unpack_from(body)
        return cls(count, ssrc, name, bytes(body[_APP_HEAD.size :]))

    def _body(self) -> tuple[int, bytes]:
        if not 0 <= self.subtype <= 31:
            raise LocalProtocolError(f"APP subtype {self.subtype} is not in 0..31")
        if len(self.name) != 4:
            raise LocalProtocolError("APP name must be exactly four octets")
        _check_extension(self.data)
        try:
            return self.subtype, _APP_HEAD.pack(self.ssrc, self.name) + self.data
        except struct.error as error:
            raise LocalProtocolError(f"APP SSRC out of range: {error}") from None

    def __bytes__(self) -> bytes:
        return _packet_bytes(self)


@dataclass(frozen=True, slots=True)
class UnknownRtcpPacket:
    """Any other packet type (RTPFB/PSFB 205/206, XR 207, ...): header fields and raw body."""

    packet_type: int
    count: int
    body: bytes

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> UnknownRtcpPacket:
        return _parse_single(data, cls)

    def _body(self) -> tuple[int, bytes]:
        if not 0 <= self.count <= 31:
            raise LocalProtocolError(f"RTCP count {self.count} is not in 0..31")
        _check_extension(self.body)
        return self.count, self.body

    def __bytes__(self) -> bytes:
        return _packet_bytes(self)


RtcpPacket = (
    SenderReport | ReceiverReport | SourceDescription | Goodbye | AppPacket | UnknownRtcpPacket
)
_KNOWN: dict[
    int,
    type[SenderReport]
    | type[ReceiverReport]
    | type[SourceDescription]
    | type[Goodbye]
    | type[AppPacket],
] = {SR: SenderReport, RR: ReceiverReport, SDES: SourceDescription, BYE: Goodbye, APP: AppPacket}


def _packet_type(packet: RtcpPacket) -> int:
    if isinstance(packet, UnknownRtcpPacket):
        return packet.packet_type
    return packet.PACKET_TYPE


def _packet_bytes(packet: RtcpPacket, padding: bytes = b"") -> bytes:
    count, body = packet._body()
    packet_type = _packet_type(packet)
    if not 0 <= packet_type <= 255:
        raise LocalProtocolError(f"RTCP packet type {packet_type} is not in 0..255")
    total = 4 + len(body) + len(padding)
    if total // 4 - 1 > 0xFFFF:
        raise LocalProtocolError(f"RTCP packet of {total} octets overflows the length field")
    first = (RTCP_VERSION << 6) | (0x20 if padding else 0) | count
    return _HEADER.pack(first, packet_type, total // 4 - 1) + body + padding


def _parse_body(packet_type: int, count: int, body: memoryview) -> RtcpPacket:
    known = _KNOWN.get(packet_type)
    if known is None:
        if len(body) % 4:
            raise _reject(f"RTCP packet type {packet_type} body is not whole 32-bit words")
        return UnknownRtcpPacket(packet_type, count, bytes(body))
    return known._from_body(count, body)


def _parse_single(data: bytes | bytearray | memoryview, kind: type[_T]) -> _T:
    packets, padding = _split(data, require_report_first=False)
    if len(packets) != 1 or padding:
        raise _reject(f"expected one RTCP packet without padding, got {len(packets)}")
    packet = packets[0]
    if not isinstance(packet, kind):
        raise _reject(f"expected RTCP {kind.__name__}, got {type(packet).__name__}")
    return packet


def _split(
    data: bytes | bytearray | memoryview, *, require_report_first: bool
) -> tuple[tuple[RtcpPacket, ...], bytes]:
    view = memoryview(data)
    size = len(view)
    if size < 4:
        raise _reject(f"RTCP datagram of {size} octets is shorter than one header")
    packets: list[RtcpPacket] = []
    padding = b""
    offset = 0
    while offset < size:
        if size - offset < 4:
            raise _reject(f"{size - offset} stray octets after the last RTCP packet")
        first, packet_type, words = _HEADER.unpack_from(view, offset)
        if first >> 6 != RTCP_VERSION:
            raise _reject(f"RTCP version {first >> 6} is not 2")
        end = offset + 4 * (words + 1)
        if end > size:
            raise _reject(
                f"RTCP length field says {4 * (words + 1)} octets, only {size - offset} remain"
            )
        body_end = end
        if first & 0x20:
            # §A.2: only the last packet of a compound may be padded.
            if end != size:
                raise _reject("RTCP padding bit set on a packet that is not the last")
            count = view[end - 1]
            if count == 0 or count > end - offset - 4:
                raise _reject(f"RTCP padding count {count} does not fit the packet")
            body_end = end - count
            padding = bytes(view[body_end:end])
        packets.append(_parse_body(packet_type, first & 0x1F, view[offset + 4 : body_end]))
        offset = end
    if require_report_first and not isinstance(packets[0], SenderReport | ReceiverReport):
        raise _reject("an RTCP compound packet must start with an SR or RR (RFC 3550 §6.1)")
    return tuple(packets), padding


@dataclass(frozen=True, slots=True)
class RtcpCompound:
    """The RTCP packets of one datagram; ``padding`` belongs to the last one (P bit)."""

    packets: tuple[RtcpPacket, ...]
    padding: bytes = b""

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> RtcpCompound:
        """Parse and validate per RFC 3550 §A.2: version 2 everywhere, first is SR or RR,
        padding only on the last packet, and the lengths add up to the datagram size."""
        packets, padding = _split(data, require_report_first=True)
        return cls(packets, padding)

    def __bytes__(self) -> bytes:
        if not self.packets:
            raise LocalProtocolError("an RTCP compound packet needs at least one packet")
        if self.padding and self.padding[-1] != len(self.padding):
            raise LocalProtocolError("RTCP padding must end with its own length")
        last = len(self.packets) - 1
        return b"".join(
            _packet_bytes(packet, self.padding if index == last else b"")
            for index, packet in enumerate(self.packets)
        )

    def of_type(self, kind: type[_T]) -> list[_T]:
        return [packet for packet in self.packets if isinstance(packet, kind)]

    def summary(self) -> str:
        """One trace line: the packet types in order, with their main identifiers."""
        parts = []
        for packet in self.packets:
            if isinstance(packet, SenderReport):
                parts.append(f"SR ssrc=0x{packet.ssrc:08X} pkts={packet.packet_count}")
            elif isinstance(packet, ReceiverReport):
                parts.append(f"RR ssrc=0x{packet.ssrc:08X} blocks={len(packet.reports)}")
            elif isinstance(packet, SourceDescription):
                parts.append(f"SDES chunks={len(packet.chunks)}")
            elif isinstance(packet, Goodbye):
                parts.append("BYE" + (f" reason={packet.text!r}" if packet.reason else ""))
            elif isinstance(packet, AppPacket):
                parts.append(f"APP {packet.name!r}")
            else:
                parts.append(f"PT{packet.packet_type}")
        return "RTCP " + " + ".join(parts)


def is_rtcp(data: bytes | bytearray | memoryview) -> bool:
    """Tell RTCP from RTP on a multiplexed port (RFC 5761 §4): RTCP packet types 192-223
    occupy the octet where RTP keeps marker and payload type, values RTP never uses."""
    return len(data) > 1 and 192 <= data[1] <= 223
