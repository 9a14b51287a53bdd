"""The failure and variant paths of REFERENCE_FLOWS.md, each checked on both sides."""

from __future__ import annotations

from gateway.calls.commands import PlayToLine, SetVoicePath, StartMedia
from gateway.calls.dialpeer import DialPlan
from gateway.calls.plan import CallTimers, ForwardRule
from gateway.line import OfferCall

SETUP_A = [(">", "SETUP"), ("<", "CALL PROCEEDING")]


def offered_refs(side):
    return [c.ref for c in side.commands if isinstance(c, OfferCall)]


def reason(message):
    return message.headers.get("reason")


def test_busy(bench):
    b = bench()
    b.pbx_b.behaviour.busy = True
    b.pbx_a.seize("a1", "5551234")
    b.settle()
    assert b.pbx_b.view() == [
        ("<", "SETUP"),
        (">", "DISCONNECT 17"),
        ("<", "RELEASE 17"),
        (">", "RELEASE COMPLETE"),
    ]
    assert b.b.sip() == [
        ("in", "INVITE"),
        ("out", "100/INVITE"),
        ("out", "486/INVITE"),
        ("in", "ACK"),
    ]
    assert reason(b.b.messages("out", "486/INVITE")[0]).startswith("Q.850;cause=17;")
    assert b.pbx_a.view() == [*SETUP_A, ("<", "DISCONNECT 17"), (">", "RELEASE")]


def test_no_answer_timer_at_the_terminating_gateway(bench):
    b = bench()
    b.pbx_b.behaviour.answer_after = None
    b.pbx_a.seize("a1", "5551234")
    b.settle()
    assert b.pbx_b.view() == [
        ("<", "SETUP"),
        (">", "CALL PROCEEDING"),
        (">", "ALERTING"),
        ("<", "DISCONNECT 19"),
        (">", "RELEASE"),
    ]
    (refusal,) = b.b.messages("out", "480/INVITE")  # cause 19 -> 480 (RFC 3398)
    assert reason(refusal).startswith("Q.850;cause=19;")
    assert b.pbx_a.view() == [
        *SETUP_A,
        ("<", "ALERTING"),
        ("<", "DISCONNECT 19"),  # the Reason wins over 480 -> 18 (RFC 3326)
        (">", "RELEASE"),
    ]
    assert 20.0 <= b.world.now < 21.0


def test_no_answer_timer_at_the_originating_gateway_cancels(bench):
    b = bench(plan_a_changes={"timers": CallTimers(ring_no_answer=8.0)})
    b.pbx_b.behaviour.answer_after = None
    b.pbx_a.seize("a1", "5551234")
    b.settle()
    (cancel,) = b.a.messages("out", "CANCEL")
    assert reason(cancel).startswith("Q.850;cause=19;")
    assert b.pbx_a.view() == [
        *SETUP_A,
        ("<", "ALERTING"),
        ("<", "DISCONNECT 19"),
        (">", "RELEASE"),
    ]
    assert b.pbx_b.view()[-2:] == [("<", "DISCONNECT 19"), (">", "RELEASE")]
    assert ("out", "487/INVITE") in b.b.sip()


def test_unknown_number_at_the_originating_gateway(bench):
    b = bench()
    b.pbx_a.seize("a1", "4321234")
    b.settle()
    assert b.pbx_a.view() == [(">", "SETUP"), ("<", "DISCONNECT 1"), (">", "RELEASE")]
    assert b.a.sip() == []
    assert any("4321234 dialled matches no dial-peer" in n for n in b.a.notices)


def test_unknown_number_at_the_terminating_gateway(bench):
    b = bench()
    b.pbx_a.seize("a1", "6661234")
    b.settle()
    (not_found,) = b.b.messages("out", "404/INVITE")
    assert reason(not_found).startswith("Q.850;cause=1;")
    assert b.pbx_b.view() == []
    assert b.pbx_a.view() == [*SETUP_A, ("<", "DISCONNECT 1"), (">", "RELEASE")]


