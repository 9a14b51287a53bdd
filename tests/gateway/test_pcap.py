"""pcap rendering of trace events, and the reader, checked against tshark."""

from __future__ import annotations

import io
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.pcap import (
    LINKTYPE_ETHERNET,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_RAW,
    PcapFormatError,
    PcapRecord,
    PcapWriter,
    internet_checksum,
    pcap_bytes,
    read_pcap,
    udp_datagrams,
)
from gateway.trace import Address, Direction, TraceEvent

EPOCH = 1_700_000_000.0
V4_LOCAL: Address = ("192.0.2.10", 5060)
V4_REMOTE: Address = ("198.51.100.20", 5070)
V6_LOCAL: Address = ("2001:db8::10", 4000)
V6_REMOTE: Address = ("[2001:db8::20]", 5000)


def udp(
    time: float,
    direction: Direction,
    raw: bytes,
    local: Address = V4_LOCAL,
    remote: Address = V4_REMOTE,
) -> TraceEvent:
    return TraceEvent(time, "gw", "sip", direction, "x", raw, local, remote, "udp")


def sip_request(body: bytes = b"") -> bytes:
    return (
        b"OPTIONS sip:bob@198.51.100.20 SIP/2.0\r\n"
        b"Via: SIP/2.0/TCP 192.0.2.10:40000;branch=z9hG4bK-1\r\n"
        b"From: <sip:alice@192.0.2.10>;tag=1\r\nTo: <sip:bob@198.51.100.20>\r\n"
        b"Call-ID: pcap-test\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


SIP_RESPONSE = (
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 192.0.2.10:40000;branch=z9hG4bK-1\r\n"
    b"From: <sip:alice@192.0.2.10>;tag=1\r\nTo: <sip:bob@198.51.100.20>;tag=2\r\n"
    b"Call-ID: pcap-test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)


def test_internet_checksum_matches_rfc1071() -> None:
    # RFC 1071 §3 example: the words 0001 f203 f4f5 f6f7 sum to ddf2 (with end-around carry).
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0xFFFF - 0xDDF2
    assert internet_checksum(b"\x01") == 0xFEFF  # odd length pads with a zero octet


@pytest.mark.parametrize("linktype", [LINKTYPE_RAW, LINKTYPE_ETHERNET])
def test_udp_events_read_back_with_direction_addresses_and_time(linktype: int) -> None:
    events = [
        udp(1.0, "out", b"hello"),
        udp(1.25, "in", b"world"),
        udp(2.000_000_4, "drop", b"garbage"),
        udp(3.5, "out", b"six", V6_LOCAL, V6_REMOTE),
    ]
    data = pcap_bytes(events, linktype=linktype, epoch=EPOCH)
    records = list(read_pcap(data))
    assert {r.linktype for r in records} == {linktype}
    assert [r.time for r in records] == pytest.approx(
        [EPOCH + 1.0, EPOCH + 1.25, EPOCH + 2.0, EPOCH + 3.5], abs=1e-6
    )
    datagrams = list(udp_datagrams(records))
    assert [(d.source, d.destination, d.payload) for d in datagrams] == [
        (V4_LOCAL, V4_REMOTE, b"hello"),
        (V4_REMOTE, V4_LOCAL, b"world"),
        (V4_REMOTE, V4_LOCAL, b"garbage"),
        (V6_LOCAL, ("2001:db8::20", 5000), b"six"),
    ]
    for record in records:
        ip = record.data[14:] if linktype == LINKTYPE_ETHERNET else record.data
        if ip[0] >> 4 == 4:
            assert internet_checksum(ip[:20]) == 0  # the header checksum is right


def test_events_without_a_network_form_are_skipped() -> None:
    stream = io.BytesIO()
    writer = PcapWriter(stream)
    skipped = [
        TraceEvent(1.0, "gw", "fxs", "in", "off-hook", b"OFFHOOK", None, None, "serial"),
        TraceEvent(1.0, "gw", "rtp", "note", "latched", b"", V4_LOCAL, V4_REMOTE, "none"),
        TraceEvent(1.0, "gw", "rtp", "note", "x", b"abc", V4_LOCAL, V4_REMOTE, "udp"),
        TraceEvent(1.0, "gw", "sip", "out", "x", b"abc", None, V4_REMOTE, "udp"),
        TraceEvent(1.0, "gw", "sip", "out", "x", b"abc", ("pbx.example", 5060), V4_REMOTE, "udp"),
        TraceEvent(1.0, "gw", "sip", "out", "x", b"", V4_LOCAL, V4_REMOTE, "udp"),
        TraceEvent(1.0, "gw", "sip", "out", "x", bytes(70_000), V4_LOCAL, V4_REMOTE, "udp"),
    ]
    assert [writer.write_event(e) for e in skipped] == [False] * len(skipped)
    assert (writer.written, writer.skipped) == (0, len(skipped))
    assert list(read_pcap(stream.getvalue())) == []


def test_mixed_families_become_ipv4_mapped_ipv6() -> None:
    data = pcap_bytes([udp(0.0, "out", b"m", ("10.0.0.1", 1), ("2001:db8::1", 2))])
    (datagram,) = udp_datagrams(read_pcap(data))
    assert datagram.source == ("::ffff:a00:1", 1)
    assert datagram.destination == ("2001:db8::1", 2)


def test_streaming_writer_and_bytes_function_agree(tmp_path: Path) -> None:
    events = [udp(0.1 * k, "out", bytes([k]) * k) for k in range(1, 6)]
    path = tmp_path / "stream.pcap"
    with path.open("wb") as stream:
        writer = PcapWriter(stream, epoch=EPOCH)
        assert writer.write_events(events) == 5
    assert path.read_bytes() == pcap_bytes(events, epoch=EPOCH)


def test_a_tcp_stream_at_time_zero_without_epoch_still_writes() -> None:
    event = TraceEvent(0.0, "gw", "sip", "out", "x", b"abc", V4_LOCAL, V4_REMOTE, "tcp")
    records = list(read_pcap(pcap_bytes([event])))
    assert len(records) == 4  # SYN, SYN/ACK, ACK, data
    assert records[0].time == 0.0
    assert records[-1].data.endswith(b"abc")


def test_writer_refuses_link_types_it_cannot_frame() -> None:
    with pytest.raises(ValueError, match="LINKTYPE"):
        PcapWriter(io.BytesIO(), linktype=LINKTYPE_LINUX_SLL)


# --------------------------------------------------------------------------- the reader


def _handmade(
    order: str, magic: int, records: list[tuple[int, int, bytes]], linktype: int
) -> bytes:
    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for seconds, fraction, frame in records:
        out += struct.pack(order + "IIII", seconds, fraction, len(frame), len(frame)) + frame
    return out


def _ipv4_udp(payload: bytes) -> bytes:
    udp_part = struct.pack("!HHHH", 1000, 2000, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp_part), 0, 0, 64, 17, 0,
                         bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))  # fmt: skip
    return header + udp_part


