"""RTCP packets and compounds: hand-written fixtures, round trips, validation, hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.media.rtcp import (
    SDES_CNAME,
    SDES_NAME,
    SDES_PRIV,
    SDES_TOOL,
    AppPacket,
    Goodbye,
    ReceiverReport,
    ReportBlock,
    RtcpCompound,
    SdesChunk,
    SdesItem,
    SenderReport,
    SourceDescription,
    UnknownRtcpPacket,
    clamp_cumulative_lost,
    is_rtcp,
    ntp_from_unix,
    ntp_middle,
)


def hexbytes(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", "").replace("\n", ""))


# Written out by hand from RFC 3550 §6.4.2 / §6.5: an RR with one report block (fraction 64/256,
# cumulative lost -1, one sequence cycle and highest 5, jitter 16, LSR, DLSR of one second),
# then an SDES with CNAME "a@b.c" (2 + 5 octets, one null octet ends the chunk on a word).
RR_SDES = hexbytes(
    "81c9 0007 01020304"
    " aabbccdd 40ffffff 00010005 00000010 12345678 00010000"
    " 81ca 0003 01020304 0105 61 40 62 2e 63 00"
)
# SR (§6.4.1) without report blocks, then a BYE with reason "bye" (length octet + 3 = one word).
SR_BYE = hexbytes(
    "80c8 0006 01020304 e8f0a1b2 80000000 00001000 0000000a 00000640 81cb 0002 01020304 03 62 79 65"
)


def test_receiver_report_and_sdes_fixture() -> None:
    compound = RtcpCompound.parse(RR_SDES)
    report, sdes = compound.packets
    assert report == ReceiverReport(
        0x01020304,
        (ReportBlock(0xAABBCCDD, 64, -1, 0x10005, 16, 0x12345678, 0x10000),),
    )
    assert sdes == SourceDescription((SdesChunk(0x01020304, (SdesItem(SDES_CNAME, b"a@b.c"),)),))
    assert isinstance(sdes, SourceDescription)
    assert sdes.cname(0x01020304) == "a@b.c"
    assert sdes.cname(5) is None
    assert bytes(compound) == RR_SDES


def test_sender_report_and_bye_fixture() -> None:
    compound = RtcpCompound.parse(SR_BYE)
    report, bye = compound.packets
    assert report == SenderReport(0x01020304, 0xE8F0A1B2_80000000, 0x1000, 10, 1600)
    assert bye == Goodbye((0x01020304,), b"bye")
    assert isinstance(bye, Goodbye)
    assert bye.text == "bye"
    assert bytes(compound) == SR_BYE
    assert compound.of_type(Goodbye) == [bye]


def test_rich_compound_round_trips_with_padding_on_the_last_packet() -> None:
    compound = RtcpCompound(
        (
            SenderReport(
                1,
                ntp_from_unix(1_700_000_000.25),
                123456,
                50,
                8000,
                (ReportBlock(2, 12, 300, 70000, 40, 5, 6), ReportBlock(3, 0, -5, 1, 2, 0, 0)),
                extension=b"EXT!",
            ),
            SourceDescription(
                (
                    SdesChunk(1, (SdesItem(SDES_CNAME, b"gw@10.0.0.1"), SdesItem(SDES_TOOL, b"x"))),
                    SdesChunk(2, ()),
                    SdesChunk(
                        3, (SdesItem(SDES_NAME, "Zoë".encode()), SdesItem(SDES_PRIV, b"\x01p"))
                    ),
                )
            ),
            Goodbye((1, 2), b"shutting down"),
            AppPacket(5, 1, b"TEST", b"\x00\x01\x02\x03"),
            UnknownRtcpPacket(205, 1, bytes(8)),
        ),
        padding=b"\x00\x00\x00\x04",
    )
    data = bytes(compound)
    assert len(data) % 4 == 0
    assert data[-1] == 4
    assert RtcpCompound.parse(data) == compound
    assert bytes(RtcpCompound.parse(data)) == data


@pytest.mark.parametrize("length", range(9))
def test_sdes_chunks_end_with_one_to_four_nulls_on_a_word(length: int) -> None:
    sdes = SourceDescription((SdesChunk(7, (SdesItem(SDES_CNAME, b"c" * length),)),))
    data = bytes(sdes)
    assert len(data) % 4 == 0
    nulls = len(data) - 4 - 4 - 2 - length
    assert 1 <= nulls <= 4
    assert data[-nulls:] == bytes(nulls)
    assert SourceDescription.parse(data) == sdes


def test_empty_chunk_and_bye_variants() -> None:
    assert bytes(SourceDescription((SdesChunk(9, ()),)))[4:] == hexbytes("00000009 00000000")
    assert bytes(Goodbye((9,)))[4:] == hexbytes("00000009")
    assert bytes(Goodbye((9,), b""))[4:] == hexbytes("00000009 00000000")
    for bye in (Goodbye(()), Goodbye((9,)), Goodbye((9,), b""), Goodbye((1, 2), b"abcd")):
        assert Goodbye.parse(bytes(bye)) == bye


def test_single_packet_parse_checks_the_type() -> None:
    rr = RR_SDES[:32]
    assert ReceiverReport.parse(rr).ssrc == 0x01020304
    with pytest.raises(RemoteProtocolError, match="expected RTCP SenderReport"):
        SenderReport.parse(rr)
    with pytest.raises(RemoteProtocolError, match="expected one RTCP packet"):
        ReceiverReport.parse(RR_SDES)


def _with(data: bytes, offset: int, new: bytes) -> bytes:
    return data[:offset] + new + data[offset + len(new) :]


RR = RR_SDES[:32]
SR = SR_BYE[:28]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "shorter than one header"),
        (RR_SDES[32:], "must start with an SR or RR"),
        (_with(RR_SDES, 0, b"\x41"), "version 1 is not 2"),
        (_with(RR_SDES, 32, b"\x41"), "version 1 is not 2"),
        (_with(RR_SDES, 2, b"\x00\x21"), "length field says 136 octets, only 48 remain"),
        (RR_SDES + b"\x80\xc9", "2 stray octets"),
        (_with(RR_SDES, 0, b"\xa1"), "padding bit set on a packet that is not the last"),
        (_with(RR_SDES, 0, b"\x82"), "RR with 2 report blocks needs 56 octets"),
        (_with(SR_BYE, 0, b"\x81"), "SR with 1 report blocks needs 52 octets"),
        (_with(RR_SDES, 32, b"\xa1"), "padding count 0"),
        (_with(RR_SDES[:-1] + b"\x0d", 32, b"\xa1"), "padding count 13"),
        (_with(RR_SDES, 32, b"\x82"), "cut short before its SSRC"),
        (RR + hexbytes("81ca 0002 01020304 0102 6162"), "no terminating null item"),
        (_with(RR_SDES, 41, b"\x07"), "runs past the packet end"),
        (RR + hexbytes("a1ca 0003 01020304 0103 616263 00 00 01"), "padding runs past"),
        (RR + hexbytes("81ca 0003 01020304 0103 616263 00 0001"), "padding holds non-null"),
        (RR + hexbytes("81ca 0004 01020304 0102 6162 00000000 00000000"), "4 octets after"),
        (_with(SR_BYE, 28, b"\x83"), "BYE announces 3 SSRCs"),
        (_with(SR_BYE, 36, b"\x05"), "reason length does not match"),
        (SR + hexbytes("81cb 0002 01020304 02 6162 01"), "reason padding holds non-null"),
        (SR + hexbytes("80cc 0001 01020304"), "APP is shorter"),
    ],
)
def test_invalid_compounds_are_remote_errors(data: bytes, reason: str) -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        RtcpCompound.parse(data)
    assert reason in caught.value.reason
    assert caught.value.status_hint is None


def test_unknown_packet_types_stay_opaque() -> None:
    # A feedback packet (RFC 4585 PT 205) we do not interpret: kept as header fields and body.
    data = SR + hexbytes("81cd 0002 01020304 0a0b0c0d")
    compound = RtcpCompound.parse(data)
    assert compound.packets[-1] == UnknownRtcpPacket(205, 1, hexbytes("01020304 0a0b0c0d"))
    assert bytes(compound) == data
    assert compound.summary().endswith("+ PT205")


@pytest.mark.parametrize("fixture", [RR_SDES, SR_BYE])
def test_every_truncation_raises_or_round_trips(fixture: bytes) -> None:
    for end in range(len(fixture)):
        try:
            compound = RtcpCompound.parse(fixture[:end])
        except RemoteProtocolError:
            continue
        assert bytes(compound) == fixture[:end]
        assert end in (28, 32)  # only whole packets can parse


def test_trailing_garbage_is_rejected() -> None:
    with pytest.raises(RemoteProtocolError):
        RtcpCompound.parse(RR_SDES + b"\x00")


@pytest.mark.parametrize(
    "value",
    [
        ReportBlock(1, fraction_lost=256),
        ReportBlock(1, cumulative_lost=0x800000),
        ReportBlock(1, cumulative_lost=-0x800001),
        ReportBlock(1, jitter=1 << 32),
        ReceiverReport(1, tuple(ReportBlock(i) for i in range(32))),
        ReceiverReport(1, extension=b"abc"),
        SenderReport(1, 1 << 64, 0, 0, 0),
        SourceDescription((SdesChunk(1, (SdesItem(SDES_NAME, bytes(256)),)),)),
        SourceDescription((SdesChunk(1, (SdesItem(0, b""),)),)),
        Goodbye((1,), bytes(256)),
        AppPacket(1, 1, b"ABC"),
        AppPacket(32, 1, b"ABCD"),
        UnknownRtcpPacket(300, 0, b""),
        RtcpCompound(()),
        RtcpCompound((ReceiverReport(1),), padding=b"\x00\x03"),
    ],
)
def test_invalid_values_are_refused_as_local_errors(value: object) -> None:
    with pytest.raises(LocalProtocolError):
        bytes(value)  # type: ignore[call-overload]


def test_cumulative_lost_saturates_to_24_bits() -> None:
    assert clamp_cumulative_lost(10**9) == 0x7FFFFF
    assert clamp_cumulative_lost(-(10**9)) == -0x800000
    assert clamp_cumulative_lost(-3) == -3
    block = ReportBlock(1, cumulative_lost=-0x800000)
    assert bytes(block)[5:8] == b"\x80\x00\x00"
    assert ReportBlock.parse(bytes(block)) == block


def test_ntp_helpers() -> None:
    assert ntp_from_unix(0.0) == 2_208_988_800 << 32
    assert ntp_from_unix(0.5) == (2_208_988_800 << 32) | 0x80000000
    assert ntp_middle(0x11223344_55667788) == 0x33445566


def test_rtcp_is_told_from_rtp_on_a_multiplexed_port() -> None:
    assert is_rtcp(RR_SDES)
    assert is_rtcp(SR_BYE)
    assert not is_rtcp(hexbytes("8000 0001 00000000 00000001"))  # PCMU
    assert not is_rtcp(hexbytes("80e5 0001 00000000 00000001"))  # telephone-event 101 + marker
    assert not is_rtcp(b"\x80")


def test_summary_names_the_packets() -> None:
    assert RtcpCompound.parse(SR_BYE).summary() == (
        "RTCP SR ssrc=0x01020304 pkts=10 + BYE reason='bye'"
    )
    assert RtcpCompound.parse(RR_SDES).summary() == (
        "RTCP RR ssrc=0x01020304 blocks=1 + SDES chunks=1"
    )


# --------------------------------------------------------------------------- property tests

u32 = st.integers(0, 0xFFFFFFFF)
blocks = st.builds(
    ReportBlock,
    u32,
    st.integers(0, 255),
    st.integers(-0x800000, 0x7FFFFF),
    u32,
    u32,
    u32,
    u32,
)
words = st.integers(0, 3).flatmap(lambda n: st.binary(min_size=4 * n, max_size=4 * n))
reports = st.one_of(
    st.builds(
        SenderReport,
        u32,
        st.integers(0, 2**64 - 1),
        u32,
        u32,
        u32,
        st.lists(blocks, max_size=3).map(tuple),
        words,
    ),
    st.builds(ReceiverReport, u32, st.lists(blocks, max_size=3).map(tuple), words),
)
items = st.builds(SdesItem, st.integers(1, 255), st.binary(max_size=20))
others = st.one_of(
    reports,
    st.builds(
        SourceDescription,
        st.lists(st.builds(SdesChunk, u32, st.lists(items, max_size=3).map(tuple)), max_size=3).map(
            tuple
        ),
    ),
    st.builds(Goodbye, st.lists(u32, max_size=3).map(tuple), st.none() | st.binary(max_size=20)),
    st.builds(AppPacket, st.integers(0, 31), u32, st.binary(min_size=4, max_size=4), words),
    st.builds(UnknownRtcpPacket, st.integers(205, 255), st.integers(0, 31), words),
)
compounds = st.builds(
    RtcpCompound,
    st.tuples(reports, st.lists(others, max_size=3)).map(lambda t: (t[0], *t[1])),
    st.just(b"") | st.sampled_from([b"\x00\x00\x00\x04", b"\x00\x00\x00\x00\x00\x00\x00\x08"]),
)


@given(compounds)
@settings(max_examples=200)
def test_any_compound_round_trips(compound: RtcpCompound) -> None:
    data = bytes(compound)
    assert RtcpCompound.parse(data) == compound
    assert bytes(RtcpCompound.parse(data)) == data


@given(st.binary(max_size=120))
@settings(max_examples=500)
def test_arbitrary_bytes_only_raise_the_protocol_error(data: bytes) -> None:
    try:
        compound = RtcpCompound.parse(data)
    except RemoteProtocolError:
        return
    assert bytes(compound) == data


@given(st.binary(min_size=4, max_size=80))
@settings(max_examples=300)
def test_plausible_headers_only_raise_the_protocol_error(tail: bytes) -> None:
    # Valid-looking first header (RR, right length) so parsing gets past the first checks.
    words_after = len(tail) // 4
    data = bytes((0x80, 201)) + words_after.to_bytes(2, "big") + tail[: 4 * words_after]
    try:
        compound = RtcpCompound.parse(data)
    except RemoteProtocolError:
        return
    assert bytes(compound) == data