def test_caller_abandons_while_ringing(bench):
    b = bench()
    b.pbx_b.behaviour.answer_after = None
    b.pbx_a.seize("a1", "5551234")
    b.world.run_until(lambda: ("<", "ALERTING") in b.pbx_a.view(), 5)
    b.run(1.0)
    b.pbx_a.hang_up("a1")
    b.settle()
    assert b.a.sip() == [
        ("out", "INVITE"),
        ("in", "100/INVITE"),
        ("in", "180/INVITE"),
        ("out", "CANCEL"),
        ("in", "200/CANCEL"),
        ("in", "487/INVITE"),
        ("out", "ACK"),
    ]
    assert reason(b.a.messages("out", "CANCEL")[0]).startswith("Q.850;cause=16;")
    assert b.pbx_a.view() == [
        *SETUP_A,
        ("<", "ALERTING"),
        (">", "DISCONNECT 16"),
        ("<", "RELEASE 16"),
        (">", "RELEASE COMPLETE"),
    ]
    assert b.pbx_b.view() == [
        ("<", "SETUP"),
        (">", "CALL PROCEEDING"),
        (">", "ALERTING"),
        ("<", "DISCONNECT 16"),
        (">", "RELEASE"),
    ]


def test_cancel_reason_is_honoured(bench):
    b = bench()
    b.pbx_b.behaviour.answer_after = None
    b.pbx_a.seize("a1", "5551234")
    b.world.run_until(lambda: ("<", "ALERTING") in b.pbx_a.view(), 5)
    b.pbx_a.hang_up("a1", cause=31)
    b.settle()
    assert b.pbx_b.view()[-2:] == [("<", "DISCONNECT 31"), (">", "RELEASE")]


def test_callee_hangs_up_first_trunk(bench):
    b = bench()
    b.pbx_a.seize("a1", "5551234")
    b.world.run_until(lambda: (">", "CONNECT ACK") in b.pbx_a.view(), 5)
    b.run(1.0)
    (ref,) = offered_refs(b.pbx_b)
    b.pbx_b.hang_up(ref)
    b.settle()
    assert b.pbx_b.view()[-3:] == [
        (">", "DISCONNECT 16"),
        ("<", "RELEASE 16"),
        (">", "RELEASE COMPLETE"),
    ]
    assert b.pbx_a.view()[-2:] == [("<", "DISCONNECT 16"), (">", "RELEASE")]
    assert b.b.sip()[-2:] == [("out", "BYE"), ("in", "200/BYE")]
    at = b.world.position
    assert at("pbx-a", ">", "RELEASE") < at("gw-a", "out", "200/BYE")


def test_callee_hangup_cause_travels_in_the_reason(bench):
    b = bench()
    b.pbx_a.seize("a1", "5551234")
    b.world.run_until(lambda: (">", "CONNECT ACK") in b.pbx_a.view(), 5)
    (ref,) = offered_refs(b.pbx_b)
    b.pbx_b.hang_up(ref, cause=41)
    b.settle()
    assert reason(b.b.messages("out", "BYE")[0]).startswith("Q.850;cause=41;")
    assert ("<", "DISCONNECT 41") in b.pbx_a.view()


def test_unreachable_gateway_times_out_with_102(bench, kit):
    plan = kit.plan_a(
        dial_plan=DialPlan(
            [kit.pots(1, "1...", "pbx-a"), kit.voip(11, "777....", "ipv4:10.0.0.3:5060")]
        )
    )
    world = kit.World()
    a = kit.Gateway(world, kit.GW_A, plan)
    pbx_a = a.lines["pbx-a"]
    pbx_a.seize("a1", "7771234")
    world.run_until(lambda: a.core.live_calls == 0, 60)
    # Timer B: 64*T1 = 32 s of INVITE retransmissions, then 408 -> cause 102 (RFC 3398).
    assert [entry for entry in a.sip() if entry != ("out", "INVITE")] == []
    assert len(a.sip()) == 7
    assert 32.0 <= world.now < 33.0
    assert pbx_a.view() == [*SETUP_A, ("<", "DISCONNECT 102"), (">", "RELEASE")]


