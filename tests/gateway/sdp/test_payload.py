"""RTP payload formats: rtpmap, fmtp, the RFC 3551 static table, RFC 4733 event lists."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import RemoteProtocolError
from gateway.sdp.payload import (
    DEFAULT_TELEPHONE_EVENTS,
    STATIC_PAYLOAD_TYPES,
    Fmtp,
    PayloadFormat,
    RtpMap,
    format_event_list,
    format_parameters,
    g729_annex_b,
    parse_event_list,
    static_payload_type,
)


@pytest.mark.parametrize(
    ("payload_type", "name", "clock"),
    [(0, "PCMU", 8000), (3, "GSM", 8000), (4, "G723", 8000), (8, "PCMA", 8000),
     (9, "G722", 8000), (13, "CN", 8000), (18, "G729", 8000), (34, "H263", 90000)],
)  # fmt: skip
def test_static_payload_types_follow_rfc_3551(payload_type: int, name: str, clock: int) -> None:
    fmt = STATIC_PAYLOAD_TYPES[payload_type]
    assert (fmt.encoding_name, fmt.clock_rate, fmt.channels) == (name, clock, 1)
    assert static_payload_type(name.lower(), clock) == payload_type


def test_dynamic_codecs_have_no_static_number() -> None:
    assert static_payload_type("telephone-event", 8000) is None
    assert static_payload_type("PCMU", 16000) is None
    assert static_payload_type("L16", 44100, 2) == 10
    assert 96 not in STATIC_PAYLOAD_TYPES


def test_rtpmap_forms() -> None:
    assert RtpMap.parse("101 telephone-event/8000") == RtpMap(101, "telephone-event", 8000)
    stereo = RtpMap.parse("96 opus/48000/2")
    assert stereo.channels == 2
    assert str(stereo) == "96 opus/48000/2"
    assert str(RtpMap.parse("0 PCMU/8000")) == "0 PCMU/8000"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "payload type must be a decimal number"),
        ("96", "needs <encoding name>/<clock rate>"),
        ("96 opus", "needs <encoding name>/<clock rate>"),
        ("96 /8000", "needs <encoding name>/<clock rate>"),
        ("96 opus/48000/2/1", "too many '/' parts"),
        ("96 opus/fast", "clock rate must be a decimal number"),
        ("96 opus/0", "clock rate or channels is 0"),
        ("200 opus/48000", "payload type 200 is out of range"),
    ],
)
def test_rtpmap_errors(text: str, message: str) -> None:
    with pytest.raises(RemoteProtocolError, match=message):
        RtpMap.parse(text)


def test_fmtp_and_its_parameters() -> None:
    fmtp = Fmtp.parse("97 profile-level-id=42e01f;packetization-mode=1")
    assert fmtp.format == "97"
    assert format_parameters(fmtp.parameters) == {
        "profile-level-id": "42e01f",
        "packetization-mode": "1",
    }
    assert format_parameters("Annexb = No") == {"annexb": "No"}
    assert format_parameters(None) == {}
    assert format_parameters("0-15") == {"0-15": ""}
    with pytest.raises(RemoteProtocolError):
        Fmtp.parse("   ")


def test_g729_annex_b_defaults_to_yes() -> None:
    # RFC 4856 §2.1.9: "yes" is implied when the parameter is omitted.
    assert g729_annex_b(None)
    assert g729_annex_b("annexb=yes")
    assert not g729_annex_b("annexb=no")
    assert not g729_annex_b("annexb=NO")


def test_event_lists() -> None:
    assert parse_event_list(None) == DEFAULT_TELEPHONE_EVENTS == frozenset(range(16))
    assert parse_event_list("0-15,66,70") == frozenset({*range(16), 66, 70})
    assert parse_event_list("events=0-16") == frozenset(range(17))
    assert format_event_list(range(17)) == "0-16"
    assert format_event_list({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    for bad in ("", "15-0", "0-256", "a-b", "1,,2"):
        with pytest.raises(RemoteProtocolError):
            parse_event_list(bad)


@given(st.frozensets(st.integers(0, 255), min_size=1))
def test_event_lists_round_trip(events: frozenset[int]) -> None:
    assert parse_event_list(format_event_list(events)) == events


def test_payload_format_matching_ignores_name_case() -> None:
    fmt = PayloadFormat(96, "Telephone-Event", 8000)
    assert fmt.is_telephone_event
    assert fmt.same_codec("telephone-event", 8000)
    assert not fmt.same_codec("telephone-event", 16000)
    assert str(PayloadFormat(96, "opus", 48000, 2)) == "96 opus/48000/2"
