"""Error handling of Q.931 s5.8: what a link answers to a peer that gets things wrong."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.errors import LocalProtocolError
from gateway.trace import TraceRecorder
from pbx_sim.q931 import (
    BearerCapability,
    CalledPartyNumber,
    CallKey,
    CallOffered,
    CallReference,
    CallReleased,
    CallState,
    CallStateIE,
    Cause,
    ChannelIdentification,
    DisconnectIndication,
    LinkClosed,
    Message,
    MessageType,
    ProgressIndicator,
    ProtocolViolation,
    Q931Config,
    Q931Link,
    RawIE,
    RestartClass,
    RestartIndicator,
    RestartReceived,
    StatusReceived,
    tpkt_frame,
)

M = MessageType
S = CallState
CH1 = ChannelIdentification.pri(1)
SPEECH = BearerCapability.speech()


def to(call: CallKey) -> CallReference:
    return CallReference(call.value, flag=call.ours)


def offered(link: Q931Link, peer: object, value: int = 7, *ies: object) -> CallKey:
    """Have the peer offer a call (SETUP) and return its key."""
    peer.send(Message.build(M.SETUP, CallReference(value), SPEECH, CH1, *ies))  # type: ignore[attr-defined]
    events = peer.events()  # type: ignore[attr-defined]
    assert isinstance(events[0], CallOffered)
    return events[0].call


def active_outgoing(link: Q931Link, peer: object) -> CallKey:
    call = link.setup(0.0, called="5551234")
    peer.send(Message.build(M.CONNECT, to(call)))  # type: ignore[attr-defined]
    link.connect_ack(call, 0.0)
    peer.read()  # type: ignore[attr-defined]
    peer.events()  # type: ignore[attr-defined]
    return call


def only(messages: list[Message]) -> Message:
    assert len(messages) == 1, messages
    return messages[0]


# ------------------------------------------------------------------ s5.8.4 message sequence


def test_message_in_the_wrong_state_gets_status_101(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = link.setup(0.0, called="1")
    peer.read()
    peer.send(Message.build(M.CONNECT_ACKNOWLEDGE, to(call)))
    status = only(peer.read())
    assert status.message_type == M.STATUS
    assert status.call_ref == CallReference(call.value)  # from us, the allocating side
    assert status.cause == Cause(101, diagnostics=bytes([M.CONNECT_ACKNOWLEDGE]))
    assert status.call_state == CallStateIE(1)
    assert link.state(call) == S.CALL_INITIATED  # no state change
    (violation,) = peer.events()
    assert isinstance(violation, ProtocolViolation) and violation.cause == 101


def test_unknown_message_type_gets_status_97(wire: Callable) -> None:
    link = Q931Link("network")
    peer = wire(link)
    call = offered(link, peer)
    link.connect(call, 0.0)
    peer.read()
    peer.send(Message(0x24, to(call)))  # HOLD (Q.932): not implemented here
    status = only(peer.read())
    assert status.cause == Cause(97, location=1, diagnostics=b"\x24")
    assert status.call_state == CallStateIE(10)


def test_connect_acknowledge_is_unexpected_for_a_network_caller(wire: Callable) -> None:
    link = Q931Link("network")
    peer = wire(link)
    call = link.setup(0.0, called="1", channel=CH1)
    peer.send(Message.build(M.CONNECT, to(call)))
    link.connect_ack(call, 0.0)
    peer.read()
    peer.send(Message.build(M.CONNECT_ACKNOWLEDGE, to(call)))
    assert only(peer.read()).cause.value == 101  # type: ignore[union-attr]


def test_status_enquiry_is_answered_with_the_call_state(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = offered(link, peer)
    link.alerting(call, 0.0)
    peer.read()
    peer.send(Message.build(M.STATUS_ENQUIRY, to(call)))
    status = only(peer.read())
    assert status.message_type == M.STATUS
    assert status.call_ref == CallReference(call.value, flag=True)
    assert status.cause == Cause(30)
    assert status.call_state == CallStateIE(7)


# -------------------------------------------------------------- s5.8.6 mandatory elements


def test_setup_without_bearer_capability_is_refused_with_96(wire: Callable) -> None:
    link = Q931Link("network")
    peer = wire(link)
    peer.send(Message.build(M.SETUP, CallReference(3), CalledPartyNumber("1")))
    answer = only(peer.read())
    assert answer.message_type == M.RELEASE_COMPLETE
    assert answer.call_ref == CallReference(3, flag=True)
    assert answer.cause == Cause(96, location=1, diagnostics=b"\x04")
    assert link.calls() == ()


def test_setup_toward_the_user_needs_a_channel(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    peer.send(Message.build(M.SETUP, CallReference(3), SPEECH))
    assert only(peer.read()).cause == Cause(96, diagnostics=b"\x18")


def test_progress_without_indicator_gets_status_96_and_no_action(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = link.setup(0.0, called="1")
    peer.send(Message.build(M.CALL_PROCEEDING, to(call)))
    peer.read()
    peer.events()
    peer.send(Message.build(M.PROGRESS, to(call)))
    status = only(peer.read())
    assert status.cause == Cause(96, diagnostics=b"\x1e")
    assert status.call_state == CallStateIE(3)
    assert [type(e) for e in peer.events()] == [ProtocolViolation]


def test_disconnect_without_cause_clears_as_31_and_release_says_96(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = active_outgoing(link, peer)
    peer.send(Message.build(M.DISCONNECT, to(call)))
    events = peer.events()
    assert isinstance(events[0], ProtocolViolation) and events[0].cause == 96
    assert isinstance(events[1], DisconnectIndication) and events[1].cause == 31
    link.release(call, 1.0)
    release = only(peer.read())
    assert release.message_type == M.RELEASE
    assert release.cause == Cause(96, diagnostics=b"\x08")


def test_first_clearing_release_without_cause_answered_with_96(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = active_outgoing(link, peer)
    peer.send(Message.build(M.RELEASE, to(call)))
    answer = only(peer.read())
    assert answer.message_type == M.RELEASE_COMPLETE
    assert answer.cause == Cause(96, diagnostics=b"\x08")
    released = [e for e in peer.events() if isinstance(e, CallReleased)]
    assert released[0].cause == 31


def test_release_without_cause_after_disconnect_is_normal(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = active_outgoing(link, peer)
    link.disconnect(call, 0.0, cause=16)
    peer.read()
    peer.send(Message.build(M.RELEASE, to(call)))
    answer = only(peer.read())
    assert answer.message_type == M.RELEASE_COMPLETE and answer.cause is None
    released = [e for e in peer.events() if isinstance(e, CallReleased)]
    assert released[0].cause == 16  # the clearing cause of the call


# ------------------------------------------------------------- s5.8.6.2 / 5.8.7 contents


BROKEN_BEARER = RawIE(0x04, b"\x80")  # octet 4 missing
BROKEN_PROGRESS = RawIE(0x1E, b"\x80")
BROKEN_CAUSE = RawIE(0x08, b"\x80\x10")  # cause value without ext bit


def test_setup_with_bad_bearer_contents_is_refused_with_100(wire: Callable) -> None:
    link = Q931Link("network")
    peer = wire(link)
    peer.send(Message.build(M.SETUP, CallReference(3), BROKEN_BEARER))
    assert only(peer.read()).cause == Cause(100, location=1, diagnostics=b"\x04")
    assert link.calls() == ()


def test_bad_optional_element_is_ignored_and_reported_with_status_100(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = link.setup(0.0, called="1")
    peer.read()
    peer.send(Message.build(M.ALERTING, to(call), BROKEN_PROGRESS))
    events = peer.events()
    assert [type(e).__name__ for e in events] == ["CallAlerting", "ProtocolViolation"]
    assert not events[0].inband  # type: ignore[union-attr]
    status = only(peer.read())
    assert status.cause == Cause(100, diagnostics=b"\x1e")
    assert status.call_state == CallStateIE(4)  # the state after acting on ALERTING


def test_disconnect_with_bad_cause_clears_and_release_says_100(wire: Callable) -> None:
    link = Q931Link("network")
    peer = wire(link)
    call = offered(link, peer)
    link.connect(call, 0.0)
    peer.read()
    peer.send(Message.build(M.DISCONNECT, to(call), BROKEN_CAUSE))
    assert link.state(call) == S.DISCONNECT_REQUEST
    link.release(call, 0.0)
    assert only(peer.read()).cause == Cause(100, location=1, diagnostics=b"\x08")


def test_release_with_bad_cause_is_completed_with_100(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = active_outgoing(link, peer)
    peer.send(Message.build(M.RELEASE, to(call), BROKEN_CAUSE))
    answer = only(peer.read())
    assert answer.message_type == M.RELEASE_COMPLETE
    assert answer.cause == Cause(100, diagnostics=b"\x08")
    assert link.calls() == ()


def test_release_complete_with_bad_cause_is_taken_as_31(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = link.setup(0.0, called="1")
    peer.read()
    peer.send(Message.build(M.RELEASE_COMPLETE, to(call), BROKEN_CAUSE))
    assert peer.read() == []
    released = [e for e in peer.events() if isinstance(e, CallReleased)]
    assert released[0].cause == 31


def test_comprehension_required_unknown_element(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = link.setup(0.0, called="1")
    peer.read()
    peer.send(Message.build(M.ALERTING, to(call), RawIE(0x0F, b"\x01")))
    status = only(peer.read())
    assert status.cause == Cause(96, diagnostics=b"\x0f")
    assert link.state(call) == S.CALL_INITIATED  # the message was not acted on
    # ... and in a SETUP it refuses the call.
    network = Q931Link("network")
    other = wire(network)
    other.send(Message.build(M.SETUP, CallReference(2), SPEECH, RawIE(0x02, b"")))
    assert only(other.read()).cause == Cause(96, location=1, diagnostics=b"\x02")


def test_unrecognized_optional_elements(wire: Callable) -> None:
    user_user = RawIE(0x7E, b"\x04hi")
    quiet = Q931Link("user")
    peer = wire(quiet)
    call = quiet.setup(0.0, called="1")
    peer.read()
    peer.send(Message.build(M.ALERTING, to(call), user_user))
    assert peer.read() == []  # the STATUS of s5.8.7.1 is optional: off by default
    assert quiet.state(call) == S.CALL_DELIVERED
    chatty = Q931Link("user", config=Q931Config(report_unrecognized_ies=True))
    peer = wire(chatty)
    call = chatty.setup(0.0, called="1")
    peer.read()
    peer.send(Message.build(M.ALERTING, to(call), user_user))
    assert only(peer.read()).cause == Cause(99, diagnostics=b"\x7e")
    # A DISCONNECT with an unrecognized element: our RELEASE reports it (s5.8.7.1 a).
    peer.send(Message.build(M.DISCONNECT, to(call), Cause(16), user_user))
    chatty.release(call, 1.0)
    assert only(peer.read()).cause == Cause(99, diagnostics=b"\x7e")


def test_other_codesets_are_skipped_silently(wire: Callable) -> None:
    link = Q931Link("user", config=Q931Config(report_unrecognized_ies=True))
    peer = wire(link)
    call = link.setup(0.0, called="1")
    peer.read()
    peer.send(Message.build(M.ALERTING, to(call), RawIE(0x02, b"\x00", codeset=6)))
    assert peer.read() == []
    assert link.state(call) == S.CALL_DELIVERED


# ---------------------------------------------------------- s5.8.3 call reference errors


def test_unknown_call_reference(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    stranger = CallReference(0x1234)
    peer.send(Message.build(M.CONNECT, stranger))
    answer = only(peer.read())
    assert answer.message_type == M.RELEASE_COMPLETE
    assert answer.call_ref == CallReference(0x1234, flag=True)
    assert answer.cause == Cause(81)
    peer.send(Message.build(M.RELEASE, stranger, Cause(16)))  # b)
    assert only(peer.read()).cause == Cause(81)
    peer.send(Message.build(M.RELEASE_COMPLETE, stranger))  # c) no action
    assert peer.read() == []
    peer.send(Message.build(M.STATUS_ENQUIRY, stranger))  # h) we are in the Null state
    status = only(peer.read())
    assert status.message_type == M.STATUS and status.call_state == CallStateIE(0)
    assert status.cause == Cause(30)
    peer.send(Message.build(M.STATUS, stranger, Cause(30), CallStateIE(10)))  # g)
    assert only(peer.read()).cause == Cause(101)
    peer.send(Message.build(M.STATUS, stranger, Cause(30), CallStateIE(0)))
    assert peer.read() == []
    assert link.calls() == ()


def test_setup_with_the_flag_set_or_on_a_busy_reference_is_ignored(wire: Callable) -> None:
    trace = TraceRecorder()
    link = Q931Link("user", trace=trace)
    peer = wire(link)
    peer.send(Message.build(M.SETUP, CallReference(5, flag=True), SPEECH, CH1))  # d)
    assert peer.read() == [] and peer.events() == [] and link.calls() == ()
    call = offered(link, peer, 5)
    peer.send(Message.build(M.SETUP, CallReference(5), SPEECH, CH1))  # e)
    assert peer.read() == [] and peer.events() == []
    assert link.calls() == (call,)
    drops = [e.summary for e in trace.events if e.direction == "drop"]
    assert len(drops) == 2 and all("ignored" in d for d in drops)


def test_same_value_both_ways_are_two_calls(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    ours = link.setup(0.0, called="1", call_ref=5)
    theirs = offered(link, peer, 5)
    assert ours != theirs and set(link.calls()) == {ours, theirs}
    peer.send(Message.build(M.ALERTING, to(ours)))
    assert link.state(ours) == S.CALL_DELIVERED
    assert link.state(theirs) == S.CALL_PRESENT


def test_unsupported_call_references_are_ignored(wire: Callable) -> None:
    link = Q931Link("user", config=Q931Config(call_ref_length=1))
    peer = wire(link)
    peer.send(Message.build(M.SETUP, CallReference(5, length=2), SPEECH, CH1))  # too long
    peer.send(Message.build(M.SETUP, CallReference.dummy(), SPEECH, CH1))
    assert peer.read() == [] and peer.events() == []
    peer.send(Message.build(M.SETUP, CallReference(5, length=1), SPEECH, CH1))
    (event,) = peer.events()
    assert isinstance(event, CallOffered)
    link.alerting(event.call, 0.0)
    assert only(peer.read()).call_ref == CallReference(5, flag=True, length=1)


# ------------------------------------------------------------------- s5.8.11 STATUS


def test_status_with_an_incompatible_state_clears_with_101(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = link.setup(0.0, called="1")
    peer.read()
    peer.send(Message.build(M.STATUS, to(call), Cause(30), CallStateIE(7)))  # N7: the other way
    release = only(peer.read())
    assert release.message_type == M.RELEASE and release.cause == Cause(101)
    assert link.state(call) == S.RELEASE_REQUEST
    kinds = [type(e).__name__ for e in peer.events()]
    assert kinds == ["StatusReceived", "CallClearing"]


def test_status_with_a_compatible_state_is_reported_only(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = link.setup(0.0, called="1")
    peer.read()
    peer.send(Message.build(M.STATUS, to(call), Cause(97), CallStateIE(3)))
    assert peer.read() == []
    (event,) = peer.events()
    assert isinstance(event, StatusReceived)
    assert (event.cause, event.peer_state) == (97, 3)


def test_status_reporting_null_releases_the_call(wire: Callable) -> None:
    link = Q931Link("network")
    peer = wire(link)
    call = offered(link, peer)
    peer.send(Message.build(M.STATUS, to(call), Cause(30), CallStateIE(0)))
    assert peer.read() == []
    released = [e for e in peer.events() if isinstance(e, CallReleased)]
    assert released[0].cause == 41 and link.calls() == ()


# -------------------------------------------------------------- global call reference


def test_messages_on_the_global_call_reference(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    peer.send(Message.build(M.CONNECT, CallReference.global_ref()))
    status = only(peer.read())
    assert status.call_ref == CallReference.global_ref(flag=True)
    assert status.cause == Cause(81) and status.call_state == CallStateIE(0)


def test_restart_releases_the_calls_on_the_channel(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    on_one = offered(link, peer, 1)
    on_two = link.setup(0.0, called="1", channel=ChannelIdentification.pri(2))
    peer.read()
    peer.events()
    indicator = RestartIndicator(RestartClass.INDICATED_CHANNELS)
    peer.send(Message.build(M.RESTART, CallReference.global_ref(), CH1, indicator))
    ack = only(peer.read())
    assert ack.message_type == M.RESTART_ACKNOWLEDGE
    assert ack.call_ref == CallReference.global_ref(flag=True)
    assert ack.channel == CH1 and ack.restart_indicator == indicator
    events = peer.events()
    assert CallReleased(on_one, 41, "peer RESTART") in events
    assert isinstance(events[-1], RestartReceived)
    assert link.calls() == (on_two,)
    peer.send(Message.build(M.RESTART, CallReference.global_ref(), RestartIndicator(7)))
    assert link.calls() == ()


def test_restart_class_0_without_a_channel_is_refused(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    peer.send(Message.build(M.RESTART, CallReference.global_ref(), RestartIndicator(0)))
    status = only(peer.read())
    assert status.message_type == M.STATUS and status.cause is not None
    assert status.cause.value == 96


def test_local_restart_and_its_acknowledgement(wire: Callable) -> None:
    link = Q931Link("network")
    peer = wire(link)
    call = link.setup(0.0, called="1", channel=CH1)
    link.restart(1.0, channel=CH1)
    assert link.calls() == ()
    assert CallReleased(call, 41, "local RESTART") in peer.events()
    with pytest.raises(LocalProtocolError):
        link.restart(1.0)  # one at a time
    restart = peer.read()[-1]
    assert restart.restart_indicator == RestartIndicator(0)
    peer.send(Message.build(M.RESTART_ACKNOWLEDGE, CallReference.global_ref(flag=True), CH1,
                            RestartIndicator(0)))
    assert [type(e).__name__ for e in peer.events()] == ["RestartAcknowledged"]
    assert link.get_timer() is None


# ------------------------------------------------------------------ stream failures


def test_garbage_tpkt_kills_the_link(wire: Callable) -> None:
    trace = TraceRecorder()
    link = Q931Link("user", trace=trace)
    peer = wire(link)
    active = active_outgoing(link, peer)
    ringing = link.setup(0.0, called="2")
    peer.read()
    link.receive_data(b"\x03\x00\x00\x09" + bytes(Message.build(M.ALERTING, to(ringing)))
                      + b"\x05\x00garbage", 1.0)
    events = peer.events()
    assert [type(e).__name__ for e in events] == [
        "CallAlerting", "CallReleased", "CallReleased", "LinkClosed"]
    released = {e.call: e.cause for e in events if isinstance(e, CallReleased)}
    assert released == {active: 27, ringing: 41}
    closed = events[-1]
    assert isinstance(closed, LinkClosed) and closed.error and "version 5" in closed.reason
    assert link.closed
    with pytest.raises(LocalProtocolError):
        link.setup(2.0, called="3")
    link.receive_data(b"more", 2.0)  # ignored, traced as a drop
    assert peer.events() == []
    assert trace.events[-1].direction == "drop"


def test_peer_closing_the_connection_clears_every_call(wire: Callable) -> None:
    link = Q931Link("network")
    peer = wire(link)
    call = offered(link, peer)
    link.receive_data(b"\x03\x00", 1.0)  # half a header, then EOF
    link.receive_data(b"", 2.0)
    events = peer.events()
    assert events == [
        CallReleased(call, 41, "link down: peer closed the connection "
                     "(2 octets of an incomplete TPKT lost)"),
        LinkClosed("peer closed the connection (2 octets of an incomplete TPKT lost)", False),
    ]
    assert link.get_timer() is None


def test_undecodable_messages_are_ignored_or_answered(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = link.setup(0.0, called="1")
    peer.read()
    link.receive_data(tpkt_frame(b"\x09\x02\x80\x01\x01"), 0.0)  # not Q.931: ignored
    link.receive_data(tpkt_frame(b"\x08\x02"), 0.0)  # too short: ignored
    link.receive_data(tpkt_frame(b""), 0.0)  # empty TPKT: ignored
    assert peer.read() == []
    assert [e.cause for e in peer.events()] == [95, 95, 95]  # type: ignore[union-attr]
    # Element framing broken inside a message for a known call: STATUS 100, no action.
    link.receive_data(tpkt_frame(bytes.fromhex("0802800101 1e05 80")), 0.0)
    status = only(peer.read())
    assert status.cause == Cause(100, diagnostics=b"\x1e")
    assert link.state(call) == S.CALL_INITIATED


def test_garbage_on_one_call_while_another_continues(wire: Callable) -> None:
    link = Q931Link("network")
    peer = wire(link)
    victim = offered(link, peer, 1)
    good = offered(link, peer, 2)
    link.proceeding(victim, 0.0, channel=CH1)
    link.proceeding(good, 0.0, channel=ChannelIdentification.pri(2))
    peer.read()
    hostile = [
        Message.build(M.CONNECT, to(victim)),  # wrong direction/state
        Message(0x24, to(victim)),  # unknown type
        Message.build(M.NOTIFY, to(victim)),  # mandatory element missing
        Message.build(M.INFORMATION, to(victim), RawIE(0x0E, b"")),  # comprehension required
        bytes.fromhex("0802000145 0802"),  # DISCONNECT with a truncated element
    ]
    for message in hostile:
        link.receive_data(tpkt_frame(bytes(message)), 1.0)
    answers = peer.read()
    assert [a.message_type for a in answers[:4]] == [M.STATUS] * 4
    assert [a.cause.value for a in answers[:4]] == [101, 97, 96, 96]  # type: ignore[union-attr]
    assert link.state(victim) == S.DISCONNECT_REQUEST  # the broken DISCONNECT still clears
    # Meanwhile the other call goes on normally.
    peer.events()
    link.alerting(good, 2.0)
    link.connect(good, 3.0)
    peer.send(Message.build(M.CONNECT_ACKNOWLEDGE, to(good)), 3.1)
    assert link.state(good) == S.ACTIVE
    assert [type(e).__name__ for e in peer.events()] == ["ConnectAcknowledged"]
    link.release(victim, 4.0)
    assert only(peer.read()[-1:]).cause == Cause(100, location=1, diagnostics=b"\x08")


# ----------------------------------------------------------------------- local misuse


def test_primitives_refuse_the_wrong_state(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = link.setup(0.0, called="1")
    for attempt in (
        lambda: link.connect(call, 0.0),
        lambda: link.alerting(call, 0.0),
        lambda: link.connect_ack(call, 0.0),
        lambda: link.release(CallKey(99, True), 0.0),
        lambda: link.information(call, 0.0, digits="1"),
        lambda: link.information(call, 0.0),
        lambda: link.reject(call, 0.0),
        lambda: link.clear(CallKey(99, True), 0.0),
        lambda: link.setup(0.0, call_ref=call.value),
        lambda: Q931Link("network").setup(0.0, called="1"),  # no channel
        lambda: Q931Link("operator"),  # type: ignore[arg-type]
    ):
        with pytest.raises(LocalProtocolError):
            attempt()
    peer.send(Message.build(M.CONNECT, to(call)))
    link.connect_ack(call, 0.0)
    with pytest.raises(LocalProtocolError):
        link.connect_ack(call, 0.0)  # only once


def test_call_reference_allocation_skips_busy_values() -> None:
    link = Q931Link("user", config=Q931Config(call_ref_length=1))
    keys = [link.setup(0.0, called="1") for _ in range(127)]
    assert sorted(k.value for k in keys) == list(range(1, 128))
    with pytest.raises(LocalProtocolError, match="in use"):
        link.setup(0.0, called="1")
    link.disconnect(keys[9], 0.0)
    link.release(keys[9], 0.0)
    link.receive_data(tpkt_frame(bytes(Message.build(M.RELEASE_COMPLETE, CallReference(
        10, flag=True, length=1)))), 0.0)
    assert link.setup(0.0, called="1").value == 10


def test_clear_picks_the_right_message(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    incoming = offered(link, peer, 1)
    link.clear(incoming, 0.0, cause=17)  # offered: RELEASE COMPLETE
    outgoing = link.setup(0.0, called="1")
    link.clear(outgoing, 0.0)  # establishing: DISCONNECT
    link.clear(outgoing, 0.0)  # already clearing: nothing
    kinds = [m.message_type for m in peer.read()]
    assert kinds == [M.RELEASE_COMPLETE, M.SETUP, M.DISCONNECT]
    answered = active_outgoing(link, peer)
    peer.send(Message.build(M.DISCONNECT, to(answered), Cause(16)))
    link.clear(answered, 0.0)  # after the peer's DISCONNECT: RELEASE
    assert [m.message_type for m in peer.read()] == [M.RELEASE]


def test_every_message_is_traced_with_its_frame() -> None:
    trace = TraceRecorder()
    link = Q931Link("user", trace=trace, node="gw-a", local=("127.0.0.1", 1720),
                    remote=("127.0.0.1", 40000))
    call = link.setup(3.5, called="5551234")
    frame = link.data_to_send(3.5)
    (event,) = trace.events
    assert event.raw == frame and frame[:2] == b"\x03\x00"
    assert (event.time, event.node, event.protocol, event.direction) == (3.5, "gw-a", "q931", "out")
    assert event.summary == "SETUP cr=0x0001 called=5551234 complete"
    assert (event.local, event.remote, event.transport) == (("127.0.0.1", 1720),
                                                            ("127.0.0.1", 40000), "tcp")
    assert event.call_id == str(call) == "0x0001/ours"
    incoming = tpkt_frame(bytes(Message.build(M.ALERTING, to(call), ProgressIndicator(8))))
    link.receive_data(incoming, 4.0)
    assert trace.events[-1].raw == incoming and trace.events[-1].direction == "in"
    assert trace.events[-1].summary == "ALERTING cr=0x8001 progress=8"
    assert type(link.next_event()).__name__ == "CallAlerting"
    assert link.next_event() is None