@pytest.mark.parametrize(
    ("order", "magic", "divisor"),
    [("<", 0xA1B2C3D4, 1e6), (">", 0xA1B2C3D4, 1e6), ("<", 0xA1B23C4D, 1e9)],
)
def test_reader_handles_byte_order_and_nanoseconds(order: str, magic: int, divisor: float) -> None:
    frame = _ipv4_udp(b"payload")
    data = _handmade(order, magic, [(100, 250, frame)], LINKTYPE_RAW)
    (record,) = read_pcap(data)
    assert record == PcapRecord(100 + 250 / divisor, LINKTYPE_RAW, frame, len(frame))


def test_reader_finds_udp_behind_vlan_tags_and_linux_cooked_headers() -> None:
    ip = _ipv4_udp(b"x")
    vlan = b"\x02" * 12 + b"\x81\x00\x00\x05" + b"\x08\x00" + ip
    sll = b"\x00" * 14 + b"\x08\x00" + ip
    arp = b"\x02" * 12 + b"\x08\x06" + bytes(28)
    tcp = ip[:9] + b"\x06" + ip[10:]
    records = [
        PcapRecord(0.0, LINKTYPE_ETHERNET, vlan, len(vlan)),
        PcapRecord(0.0, LINKTYPE_LINUX_SLL, sll, len(sll)),
        PcapRecord(0.0, LINKTYPE_ETHERNET, arp, len(arp)),
        PcapRecord(0.0, LINKTYPE_RAW, tcp, len(tcp)),
        PcapRecord(0.0, 999, ip, len(ip)),
    ]
    assert [d.payload for d in udp_datagrams(records)] == [b"x", b"x"]


def test_every_truncation_of_a_file_raises_or_reads_whole_records() -> None:
    data = pcap_bytes([udp(1.0, "out", b"abc"), udp(2.0, "in", b"defg")])
    boundaries = {24, 24 + 16 + 31, len(data)}
    for end in range(len(data)):
        try:
            records = list(read_pcap(data[:end]))
        except PcapFormatError:
            assert end not in boundaries
        else:
            assert end in boundaries
            assert len(records) == (0 if end == 24 else 1)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xd4\xc3\xb2",
        b"\x0a\x0d\x0d\x0a" + bytes(40),
        _handmade("<", 0xA1B2C3D4, [], 1)[:4] + b"\x03" + bytes(19),
    ],
)
def test_garbage_is_a_format_error(data: bytes) -> None:
    with pytest.raises(PcapFormatError):
        list(read_pcap(data))


@given(st.binary(max_size=200))
@settings(max_examples=300)
def test_arbitrary_bytes_only_raise_the_format_error(data: bytes) -> None:
    for prefix in (b"", _handmade("<", 0xA1B2C3D4, [], LINKTYPE_ETHERNET)):
        try:
            records = list(read_pcap(prefix + data))
        except PcapFormatError:
            continue
        list(udp_datagrams(records))


@given(
    st.binary(max_size=120), st.sampled_from([LINKTYPE_RAW, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL])
)
@settings(max_examples=300)
def test_arbitrary_frames_never_break_the_udp_extractor(frame: bytes, linktype: int) -> None:
    list(udp_datagrams([PcapRecord(0.0, linktype, frame, len(frame))]))


