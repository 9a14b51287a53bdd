"""Flow 1 end to end through two gateway cores: the exact ladder on both sides, in order."""

from __future__ import annotations

import pytest

from gateway.calls.commands import StartMedia, StopMedia
from gateway.line import OfferCall
from gateway.sdp.description import SessionDescription

PBX_A_FLOW1 = [
    (">", "SETUP"),
    ("<", "CALL PROCEEDING"),
    ("<", "ALERTING"),
    ("<", "CONNECT"),
    (">", "CONNECT ACK"),
    (">", "DISCONNECT 16"),
    ("<", "RELEASE 16"),
    (">", "RELEASE COMPLETE"),
]
PBX_B_FLOW1 = [
    ("<", "SETUP"),
    (">", "CALL PROCEEDING"),
    (">", "ALERTING"),
    (">", "CONNECT"),
    ("<", "CONNECT ACK"),
    ("<", "DISCONNECT 16"),
    (">", "RELEASE"),
]
SIP_A_FLOW1 = [
    ("out", "INVITE"),
    ("in", "100/INVITE"),
    ("in", "180/INVITE"),
    ("in", "200/INVITE"),
    ("out", "ACK"),
    ("out", "BYE"),
    ("in", "200/BYE"),
]
SIP_B_FLOW1 = [
    ("in", "INVITE"),
    ("out", "100/INVITE"),
    ("out", "180/INVITE"),
    ("out", "200/INVITE"),
    ("in", "ACK"),
    ("in", "BYE"),
    ("out", "200/BYE"),
]


def connected(side):
    return lambda: ("<", "CONNECT") in side.view() or (">", "CONNECT") in side.view()


def test_flow1_message_sequences_on_both_sides(bench):
    b = bench()
    b.pbx_a.seize("a1", "5551234", "1000")
    b.world.run_until(connected(b.pbx_a), 5)
    b.run(1.0)
    b.pbx_a.hang_up("a1")
    b.settle()

    assert b.pbx_a.view() == PBX_A_FLOW1
    assert b.pbx_b.view() == PBX_B_FLOW1
    assert b.a.sip() == SIP_A_FLOW1
    assert b.b.sip() == SIP_B_FLOW1
    assert b.a.core.live_calls == b.b.core.live_calls == 0
    assert b.a.endpoint.dialog_count == b.b.endpoint.dialog_count == 0


def test_flow1_order_across_the_network(bench):
    b = bench()
    b.pbx_a.seize("a1", "5551234", "1000")
    b.world.run_until(connected(b.pbx_a), 5)
    b.run(0.1)
    b.pbx_a.hang_up("a1")
    b.settle()
    at = b.world.position

    # GW-A answers its PBX with CALL PROCEEDING as it sends the INVITE.
    assert at("pbx-a", "<", "CALL PROCEEDING") < at("gw-b", "in", "INVITE")
    assert at("gw-a", "out", "INVITE") < at("gw-b", "in", "INVITE")
    # 100 <-> CALL PROCEEDING, ALERTING -> 180 -> ALERTING, CONNECT -> 200 -> CONNECT.
    assert at("pbx-b", ">", "CALL PROCEEDING") < at("gw-a", "in", "180/INVITE")
    assert at("pbx-b", ">", "ALERTING") < at("gw-b", "out", "180/INVITE")
    assert at("gw-a", "in", "180/INVITE") < at("pbx-a", "<", "ALERTING")
    assert at("pbx-b", ">", "CONNECT") < at("gw-b", "out", "200/INVITE")
    assert at("gw-a", "in", "200/INVITE") < at("pbx-a", "<", "CONNECT")
    # ACK only after CONNECT ACKNOWLEDGE; CONNECT ACK toward PBX-B only after the ACK.
    assert at("pbx-a", ">", "CONNECT ACK") < at("gw-a", "out", "ACK")
    assert at("gw-b", "in", "ACK") < at("pbx-b", "<", "CONNECT ACK")
    # DISCONNECT -> BYE and RELEASE at once (before anything else happens anywhere).
    disconnect = at("pbx-a", ">", "DISCONNECT 16")
    assert {at("gw-a", "out", "BYE"), at("pbx-a", "<", "RELEASE 16")} == {
        disconnect + 1,
        disconnect + 2,
    }
    # GW-B: BYE -> DISCONNECT; 200 OK only after the PBX's RELEASE.
    assert at("gw-b", "in", "BYE") < at("pbx-b", "<", "DISCONNECT 16")
    assert at("pbx-b", ">", "RELEASE") < at("gw-b", "out", "200/BYE")


