"""RTP data packets (RFC 3550 §5.1, §5.3.1) as frozen values.

This is the per-packet hot path (50 packets/s for each of hundreds of streams), so parsing is one
``struct.unpack_from`` on a precompiled :class:`struct.Struct` for the fixed header, with a fast
path for the common packet (no padding, no extension, no CSRC) that makes exactly one copy: the
payload.  A packet that fails the header checks of RFC 3550 Appendix A.1 raises
:class:`RemoteProtocolError` with ``status_hint=None``: nothing ever answers a bad RTP packet, the
session drops it and traces the reason.

Parsing is exact: a parsed packet serializes back byte for byte, padding octets included.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from gateway.errors import LocalProtocolError, RemoteProtocolError

RTP_VERSION: Final = 2
FIXED_HEADER_SIZE: Final = 12
SEQUENCE_MODULO: Final = 1 << 16
TIMESTAMP_MODULO: Final = 1 << 32

# V=2 P X CC | M PT | sequence | timestamp | SSRC  (RFC 3550 §5.1)
_FIXED: Final = struct.Struct("!BBHII")
_EXTENSION_HEADER: Final = struct.Struct("!HH")
_VERSION_BITS: Final = RTP_VERSION << 6
_PADDING_BIT: Final = 0x20
_EXTENSION_BIT: Final = 0x10
_MARKER_BIT: Final = 0x80


def _csrc_struct(count: int) -> struct.Struct:
    return struct.Struct(f"!{count}I")


_CSRC_STRUCTS: Final = tuple(_csrc_struct(n) for n in range(16))


def _reject(reason: str) -> RemoteProtocolError:
    return RemoteProtocolError(reason, status_hint=None)


@dataclass(frozen=True, slots=True)
class RtpHeaderExtension:
    """The single header extension of RFC 3550 §5.3.1: a 16-bit profile word and 32-bit words.

    ``data`` excludes the 4-octet extension header; its length is a multiple of 4.  RFC 8285
    one-byte/two-byte element parsing belongs to whoever negotiated it; here it stays opaque.
    """

    profile: int
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """One RTP data packet.

    ``padding`` holds the exact padding octets (RFC 3550 §5.1, P bit), the last of which counts
    them all; empty means the P bit is clear.  Use :func:`padding_of` to build one.
    """

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: RtpHeaderExtension | None = None
    padding: bytes = b""

    def __init__(
        self,
        payload_type: int,
        sequence: int,
        timestamp: int,
        ssrc: int,
        payload: bytes = b"",
        marker: bool = False,
        csrcs: tuple[int, ...] = (),
        extension: RtpHeaderExtension | None = None,
        padding: bytes = b"",
    ) -> None:
        # Written out (dataclass keeps an __init__ the class defines) because one packet is built
        # per datagram received: mypyc compiles this one to plain field stores, while the one
        # dataclass generates stays interpreted, a quarter of a packet's work.  object.__setattr__
        # is how a frozen dataclass sets its fields (mypyc turns it into the store).
        object.__setattr__(self, "payload_type", payload_type)
        object.__setattr__(self, "sequence", sequence)
        object.__setattr__(self, "timestamp", timestamp)
        object.__setattr__(self, "ssrc", ssrc)
        object.__setattr__(self, "payload", payload)
        object.__setattr__(self, "marker", marker)
        object.__setattr__(self, "csrcs", csrcs)
        object.__setattr__(self, "extension", extension)
        object.__setattr__(self, "padding", padding)

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> RtpPacket:
        """Parse one datagram; raise :class:`RemoteProtocolError` (``status_hint=None``)."""
        size = len(data)
        if size < FIXED_HEADER_SIZE:
            raise _reject(f"RTP packet of {size} octets is shorter than the 12-octet header")
        first, second, sequence, timestamp, ssrc = _FIXED.unpack_from(data)
        if first & 0xC0 != _VERSION_BITS:
            raise _reject(f"RTP version {first >> 6} is not 2")
        if not first & 0x3F and cls is RtpPacket:
            # The common case: no padding, no extension, no contributing sources.
            return RtpPacket(
                second & 0x7F,
                sequence,
                timestamp,
                ssrc,
                bytes(data[FIXED_HEADER_SIZE:]),
                second >= _MARKER_BIT,
            )
        return cls._parse_general(data, first, second, sequence, timestamp, ssrc)

    @classmethod
    def _parse_general(
        cls,
        data: bytes | bytearray | memoryview,
        first: int,
        second: int,
        sequence: int,
        timestamp: int,
        ssrc: int,
    ) -> RtpPacket:
        size = len(data)
        csrc_count = first & 0x0F
        offset = FIXED_HEADER_SIZE + 4 * csrc_count
        if offset > size:
            raise _reject(f"RTP header announces {csrc_count} CSRCs but the packet ends first")
        csrcs: tuple[int, ...] = _CSRC_STRUCTS[csrc_count].unpack_from(data, FIXED_HEADER_SIZE)
        extension = None
        if first & _EXTENSION_BIT:
            if offset + 4 > size:
                raise _reject("RTP X bit set but the packet ends before the extension header")
            profile, words = _EXTENSION_HEADER.unpack_from(data, offset)
            start = offset + 4
            offset = start + 4 * words
            if offset > size:
                raise _reject(f"RTP header extension of {words} words runs past the packet end")
            extension = RtpHeaderExtension(profile, bytes(data[start:offset]))
        end = size
        padding = b""
        if first & _PADDING_BIT:
            count = data[size - 1] if size > offset else 0
            # RFC 3550 A.1: the count must be non-zero and fit behind the header.
            if count == 0 or count > size - offset:
                raise _reject(f"RTP padding count {count} does not fit the {size}-octet packet")
            end = size - count
            padding = bytes(data[end:])
        return cls(
            second & 0x7F,
            sequence,
            timestamp,
            ssrc,
            bytes(data[offset:end]),
            second >= _MARKER_BIT,
            csrcs,
            extension,
            padding,
        )

    def __bytes__(self) -> bytes:
        if not (0 <= self.payload_type <= 127):
            raise LocalProtocolError(f"RTP payload type {self.payload_type} is not in 0..127")
        csrcs = self.csrcs
        extension = self.extension
        padding = self.padding
        first = _VERSION_BITS
        if csrcs:
            if len(csrcs) > 15:
                raise LocalProtocolError(f"RTP carries at most 15 CSRCs, not {len(csrcs)}")
            first |= len(csrcs)
        if extension is not None:
            first |= _EXTENSION_BIT
        if padding:
            if padding[-1] != len(padding):
                raise LocalProtocolError(
                    f"RTP padding of {len(padding)} octets must end with its own length"
                )
            first |= _PADDING_BIT
        try:
            header = _FIXED.pack(
                first,
                (_MARKER_BIT if self.marker else 0) | self.payload_type,
                self.sequence,
                self.timestamp,
                self.ssrc,
            )
            if first == _VERSION_BITS:
                return header + self.payload
            parts = [header]
            if csrcs:
                parts.append(_CSRC_STRUCTS[len(csrcs)].pack(*csrcs))
            if extension is not None:
                if len(extension.data) % 4:
                    raise LocalProtocolError(
                        "RTP header extension data must be a whole number of 32-bit words"
                    )
                parts.append(_EXTENSION_HEADER.pack(extension.profile, len(extension.data) // 4))
                parts.append(extension.data)
        except struct.error as error:
            raise LocalProtocolError(f"RTP header field out of range: {error}") from None
        parts.append(self.payload)
        parts.append(padding)
        return b"".join(parts)

    def summary(self) -> str:
        """One trace line in the style of Wireshark's RTP info column."""
        mark = ", Mark" if self.marker else ""
        return (
            f"RTP PT={self.payload_type}, SSRC=0x{self.ssrc:08X}, Seq={self.sequence}, "
            f"Time={self.timestamp}{mark}, {len(self.payload)} octets"
        )


