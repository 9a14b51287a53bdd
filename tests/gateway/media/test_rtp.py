"""RTP packets: fixtures, round trips, hostile input, and the captures SIPp ships."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import FrozenInstanceError, fields, replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.media.rtp import (
    RtpHeaderExtension,
    RtpPacket,
    padding_of,
    sequence_delta,
    timestamp_delta,
)
from gateway.pcap import read_pcap, udp_datagrams

# A PCMU packet written out by hand from RFC 3550 §5.1: V=2, M=1, PT=0, seq 0x1234,
# timestamp 0x000003E8, SSRC 0xDEADBEEF, four payload octets.
PLAIN = bytes.fromhex("80 80 1234 000003e8 deadbeef ff7f0001".replace(" ", ""))

# V=2 P=1 X=1 CC=2, M=0 PT=96, seq 7, ts 9, SSRC 1; CSRCs 0x11111111 0x22222222;
# extension profile 0xBEDE with one word; payload "ab"; three octets of padding (00 00 03).
FULL = bytes.fromhex(
    "b2 60 0007 00000009 0000000111111111 22222222bede 0001 10ff00006162000003".replace(" ", "")
)

SIPP_MEDIA = Path("/usr/share/sip-tester")


def test_plain_packet_fields_and_round_trip() -> None:
    packet = RtpPacket.parse(PLAIN)
    assert packet == RtpPacket(
        payload_type=0,
        sequence=0x1234,
        timestamp=1000,
        ssrc=0xDEADBEEF,
        payload=b"\xff\x7f\x00\x01",
        marker=True,
    )
    assert bytes(packet) == PLAIN


def test_packet_with_csrc_extension_and_padding() -> None:
    packet = RtpPacket.parse(FULL)
    assert packet.payload_type == 96
    assert not packet.marker
    assert packet.csrcs == (0x11111111, 0x22222222)
    assert packet.extension == RtpHeaderExtension(0xBEDE, bytes.fromhex("10ff0000"))
    assert packet.payload == b"ab"
    assert packet.padding == b"\x00\x00\x03"
    assert bytes(packet) == FULL


def test_the_written_out_constructor_is_the_dataclass_one() -> None:
    # RtpPacket.__init__ is written by hand (so that mypyc compiles it): it must take the
    # dataclass's fields in their order with their defaults, and leave the value frozen.
    names = [field.name for field in fields(RtpPacket)]
    values = [0, 1, 2, 3, b"p", True, (4,), RtpHeaderExtension(5, b"abcd"), b"\x01"]
    packet = RtpPacket(*values)  # type: ignore[arg-type]
    assert [getattr(packet, name) for name in names] == values
    assert RtpPacket(**dict(zip(names, values, strict=True))) == packet  # type: ignore[arg-type]
    plain = RtpPacket(0, 1, 2, 3)
    assert [getattr(plain, field.name) for field in fields(RtpPacket)[4:]] == [
        field.default for field in fields(RtpPacket)[4:]
    ]
    with pytest.raises(FrozenInstanceError):
        packet.sequence = 9  # type: ignore[misc]
    assert replace(packet, sequence=9) == RtpPacket(*values[:1], 9, *values[2:])  # type: ignore[arg-type]


def test_nonzero_padding_octets_survive_a_round_trip() -> None:
    data = PLAIN[:1].replace(b"\x80", b"\xa0") + PLAIN[1:] + b"\x07\x02"
    packet = RtpPacket.parse(data)
    assert packet.padding == b"\x07\x02"
    assert packet.payload == PLAIN[12:]
    assert bytes(packet) == data


def test_parse_accepts_memoryview_and_bytearray() -> None:
    assert RtpPacket.parse(memoryview(FULL)) == RtpPacket.parse(FULL)
    assert RtpPacket.parse(bytearray(PLAIN)) == RtpPacket.parse(PLAIN)
    assert type(RtpPacket.parse(memoryview(PLAIN)).payload) is bytes


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "shorter than the 12-octet header"),
        (PLAIN[:11], "shorter than the 12-octet header"),
        (b"\x40" + PLAIN[1:], "version 1 is not 2"),
        (b"\x00" + PLAIN[1:], "version 0 is not 2"),
        (b"\xc0" + PLAIN[1:], "version 3 is not 2"),
        (b"\x8f" + PLAIN[1:], "15 CSRCs"),
        (b"\x90" + PLAIN[1:12], "before the extension header"),
        (b"\x90" + PLAIN[1:12] + b"\x00\x00\x00\x05", "runs past the packet end"),
        (b"\xa0" + PLAIN[1:12], "padding count 0"),
        (b"\xa0" + PLAIN[1:] + b"\x00", "padding count 0"),
        (b"\xa0" + PLAIN[1:15] + b"\x06", "padding count 6"),
    ],
)
def test_malformed_packets_are_remote_errors_without_a_status(data: bytes, reason: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        RtpPacket.parse(data)
    assert reason in caught.value.reason
    assert caught.value.status_hint is None


@pytest.mark.parametrize("fixture", [PLAIN, FULL])
def test_every_truncation_raises_or_round_trips(fixture: bytes) -> None:
    for end in range(len(fixture)):
        prefix = fixture[:end]
        try:
            packet = RtpPacket.parse(prefix)
        except RemoteProtocolError as error:
            assert error.status_hint is None
        else:
            assert bytes(packet) == prefix


def test_trailing_octets_are_payload() -> None:
    # RTP has no length field: whatever follows the header is payload (or padding).
    packet = RtpPacket.parse(PLAIN + b"xyz")
    assert packet.payload.endswith(b"xyz")


@pytest.mark.parametrize(
    "packet",
    [
        RtpPacket(128, 0, 0, 0),
        RtpPacket(0, 1 << 16, 0, 0),
        RtpPacket(0, 0, 1 << 32, 0),
        RtpPacket(0, 0, 0, -1),
        RtpPacket(0, 0, 0, 0, csrcs=tuple(range(16))),
        RtpPacket(0, 0, 0, 0, extension=RtpHeaderExtension(1, b"abc")),
        RtpPacket(0, 0, 0, 0, padding=b"\x00\x01"),
    ],
)
def test_invalid_values_are_refused_as_local_errors(packet: RtpPacket) -> None:
    with pytest.raises(LocalProtocolError):
        bytes(packet)


def test_padding_helper() -> None:
    assert padding_of(1) == b"\x01"
    assert padding_of(4) == b"\x00\x00\x00\x04"
    with pytest.raises(LocalProtocolError):
        padding_of(0)


def test_sequence_and_timestamp_distances_wrap() -> None:
    assert sequence_delta(0, 65535) == 1
    assert sequence_delta(65535, 0) == -1
    assert sequence_delta(100, 100) == 0
    assert timestamp_delta(80, 2**32 - 80) == 160
    assert timestamp_delta(2**32 - 80, 80) == -160


def test_summary_reads_like_wireshark() -> None:
    assert RtpPacket.parse(PLAIN).summary() == (
        "RTP PT=0, SSRC=0xDEADBEEF, Seq=4660, Time=1000, Mark, 4 octets"
    )


# --------------------------------------------------------------------------- property tests

packets = st.builds(
    RtpPacket,
    payload_type=st.integers(0, 127),
    sequence=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=64),
    marker=st.booleans(),
    csrcs=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15).map(tuple),
    extension=st.none()
    | st.builds(
        RtpHeaderExtension,
        st.integers(0, 0xFFFF),
        st.integers(0, 4).flatmap(lambda words: st.binary(min_size=4 * words, max_size=4 * words)),
    ),
    padding=st.just(b"") | st.integers(1, 255).map(padding_of),
)


@given(packets)
@settings(max_examples=300)
def test_any_packet_round_trips(packet: RtpPacket) -> None:
    assert RtpPacket.parse(bytes(packet)) == packet


@given(st.binary(max_size=96))
@settings(max_examples=500)
def test_arbitrary_bytes_only_raise_the_protocol_error(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except RemoteProtocolError:
        return
    assert bytes(packet) == data


@given(st.binary(min_size=12, max_size=64))
@settings(max_examples=300)
def test_version_two_headers_parse_exactly(data: bytes) -> None:
    data = bytes((0x80 | (data[0] & 0x3F),)) + data[1:]
    try:
        packet = RtpPacket.parse(data)
    except RemoteProtocolError:
        return
    assert bytes(packet) == data


# --------------------------------------------------------------------------- SIPp's captures


def _rtp_from_capture(name: str, require_tool: Callable[[str], str]) -> list[RtpPacket]:
    # The captures ship with SIPp (Debian sip-tester): where sipp is, they are.
    require_tool("sipp")
    path = SIPP_MEDIA / name
    assert path.exists(), f"{path} is missing although sipp is installed"
    packets = []
    for datagram in udp_datagrams(read_pcap(path.read_bytes())):
        packet = RtpPacket.parse(datagram.payload)
        assert bytes(packet) == datagram.payload
        packets.append(packet)
    return packets


DTMF_CAPTURES = [f"dtmf_2833_{name}.pcap" for name in [*map(str, range(10)), "star", "pound"]]


@pytest.mark.parametrize("name", DTMF_CAPTURES)
def test_sipp_dtmf_captures_parse(name: str, require_tool: Callable[[str], str]) -> None:
    packets = _rtp_from_capture(name, require_tool)
    assert len(packets) == 10
    assert {p.payload_type for p in packets} == {101}
    assert len({p.ssrc for p in packets}) == 1
    # One event: one timestamp throughout, the marker on its first packet only (RFC 4733 §2.5).
    assert len({p.timestamp for p in packets}) == 1
    assert [p.marker for p in packets] == [True] + [False] * 9
    # Seven packets in sequence, then the final packet sent three times with one number.
    sequences = [p.sequence for p in packets]
    assert [sequence_delta(b, a) for a, b in itertools.pairwise(sequences)] == [
        1, 1, 1, 1, 1, 1, 1, 0, 0,
    ]  # fmt: skip
    assert all(len(p.payload) == 4 for p in packets)


def test_sipp_g711a_capture_parses(require_tool: Callable[[str], str]) -> None:
    packets = _rtp_from_capture("g711a.pcap", require_tool)
    assert len(packets) == 236
    assert {p.payload_type for p in packets} == {8}
    assert len({p.ssrc for p in packets}) == 1
    sequences = [p.sequence for p in packets]
    assert all(sequence_delta(b, a) == 1 for a, b in itertools.pairwise(sequences))
    steps = {timestamp_delta(b.timestamp, a.timestamp) for a, b in itertools.pairwise(packets)}
    assert steps == {240}  # 30 ms of 8 kHz A-law per packet
    assert {len(p.payload) for p in packets} == {240}
    assert packets[0].marker
    assert not any(p.marker for p in packets[1:])