def test_flow1_messages_carry_numbers_sdp_and_reason(bench):
    b = bench()
    b.pbx_a.seize("a1", "5551234", "1000")
    b.world.run_until(connected(b.pbx_a), 5)
    b.pbx_a.hang_up("a1")
    b.settle()

    (invite,) = b.a.messages("out", "INVITE")
    assert invite.uri_text == "sip:5551234@10.0.0.2:5060"
    # dial-peer 10's outgoing translation profile made the calling number E.164.
    assert invite.from_.uri.user == "+14085551000"
    assert invite.headers.get("expires") == "60"
    offer = SessionDescription.parse(invite.body)
    assert "m=audio 20000 RTP/AVP 0 8 101" in invite.body.decode()
    assert offer.media[0].port == 20000
    (answer,) = b.b.messages("out", "200/INVITE")
    assert b"m=audio 30000 RTP/AVP 0 101" in answer.body  # one codec, IOS style
    (bye,) = b.a.messages("out", "BYE")
    assert bye.headers.get("reason") == 'Q.850;cause=16;text="Normal call clearing"'

    (setup,) = [c for c in b.pbx_b.commands if isinstance(c, OfferCall)]
    assert (setup.called, setup.calling) == ("5551234", "+14085551000")


def test_flow1_media_and_call_table(bench):
    b = bench()
    b.pbx_a.seize("a1", "5551234", "1000")
    b.world.run_until(connected(b.pbx_a), 5)
    b.run(1.0)

    (start_a,) = b.a.media
    assert isinstance(start_a, StartMedia)
    assert (start_a.line, start_a.ref, start_a.local_port) == ("pbx-a", "a1", 20000)
    assert (start_a.to_line, start_a.to_rtp, start_a.dtmf_mode) == (True, True, "rfc4733")
    assert start_a.stream.remote_rtp == ("10.0.0.2", 30000)
    (start_b,) = b.b.media
    assert isinstance(start_b, StartMedia)
    assert start_b.stream.remote_rtp == ("10.0.0.1", 20000)
    assert start_b.line == "pbx-b"

    (call_a,) = b.a.core.calls()
    assert call_a.direction == "line-to-sip"
    assert call_a.phase == "active"
    assert (call_a.calling, call_a.called) == ("1000", "5551234")
    assert [(leg.kind, leg.role, leg.state, leg.dial_peer) for leg in call_a.legs] == [
        ("line", "incoming", "active", 1),
        ("sip", "outgoing", "confirmed", 10),
    ]
    assert call_a.codec == "PCMU"
    assert call_a.local_rtp == ("10.0.0.1", 20000)
    assert call_a.remote_rtp == ("10.0.0.2", 30000)
    assert call_a.started == 0.0
    assert call_a.alerted is not None and call_a.answered is not None
    assert call_a.started < call_a.alerted < call_a.answered
    (call_b,) = b.b.core.calls()
    assert call_b.direction == "sip-to-line"
    assert [(leg.kind, leg.role, leg.state, leg.dial_peer) for leg in call_b.legs] == [
        ("line", "outgoing", "active", 20),
        ("sip", "incoming", "confirmed", 30),
    ]
    assert call_b.legs[1].peer == "10.0.0.1:5060"

    b.pbx_a.hang_up("a1")
    b.settle()
    assert isinstance(b.a.media[-1], StopMedia) and isinstance(b.b.media[-1], StopMedia)
    assert b.a.core.calls() == ()


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_flow1_over_a_lossy_reordering_link(bench, seed):
    b = bench()
    b.world.link.hostile(seed, loss=0.2, duplicate=0.1, jitter=0.08)
    for number, ref in enumerate(("a1", "a2", "a3")):
        b.pbx_a.seize(ref, f"555123{number}", "1000")
        b.world.run_until(lambda ref=ref: ("<", "CONNECT") in b.pbx_a.view(ref), 40)
        b.run(0.5)
        b.pbx_a.hang_up(ref)
        b.settle()
        view = [step for step in b.pbx_a.view(ref) if step != ("<", "ALERTING")]
        # A lost 180 is never repeated (RFC 3261 provisional responses are unreliable).
        assert view == [step for step in PBX_A_FLOW1 if step != ("<", "ALERTING")]
    assert b.world.link.lost > 0
    refs = [c.ref for c in b.pbx_b.commands if isinstance(c, OfferCall)]
    assert len(refs) == 3
    for ref in refs:
        # When the ACK is lost and the BYE overtakes the retransmitted 200, the BYE confirms
        # the call is over: GW-B clears without ever acknowledging CONNECT.
        view = [step for step in b.pbx_b.view(ref) if step != ("<", "CONNECT ACK")]
        assert view == [step for step in PBX_B_FLOW1 if step != ("<", "CONNECT ACK")]
    b.run(40)  # let the transactions' Timer D/K run out
    assert b.a.endpoint.dialog_count == b.b.endpoint.dialog_count == 0
    assert b.a.endpoint.transaction_count == b.b.endpoint.transaction_count == 0
