"""The PBX core on a virtual clock: two simulators back to back (signalling only), and one
simulator facing a hand-driven Q.931 peer for the timer and error paths."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pbx_sim.config import ExtensionConfig
from pbx_sim.pbx import Pbx
from pbx_sim.q931 import (
    CallAlerting,
    CallConnected,
    CallOffered,
    CallProceeding,
    CallReference,
    CallReleased,
    ChannelIdentification,
    DisconnectIndication,
    Message,
    MessageType,
    SetupAcknowledged,
    StatusReceived,
)

Kinds = Callable[..., list[tuple[str, str]]]


def pair(bench, configs, *, a_trunk: dict[str, Any] | None = None,
         b_trunk: dict[str, Any] | None = None, b: Any = None) -> tuple[Pbx, Pbx]:
    pbx_a = bench.add(Pbx(configs.a(**(a_trunk or {})), media=False))
    pbx_b = bench.add(Pbx(b or configs.b(**(b_trunk or {})), media=False))
    bench.join(pbx_a, "gw", pbx_b, "gw")
    return pbx_a, pbx_b


def test_call_through_the_trunk_answered_and_cleared_by_the_caller(bench: Any, configs: Any,
                                                                     phone_kinds: Kinds) -> None:
    a, b = pair(bench, configs, b_trunk={"inband_ringback": True})
    a.dial("1000", "2000", bench.now)
    bench.advance(3.0)
    alice, bob = a.phone("1000"), b.phone("2000")
    assert phone_kinds(alice.events) == [
        ("off-hook", ""), ("tone", "dial"), ("dial", "2"), ("dial", "0"), ("dial", "0"),
        ("dial", "0"), ("tone", "ringback"), ("far-end-answered", ""),
    ]
    assert phone_kinds(bob.events) == [
        ("caller-id", "1000 Alice"), ("ring", "1"), ("off-hook", ""), ("answered", ""),
    ]
    # the user side proposes its top channel (preferred); the network, free there, takes it
    assert a.trunks["gw"].pool.busy == {4} == b.trunks["gw"].pool.busy
    assert a.status()["calls"] == [{"id": 1, "state": "connected", "from": "extension 1000",
                                    "to": "trunk gw ch 4", "dialled": "2000"}]
    a.hang_up("1000", bench.now)
    bench.advance(2.0)
    assert ("cleared", "") in phone_kinds(bob.events, "cleared")
    assert [e.cause for e in bob.events if e.kind == "cleared"] == [16]
    assert bob.events[-1].kind == "on-hook"  # hangup-on-clear
    assert not a.calls and not b.calls
    assert a.trunks["gw"].pool.busy == frozenset() == b.trunks["gw"].pool.busy


def test_called_party_clears_first(bench: Any, configs: Any, phone_kinds: Kinds) -> None:
    b_config = configs.with_extension(configs.b(), "2000", hangup_after=1.0)
    a, b = pair(bench, configs, b=b_config)
    a.dial("1000", "2000", bench.now)
    bench.advance(4.0)
    alice = a.phone("1000")
    cleared = [e for e in alice.events if e.kind == "cleared"]
    assert [e.cause for e in cleared] == [16]
    assert ("tone", "busy") in phone_kinds(alice.events, "tone")
    assert alice.events[-1].kind == "on-hook"
    assert not a.calls and not b.calls


@pytest.mark.parametrize(
    ("number", "cause", "tone"),
    [("2001", 17, "busy"), ("2003", 21, "congestion"), ("2999", 1, "congestion")],
)
def test_refused_calls_reach_the_caller_with_their_cause(bench: Any, configs: Any, number: str,
                                                         cause: int, tone: str) -> None:
    a, b = pair(bench, configs)
    a.dial("1000", number, bench.now)
    bench.advance(2.0)
    alice = a.phone("1000")
    assert [e.cause for e in alice.events if e.kind == "cleared"] == [cause]
    assert [e.value for e in alice.events if e.kind == "tone"] == ["dial", tone]
    released = [e for e in b.events if e.kind == "failed"]
    assert released and released[0].cause == cause
    assert not a.trunks["gw"].pool.busy and not b.trunks["gw"].pool.busy


def test_no_answer_is_cause_19_after_the_ring_timeout(bench: Any, configs: Any) -> None:
    a, b = pair(bench, configs)
    a.dial("1000", "2002", bench.now)
    bench.advance(3.0)
    assert b.phone("2002").rings >= 3
    bench.advance(3.0)
    alice = a.phone("1000")
    assert [e.cause for e in alice.events if e.kind == "cleared"] == [19]
    assert not b.phone("2002").alerted and b.stations["2002"].state == "idle"


def test_caller_abandons_while_ringing(bench: Any, configs: Any) -> None:
    a, b = pair(bench, configs)
    a.dial("1000", "2002", bench.now)
    bench.advance(2.0)
    a.hang_up("1000", bench.now)
    bench.advance(1.0)
    assert b.stations["2002"].state == "idle" and not b.calls and not a.calls
    assert b.phone("2002").rings == 0


def test_extension_to_extension_stays_inside_the_pbx(
    bench: Any, configs: Any, phone_kinds: Kinds,
) -> None:
    a, _ = pair(bench, configs)
    a.dial("1000", "1001", bench.now)
    bench.advance(3.0)
    assert phone_kinds(a.phone("1000").events, "far-end-answered", "tone") == [
        ("tone", "dial"), ("tone", "ringback"), ("far-end-answered", "")]
    assert a.trunks["gw"].legs == {}
    a.send_digits("1000", "5", bench.now)  # keypad during the call: signalled to the peer
    bench.advance(0.5)
    assert ("digit", "5") in phone_kinds(a.phone("1001").events, "digit")
    a.hang_up("1001", bench.now)
    bench.advance(1.0)
    assert [e.cause for e in a.phone("1000").events if e.kind == "cleared"] == [16]


def test_variable_length_number_completes_after_the_interdigit_timeout(
    bench: Any, configs: Any,
) -> None:
    a, b = pair(bench, configs)
    a.dial("1000", "92000", bench.now)
    bench.advance(1.5)
    assert a.calls[1].state == "dialing"  # 9T may still grow
    bench.advance(4.0)
    assert b.phone("2000").events[0].kind == "caller-id"
    assert a.phone("1000").in_call


def test_overlap_sending_and_receiving(bench: Any, configs: Any) -> None:
    a, b = pair(bench, configs, a_trunk={"overlap": True}, b_trunk={"overlap": True})
    a.dial("1000", "92000", bench.now)
    bench.advance(8.0)
    kinds = [e.kind for e in b.events]
    assert kinds.count("digits") >= 3  # INFORMATION digit by digit
    assert b.phone("2000").events[0].kind == "caller-id"
    assert a.phone("1000").in_call


def test_first_digit_timeout_gives_congestion(bench: Any, configs: Any) -> None:
    a, _ = pair(bench, configs)
    a.lift("1000", bench.now)
    bench.advance(16.0)
    assert [e.cause for e in a.phone("1000").events if e.kind == "cleared"] == [102]


# ------------------------------------------------------------------------------ a raw peer


def offer(peer: Any, channel: ChannelIdentification | None = None, called: str = "2000",
          complete: bool = True) -> Any:
    key = peer.link.setup(peer.bench.now, called=called, calling="5550100",
                          channel=channel or ChannelIdentification.pri(1, exclusive=True),
                          sending_complete=complete)
    peer.bench.pump()
    return key


def test_incoming_call_sequence_and_channel_choice(bench: Any, configs: Any) -> None:
    b = bench.add(Pbx(configs.b(inband_ringback=True, early_progress=True), media=False))
    peer = bench.attach(b, "gw")
    # the peer is the user side: it may name a channel as preferred, or none
    key = offer(peer, ChannelIdentification.pri(3))
    bench.advance(2.0)
    events = peer.events()
    assert [type(e).__name__ for e in events][:3] == [
        "CallProceeding", "ProgressReceived", "CallAlerting"]
    proceeding = next(e for e in events if isinstance(e, CallProceeding))
    assert proceeding.channel == ChannelIdentification.pri(3, exclusive=True)
    alerting = next(e for e in events if isinstance(e, CallAlerting))
    assert alerting.inband and alerting.progress[0].description == 8
    assert any(isinstance(e, CallConnected) for e in events)
    peer.link.connect_ack(key, bench.now)
    bench.pump()
    assert b.phone("2000").in_call
    second = offer(peer, ChannelIdentification.pri(3, exclusive=True), called="2002")
    rejected = [e for e in peer.events() if isinstance(e, CallReleased)]
    assert rejected and rejected[0].call == second and rejected[0].cause == 44
    third = offer(peer, ChannelIdentification.pri(3), called="2002")  # preferred: another one
    assert peer.link.channel(third) == ChannelIdentification.pri(1, exclusive=True)
    assert not any(isinstance(e, CallReleased) for e in peer.events())


def test_all_channels_busy_is_cause_34_and_unknown_exclusive_channel_82(
    bench: Any, configs: Any,
) -> None:
    config = configs.b()
    silent = tuple(ExtensionConfig(number=f"201{index}") for index in range(4))
    b = bench.add(Pbx(replace(config, extension=config.extension + silent), media=False))
    peer = bench.attach(b, "gw")
    for index in range(4):
        offer(peer, ChannelIdentification.any_channel(), called=f"201{index}")
    assert b.trunks["gw"].pool.free_count == 0
    assert not any(isinstance(e, CallReleased) for e in peer.events())
    offer(peer, ChannelIdentification.any_channel(), called="2002")
    assert [e.cause for e in peer.events() if isinstance(e, CallReleased)] == [34]
    offer(peer, ChannelIdentification.pri(30, exclusive=True), called="2002")
    assert [e.cause for e in peer.events() if isinstance(e, CallReleased)] == [82]


def test_a_non_speech_bearer_is_refused(bench: Any, configs: Any) -> None:
    from pbx_sim.q931 import BearerCapability

    b = bench.add(Pbx(configs.b(), media=False))
    peer = bench.attach(b, "gw")
    peer.link.setup(bench.now, called="2000", bearer=BearerCapability(8, None),
                    channel=ChannelIdentification.pri(1))
    bench.pump()
    assert [e.cause for e in peer.events() if isinstance(e, CallReleased)] == [65]


def test_outgoing_setup_carries_what_flow_1_asks(bench: Any, configs: Any) -> None:
    a = bench.add(Pbx(configs.a(calling_prefix="555", calling_type="subscriber",
                                called_type="national"), media=False))
    peer = bench.attach(a, "gw")
    a.dial("1000", "2000", bench.now)
    bench.advance(2.0)
    (setup,) = [m for m in peer.sent if m.message_type == MessageType.SETUP]
    assert setup.sending_complete
    assert setup.bearer is not None and setup.bearer.layer1_protocol == 3  # E1: A-law
    assert setup.channel == ChannelIdentification.pri(4)  # user side: preferred, from the top
    assert setup.calling is not None and setup.calling.digits == "5551000"
    assert (setup.calling.number_type, setup.calling.presentation) == (4, 0)
    assert setup.called is not None and (setup.called.digits, setup.called.number_type) == (
        "2000", 2)
    assert setup.display == "Alice"
    (offered,) = [e for e in peer.events() if isinstance(e, CallOffered)]
    key = offered.call
    # the network answers on another channel: a preferred proposal moves
    peer.link.proceeding(key, bench.now, channel=ChannelIdentification.pri(2, exclusive=True))
    peer.link.alerting(key, bench.now)
    peer.link.connect(key, bench.now)
    bench.pump()
    assert a.trunks["gw"].pool.busy == {2}
    assert [m.name for m in peer.sent][-1] == "CONNECT ACKNOWLEDGE"
    assert a.phone("1000").in_call


def test_t303_retransmits_setup_then_the_caller_hears_the_cause(bench: Any, configs: Any) -> None:
    a = bench.add(Pbx(configs.a(), media=False))
    peer = bench.attach(a, "gw")
    peer.link.close(bench.now, "deaf peer")  # swallows everything from now on
    a.dial("1000", "2000", bench.now)
    bench.advance(1.0)
    bench.advance(9.0)
    assert peer.names().count("SETUP") == 2
    assert peer.names()[-1] == "RELEASE COMPLETE"
    assert [e.cause for e in a.phone("1000").events if e.kind == "cleared"] == [102]
    assert [e.detail for e in a.events if e.kind == "timer"] == ["T303 expired (1)",
                                                                 "T303 expired (2)"]


def test_t310_after_call_proceeding(bench: Any, configs: Any) -> None:
    a = bench.add(Pbx(configs.a(timers={"t310": 3.0}), media=False))
    peer = bench.attach(a, "gw")
    a.dial("1000", "2000", bench.now)
    bench.advance(1.0)
    (offered,) = [e for e in peer.events() if isinstance(e, CallOffered)]
    peer.link.proceeding(offered.call, bench.now)
    bench.pump()
    bench.advance(3.0)
    assert "DISCONNECT" in peer.names()
    disconnect = [e for e in peer.events() if isinstance(e, DisconnectIndication)]
    assert disconnect and disconnect[0].cause == 102
    assert [e.cause for e in a.phone("1000").events if e.kind == "cleared"] == [102]


def test_t313_our_connect_never_acknowledged(bench: Any, configs: Any) -> None:
    # PBX-B as the user side answering: it waits for CONNECT ACKNOWLEDGE under T313.
    b = bench.add(Pbx(configs.b(side="user"), media=False))
    peer = bench.attach(b, "gw")
    offer(peer)
    bench.advance(1.0)
    assert "CONNECT" in peer.names()
    bench.advance(4.5)
    disconnect = peer.sent[peer.names().index("DISCONNECT")]
    assert disconnect.cause is not None and disconnect.cause.value == 102
    assert [e.cause for e in b.phone("2000").events if e.kind == "cleared"] == [102]


def test_t305_and_t308_when_the_peer_never_releases(bench: Any, configs: Any) -> None:
    a = bench.add(Pbx(configs.a(timers={"t305": 2.0, "t308": 1.0}), media=False))
    peer = bench.attach(a, "gw")
    a.dial("1000", "2000", bench.now)
    bench.advance(1.0)
    (offered,) = [e for e in peer.events() if isinstance(e, CallOffered)]
    peer.link.connect(offered.call, bench.now)
    bench.pump()
    peer.link.close(bench.now, "goes deaf")
    a.hang_up("1000", bench.now)
    bench.advance(10.0)
    assert peer.names()[-4:] == ["CONNECT ACKNOWLEDGE", "DISCONNECT", "RELEASE", "RELEASE"][-4:]
    assert a.trunks["gw"].pool.busy == frozenset()  # T308 twice: the reference is freed
    assert [e.detail for e in a.events if e.kind == "timer"] == [
        "T305 expired (1)", "T308 expired (1)", "T308 expired (2)"]


def test_overlap_receiving_completes_on_t302(bench: Any, configs: Any) -> None:
    b = bench.add(Pbx(configs.b(overlap=True, timers={"t302": 2.0}), media=False))
    peer = bench.attach(b, "gw")
    key = offer(peer, called="20", complete=False)
    assert any(isinstance(e, SetupAcknowledged) for e in peer.events())
    peer.link.information(key, bench.now, digits="0")
    peer.link.information(key, bench.now, digits="2")
    bench.pump()
    bench.advance(2.5)  # 2002 is complete already (no longer route): routed at once
    assert b.phone("2002").alerted
    key2 = offer(peer, ChannelIdentification.pri(2), called="2", complete=False)
    bench.advance(2.5)  # T302: "2" matches nothing complete -> cause 28
    ended = [e for e in peer.events() if isinstance(e, DisconnectIndication) and e.call == key2]
    assert [e.cause for e in ended] == [28]


# ------------------------------------------------------------------------------ bad peers


def test_peer_errors_get_the_standard_answers_and_other_calls_go_on(
    bench: Any, configs: Any,
) -> None:
    b = bench.add(Pbx(configs.b(), media=False))
    peer = bench.attach(b, "gw")
    key = offer(peer)  # an answered call that must survive everything below
    bench.advance(1.0)
    peer.link.connect_ack(key, bench.now)
    bench.pump()
    assert b.phone("2000").in_call
    before = len(peer.sent)
    # 1. an unknown call reference: RELEASE COMPLETE cause 81 (s5.8.3.2)
    bench.send(b, "gw", Message.build(MessageType.DISCONNECT, CallReference(99, flag=False),
                                      _cause(16)))
    # 2. a message in the wrong state: ALERTING for our active call -> STATUS cause 101
    ref = CallReference(key.value, flag=False)
    bench.send(b, "gw", Message.build(MessageType.ALERTING, ref))
    # 3. garbage inside a well-formed TPKT: too short for Q.931 -> ignored
    bench.send_raw(b, "gw", bytes((3, 0, 0, 6, 0x08, 0x02)))
    # 4. a message with a mandatory IE missing (DISCONNECT without Cause) -> clearing goes on
    #    for that call only; here for an unknown reference again -> cause 81
    # 5. a TPKT delivered in pieces
    whole = _tpkt(Message.build(MessageType.STATUS_ENQUIRY, ref))
    for index in range(len(whole)):
        bench.send_raw(b, "gw", whole[index : index + 1])
    answers = peer.sent[before:]
    assert [(m.name, m.cause.value if m.cause else None) for m in answers] == [
        ("RELEASE COMPLETE", 81), ("STATUS", 101), ("STATUS", 30)]
    assert [e for e in peer.events() if isinstance(e, StatusReceived)][-1].peer_state == 10
    errors = [e for e in b.events if e.kind == "protocol-error"]
    assert [e.cause for e in errors] == [81, 101, 95]
    # the first call is untouched and a new one still works
    assert b.phone("2000").in_call and b.stations["2000"].state == "talking"
    second = offer(peer, ChannelIdentification.pri(2, exclusive=True), called="2002")
    assert b.phone("2002").alerted
    peer.link.disconnect(second, bench.now)
    peer.link.disconnect(key, bench.now)
    bench.advance(1.0)
    assert not b.calls and not b.trunks["gw"].pool.busy


def test_a_truncated_tpkt_at_the_end_of_the_stream_releases_the_calls(
    bench: Any, configs: Any,
) -> None:
    b = bench.add(Pbx(configs.b(), media=False))
    peer = bench.attach(b, "gw")
    offer(peer)
    bench.advance(1.0)
    frame = _tpkt(Message.build(MessageType.STATUS_ENQUIRY, CallReference(1, flag=False)))
    bench.send_raw(b, "gw", frame[:5])
    b.trunk_closed("gw", bench.now, "peer closed")
    assert b.trunk_failed("gw")
    assert [e.cause for e in b.phone("2000").events if e.kind == "cleared"] == [27]
    assert not b.calls and not b.trunks["gw"].pool.busy
    # a new connection serves new calls
    peer2 = bench.attach(b, "gw")
    offer(peer2, called="2002")
    assert b.phone("2002").alerted


def test_framing_garbage_closes_the_link_and_a_new_connection_works(
    bench: Any, configs: Any,
) -> None:
    b = bench.add(Pbx(configs.b(), media=False))
    peer = bench.attach(b, "gw")
    offer(peer)
    bench.advance(1.0)
    bench.send_raw(b, "gw", b"GET / HTTP/1.1\r\n\r\n")
    assert b.trunk_failed("gw")
    assert [e.kind for e in b.events if e.trunk == "gw"][-1] == "link-down"
    assert not b.calls
    bench.advance(1.0)  # the phone hears the call end and hangs up
    peer2 = bench.attach(b, "gw")
    offer(peer2, called="2000")
    bench.advance(1.0)
    assert b.phone("2000").in_call


def _cause(value: int) -> Any:
    from pbx_sim.q931 import Cause

    return Cause(value)


def _tpkt(message: Message) -> bytes:
    from pbx_sim.q931 import tpkt_frame

    return tpkt_frame(bytes(message))



def test_t301_when_the_called_user_rings_forever(bench: Any, configs: Any) -> None:
    # PBX-A as the network side: its SETUP is alerted and never answered.
    a = bench.add(Pbx(configs.a(side="network", timers={"t301": 5.0}), media=False))
    peer = bench.attach(a, "gw")
    a.dial("1000", "2000", bench.now)
    bench.advance(1.0)
    (offered,) = [e for e in peer.events() if isinstance(e, CallOffered)]
    assert offered.channel == ChannelIdentification.pri(1, exclusive=True)  # network: ours
    peer.link.alerting(offered.call, bench.now)
    bench.pump()
    bench.advance(6.0)
    assert [e.cause for e in a.phone("1000").events if e.kind == "cleared"] == [19]
    assert "DISCONNECT" in peer.names()


def test_t304_when_overlap_sending_stalls(bench: Any, configs: Any) -> None:
    a = bench.add(Pbx(configs.a(overlap=True, timers={"t304": 6.0}), media=False))
    peer = bench.attach(a, "gw")
    a.dial("1000", "92", bench.now)  # 9T: seized at "9", then digits follow
    bench.advance(0.4)
    (offered,) = [e for e in peer.events() if isinstance(e, CallOffered)]
    assert not offered.complete
    peer.link.setup_ack(offered.call, bench.now)
    bench.pump()
    bench.advance(1.0)
    assert "INFORMATION" in peer.names()
    bench.advance(11.0)  # the inter-digit timeout ends the number; the network never proceeds
    information = [m for m in peer.sent if m.message_type == MessageType.INFORMATION]
    assert [(m.called.digits if m.called else "", m.sending_complete)
            for m in information] == [("2", False), ("", True)]
    assert [e.cause for e in a.phone("1000").events if e.kind == "cleared"] == [102]
    (disconnect,) = [e for e in peer.events() if isinstance(e, DisconnectIndication)]
    peer.link.release(disconnect.call, bench.now)
    bench.pump()
    assert not a.trunks["gw"].pool.busy and not a.calls


def test_restart_from_the_peer_releases_the_channel(bench: Any, configs: Any) -> None:
    b = bench.add(Pbx(configs.b(), media=False))
    peer = bench.attach(b, "gw")
    key = offer(peer)
    bench.advance(1.0)
    peer.link.connect_ack(key, bench.now)
    peer.link.restart(bench.now, channel=ChannelIdentification.pri(1, exclusive=True))
    bench.pump()
    assert [e.cause for e in b.phone("2000").events if e.kind == "cleared"] == [41]
    assert not b.trunks["gw"].pool.busy and "RESTART ACKNOWLEDGE" in peer.names()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(
    st.binary(max_size=40),
    st.builds(lambda kind, value, flag, body: _tpkt_raw(kind, value, flag, body),
              st.sampled_from([1, 2, 3, 5, 7, 0x0D, 0x0F, 0x45, 0x4D, 0x5A, 0x75, 0x7B, 0x7D,
                               0x6E, 0x46, 0x13]),
              st.integers(0, 3), st.booleans(), st.binary(max_size=24)),
), max_size=12))
def test_arbitrary_peer_input_never_breaks_the_pbx(bench_type: Any, configs: Any,
                                                   chunks: list[bytes]) -> None:
    bench = bench_type()  # a fresh bench per example (the fixture only hands out the class)
    b = bench.add(Pbx(configs.b(), media=False))
    peer = bench.attach(b, "gw")
    offer(peer)  # a call in progress while the garbage arrives
    for chunk in chunks:
        b.trunk_receive("gw", chunk, bench.now)
        b.trunk_data_to_send("gw", bench.now)
    bench.advance(70.0)
    busy = b.trunks["gw"].pool.busy
    assert busy == {leg.channel for leg in b.trunks["gw"].legs.values()} - {None}


def _tpkt_raw(kind: int, value: int, flag: bool, body: bytes) -> bytes:
    from pbx_sim.q931 import tpkt_frame

    ref = bytes((2, (0x80 if flag else 0) | (value >> 8), value & 0xFF))
    return tpkt_frame(bytes((0x08,)) + ref + bytes((kind,)) + body)