# --------------------------------------------------------------------------- tshark


def _tshark(tool: Callable[[str], str], path: Path, *args: str) -> str:
    command = [
        tool("tshark"),
        "-r",
        str(path),
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
        "-o",
        "tcp.check_checksum:TRUE",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout


WARNINGS = '_ws.malformed || _ws.expert.severity >= "warning"'


@pytest.mark.interop
@pytest.mark.parametrize("linktype", [LINKTYPE_RAW, LINKTYPE_ETHERNET])
def test_tshark_reassembles_synthesised_tcp_streams(
    linktype: int, tmp_path: Path, require_tool: Callable[[str], str]
) -> None:
    big_body = b"v=0\r\n" + b"a=x-filler:" + b"y" * 140_000 + b"\r\n"
    events = [
        TraceEvent(1.0, "gw", "sip", "out", "OPTIONS", sip_request(), V4_LOCAL, V4_REMOTE, "tcp"),
        TraceEvent(1.1, "gw", "sip", "in", "200", SIP_RESPONSE, V4_LOCAL, V4_REMOTE, "tcp"),
        TraceEvent(
            2.0, "gw", "sip", "out", "big", sip_request(big_body), V4_LOCAL, V4_REMOTE, "tcp"
        ),
        TraceEvent(2.1, "gw", "sip", "in", "200", SIP_RESPONSE, V4_LOCAL, V4_REMOTE, "tcp"),
        TraceEvent(3.0, "gw", "sip", "out", "v6", sip_request(), V6_LOCAL, V6_REMOTE, "tls"),
    ]
    path = tmp_path / "tcp.pcap"
    path.write_bytes(pcap_bytes(events, linktype=linktype, epoch=EPOCH))

    assert _tshark(require_tool, path, "-Y", WARNINGS) == ""
    fields = _tshark(
        require_tool, path, "-T", "fields",
        "-e", "tcp.flags", "-e", "tcp.seq", "-e", "tcp.ack", "-e", "tcp.len",
    )  # fmt: skip
    rows = [line.split("\t") for line in fields.splitlines()]
    flags = [row[0] for row in rows]
    # SYN, SYN/ACK, ACK synthesised for each connection, then PSH/ACK data segments.
    assert flags == ["0x0002", "0x0012", "0x0010"] + ["0x0018"] * 6 + [
        "0x0002", "0x0012", "0x0010", "0x0018",
    ]  # fmt: skip
    first, reply = len(sip_request()), len(SIP_RESPONSE)
    assert rows[3][1:] == ["1", "1", str(first)]
    assert rows[4][1:] == ["1", str(1 + first), str(reply)]
    assert rows[5][1:3] == [str(1 + first), str(1 + reply)]  # the big request, first segment
    # Three segments carry the big request, then the second response acknowledges all of it.
    big = len(sip_request(big_body))
    assert sum(int(row[3]) for row in rows[5:8]) == big
    assert rows[8][1:] == [str(1 + reply), str(1 + first + big), str(reply)]
    methods = _tshark(
        require_tool, path, "-Y", "sip", "-T", "fields",
        "-e", "sip.CSeq.method", "-e", "sip.Status-Code",
    )  # fmt: skip
    assert methods.split() == ["OPTIONS", "OPTIONS", "200", "OPTIONS", "OPTIONS", "200", "OPTIONS"]
    # The checksum check is live: corrupting one payload octet is reported.
    broken = bytearray(path.read_bytes())
    broken[-5] ^= 0xFF
    path.write_bytes(bytes(broken))
    assert "checksum" in _tshark(require_tool, path, "-Y", WARNINGS, "-V").lower()


@pytest.mark.interop
def test_tshark_reads_udp_without_complaint(
    tmp_path: Path, require_tool: Callable[[str], str]
) -> None:
    events = [
        udp(0.5, "out", sip_request().replace(b"TCP", b"UDP")),
        udp(0.6, "in", SIP_RESPONSE.replace(b"TCP", b"UDP")),
        udp(0.7, "out", sip_request().replace(b"TCP", b"UDP"), V6_LOCAL, V6_REMOTE),
    ]
    path = tmp_path / "udp.pcap"
    path.write_bytes(pcap_bytes(events, linktype=LINKTYPE_ETHERNET, epoch=EPOCH))
    assert _tshark(require_tool, path, "-Y", WARNINGS) == ""
    summary = _tshark(
        require_tool,
        path,
        "-T",
        "fields",
        "-e",
        "ip.src",
        "-e",
        "ipv6.src",
        "-e",
        "sip.Status-Line",
    )
    assert summary.splitlines()[0].split("\t")[0] == V4_LOCAL[0]
    assert summary.splitlines()[1].split("\t")[0] == V4_REMOTE[0]
    assert "200 OK" in summary.splitlines()[1]
    assert summary.splitlines()[2].split("\t")[1] == "2001:db8::10"
    times = _tshark(require_tool, path, "-T", "fields", "-e", "frame.time_epoch").split()
    assert [float(t) for t in times] == pytest.approx([EPOCH + 0.5, EPOCH + 0.6, EPOCH + 0.7])
