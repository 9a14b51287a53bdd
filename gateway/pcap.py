"""pcap files from trace events, and a small pcap reader.

A pcap is one more rendering of the trace (gateway/trace.py): each :class:`TraceEvent` that
carries bytes that crossed a network -- transport ``udp``, ``tcp`` or ``tls`` with both a
``local`` and a ``remote`` address -- becomes one frame with true IPv4 or IPv6 and UDP or TCP
headers and correct checksums, so Wireshark and tshark decode a scenario run as if it had been
captured.  ``direction`` decides the way: ``out`` goes local -> remote, ``in`` and ``drop``
(input that arrived and was discarded) go remote -> local.  Events without addresses or bytes
(serial traffic, ``note`` events, state changes) are skipped: a pcap has no place for them.

TCP has no packets of its own in a trace, only the stream bytes, so the writer synthesises what
Wireshark needs to reassemble a stream: at the first segment of a connection a SYN, SYN/ACK, ACK
handshake (the first sender is taken as the client; the window-scale option keeps a long one-way
stream from looking like a full window), then per-direction sequence numbers that advance with
the payload and acknowledgement numbers that follow the peer's.  ``tls`` events are written as
TCP too, with the bytes the trace holds.

Event times are monotonic; ``epoch`` (Unix seconds at time 0) turns them into true timestamps.
The reader understands classic pcap (both byte orders, micro- and nanosecond variants) with
Ethernet (with 802.1Q tags), raw IP and Linux cooked link types, and extracts UDP datagrams.
Only the standard library is used.
"""

from __future__ import annotations

import io
import ipaddress
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from gateway.trace import Address, TraceEvent

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113

_MAGIC_MICRO = 0xA1B2C3D4
_MAGIC_NANO = 0xA1B23C4D
_GLOBAL_HEADER = struct.Struct("<IHHiIII")
_RECORD_HEADER = struct.Struct("<IIII")
_IPV4_HEADER = struct.Struct("!BBHHHBBH4s4s")
_IPV6_HEADER = struct.Struct("!IHBB16s16s")
_UDP_HEADER = struct.Struct("!HHHH")
_TCP_HEADER = struct.Struct("!HHIIBBHHH")
_ETHERTYPE_IPV4 = 0x0800
_ETHERTYPE_IPV6 = 0x86DD
_ETHERTYPE_VLAN = 0x8100
_PROTO_TCP = 6
_PROTO_UDP = 17
_TTL = 64

_TCP_FIN = 0x01
_TCP_SYN = 0x02
_TCP_PSH = 0x08
_TCP_ACK = 0x10
_TCP_WINDOW = 0xFFFF
_TCP_WINDOW_SHIFT = 10
_TCP_MSS = 65495
# MSS option, NOP, window-scale option: sent on SYN and SYN/ACK only.
_TCP_SYN_OPTIONS = struct.pack("!BBHBBBB", 2, 4, _TCP_MSS, 1, 3, 3, _TCP_WINDOW_SHIFT)
# Keep every IP packet under the 16-bit length fields (IPv4 total length includes headers).
_MAX_TCP_SEGMENT = 65_000
_MAX_UDP_PAYLOAD = 65_507

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class PcapFormatError(ValueError):
    """The bytes are not a classic pcap file (or are cut short)."""


# --------------------------------------------------------------------------- checksums