def test_unreachable_gateway_hunts_to_the_next_peer(bench):
    b = bench()
    b.pbx_a.seize("a1", "7771234")
    b.world.run_until(lambda: (">", "CONNECT ACK") in b.pbx_a.view(), 60)
    invites = b.a.messages("out", "INVITE")
    assert {m.uri_text for m in invites} == {
        "sip:7771234@10.0.0.3:5060",
        "sip:7771234@10.0.0.2:5060",
    }
    assert invites[-1].uri_text == "sip:7771234@10.0.0.2:5060"
    assert invites[0].call_id != invites[-1].call_id
    assert b.pbx_a.view() == [*SETUP_A, ("<", "ALERTING"), ("<", "CONNECT"), (">", "CONNECT ACK")]
    (call,) = b.a.core.calls()
    assert call.attempts == 2
    assert call.legs[-1].dial_peer == 12
    b.pbx_a.hang_up("a1")
    b.settle()


def test_codec_mismatch(bench):
    b = bench()
    b.pbx_a.seize("a1", "8881234")
    b.settle()
    (refusal,) = b.b.messages("out", "488/INVITE")
    assert refusal.headers.get("warning") == '305 10.0.0.2 "Incompatible media format"'
    assert reason(refusal).startswith("Q.850;cause=65;")
    assert b.pbx_b.view() == []
    assert b.pbx_a.view() == [*SETUP_A, ("<", "DISCONNECT 65"), (">", "RELEASE")]


def test_codec_mismatch_without_reason_maps_through_the_warning(bench, kit):
    b = bench()
    b.pbx_a.seize("a1", "8881234")
    b.settle()
    cause_map = b.a.core.plan.cause_map
    (refusal,) = b.a.messages("in", "488/INVITE")
    assert cause_map.cause_for_status(488, warning_codes=[305]) == 65
    assert refusal.status == 488


def test_early_media(bench):
    b = bench()
    b.pbx_b.behaviour.inband = True
    b.pbx_a.seize("a1", "5551234")
    b.world.run_until(lambda: (">", "CONNECT ACK") in b.pbx_a.view(), 5)
    assert b.pbx_b.view()[:3] == [("<", "SETUP"), (">", "CALL PROCEEDING"), (">", "ALERTING PI")]
    assert b.b.sip()[:3] == [("in", "INVITE"), ("out", "100/INVITE"), ("out", "183/INVITE")]
    (progress,) = b.b.messages("out", "183/INVITE")
    assert b"m=audio 30000" in progress.body
    assert b.pbx_a.view() == [
        *SETUP_A,
        ("<", "PROGRESS PI"),
        ("<", "CONNECT"),
        (">", "CONNECT ACK"),
    ]
    start_a, path_a = b.a.media
    assert isinstance(start_a, StartMedia) and (start_a.to_line, start_a.to_rtp) == (True, False)
    assert path_a == SetVoicePath("gw-a/1", True, True)
    start_b, path_b = b.b.media
    assert isinstance(start_b, StartMedia) and (start_b.to_line, start_b.to_rtp) == (False, True)
    assert isinstance(path_b, SetVoicePath) and (path_b.to_line, path_b.to_rtp) == (True, True)
    b.pbx_a.hang_up("a1")
    b.settle()


def test_forward_on_busy(bench):
    rules = (ForwardRule("5551234", on_busy="5550100"),)
    b = bench(plan_b_changes={"forwarding": rules})
    b.pbx_b.behaviour.busy = True
    phone_b = b.b.lines["phone-b"]
    b.pbx_a.seize("a1", "5551234")
    b.world.run_until(lambda: (">", "CONNECT ACK") in b.pbx_a.view(), 5)
    assert b.pbx_b.view() == [
        ("<", "SETUP"),
        (">", "DISCONNECT 17"),
        ("<", "RELEASE 17"),
        (">", "RELEASE COMPLETE"),
    ]
    assert phone_b.view() == [("<", "SETUP"), (">", "ALERTING"), (">", "CONNECT")]
    (offer,) = phone_b.commands
    assert isinstance(offer, OfferCall) and offer.called == "5550100"
    # The original INVITE kept going: 181 while forwarding, then the new target's progress.
    assert b.a.sip()[:5] == [
        ("out", "INVITE"),
        ("in", "100/INVITE"),
        ("in", "181/INVITE"),
        ("in", "180/INVITE"),
        ("in", "200/INVITE"),
    ]
    assert b.pbx_a.view() == [*SETUP_A, ("<", "ALERTING"), ("<", "CONNECT"), (">", "CONNECT ACK")]
    b.pbx_a.hang_up("a1")
    b.settle()
    assert phone_b.view()[-2:] == [("<", "DISCONNECT 16"), (">", "RELEASE")]


