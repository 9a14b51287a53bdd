"""Messages: the tshark-verified fixtures rebuilt by the codec, round trips, shifts, defects."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError, RemoteProtocolError
from pbx_sim.q931 import (
    BearerCapability,
    CalledPartyNumber,
    CallingPartyNumber,
    CallReference,
    Cause,
    ChannelIdentification,
    Display,
    KeypadFacility,
    Layer1Protocol,
    Message,
    MessageType,
    ProgressIndicator,
    Q931Error,
    RawIE,
    SendingComplete,
    Shift,
    Signal,
)

M = MessageType


def cr(value: int, from_originator: bool) -> CallReference:
    return CallReference(value, flag=not from_originator)


def built_fixtures() -> dict[str, Message]:
    """The messages of tshark-checks/q931_tpkt_send.py, built from values (not from bytes).

    The IEs are passed in a scrambled order: Message.build must restore the s4.5.1 order.
    """
    return {
        "SETUP": Message.build(
            M.SETUP,
            cr(1, True),
            CalledPartyNumber("9725552222", 2, 1),
            CallingPartyNumber("3145551111", 2, 1, presentation=0, screening=0),
            KeypadFacility("5"),
            Display("Alice"),
            ProgressIndicator(3, location=0),
            ChannelIdentification.pri(1),
            BearerCapability.speech(Layer1Protocol.G711_ALAW),
            SendingComplete(),
        ),
        "CALL PROCEEDING": Message.build(
            M.CALL_PROCEEDING, cr(1, False), ChannelIdentification.pri(1, exclusive=True)
        ),
        "ALERTING": Message.build(M.ALERTING, cr(1, False), Signal(1), ProgressIndicator(8, 2)),
        "CONNECT": Message.build(M.CONNECT, cr(1, False)),
        "CONNECT ACK": Message.build(M.CONNECT_ACKNOWLEDGE, cr(1, True)),
        "DISCONNECT": Message.build(M.DISCONNECT, cr(1, True), Cause(16, location=0)),
        "RELEASE": Message.build(M.RELEASE, cr(1, False)),
        "RELEASE COMPLETE": Message.build(M.RELEASE_COMPLETE, cr(1, True)),
        "RELEASE COMPLETE busy (call 2)": Message.build(
            M.RELEASE_COMPLETE, cr(2, False), Cause(17, location=1)
        ),
    }


def test_codec_builds_the_tshark_verified_bytes(fixture_messages: dict[str, bytes]) -> None:
    built = built_fixtures()
    assert set(built) == set(fixture_messages)
    for name, wire in fixture_messages.items():
        assert bytes(built[name]) == wire, name


def test_fixtures_parse_to_the_same_values(fixture_messages: dict[str, bytes]) -> None:
    built = built_fixtures()
    for name, wire in fixture_messages.items():
        parsed = Message.parse(wire)
        assert parsed == built[name], name
        assert bytes(parsed) == wire


def test_fixture_accessors(fixture_messages: dict[str, bytes]) -> None:
    setup = Message.parse(fixture_messages["SETUP"])
    assert setup.name == "SETUP"
    assert setup.sending_complete
    assert setup.called == CalledPartyNumber("9725552222", 2, 1)
    assert setup.calling is not None and setup.calling.digits == "3145551111"
    assert setup.display == "Alice" and setup.keypad == "5"
    assert setup.channel is not None and setup.channel.channel == 1
    assert setup.bearer == BearerCapability.speech()
    assert [p.description for p in setup.progress] == [3]
    busy = Message.parse(fixture_messages["RELEASE COMPLETE busy (call 2)"])
    assert busy.cause == Cause(17, location=1)
    assert busy.call_ref == CallReference(2, flag=True)
    assert str(busy.call_ref) == "0x8002"


def test_every_prefix_and_trailing_garbage(fixture_messages: dict[str, bytes]) -> None:
    """Truncated fixtures: strict parsing either fails with Q931Error or yields a message that
    re-encodes to the prefix (a cut between elements).  Trailing junk after a valid message is
    an element framing error (cause 100), never silently accepted."""
    for wire in fixture_messages.values():
        for cut in range(len(wire)):
            try:
                parsed = Message.parse(wire[:cut])
            except Q931Error as error:
                assert error.cause in (95, 96, 100)
                continue
            assert bytes(parsed) == wire[:cut]
        with pytest.raises(Q931Error) as caught:
            Message.parse(wire + b"\x08\x05\x80")
        assert caught.value.cause == 100
        assert caught.value.call_ref is not None and caught.value.message_type is not None


@pytest.mark.parametrize(
    ("data", "cause"),
    [
        ("", 95),
        ("0802", 95),  # too short
        ("09020001 05", 95),  # not Q.931
        ("08120001 05", 81),  # call reference length octet bits 8-5 set
        ("0802 0001", 95),  # ends inside the call reference / before the type
        ("0802 0001 85", 97),  # message type bit 8 set
        ("0802 0001 24", 97),  # HOLD: a real type we do not implement
        ("0802 0001 05 1801a3", 96),  # SETUP without Bearer capability
        ("0802 0001 45", 96),  # DISCONNECT without Cause
        ("0802 0001 03", 96),  # PROGRESS without Progress indicator
        ("0802 0001 7d 080280 90", 96),  # STATUS without Call state
        ("0802 0001 46", 96),  # RESTART without Restart indicator
        ("0802 0001 45 0802 8010", 100),  # cause value octet without ext bit
        ("0802 0001 45 08", 100),  # element without length
        ("0802 0001 45 0805 8090", 100),  # element longer than the message
        ("0802 0001 45 080280 90 0200", 96),  # unknown comprehension-required element 0x02
    ],
)
def test_strict_parse_errors_carry_the_q850_cause(data: str, cause: int) -> None:
    with pytest.raises(Q931Error) as caught:
        Message.parse(bytes.fromhex(data.replace(" ", "")))
    assert caught.value.cause == cause
    assert caught.value.status_hint is None
    assert isinstance(caught.value, RemoteProtocolError)


def test_lenient_parse_keeps_what_strict_parse_refuses() -> None:
    data = bytes.fromhex("0802000124" "0802 8010".replace(" ", ""))
    message = Message.parse(data, lenient=True)
    assert message.message_type == 0x24
    assert message.ies == (RawIE(0x08, b"\x80\x10", defect="Cause: octet 4 (the cause value) "
                                                               "must end its group"),)
    assert bytes(message) == data


def test_unknown_elements_and_codesets_are_kept_raw() -> None:
    data = bytes.fromhex(
        "0802 0001 01"  # ALERTING
        "1e02 8088"  # progress indicator
        "7e03 04 6869"  # user-user (known to Q.931, not implemented here)
        "b3"  # congestion level (single octet)
        "9d 0401 ff"  # non-locking shift to codeset 5, one codeset-5 element
        "3401 01"  # back in codeset 0: signal
        "96 0102 abcd a1"  # locking shift to codeset 6: element and a single-octet one
        .replace(" ", "")
    )
    message = Message.parse(data)
    assert message.ies == (
        ProgressIndicator(8, 0),
        RawIE(0x7E, b"\x04hi"),
        RawIE(0xB3),
        Shift(5, locking=False),
        RawIE(0x04, b"\xff", codeset=5),
        Signal(1),
        Shift(6),
        RawIE(0x01, b"\xab\xcd", codeset=6),
        RawIE(0xA1, codeset=6),  # 0xA1 in codeset 6 is not Sending complete
    )
    assert bytes(message) == data
    assert not message.sending_complete
    assert message.get(Signal) == Signal(1)


def test_build_orders_elements_and_shifts() -> None:
    message = Message.build(
        M.SETUP,
        CallReference(5, length=1),
        RawIE(0x01, b"\x00", codeset=7),
        CalledPartyNumber("1"),
        RawIE(0x02, b"\x00", codeset=6),
        None,
        BearerCapability.speech(),
        ProgressIndicator(1),
        ProgressIndicator(3),
        SendingComplete(),
    )
    kinds = [type(e).__name__ for e in message.ies]
    assert kinds == ["SendingComplete", "BearerCapability", "ProgressIndicator",
                     "ProgressIndicator", "CalledPartyNumber", "Shift", "RawIE", "Shift", "RawIE"]
    assert [p.description for p in message.progress] == [1, 3]  # repeats keep their order
    assert message.ies[5] == Shift(6) and message.ies[7] == Shift(7)
    assert Message.parse(bytes(message)) == message
    with pytest.raises(LocalProtocolError):
        Message.build(M.SETUP, CallReference(1), Shift(6))
    with pytest.raises(LocalProtocolError):
        Message.build(0x85, CallReference(1))


def test_duplicated_elements_first_one_counts() -> None:
    data = bytes.fromhex("0802 0001 45 0802 8090 0802 8091".replace(" ", ""))
    message = Message.parse(data)
    assert message.cause == Cause(16)
    assert len(message.all(Cause)) == 2


@pytest.mark.parametrize(
    ("ref", "wire", "text"),
    [
        (CallReference(1), "020001", "0x0001"),
        (CallReference(1, flag=True), "028001", "0x8001"),
        (CallReference(0x7FFF, flag=True), "02ffff", "0xFFFF"),
        (CallReference(5, length=1), "0105", "0x05"),
        (CallReference(5, flag=True, length=1), "0185", "0x85"),
        (CallReference.global_ref(), "020000", "0x0000(global)"),
        (CallReference.dummy(), "00", "dummy"),
        (CallReference(1, length=3), "03000001", "0x000001"),
    ],
)
def test_call_references(ref: CallReference, wire: str, text: str) -> None:
    message = Message.build(M.STATUS_ENQUIRY, ref)
    encoded = bytes(message)
    assert encoded[1:-1] == bytes.fromhex(wire)
    assert Message.parse(encoded).call_ref == ref
    assert str(ref) == text
    assert ref.reply().reply() == ref


def test_call_reference_limits() -> None:
    with pytest.raises(LocalProtocolError):
        CallReference(0x8000)
    with pytest.raises(LocalProtocolError):
        CallReference(128, length=1)
    with pytest.raises(LocalProtocolError):
        CallReference(1, length=0)
    with pytest.raises(LocalProtocolError):
        CallReference(1, length=16)
    assert CallReference(1, length=15).length == 15
    assert CallReference.global_ref().is_global and not CallReference(1).is_global
    assert CallReference.dummy().is_dummy


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_only_raise_q931_error(data: bytes) -> None:
    for lenient in (False, True):
        try:
            message = Message.parse(data, lenient=lenient)
        except RemoteProtocolError as error:
            assert isinstance(error, Q931Error)
            continue
        assert bytes(message) == data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=48))
def test_arbitrary_elements_after_a_valid_header(body: bytes) -> None:
    """Q.931-looking messages (right discriminator/reference/type) with random elements."""
    data = bytes.fromhex("0802000105") + body
    try:
        message = Message.parse(data, lenient=True)
    except Q931Error as error:
        assert error.cause == 100
        return
    assert bytes(message) == data