def internet_checksum(data: bytes) -> int:
    """RFC 1071 ones'-complement sum of 16-bit words, complemented."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo_header(source: IpAddress, destination: IpAddress, proto: int, length: int) -> bytes:
    if source.version == 4:
        return source.packed + destination.packed + struct.pack("!BBH", 0, proto, length)
    return source.packed + destination.packed + struct.pack("!IxxxB", length, proto)


# --------------------------------------------------------------------------- framing


def _ip_packet(
    source: IpAddress, destination: IpAddress, proto: int, transport: bytes, ident: int
) -> bytes:
    if source.version == 4:
        header = _IPV4_HEADER.pack(
            0x45,
            0,
            20 + len(transport),
            ident,
            0x4000,
            _TTL,
            proto,
            0,
            source.packed,
            destination.packed,
        )
        checksum = internet_checksum(header)
        return header[:10] + struct.pack("!H", checksum) + header[12:] + transport
    header = _IPV6_HEADER.pack(
        6 << 28, len(transport), proto, _TTL, source.packed, destination.packed
    )
    return header + transport


def _udp_segment(
    source: IpAddress, sport: int, destination: IpAddress, dport: int, payload: bytes
) -> bytes:
    length = 8 + len(payload)
    header = _UDP_HEADER.pack(sport, dport, length, 0)
    checksum = internet_checksum(
        _pseudo_header(source, destination, _PROTO_UDP, length) + header + payload
    )
    # RFC 768: a computed zero is sent as all ones (zero means "no checksum").
    return _UDP_HEADER.pack(sport, dport, length, checksum or 0xFFFF) + payload


def _tcp_segment(
    source: IpAddress,
    sport: int,
    destination: IpAddress,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    payload: bytes = b"",
    options: bytes = b"",
) -> bytes:
    offset_words = (20 + len(options)) // 4
    fields = (sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, offset_words << 4, flags)
    header = _TCP_HEADER.pack(*fields, _TCP_WINDOW, 0, 0) + options
    length = len(header) + len(payload)
    checksum = internet_checksum(
        _pseudo_header(source, destination, _PROTO_TCP, length) + header + payload
    )
    return _TCP_HEADER.pack(*fields, _TCP_WINDOW, checksum, 0) + options + payload


def _mac_for(address: IpAddress) -> bytes:
    # Locally administered unicast MACs derived from the IP, stable across a file.
    return b"\x02\x00" + address.packed[-4:]


@dataclass(slots=True)
class _TcpStream:
    """Sequence state of one synthesised TCP connection."""

    client: tuple[IpAddress, int]
    client_next: int
    server_next: int


class PcapWriter:
    """Stream trace events into a classic pcap file opened for binary writing."""

    def __init__(
        self,
        stream: BinaryIO,
        *,
        linktype: int = LINKTYPE_RAW,
        epoch: float = 0.0,
        snaplen: int = 262_144,
    ) -> None:
        if linktype not in (LINKTYPE_RAW, LINKTYPE_ETHERNET):
            raise ValueError(f"the writer frames LINKTYPE_RAW or LINKTYPE_ETHERNET, not {linktype}")
        self._stream = stream
        self._linktype = linktype
        self._epoch = epoch
        self._snaplen = snaplen
        self._ident = 0
        self._tcp: dict[tuple[tuple[IpAddress, int], tuple[IpAddress, int]], _TcpStream] = {}
        self._addresses: dict[str, IpAddress | None] = {}
        self.written = 0
        self.skipped = 0
        stream.write(_GLOBAL_HEADER.pack(_MAGIC_MICRO, 2, 4, 0, 0, snaplen, linktype))

    def write_event(self, event: TraceEvent) -> bool:
        """Write the frame(s) for one event; ``False`` when the event has no network form."""
        endpoints = self._endpoints(event)
        if endpoints is None:
            self.skipped += 1
            return False
        (source, sport), (destination, dport) = endpoints
        if event.transport == "udp":
            if len(event.raw) > _MAX_UDP_PAYLOAD:
                self.skipped += 1
                return False
            segment = _udp_segment(source, sport, destination, dport, event.raw)
            self._write_ip(event.time, source, destination, _PROTO_UDP, segment)
        else:
            self._write_tcp(event.time, (source, sport), (destination, dport), event.raw)
        self.written += 1
        return True

    def write_events(self, events: Iterable[TraceEvent]) -> int:
        """Write every event that has a network form; return how many were written."""
        return sum(1 for event in events if self.write_event(event))

    def write_frame(self, time: float, frame: bytes) -> None:
        """Write one already-framed record (link type of this file) at event time ``time``."""
        stamp = max(0.0, self._epoch + time)  # the synthesised handshake precedes time 0
        seconds = int(stamp // 1)
        micros = round((stamp - seconds) * 1_000_000)
        if micros >= 1_000_000:
            seconds, micros = seconds + 1, micros - 1_000_000
        captured = frame[: self._snaplen]
        self._stream.write(_RECORD_HEADER.pack(seconds, micros, len(captured), len(frame)))
        self._stream.write(captured)

    def _endpoints(
        self, event: TraceEvent
    ) -> tuple[tuple[IpAddress, int], tuple[IpAddress, int]] | None:
        if event.transport not in ("udp", "tcp", "tls") or not event.raw:
            return None
        if event.direction == "note" or event.local is None or event.remote is None:
            return None
        local = self._ip(event.local[0])
        remote = self._ip(event.remote[0])
        if local is None or remote is None:
            return None
        if local.version != remote.version:
            local, remote = _as_ipv6(local), _as_ipv6(remote)
        ours = (local, event.local[1])
        theirs = (remote, event.remote[1])
        if not (0 <= ours[1] <= 0xFFFF and 0 <= theirs[1] <= 0xFFFF):
            return None
        return (ours, theirs) if event.direction == "out" else (theirs, ours)

    def _ip(self, host: str) -> IpAddress | None:
        cache = self._addresses
        if host not in cache:
            text = host.strip("[]").split("%", 1)[0]
            try:
                cache[host] = ipaddress.ip_address(text)
            except ValueError:
                cache[host] = None  # a host name: no way to frame it
        return cache[host]

    def _write_ip(
        self, time: float, source: IpAddress, destination: IpAddress, proto: int, segment: bytes
    ) -> None:
        self._ident = (self._ident + 1) & 0xFFFF
        packet = _ip_packet(source, destination, proto, segment, self._ident)
        if self._linktype == LINKTYPE_ETHERNET:
            ethertype = _ETHERTYPE_IPV4 if source.version == 4 else _ETHERTYPE_IPV6
            packet = (
                _mac_for(destination) + _mac_for(source) + struct.pack("!H", ethertype) + packet
            )
        self.write_frame(time, packet)

    def _write_tcp(
        self,
        time: float,
        source: tuple[IpAddress, int],
        destination: tuple[IpAddress, int],
        payload: bytes,
    ) -> None:
        key = (source, destination) if source <= destination else (destination, source)
        stream = self._tcp.get(key)
        if stream is None:
            stream = self._handshake(time, source, destination, key)
        from_client = source == stream.client
        for start in range(0, len(payload), _MAX_TCP_SEGMENT):
            chunk = payload[start : start + _MAX_TCP_SEGMENT]
            if from_client:
                seq, ack = stream.client_next, stream.server_next
                stream.client_next = (seq + len(chunk)) & 0xFFFFFFFF
            else:
                seq, ack = stream.server_next, stream.client_next
                stream.server_next = (seq + len(chunk)) & 0xFFFFFFFF
            segment = _tcp_segment(
                source[0],
                source[1],
                destination[0],
                destination[1],
                seq,
                ack,
                _TCP_PSH | _TCP_ACK,
                chunk,
            )
            self._write_ip(time, source[0], destination[0], _PROTO_TCP, segment)

    def _handshake(
        self,
        time: float,
        client: tuple[IpAddress, int],
        server: tuple[IpAddress, int],
        key: tuple[tuple[IpAddress, int], tuple[IpAddress, int]],
    ) -> _TcpStream:
        # Deterministic initial sequence numbers keep the files reproducible.
        client_isn = _initial_sequence(client[1], 2654435761)
        server_isn = _initial_sequence(server[1], 2246822519)
        c_ip, c_port = client
        s_ip, s_port = server
        tick = 1e-6
        self._write_ip(
            time - 3 * tick,
            c_ip,
            s_ip,
            _PROTO_TCP,
            _tcp_segment(
                c_ip, c_port, s_ip, s_port, client_isn, 0, _TCP_SYN, options=_TCP_SYN_OPTIONS
            ),
        )
        self._write_ip(
            time - 2 * tick,
            s_ip,
            c_ip,
            _PROTO_TCP,
            _tcp_segment(
                s_ip,
                s_port,
                c_ip,
                c_port,
                server_isn,
                client_isn + 1,
                _TCP_SYN | _TCP_ACK,
                options=_TCP_SYN_OPTIONS,
            ),
        )
        self._write_ip(
            time - tick,
            c_ip,
            s_ip,
            _PROTO_TCP,
            _tcp_segment(c_ip, c_port, s_ip, s_port, client_isn + 1, server_isn + 1, _TCP_ACK),
        )
        stream = _TcpStream(client, (client_isn + 1) & 0xFFFFFFFF, (server_isn + 1) & 0xFFFFFFFF)
        self._tcp[key] = stream
        return stream


def _initial_sequence(port: int, multiplier: int) -> int:
    return ((port * 40503 + 1) * multiplier) & 0xFFFFFFFF


def _as_ipv6(address: IpAddress) -> ipaddress.IPv6Address:
    if isinstance(address, ipaddress.IPv6Address):
        return address
    return ipaddress.IPv6Address(b"\x00" * 10 + b"\xff\xff" + address.packed)


def pcap_bytes(
    events: Iterable[TraceEvent], *, linktype: int = LINKTYPE_RAW, epoch: float = 0.0
) -> bytes:
    """The pcap file for ``events`` as bytes (see :class:`PcapWriter`)."""
    buffer = io.BytesIO()
    PcapWriter(buffer, linktype=linktype, epoch=epoch).write_events(events)
    return buffer.getvalue()


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class PcapRecord:
    """One captured frame: time in Unix seconds, link type, captured bytes, original length."""

    time: float
    linktype: int
    data: bytes
    original_length: int


@dataclass(frozen=True, slots=True)
class UdpDatagram:
    time: float
    source: Address
    destination: Address
    payload: bytes


def read_pcap(data: bytes) -> Iterator[PcapRecord]:
    """Yield the records of a classic pcap file; raise :class:`PcapFormatError` when it is not
    one or ends inside a record."""
    if len(data) < _GLOBAL_HEADER.size:
        raise PcapFormatError("shorter than the 24-octet pcap global header")
    (magic,) = struct.unpack_from("<I", data)
    if magic in (_MAGIC_MICRO, _MAGIC_NANO):
        order = "<"
    else:
        (magic,) = struct.unpack_from(">I", data)
        if magic not in (_MAGIC_MICRO, _MAGIC_NANO):
            raise PcapFormatError(f"not a classic pcap file (magic 0x{magic:08x})")
        order = ">"
    divisor = 1e9 if magic == _MAGIC_NANO else 1e6
    header = struct.Struct(order + "IHHiIII")
    record = struct.Struct(order + "IIII")
    _, major, _, _, _, _, linktype = header.unpack_from(data)
    if major != 2:
        raise PcapFormatError(f"pcap major version {major} is not 2")
    offset = header.size
    while offset < len(data):
        if len(data) - offset < record.size:
            raise PcapFormatError("the file ends inside a record header")
        seconds, fraction, captured, original = record.unpack_from(data, offset)
        offset += record.size
        if captured > len(data) - offset:
            raise PcapFormatError("the file ends inside a record")
        yield PcapRecord(
            seconds + fraction / divisor, linktype, data[offset : offset + captured], original
        )
        offset += captured


def udp_datagrams(records: Iterable[PcapRecord]) -> Iterator[UdpDatagram]:
    """The UDP datagrams among ``records`` (other protocols and IP fragments are skipped)."""
    for rec in records:
        ip = _network_layer(rec.linktype, rec.data)
        if ip is None:
            continue
        parsed = _udp_of(ip)
        if parsed is not None:
            source, destination, payload = parsed
            yield UdpDatagram(rec.time, source, destination, payload)


def _network_layer(linktype: int, frame: bytes) -> bytes | None:
    if linktype == LINKTYPE_RAW:
        return frame
    if linktype == LINKTYPE_ETHERNET:
        offset = 12
        while len(frame) >= offset + 2:
            (ethertype,) = struct.unpack_from("!H", frame, offset)
            if ethertype == _ETHERTYPE_VLAN:
                offset += 4
                continue
            if ethertype in (_ETHERTYPE_IPV4, _ETHERTYPE_IPV6):
                return frame[offset + 2 :]
            return None
        return None
    if linktype == LINKTYPE_LINUX_SLL and len(frame) >= 16:
        (protocol,) = struct.unpack_from("!H", frame, 14)
        if protocol in (_ETHERTYPE_IPV4, _ETHERTYPE_IPV6):
            return frame[16:]
    return None


def _udp_of(ip: bytes) -> tuple[Address, Address, bytes] | None:
    if len(ip) < 20:
        return None
    version = ip[0] >> 4
    if version == 4:
        header_length = (ip[0] & 0x0F) * 4
        total, flags_fragment, proto = struct.unpack_from("!H2xHxB", ip, 2)
        if proto != _PROTO_UDP or flags_fragment & 0x3FFF or header_length < 20:
            return None
        source = str(ipaddress.IPv4Address(ip[12:16]))
        destination = str(ipaddress.IPv4Address(ip[16:20]))
        segment = ip[header_length:total]
    elif version == 6 and len(ip) >= 40:
        length, next_header = struct.unpack_from("!HB", ip, 4)
        if next_header != _PROTO_UDP:
            return None
        source = str(ipaddress.IPv6Address(ip[8:24]))
        destination = str(ipaddress.IPv6Address(ip[24:40]))
        segment = ip[40 : 40 + length]
    else:
        return None
    if len(segment) < 8:
        return None
    sport, dport, length, _ = _UDP_HEADER.unpack_from(segment)
    if length < 8 or length > len(segment):
        return None
    return (source, sport), (destination, dport), segment[8:length]
