"""Caller ID: formatted lines, SDMF/MDMF packets, the block collector."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError, RemoteProtocolError
from hardware.protocols.caller_id import (
    CallerId,
    CallerIdCollector,
    CallerIdLine,
    checksum,
    decode_packet,
    encode_mdmf,
    encode_sdmf,
    formatted_lines,
    match_unformatted,
    parse_hex,
)

# The GR-30 SDMF example published with its checksum (all bytes sum to 0): an outside check of
# the checksum rule.  The withheld-SDMF and MDMF examples of the same page carry mistyped checksum
# bytes, so their bodies are used with the checksum computed.
SDMF = parse_hex("04 12 30 39 33 30 31 32 32 34 36 30 39 35 35 35 31 32 31 32 51")
_PRIVATE_BODY = parse_hex("04 09 30 39 33 30 31 32 32 34 50")
SDMF_PRIVATE = _PRIVATE_BODY + bytes([checksum(_PRIVATE_BODY)])
_MDMF_BODY = parse_hex(
    "80 20 01 08 30 33 32 34 30 39 30 32 07 08 4A 4F 48 4E 20 44 4F 45"
    " 02 0A 38 30 30 35 35 35 31 32 31 32"
)
MDMF = _MDMF_BODY + bytes([checksum(_MDMF_BODY)])


@pytest.mark.parametrize(
    ("line", "tag", "value", "separator"),
    [
        ("NMBR = 5551234", "NMBR", "5551234", " = "),
        ("NMBR=5551234", "NMBR", "5551234", "="),
        ("NAME = JOHN DOE", "NAME", "JOHN DOE", " = "),
        ("DATE =0321", "DATE", "0321", " ="),
        ("DDN_NMBR= 8005551212", "DDN_NMBR", "8005551212", "= "),
        ("MESG = 060342", "MESG", "060342", " = "),
        ("NAME = ", "NAME", "", " = "),
    ],
)
def test_tag_lines_round_trip(line: str, tag: str, value: str, separator: str) -> None:
    parsed = CallerIdLine.parse(line)
    assert (parsed.tag, parsed.value, parsed.separator) == (tag, value, separator)
    assert str(parsed) == line and bytes(parsed) == line.encode() + b"\r\n"


@pytest.mark.parametrize("line", ["RING", "OK", "NUMBER = 5", "= 5", "NMBR 5551234", "X" * 300])
def test_non_tag_lines(line: str) -> None:
    assert CallerIdLine.match(line) is None
    with pytest.raises(RemoteProtocolError):
        CallerIdLine.parse(line)


def test_sdmf_decodes() -> None:
    assert decode_packet(SDMF) == CallerId(number="6095551212", date="0930", time="1224")
    assert decode_packet(SDMF_PRIVATE) == CallerId(
        number_absent="private", date="0930", time="1224"
    )
    assert not decode_packet(SDMF_PRIVATE).presentation_allowed


def test_mdmf_decodes() -> None:
    assert decode_packet(MDMF) == CallerId(
        number="8005551212", name="JOHN DOE", date="0324", time="0902"
    )


def test_checksum_matches_the_published_example() -> None:
    assert checksum(SDMF[:-1]) == SDMF[-1] == 0x51


@pytest.mark.parametrize(
    "packet",
    [
        SDMF[:-1] + bytes([SDMF[-1] ^ 1]),  # checksum error
        SDMF[:-2],  # truncated
        SDMF + b"\x00",  # trailing data
        b"\x04",
        b"",
        bytes([0x82, 0x03, 0x0B, 0x01, 0xFF])
        + bytes([checksum(bytes([0x82, 0x03, 0x0B, 0x01, 0xFF]))]),
        bytes([0x04, 0x02, 0x30, 0x30]) + bytes([checksum(bytes([0x04, 0x02, 0x30, 0x30]))]),
        bytes([0x80, 0x03, 0x02, 0x05, 0x31])
        + bytes([checksum(bytes([0x80, 0x03, 0x02, 0x05, 0x31]))]),
    ],
)
def test_bad_packets_raise_the_protocol_error(packet: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        decode_packet(packet)


def test_unknown_mdmf_parameters_are_kept_as_messages() -> None:
    body = bytes([0x01, 0x08]) + b"01011200" + bytes([0x0B, 0x01, 0xFF])
    packet = bytes([0x80, len(body)]) + body
    packet += bytes([checksum(packet)])
    assert decode_packet(packet).messages == ("0B01FF",)


def test_unformatted_lines() -> None:
    assert match_unformatted(MDMF.hex().upper()) == decode_packet(MDMF)
    assert match_unformatted(" ".join(f"{b:02x}" for b in SDMF)) == decode_packet(SDMF)
    for line in ("RING", "0412", "ZZ" * 10, SDMF.hex()[:-2] + "00"):
        assert match_unformatted(line) is None
    with pytest.raises(RemoteProtocolError):
        parse_hex("0G")


def test_encoders() -> None:
    cid = CallerId(number="6095551212", date="0930", time="1224")
    assert encode_sdmf(cid) == SDMF
    assert encode_sdmf(CallerId(number_absent="private", date="0930", time="1224")) == SDMF_PRIVATE
    with pytest.raises(LocalProtocolError):
        encode_mdmf(CallerId(number="1", date="13"))
    with pytest.raises(LocalProtocolError):
        encode_mdmf(CallerId(name="x" * 300))


def test_collector_rules() -> None:
    collector = CallerIdCollector()
    for line in ("DATE = 0321", "TIME = 1405", "NMBR = 5551234"):
        collector.add_line(CallerIdLine.parse(line))
    assert collector.has_number and not collector.complete
    collector.add_line(CallerIdLine.parse("NAME = JOHN DOE"))
    assert collector.complete
    assert collector.result() == CallerId(
        number="5551234", name="JOHN DOE", date="0321", time="1405"
    )
    number_only = CallerIdCollector(expect_name=False)
    number_only.add_line(CallerIdLine.parse("NMBR=O"))
    assert number_only.complete and number_only.result() == CallerId(number_absent="unavailable")
    packet = CallerIdCollector()
    packet.add_line(CallerIdLine("MESG", MDMF.hex()))
    assert packet.complete and packet.result().name == "JOHN DOE"
    unknown = CallerIdCollector()
    unknown.add_line(CallerIdLine.parse("MESG = 060342"))
    assert unknown.result().messages == ("060342",) and not unknown.complete
    unknown.reset()
    assert unknown.empty


names = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30)
numbers = st.text("0123456789", min_size=1, max_size=15)
stamps = st.tuples(st.integers(1, 12), st.integers(1, 31), st.integers(0, 23), st.integers(0, 59))


@st.composite
def caller_ids(draw: st.DrawFn) -> CallerId:
    month, day, hour, minute = draw(stamps)
    number = draw(st.one_of(numbers, st.none()))
    # A name that is just "P" or "O" reads as an absence code: the formatted form cannot tell.
    name = draw(
        st.one_of(names.map(str.strip).filter(lambda n: n not in ("", "P", "O")), st.none())
    )
    return CallerId(
        number=number,
        number_absent=None if number else draw(st.sampled_from(["private", "unavailable"])),
        name=name,
        name_absent=None if name else draw(st.sampled_from(["private", "unavailable"])),
        date=f"{month:02d}{day:02d}",
        time=f"{hour:02d}{minute:02d}",
    )


@settings(max_examples=150, deadline=None)
@given(caller_ids())
def test_packets_round_trip(cid: CallerId) -> None:
    assert decode_packet(encode_mdmf(cid)) == cid
    sdmf = decode_packet(encode_sdmf(cid))
    assert (sdmf.number, sdmf.number_absent, sdmf.date, sdmf.time) == (
        cid.number,
        cid.number_absent,
        cid.date,
        cid.time,
    )


@settings(max_examples=150, deadline=None)
@given(caller_ids(), st.sampled_from([" = ", "=", "= ", " ="]))
def test_formatted_lines_collect_back(cid: CallerId, separator: str) -> None:
    collector = CallerIdCollector()
    for line in formatted_lines(cid, separator):
        collector.add_line(CallerIdLine.parse(str(line)))
    assert collector.complete and collector.result() == cid


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_arbitrary_packets_only_raise_the_protocol_error(data: bytes) -> None:
    try:
        decode_packet(data)
    except RemoteProtocolError:
        pass
    assert match_unformatted(data.hex()) is None or len(data) >= 3


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_arbitrary_lines_never_raise_in_match(text: str) -> None:
    CallerIdLine.match(text)
    match_unformatted(text)