def test_forward_on_no_answer(bench):
    rules = (ForwardRule("5551234", on_no_answer="5550100"),)
    b = bench(plan_b_changes={"forwarding": rules})
    b.pbx_b.behaviour.answer_after = None
    phone_b = b.b.lines["phone-b"]
    b.pbx_a.seize("a1", "5551234")
    b.world.run_until(lambda: (">", "CONNECT ACK") in b.pbx_a.view(), 30)
    assert b.pbx_b.view()[-2:] == [("<", "DISCONNECT 19"), (">", "RELEASE")]
    assert phone_b.view() == [("<", "SETUP"), (">", "ALERTING"), (">", "CONNECT")]
    assert 20.0 < b.world.now < 21.0
    b.pbx_a.hang_up("a1")
    b.settle()


def test_untrusted_source_is_refused(bench, kit):
    b = bench()
    intruder = kit.RawPeer(b.world, kit.INTRUDER, "intruder")
    endpoint = intruder.endpoint
    invite = endpoint.new_request(
        "INVITE",
        "sip:5551234@10.0.0.2:5060",
        from_="<sip:666@192.0.2.66>",
        to="<sip:5551234@10.0.0.2>",
    )
    endpoint.send_request(invite, b.world.now)
    b.run(1.0)
    assert b.b.sip() == [("in", "INVITE"), ("out", "403/INVITE"), ("in", "ACK")]
    (refusal,) = b.b.messages("out", "403/INVITE")
    assert reason(refusal).startswith("Q.850;cause=21;")
    assert b.pbx_b.view() == []
    assert b.b.core.live_calls == 0
    assert any("toll-fraud" in notice and "192.0.2.66" in notice for notice in b.b.notices)


def test_trusted_list_admits_a_network(bench, kit):
    b = bench(plan_b_changes={"trusted_sources": ("192.0.2.0/24",)})
    intruder = kit.RawPeer(b.world, kit.INTRUDER, "friend")
    endpoint = intruder.endpoint
    invite = endpoint.new_request(
        "INVITE",
        "sip:5551234@10.0.0.2:5060",
        from_="<sip:666@192.0.2.66>",
        to="<sip:5551234@10.0.0.2>",
    )
    endpoint.send_request(invite, b.world.now)
    b.run(0.1)
    assert b.pbx_b.view()[0] == ("<", "SETUP")


def test_dns_session_target_goes_through_the_resolver(bench):
    b = bench()
    b.pbx_a.seize("a1", "9991234")
    b.world.run_until(lambda: (">", "CONNECT ACK") in b.pbx_a.view(), 5)
    (invite,) = b.a.messages("out", "INVITE")
    assert invite.uri_text == "sip:9991234@10.0.0.2:5060"
    b.pbx_a.hang_up("a1")
    b.settle()
    b.pbx_a.seize("a2", "4441234")  # dns:nowhere.example.net resolves to nothing
    b.settle()
    assert b.pbx_a.view("a2") == [*SETUP_A, ("<", "DISCONNECT 3"), (">", "RELEASE")]


# --------------------------------------------------------------------------- station lines


def tones(gateway):
    return [m.tone for m in gateway.media if isinstance(m, PlayToLine)]


