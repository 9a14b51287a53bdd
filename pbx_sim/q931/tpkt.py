"""TPKT framing (RFC 1006 s6) for Q.931 over a TCP byte stream.

A TPKT is ``03 00 LL LL`` + payload, where LLLL (big-endian) counts the whole packet including
the 4-octet header.  A stream that breaks this is beyond repair (there is no resynchronisation
point), so the decoder fails for good and the link closes the connection.
"""

from __future__ import annotations

from gateway.errors import LocalProtocolError
from pbx_sim.q931.errors import Q931Error

TPKT_VERSION = 3
HEADER_LENGTH = 4
MAX_PACKET_LENGTH = 0xFFFF
# Q.931 messages are small (a Q.921 I-frame carries at most 260 octets); 2 KiB leaves room for
# H.225-sized messages while still catching a length field that points into garbage.
DEFAULT_MAX_LENGTH = 2048


def tpkt_frame(payload: bytes) -> bytes:
    """Wrap ``payload`` in one TPKT."""
    length = len(payload) + HEADER_LENGTH
    if length > MAX_PACKET_LENGTH:
        raise LocalProtocolError(f"{len(payload)} octets do not fit in one TPKT")
    return bytes((TPKT_VERSION, 0)) + length.to_bytes(2, "big") + payload


class TpktDecoder:
    """Split a byte stream into whole TPKTs, whatever the chunking.

    ``feed`` returns the complete packets (header included, so traces keep the wire bytes).
    When the stream turns out to be garbage, ``feed`` still returns the packets that preceded
    the garbage and sets ``failure`` (a :class:`Q931Error` saying what was wrong); from then on
    it returns nothing.
    """

    __slots__ = ("_buffer", "failure", "max_length")

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        if not HEADER_LENGTH < max_length <= MAX_PACKET_LENGTH:
            raise LocalProtocolError(f"TPKT max length {max_length} is out of range")
        self.max_length = max_length
        self._buffer = bytearray()
        self.failure: Q931Error | None = None

    @property
    def buffered(self) -> int:
        """Octets of an incomplete packet waiting for more data."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        if self.failure is not None:
            return []
        buffer = self._buffer
        buffer += data
        packets: list[bytes] = []
        start = 0
        while len(buffer) - start >= HEADER_LENGTH:
            version, reserved = buffer[start], buffer[start + 1]
            length = int.from_bytes(buffer[start + 2 : start + 4], "big")
            problem = None
            if version != TPKT_VERSION:
                problem = f"TPKT version {version} (expected 3)"
            elif reserved != 0:
                problem = f"TPKT reserved octet is 0x{reserved:02X} (expected 0)"
            elif length < HEADER_LENGTH:
                problem = f"TPKT length {length} is shorter than its own header"
            elif length > self.max_length:
                problem = f"TPKT length {length} exceeds the limit of {self.max_length}"
            if problem is not None:
                del buffer[:]
                self.failure = Q931Error(f"framing lost: {problem}", cause=95)
                return packets
            if len(buffer) - start < length:
                break
            packets.append(bytes(buffer[start : start + length]))
            start += length
        del buffer[:start]
        return packets
