"""Information elements: known encodings, round trips, and hostile contents."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError, RemoteProtocolError
from pbx_sim.q931 import (
    BearerCapability,
    CalledPartyNumber,
    CallingPartyNumber,
    CallStateIE,
    Cause,
    ChannelIdentification,
    Display,
    KeypadFacility,
    Layer1Protocol,
    NotificationIndicator,
    ProgressIndicator,
    Q931Error,
    RawIE,
    RestartIndicator,
    SendingComplete,
    Shift,
    Signal,
)
from pbx_sim.q931.ie import CODESET0_ELEMENTS

# (element, its encoding) - hand-encoded bytes from tshark-checks/q931_tpkt_send.py (verified by
# tshark) and from the Q.931 s4.5 figures.
KNOWN = [
    (BearerCapability.speech(Layer1Protocol.G711_ALAW), "040380 90a3"),
    (BearerCapability.speech(Layer1Protocol.G711_ULAW), "040380 90a2"),
    (BearerCapability(0x10, Layer1Protocol.G711_ULAW), "040390 90a2"),  # 3.1 kHz audio
    (BearerCapability(0x08, None), "04028890"),  # unrestricted digital, no layer 1 octet
    (BearerCapability(0x08, None, transfer_rate=0x18, rate_multiplier=2), "0403 88 98 82"),
    (BearerCapability(0x08, 0x01, layer1_extension=bytes([0x0F, 0x80])), "0405 88 90 21 0f 80"),
    (BearerCapability(0x08, None, upper_layers=bytes([0xC6])), "0403 88 90 c6"),
    (ChannelIdentification.pri(1), "1803a1 8381"),
    (ChannelIdentification.pri(1, exclusive=True), "1803a9 8381"),
    (ChannelIdentification(channel_numbers=(1, 2, 3)), "1805a1 83 01 02 83"),
    (ChannelIdentification.bri(2, exclusive=True), "18018a"),
    (ChannelIdentification.any_channel(), "1801a3"),
    (ChannelIdentification(selection=0, d_channel=True), "1801a4"),
    (ChannelIdentification(channel_numbers=(5,), interface_id=bytes([0x81])), "1804e1 81 83 85"),
    (ChannelIdentification(slot_map=bytes([0, 0, 1])), "1805a1 93 000001"),
    (Cause(16), "0802 80 90"),
    (Cause(17, location=1), "0802 81 91"),
    (Cause(96, diagnostics=bytes([0x04])), "0803 80 e0 04"),
    (Cause(16, recommendation=0), "0803 00 80 90"),
    (ProgressIndicator(3), "1e02 80 83"),
    (ProgressIndicator(8, location=2), "1e02 82 88"),
    (CallingPartyNumber("3145551111", 2, 1, 0, 0), "6c0c 21 80" + b"3145551111".hex()),
    (CallingPartyNumber("", 0, 1, 1, 3), "6c02 01 a3"),  # restricted, network provided, no digits
    (CallingPartyNumber("5551234"), "6c08 81" + b"5551234".hex()),
    (CalledPartyNumber("9725552222", 2, 1), "700b a1" + b"9725552222".hex()),
    (CalledPartyNumber("*#12"), "7005 81" + b"*#12".hex()),
    (Display("Alice"), "2805" + b"Alice".hex()),
    (KeypadFacility("5"), "2c01 35"),
    (Signal(1), "3401 01"),
    (CallStateIE(10), "1401 0a"),
    (NotificationIndicator(1), "2701 81"),
    (RestartIndicator(7), "7901 87"),
    (RestartIndicator(0), "7901 80"),
]


@pytest.mark.parametrize(("element", "encoded"), KNOWN, ids=lambda v: str(v)[:40])
def test_known_encodings_round_trip(element: object, encoded: str) -> None:
    wire = bytes.fromhex(encoded.replace(" ", ""))
    assert bytes(element) == wire  # type: ignore[call-overload]
    parsed = type(element).parse(wire)  # type: ignore[attr-defined]
    assert parsed == element
    assert bytes(parsed) == wire


def test_single_octet_elements() -> None:
    assert bytes(SendingComplete()) == b"\xa1"
    assert SendingComplete.parse(b"\xa1") == SendingComplete()
    assert bytes(Shift(6)) == b"\x96"
    assert bytes(Shift(5, locking=False)) == b"\x9d"
    assert Shift.parse(b"\x9d") == Shift(5, locking=False)
    assert bytes(RawIE(0xB3)) == b"\xb3"  # congestion level, kept raw
    with pytest.raises(Q931Error):
        SendingComplete.parse(b"\xa0")
    with pytest.raises(Q931Error):
        Shift.parse(b"\xa1")


def test_convenience_properties() -> None:
    assert ChannelIdentification.pri(7).channel == 7
    assert ChannelIdentification.bri(2).channel == 2
    assert ChannelIdentification.any_channel().channel is None
    assert ProgressIndicator(8).inband and ProgressIndicator(1).inband
    assert not ProgressIndicator(3).inband
    assert CallingPartyNumber("1").presentation_allowed
    assert not CallingPartyNumber("1", presentation=1, screening=0).presentation_allowed


@pytest.mark.parametrize(
    ("contents", "reason"),
    [
        ("", "too short"),
        ("80", "too short"),
        ("0090a3", "octet 3 must end its group"),
        ("8010a3", "octet 4 must end its group"),
        ("8090 03", "layer 2 or layer 3"),  # the octet after 4 names no layer
        ("8090 23", "ends inside an octet group"),  # octet 5 announces 5a, which is missing
        ("8098", "too short"),  # multirate without octet 4.1
        ("80 90 a3 00 00 00 00 00 00 00 00", "exceed the maximum"),  # longer than 12 octets
    ],
)
def test_bearer_capability_rejects(contents: str, reason: str) -> None:
    with pytest.raises(Q931Error, match=reason) as caught:
        BearerCapability.from_contents(bytes.fromhex(contents.replace(" ", "")))
    assert caught.value.cause == 100
    assert caught.value.ie_identifier == 0x04
    assert caught.value.status_hint is None


@pytest.mark.parametrize(
    "contents",
    [
        "",
        "21",  # PRI, channel indicated, but octet 3.2 missing (and octet 3 ext bit clear)
        "a1",  # PRI, channel indicated, octet 3.2 missing
        "a1 83",  # octet 3.2 without a channel number
        "a1 83 01",  # channel number group never ends
        "a1 03 81",  # octet 3.2 without ext bit
        "b1 83 81",  # spare bit set
        "a3 83 81",  # 'any channel' followed by channel octets
        "8a 81",  # BRI with trailing octets
        "e1 01",  # interface identifier that never ends
        "a1 93",  # slot map announced, missing
    ],
)
def test_channel_identification_rejects(contents: str) -> None:
    with pytest.raises(Q931Error) as caught:
        ChannelIdentification.from_contents(bytes.fromhex(contents.replace(" ", "")))
    assert caught.value.cause == 100


@pytest.mark.parametrize("contents", ["", "80", "80 10", "00 00 90", "90 90", "00 80"])
def test_cause_rejects(contents: str) -> None:
    with pytest.raises(Q931Error):
        Cause.from_contents(bytes.fromhex(contents.replace(" ", "")))


@pytest.mark.parametrize(
    ("kind", "contents"),
    [
        (ProgressIndicator, "80"),
        (ProgressIndicator, "80 88 00"),
        (ProgressIndicator, "00 88"),
        (ProgressIndicator, "90 88"),
        (CalledPartyNumber, ""),
        (CalledPartyNumber, "01 35"),  # octet 3 without ext (called number has no octet 3a)
        (CalledPartyNumber, "81 5a"),  # 'Z' is no digit
        (CalledPartyNumber, "81 b5"),  # bit 8 set
        (CallingPartyNumber, "21"),  # octet 3a missing
        (CallingPartyNumber, "21 00 35"),  # octet 3a without ext
        (CallingPartyNumber, "21 9c 35"),  # octet 3a spare bits
        (Display, "c3"),
        (Display, (b"x" * 81).hex()),
        (KeypadFacility, ""),
        (KeypadFacility, (b"1" * 33).hex()),
        (KeypadFacility, "07"),  # control character
        (Signal, ""),
        (Signal, "01 01"),
        (CallStateIE, ""),
        (CallStateIE, "0a 0a"),
        (NotificationIndicator, "01"),
        (RestartIndicator, "85"),  # reserved class
        (RestartIndicator, "07"),
        (RestartIndicator, "f7"),
    ],
)
def test_other_elements_reject(kind: type, contents: str) -> None:
    with pytest.raises(Q931Error) as caught:
        kind.from_contents(bytes.fromhex(contents.replace(" ", "")))
    assert caught.value.cause == 100
    assert caught.value.ie_identifier == kind.IDENTIFIER


def test_whole_element_framing_is_checked() -> None:
    with pytest.raises(Q931Error, match="expected identifier"):
        Cause.parse(bytes.fromhex("0402 8090"))
    with pytest.raises(Q931Error, match="length octet"):
        Cause.parse(bytes.fromhex("0803 8090"))
    with pytest.raises(Q931Error):
        Cause.parse(b"\x08")


def test_truncating_any_known_encoding_fails_cleanly() -> None:
    """Every strict prefix of a known element either fails with Q931Error or is itself valid
    (and then re-encodes to the same bytes) - never anything else."""
    for element, encoded in KNOWN:
        wire = bytes.fromhex(encoded.replace(" ", ""))
        kind = type(element)
        for cut in range(len(wire)):
            prefix = wire[:cut]
            try:
                parsed = kind.parse(prefix)
            except Q931Error:
                continue
            assert bytes(parsed) == prefix


@pytest.mark.parametrize(
    "build",
    [
        lambda: Cause(128),
        lambda: Cause(16, location=16),
        lambda: ProgressIndicator(200),
        lambda: CalledPartyNumber("12x"),
        lambda: CallingPartyNumber("1", presentation=0),
        lambda: Display("é"),
        lambda: Display("x" * 81),
        lambda: KeypadFacility(""),
        lambda: ChannelIdentification(),  # PRI 'indicated' without a channel
        lambda: ChannelIdentification.bri(3),
        lambda: ChannelIdentification(channel_numbers=(1,), selection=3),
        lambda: BearerCapability(transfer_rate=0x18),  # multirate without multiplier
        lambda: BearerCapability(layer1_protocol=None, layer1_extension=b"\x80"),
        lambda: RestartIndicator(3),
        lambda: RawIE(0xA1, b"x"),
        lambda: RawIE(0x96),
        lambda: Shift(8),
        lambda: Signal(256),
    ],
)
def test_invalid_values_are_our_callers_bug(build: object) -> None:
    with pytest.raises(LocalProtocolError):
        build()  # type: ignore[operator]


@settings(max_examples=300, deadline=None)
@given(identifier=st.sampled_from(sorted(CODESET0_ELEMENTS)), contents=st.binary(max_size=40))
def test_arbitrary_contents_only_raise_q931_error(identifier: int, contents: bytes) -> None:
    kind = CODESET0_ELEMENTS[identifier]
    try:
        parsed = kind.from_contents(contents)
    except RemoteProtocolError as error:
        assert isinstance(error, Q931Error)
        assert error.cause == 100
        return
    assert parsed.contents() == contents  # whatever decodes, re-encodes byte for byte