def test_station_to_station(bench):
    b = bench()
    phone_a, phone_b = b.a.lines["phone-a"], b.b.lines["phone-b"]
    phone_a.seize("s1", "", "2001")
    b.run(1.0)
    assert tones(b.a) == ["dial"]
    phone_a.dial("s1", "5550100")
    b.world.run_until(lambda: ("<", "CONNECT") in phone_a.view(), 10)
    assert tones(b.a) == ["dial", None, "ringback", None]
    assert phone_a.view() == [
        (">", "SETUP"),
        *[(">", f"INFO {d}") for d in "5550100"],
        ("<", "CALL PROCEEDING"),
        ("<", "ALERTING"),
        ("<", "CONNECT"),
    ]
    (offer,) = phone_b.commands
    assert isinstance(offer, OfferCall)
    assert (offer.called, offer.calling) == ("5550100", "2001")
    assert phone_b.view() == [("<", "SETUP"), (">", "ALERTING"), (">", "CONNECT")]
    # Stations have no CONNECT ACKNOWLEDGE: the ACK goes out with CONNECT.
    assert b.a.sip()[3:5] == [("in", "200/INVITE"), ("out", "ACK")]
    b.run(2.0)
    phone_a.hang_up("s1")
    b.settle()
    assert phone_b.view()[-2:] == [("<", "DISCONNECT 16"), (">", "RELEASE")]
    assert b.a.sip()[-2:] == [("out", "BYE"), ("in", "200/BYE")]


def test_station_callee_hangs_up_first(bench):
    b = bench()
    phone_a, phone_b = b.a.lines["phone-a"], b.b.lines["phone-b"]
    phone_a.seize("s1", "", "2001")
    phone_a.dial("s1", "5550100", gap=0.1)
    b.world.run_until(lambda: ("<", "CONNECT") in phone_a.view(), 10)
    (offer,) = phone_b.commands
    phone_b.hang_up(offer.ref)
    b.settle()
    # The far end left: GW-A clears the station (the adapter gives busy tone until on-hook).
    assert phone_a.view()[-2:] == [("<", "DISCONNECT 16"), (">", "RELEASE")]


def test_station_dials_an_unknown_number(bench):
    b = bench()
    phone_a = b.a.lines["phone-a"]
    phone_a.seize("s1", "", "2001")
    phone_a.dial("s1", "3")
    b.run(5.0)
    assert tones(b.a) == ["dial", None, "congestion"]
    assert phone_a.view() == [(">", "SETUP"), (">", "INFO 3")]
    (call,) = b.a.core.calls()
    assert (call.phase, call.cause) == ("failed", 1)
    phone_a.hang_up("s1")
    b.settle()
    assert b.a.core.live_calls == 0


def test_station_interdigit_timeout_and_terminator(bench):
    b = bench()
    phone_a = b.a.lines["phone-a"]
    phone_a.seize("s1", "", "2001")
    phone_a.dial("s1", "555")
    b.run(9.0)
    assert b.a.core.calls()[0].phase == "setup"  # still collecting: 10 s inter-digit timeout
    b.run(2.0)
    call = b.a.core.calls()[0]
    assert (call.phase, call.cause) == ("failed", 28)
    phone_a.hang_up("s1")
    b.settle()
    phone_a.seize("s2", "", "2001")
    phone_a.dial("s2", "555#", gap=0.1)
    b.run(1.0)
    assert b.a.core.calls()[0].cause == 28
    phone_a.hang_up("s2")
    b.settle()


def test_station_hears_busy_until_on_hook_and_lockout(bench):
    b = bench(plan_a_changes={"timers": CallTimers(station_lockout=30.0)})
    b.pbx_b.behaviour.busy = True
    phone_a = b.a.lines["phone-a"]
    phone_a.seize("s1", "", "2001")
    phone_a.dial("s1", "5551234", gap=0.1)
    b.run(5.0)
    assert tones(b.a)[-1] == "busy"
    assert b.a.core.calls()[0].phase == "failed"
    assert phone_a.view()[-1] == ("<", "CALL PROCEEDING")
    b.run(30.0)  # nobody hangs up: the core clears the line and the adapter locks it out
    assert phone_a.view()[-2:] == [("<", "DISCONNECT 17"), (">", "RELEASE")]
    assert b.a.core.live_calls == 0


def test_incoming_call_to_a_busy_station(bench):
    b = bench()
    phone_b = b.b.lines["phone-b"]
    phone_b.seize("own", "", "5550100")  # the phone is off-hook, dialling
    b.pbx_a.seize("a1", "5550100")
    b.run(1.0)
    (busy,) = b.b.messages("out", "486/INVITE")  # the port is in use: cause 17
    assert reason(busy).startswith("Q.850;cause=17;")
    assert b.pbx_a.view("a1")[-2:] == [("<", "DISCONNECT 17"), (">", "RELEASE")]
    phone_b.hang_up("own")
    b.settle()