def pack_rtp(
    payload_type: int, marker: bool, sequence: int, timestamp: int, ssrc: int, payload: bytes
) -> bytes:
    """Serialize the common packet without building a value (the session's send path).

    The caller guarantees the ranges (``payload_type`` 0..127, the rest already reduced modulo
    their field size); this is ``bytes(RtpPacket(...))`` minus the checks.
    """
    return (
        _FIXED.pack(
            _VERSION_BITS, (_MARKER_BIT if marker else 0) | payload_type, sequence, timestamp, ssrc
        )
        + payload
    )


def padding_of(count: int) -> bytes:
    """Padding of ``count`` octets (1..255) as RFC 3550 §5.1 lays it out: zeros, then the count."""
    if not 1 <= count <= 255:
        raise LocalProtocolError(f"RTP padding length {count} is not in 1..255")
    return bytes(count - 1) + bytes((count,))


def sequence_delta(newer: int, older: int) -> int:
    """``newer - older`` for 16-bit sequence numbers, as a signed distance in -32768..32767."""
    return ((newer - older + 0x8000) & 0xFFFF) - 0x8000


def timestamp_delta(newer: int, older: int) -> int:
    """``newer - older`` for 32-bit RTP timestamps, as a signed distance."""
    return ((newer - older + 0x80000000) & 0xFFFFFFFF) - 0x80000000
