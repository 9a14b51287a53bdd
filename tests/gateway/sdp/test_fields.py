"""Typed SDP field values: parse what peers send, render what we send, reject what is broken."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import RemoteProtocolError
from gateway.sdp.fields import (
    Attribute,
    Bandwidth,
    Connection,
    MediaField,
    Origin,
    RepeatTimes,
    RtcpAddress,
    Timing,
    ZoneAdjustments,
    address_type_of,
    is_rtp_proto,
    typed_time_seconds,
)


def test_origin_fields_and_canonical_text() -> None:
    origin = Origin.parse("CiscoSystemsSIP-GW-UserAgent 4471 7023 IN IP4 192.0.2.45")
    assert origin == Origin("CiscoSystemsSIP-GW-UserAgent", 4471, 7023, "IN", "IP4", "192.0.2.45")
    assert str(origin) == "CiscoSystemsSIP-GW-UserAgent 4471 7023 IN IP4 192.0.2.45"
    # 64-bit and longer session ids (RFC 8866 §5.2 recommends NTP timestamps) stay exact.
    big = Origin.parse("- 18446744073709551617 0 IN IP6 2001:db8::20")
    assert big.session_id == 18446744073709551617
    assert big.addrtype == "IP6"


def test_origin_for_address_picks_the_address_type() -> None:
    assert str(Origin.for_address("2001:db8::1", 7, 8)) == "gwemu 7 8 IN IP6 2001:db8::1"
    assert str(Origin.for_address("gw.example.net", 7, 8, "x")) == "x 7 8 IN IP4 gw.example.net"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- 1 1 IN IP4", "o= needs 6 fields"),
        ("- 1 1 IN IP4 1.2.3.4 extra", "o= needs 6 fields"),
        ("- x1 1 IN IP4 1.2.3.4", "sess-id must be a decimal number"),
        ("- 1 +1 IN IP4 1.2.3.4", "sess-version must be a decimal number"),
        ("- 1 1 IN IP4 1.2.3.400", "not a valid IPv4 address"),
        ("- 1 1 IN IP6 [2001:db8::1]", "must not be bracketed"),
        ("- 1 1 IN IP6 2001:db8:::1", "not a valid IPv6 address"),
        ("- 1 1 IN IP4 host_name", "neither an IPv4 address nor a host name"),
    ],
)
def test_origin_errors(text: str, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message) as caught:
        Origin.parse(text)
    assert caught.value.status_hint == 400


def test_connection_unicast_multicast_and_hold() -> None:
    assert Connection.parse("IN IP4 192.0.2.1") == Connection("IN", "IP4", "192.0.2.1")
    multicast = Connection.parse("IN IP4 233.252.0.1/127/3")
    assert (multicast.ttl, multicast.count) == (127, 3)
    assert str(multicast) == "IN IP4 233.252.0.1/127/3"
    ipv6 = Connection.parse("IN IP6 ff1e:db8::1/3")
    assert (ipv6.ttl, ipv6.count) == (None, 3)
    assert Connection.parse("IN IP4 0.0.0.0").is_unspecified
    assert Connection.parse("IN IP6 ::").is_unspecified
    assert not Connection.parse("IN IP4 media.example.net").is_unspecified
    # Unknown address types are opaque tokens (RFC 8866 lets new ones be registered).
    assert Connection.parse("IN E164 +15550100").address == "+15550100"
    assert str(Connection.for_address("2001:db8::9")) == "IN IP6 2001:db8::9"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "c= nettype missing"),
        ("IN", "c= addrtype missing"),
        ("IN IP4", "c= address missing"),
        ("IN IP4 /127", "c= address missing"),
        ("IN IP4 1.2.3.4 5.6.7.8", "unexpected text after the address"),
        ("IN IP4 233.252.0.1/256", "multicast TTL 256 is out of range"),
        ("IN IP4 233.252.0.1/1/2/3", "malformed connection address"),
        ("IN IP6 ff1e::1/1/2", "malformed connection address"),
        ("IN IP4 233.252.0.1/x", "multicast TTL must be a decimal number"),
    ],
)
def test_connection_errors(text: str, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        Connection.parse(text)


def test_bandwidth_timing_repeat_zone() -> None:
    assert Bandwidth.parse("AS:64") == Bandwidth("AS", 64)
    assert str(Bandwidth("TIAS", 64000)) == "TIAS:64000"
    assert Timing.parse("3338481189 3370017201") == Timing(3338481189, 3370017201)
    repeat = RepeatTimes.parse("7d 1h 0 25h")
    assert (repeat.interval_seconds, repeat.duration_seconds) == (604800, 3600)
    assert repeat.offsets_seconds == (0, 90000)
    assert str(repeat) == "7d 1h 0 25h"
    zone = ZoneAdjustments.parse("2882844526 -1h 2898848070 0")
    assert zone.adjustments == ((2882844526, "-1h"), (2898848070, "0"))
    assert str(zone) == "2882844526 -1h 2898848070 0"
    assert typed_time_seconds("-2m", "z") == -120


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (Bandwidth.parse, "AS64", "b= must be <bwtype>:<bandwidth>"),
        (Bandwidth.parse, "AS:sixty", "bandwidth must be a decimal number"),
        (Timing.parse, "0", "t= needs <start-time> <stop-time>"),
        (Timing.parse, "0 -1", "stop-time must be a decimal number"),
        (RepeatTimes.parse, "7d 1h", "r= needs <interval> <duration>"),
        (RepeatTimes.parse, "7d -1h 0", "negative time"),
        (RepeatTimes.parse, "7w 1h 0", "time must be a decimal number"),
        (ZoneAdjustments.parse, "2882844526", "z= needs pairs"),
        (ZoneAdjustments.parse, "x -1h", "adjustment time must be a decimal number"),
    ],
)
def test_time_and_bandwidth_errors(parse: object, text: str, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        parse(text)  # type: ignore[operator]


def test_media_field() -> None:
    field = MediaField.parse("audio 49170/2 RTP/AVP 0 8 101")
    assert field == MediaField("audio", 49170, "RTP/AVP", ("0", "8", "101"), 2)
    assert str(field) == "audio 49170/2 RTP/AVP 0 8 101"
    # Non-RTP protocols carry opaque formats.
    assert MediaField.parse("image 40000 udptl t38").formats == ("t38",)
    assert MediaField.parse("application 0 TCP/MSRP *").formats == ("*",)
    assert is_rtp_proto("UDP/TLS/RTP/SAVPF") and not is_rtp_proto("udptl")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("audio", "m= port missing"),
        ("audio 4000", "m= proto missing"),
        ("audio 4000 RTP/AVP", "at least one format"),
        ("audio 70000 RTP/AVP 0", "port 70000 is out of range"),
        ("audio 4000/0 RTP/AVP 0", "number of ports must be at least 1"),
        ("audio 4000 RTP/AVP PCMU", "RTP payload type must be a decimal number"),
        ("audio 4000 RTP/AVP 128", "RTP payload type 128 is out of range"),
    ],
)
def test_media_field_errors(text: str, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        MediaField.parse(text)


def test_attributes_keep_property_empty_and_value_forms() -> None:
    assert Attribute.parse("sendrecv") == Attribute("sendrecv", None)
    assert Attribute.parse("x-empty:") == Attribute("x-empty", "")
    assert Attribute.parse("fmtp:18 annexb=no") == Attribute("fmtp", "18 annexb=no")
    for text in ("sendrecv", "x-empty:", "fmtp:18 annexb=no", "tool:a:b"):
        assert str(Attribute.parse(text)) == text
    for bad in ("", ":x", "two words:x"):
        with pytest.raises(RemoteProtocolError):
            Attribute.parse(bad)


def test_rtcp_attribute() -> None:
    assert RtcpAddress.parse("53020") == RtcpAddress(53020)
    with_address = RtcpAddress.parse("53020 IN IP6 2001:db8::8")
    assert with_address.connection == Connection("IN", "IP6", "2001:db8::8")
    assert str(with_address) == "53020 IN IP6 2001:db8::8"
    with pytest.raises(RemoteProtocolError, match="a=rtcp: port"):
        RtcpAddress.parse("x")
    with pytest.raises(RemoteProtocolError, match="a=rtcp: bad address"):
        RtcpAddress.parse("53020 IN IP4")


def test_address_type_of() -> None:
    assert address_type_of("192.0.2.1") == "IP4"
    assert address_type_of("::1") == "IP6"


@given(st.text(max_size=60))
def test_field_parsers_raise_only_the_protocol_error(text: str) -> None:
    for parse in (
        Origin.parse,
        Connection.parse,
        Bandwidth.parse,
        Timing.parse,
        RepeatTimes.parse,
        ZoneAdjustments.parse,
        MediaField.parse,
        Attribute.parse,
        RtcpAddress.parse,
    ):
        try:
            parse(text)
        except RemoteProtocolError:
            pass
