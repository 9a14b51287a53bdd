"""Bad input from either side, vanishing peers, timers of last resort, and isolation of calls:
every call ends with the right cause and no leg is left behind."""

from __future__ import annotations

import pytest

from gateway.calls.call import Call
from gateway.calls.commands import (
    DigitFromMedia,
    MediaFailed,
    MediaTimedOut,
    SendDigit,
    StartMedia,
    UpdateMedia,
)
from gateway.calls.plan import CallTimers, MediaSettings
from gateway.line import (
    ClearCall,
    LineAnswered,
    LineCleared,
    LineDigit,
    LineInfo,
    LineProgress,
    LineReleased,
    LineSeized,
    LineStatus,
    OfferCall,
)
from gateway.line import SendDigit as LineSendDigit
from gateway.sdp.description import SessionDescription
from gateway.sip.events import RequestReceived, ResponseReceived

SDP_PCMU = (
    b"v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
    b"m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
SDP_G722 = SDP_PCMU.replace(
    b"RTP/AVP 0\r\na=rtpmap:0 PCMU/8000", b"RTP/AVP 9\r\na=rtpmap:9 G722/8000"
)


def offered(side):
    return [c for c in side.commands if isinstance(c, OfferCall)]


# --------------------------------------------------------------------------- the line side


def test_line_events_for_unknown_refs(bench):
    b = bench()
    b.pbx_a.send(LineAnswered("pbx-a", "ghost"))
    b.pbx_a.send(LineProgress("pbx-a", "ghost2", "alerting"))
    b.pbx_a.send(LineCleared("pbx-a", "gone", 16))
    b.pbx_a.send(LineReleased("pbx-a", "gone"))
    b.run(0.1)
    clears = [c for c in b.pbx_a.commands if isinstance(c, ClearCall)]
    assert [(c.ref, c.cause) for c in clears] == [("ghost", 81), ("ghost2", 81), ("gone", 16)]
    assert b.a.core.live_calls == 0
    assert sum("unknown call ref" in notice for notice in b.a.notices) == 2


def test_line_call_vanishing_without_clearing(bench):
    b = bench()
    b.pbx_a.seize("a1", "5551234")
    b.world.run_until(lambda: (">", "CONNECT ACK") in b.pbx_a.view(), 5)
    b.pbx_a.send(LineReleased("pbx-a", "a1"))  # RELEASE COMPLETE, no DISCONNECT before
    b.settle()
    assert b.a.sip()[-2:] == [("out", "BYE"), ("in", "200/BYE")]
    assert b.pbx_b.view()[-2:] == [("<", "DISCONNECT 16"), (">", "RELEASE")]


def test_setup_on_an_unknown_line_and_a_duplicate_ref(bench):
    b = bench()
    b.a.line_event(LineSeized("nowhere", "x1", "5551234", "1000", complete=True))
    b.run(0.1)
    assert b.a.stray == [ClearCall("nowhere", "x1", 47)]
    b.pbx_a.seize("a1", "5551234")
    b.pbx_a.seize("a1", "5559999")
    b.world.run_until(lambda: (">", "CONNECT ACK") in b.pbx_a.view(), 5)
    assert len(offered(b.pbx_b)) == 1
    assert any("already in use" in notice for notice in b.a.notices)
    b.pbx_a.hang_up("a1")
    b.settle()


def test_line_out_of_service_clears_its_calls(bench):
    b = bench()
    b.pbx_a.seize("a1", "5551234")
    b.world.run_until(lambda: (">", "CONNECT ACK") in b.pbx_a.view(), 5)
    b.b.line_event(LineStatus("pbx-b", False, "link down"))
    b.settle()
    assert b.pbx_a.view()[-2:] == [("<", "DISCONNECT 38"), (">", "RELEASE")]
    # While the trunk is down, calls to it find no circuit (34 -> 503, Reason 34).
    b.pbx_a.seize("a2", "5551234")
    b.settle()
    assert b.pbx_a.view("a2")[-2:] == [("<", "DISCONNECT 34"), (">", "RELEASE")]
    assert b.b.messages("out", "503/INVITE")


def test_connect_acknowledge_never_comes(bench):
    b = bench()
    b.pbx_a.behaviour.ack_connect = False
    b.pbx_a.seize("a1", "5551234")
    b.settle()
    # After timers.connect (5 s) GW-A acknowledges the 200 anyway and ends the call.
    assert b.pbx_a.view()[-3:] == [("<", "CONNECT"), ("<", "DISCONNECT 102"), (">", "RELEASE")]
    assert b.a.sip()[-3:] == [("out", "ACK"), ("out", "BYE"), ("in", "200/BYE")]
    assert b.pbx_b.view()[-2:] == [("<", "DISCONNECT 102"), (">", "RELEASE")]


def test_line_that_never_releases(bench):
    b = bench()
    b.pbx_b.behaviour.release_after = None
    b.pbx_a.seize("a1", "5551234")
    b.world.run_until(lambda: (">", "CONNECT ACK") in b.pbx_a.view(), 5)
    hangup = b.world.now
    b.pbx_a.hang_up("a1")
    b.world.run_until(lambda: ("out", "200/BYE") in b.b.sip(), 10)
    # The BYE is answered by the safety timer, well before the caller's Timer F.
    assert 4.0 <= b.world.now - hangup < 4.1
    b.settle()
    assert 30.0 <= b.world.now - hangup < 31.0
    assert any("never released" in notice for notice in b.b.notices)


def test_trunk_channels_run_out(bench):
    b = bench(plan_a_changes={"lines": (LineInfo("pbx-a", "trunk", ("1000",), 2),)})
    for ref in ("a1", "a2", "a3"):
        b.pbx_a.seize(ref, "5551234")
    b.run(2.0)
    assert b.pbx_a.view("a3") == [(">", "SETUP"), ("<", "DISCONNECT 34"), (">", "RELEASE")]
    for ref in ("a1", "a2"):
        b.pbx_a.hang_up(ref)
    b.settle()


# --------------------------------------------------------------------------- the SIP side


def raw_world(kit):
    """GW-A talking to a hand-driven SIP peer at GW-B's address."""
    world = kit.World()
    a = kit.Gateway(world, kit.GW_A, kit.plan_a())
    peer = kit.RawPeer(world, kit.GW_B, "raw-b")
    return world, a, peer


def incoming_invite(world, peer):
    world.run_until(lambda: any(isinstance(e, RequestReceived) for e in peer.events), 5)
    (event,) = [e for e in peer.events if isinstance(e, RequestReceived)]
    return event


@pytest.mark.parametrize(
    ("body", "cause"),
    [(b"", 111), (SDP_G722, 65), (b"v=0\r\nthis is not sdp", 111)],
)
def test_unusable_answer_is_acknowledged_and_ended(kit, body, cause):
    world, a, peer = raw_world(kit)
    pbx_a = a.lines["pbx-a"]
    pbx_a.seize("a1", "5551234")
    invite = incoming_invite(world, peer)
    peer.endpoint.respond(
        invite.transaction,
        200,
        world.now,
        body=body,
        content_type="application/sdp" if body else None,
    )
    world.run_until(lambda: a.core.live_calls == 0, 40)
    assert a.sip() == [
        ("out", "INVITE"),
        ("in", "200/INVITE"),
        ("out", "ACK"),
        ("out", "BYE"),
    ] + [("out", "BYE")] * (len(a.sip()) - 4)
    (bye,) = a.messages("out", "BYE")[:1]
    assert bye.headers.get("reason").startswith(f"Q.850;cause={cause};")
    assert pbx_a.view() == [
        (">", "SETUP"),
        ("<", "CALL PROCEEDING"),
        ("<", f"DISCONNECT {cause}"),
        (">", "RELEASE"),
    ]


def test_broken_early_sdp_is_ignored_and_the_call_goes_on(kit):
    world, a, peer = raw_world(kit)
    pbx_a = a.lines["pbx-a"]
    pbx_a.seize("a1", "5551234")
    invite = incoming_invite(world, peer)
    endpoint = peer.endpoint
    endpoint.respond(
        invite.transaction, 183, world.now, body=b"garbage", content_type="application/sdp"
    )
    world.run(0.1)
    endpoint.respond(
        invite.transaction, 200, world.now, body=SDP_PCMU, content_type="application/sdp"
    )
    world.run_until(lambda: (">", "CONNECT ACK") in pbx_a.view(), 5)
    assert any("early SDP ignored" in notice for notice in a.notices)
    assert [type(m) for m in a.media] == [StartMedia]
    pbx_a.hang_up("a1")
    world.run(1.0)


def test_caller_bye_in_the_early_dialog(kit):
    """The caller may end an early dialog with BYE (RFC 3261 s15): GW-B clears the line,
    answers the BYE once the line released, and the endpoint ends the INVITE with 487."""
    world = kit.World()
    b = kit.Gateway(world, kit.GW_B, kit.plan_b())
    b.lines["pbx-b"].behaviour.answer_after = None
    caller = kit.RawPeer(world, kit.GW_A, "raw-a")
    endpoint = caller.endpoint
    invite = endpoint.new_request(
        "INVITE",
        "sip:5551234@10.0.0.2:5060",
        from_="<sip:1000@10.0.0.1>",
        to="<sip:5551234@10.0.0.2>",
        body=SDP_PCMU.replace(b"10.0.0.2", b"10.0.0.1"),
        content_type="application/sdp",
    )
    endpoint.send_request(invite, world.now)
    world.run(1.0)
    ringing = next(
        e for e in caller.events if isinstance(e, ResponseReceived) and e.response.status == 180
    )
    assert ringing.dialog is not None
    endpoint.send_in_dialog(ringing.dialog, "BYE", world.now)
    world.run_until(lambda: b.core.live_calls == 0, 10)
    world.run(1.0)
    assert b.sip()[-4:] == [("in", "BYE"), ("out", "487/INVITE"), ("out", "200/BYE"), ("in", "ACK")]
    assert b.lines["pbx-b"].view()[-2:] == [("<", "DISCONNECT 16"), (">", "RELEASE")]


def test_peer_vanishes_mid_call(bench):
    b = bench()
    b.pbx_a.seize("a1", "5551234")
    b.world.run_until(lambda: (">", "CONNECT ACK") in b.pbx_a.view(), 5)
    b.world.link.loss = 1.0  # GW-B is gone
    b.pbx_a.hang_up("a1")
    b.world.run_until(lambda: b.a.core.live_calls == 0, 40)
    assert b.pbx_a.view()[-3:] == [
        (">", "DISCONNECT 16"),
        ("<", "RELEASE 16"),
        (">", "RELEASE COMPLETE"),
    ]
    # GW-B only notices through its media: the bridge reports the RTP timeout.
    (call,) = b.b.core.calls()
    b.b.core.media_event(call.call, MediaTimedOut(), b.world.now)
    b.world.run_until(lambda: b.b.core.live_calls == 0, 40)
    assert b.pbx_b.view()[-2:] == [("<", "DISCONNECT 102"), (">", "RELEASE")]


def test_peer_vanishes_while_ringing(bench):
    b = bench(plan_a_changes={"timers": CallTimers(ring_no_answer=100.0, invite_expiry=30.0)})
    b.pbx_b.behaviour.answer_after = None
    b.pbx_a.seize("a1", "5551234")
    b.world.run_until(lambda: ("<", "ALERTING") in b.pbx_a.view(), 5)
    b.world.link.loss = 1.0
    b.world.run_until(lambda: b.a.core.live_calls == 0, 200)
    # No final response ever: the INVITE expires (30 s), its CANCEL times out too.
    assert b.pbx_a.view()[-2:] == [("<", "DISCONNECT 102"), (">", "RELEASE")]


def test_ack_never_comes(kit):
    world = kit.World()
    b = kit.Gateway(world, kit.GW_B, kit.plan_b())
    caller = kit.RawPeer(world, kit.GW_A, "raw-a")  # a trusted address (a session target)
    endpoint = caller.endpoint
    invite = endpoint.new_request(
        "INVITE",
        "sip:5551234@10.0.0.2:5060",
        from_="<sip:1000@10.0.0.1>",
        to="<sip:5551234@10.0.0.2>",
        body=SDP_PCMU.replace(b"10.0.0.2", b"10.0.0.1"),
        content_type="application/sdp",
    )
    endpoint.send_request(invite, world.now)
    world.run(1.0)
    assert b.core.live_calls == 1
    # The TU never sends the ACK (nor answers the BYE: that ends after Timer F).
    world.run_until(lambda: b.core.live_calls == 0, 80)
    pbx_b = b.lines["pbx-b"]
    assert pbx_b.view()[-2:] == [("<", "DISCONNECT 102"), (">", "RELEASE")]
    (bye,) = b.messages("out", "BYE")[:1]
    assert bye.headers.get("reason").startswith("Q.850;cause=102;")
    assert ("<", "CONNECT ACK") not in pbx_b.view()


def test_invite_expires_header_is_honoured(kit):
    world = kit.World()
    b = kit.Gateway(world, kit.GW_B, kit.plan_b())
    b.lines["pbx-b"].behaviour.answer_after = None
    caller = kit.RawPeer(world, kit.GW_A, "raw-a")
    endpoint = caller.endpoint
    invite = endpoint.new_request(
        "INVITE",
        "sip:5551234@10.0.0.2:5060",
        from_="<sip:1000@10.0.0.1>",
        to="<sip:5551234@10.0.0.2>",
        headers=[("Expires", "5")],
        body=SDP_PCMU.replace(b"10.0.0.2", b"10.0.0.1"),
        content_type="application/sdp",
    )
    endpoint.send_request(invite, world.now)
    world.run(1.0)
    assert b.core.live_calls == 1
    world.run_until(lambda: b.core.live_calls == 0, 30)
    (expired,) = b.messages("out", "487/INVITE")
    assert expired.headers.get("reason").startswith("Q.850;cause=102;")
    assert 5.0 <= world.now < 5.1
    assert b.lines["pbx-b"].view()[-2:] == [("<", "DISCONNECT 102"), (">", "RELEASE")]


def test_reinvite_hold_and_info_digits(kit):
    world = kit.World()
    b = kit.Gateway(world, kit.GW_B, kit.plan_b())
    caller = kit.RawPeer(world, kit.GW_A, "raw-a")
    endpoint = caller.endpoint
    offer = SDP_PCMU.replace(b"10.0.0.2", b"10.0.0.1")
    invite = endpoint.new_request(
        "INVITE",
        "sip:5551234@10.0.0.2:5060",
        from_="<sip:1000@10.0.0.1>",
        to="<sip:5551234@10.0.0.2>",
        body=offer,
        content_type="application/sdp",
    )
    endpoint.send_request(invite, world.now)
    world.run_until(
        lambda: any(
            isinstance(e, ResponseReceived) and e.response.status == 200 for e in caller.events
        ),
        5,
    )
    ok = next(
        e for e in caller.events if isinstance(e, ResponseReceived) and e.response.status == 200
    )
    endpoint.send_ack(ok.dialog, world.now)
    world.run(0.1)
    hold = offer.replace(b"o=- 1 1", b"o=- 1 2") + b"a=sendonly\r\n"
    endpoint.send_in_dialog(
        ok.dialog, "INVITE", world.now, body=hold, content_type="application/sdp"
    )
    world.run(0.1)
    answers = [
        e for e in caller.events if isinstance(e, ResponseReceived) and e.response.status == 200
    ]
    reanswer = SessionDescription.parse(answers[-1].response.body)
    assert reanswer.direction_for(reanswer.media[0]) == "recvonly"
    endpoint.send_ack(ok.dialog, world.now)
    update = b.media[-1]
    assert isinstance(update, UpdateMedia) and update.stream.direction == "recvonly"
    endpoint.send_in_dialog(
        ok.dialog,
        "INFO",
        world.now,
        body=b"Signal=5\r\nDuration=160\r\n",
        content_type="application/dtmf-relay",
    )
    world.run(0.1)
    assert b.media[-1] == SendDigit(update.call, "5", "line", 160)
    endpoint.send_in_dialog(ok.dialog, "BYE", world.now)
    world.run_until(lambda: b.core.live_calls == 0, 5)


def test_media_events(bench):
    b = bench(
        plan_b_changes={
            "media": MediaSettings(
                address="10.0.0.2", port_min=30000, port_max=30199, digits_to_line="signal"
            )
        }
    )
    b.pbx_a.seize("a1", "5551234")
    b.world.run_until(lambda: (">", "CONNECT ACK") in b.pbx_a.view(), 5)
    (call_a,) = b.a.core.calls()
    (call_b,) = b.b.core.calls()
    # An out-of-band digit from PBX-A goes into the bridge toward RTP.
    b.pbx_a.send(LineDigit("pbx-a", "a1", "7", 120))
    b.run(0.01)
    assert b.a.media[-1] == SendDigit(call_a.call, "7", "rtp", 120)
    # At GW-B, digits from RTP are signalled to the line ("signal" delivery).
    b.b.core.media_event(call_b.call, DigitFromMedia("7", "rtp", "rfc4733", 120), b.world.now)
    b.run(0.01)
    (ref,) = [c.ref for c in offered(b.pbx_b)]
    assert b.pbx_b.commands[-1] == LineSendDigit("pbx-b", ref, "7", 120)
    # A media failure ends the call with cause 47.
    b.a.core.media_event(call_a.call, MediaFailed("port 20000 in use"), b.world.now)
    b.settle()
    assert b.pbx_a.view()[-2:] == [("<", "DISCONNECT 47"), (">", "RELEASE")]
    assert b.pbx_b.view()[-2:] == [("<", "DISCONNECT 47"), (">", "RELEASE")]
    b.b.core.media_event("no-such-call", MediaTimedOut(), b.world.now)  # ignored


# --------------------------------------------------------------------------- many calls


def test_thirty_calls_on_one_trunk_plus_stations_with_one_failing_badly(bench, monkeypatch):
    b = bench()
    original = Call.line_answered

    def sabotaged(self, leg, now):
        if self.called == "5551015":
            raise RuntimeError("bug in one call")
        original(self, leg, now)

    monkeypatch.setattr(Call, "line_answered", sabotaged)
    refs = [f"a{n}" for n in range(30)]
    for n, ref in enumerate(refs):
        b.pbx_a.seize(ref, f"55510{n:02d}", f"1{n:03d}")
    phone_a, phone_b = b.a.lines["phone-a"], b.b.lines["phone-b"]
    phone_a.seize("s1", "", "2001")
    phone_a.dial("s1", "5550100", gap=0.05)
    b.run(2.0)

    broken = "a15"
    for ref in refs:
        view = b.pbx_a.view(ref)
        if ref == broken:
            # GW-B's call failed inside: 503 with Reason 41, the line cleared with 41.
            assert view == [
                (">", "SETUP"),
                ("<", "CALL PROCEEDING"),
                ("<", "ALERTING"),
                ("<", "DISCONNECT 41"),
                (">", "RELEASE"),
            ]
        else:
            assert view[-2:] == [("<", "CONNECT"), (">", "CONNECT ACK")], ref
    assert phone_b.view() == [("<", "SETUP"), (">", "ALERTING"), (">", "CONNECT")]
    assert phone_a.view()[-1] == ("<", "CONNECT")
    assert b.a.core.live_calls == 30 and b.b.core.live_calls == 30
    assert any("internal error" in notice and "bug in one call" in notice for notice in b.b.notices)
    (failed_setup,) = [c for c in offered(b.pbx_b) if c.called == "5551015"]
    assert ("<", "DISCONNECT 41") in b.pbx_b.view(failed_setup.ref)

    # The trunk is full again now: one more SETUP finds no channel.
    b.pbx_a.seize(broken, "5551099")
    b.pbx_a.seize("extra", "5551098")
    b.run(1.0)
    assert b.pbx_a.view("extra") == [(">", "SETUP"), ("<", "DISCONNECT 34"), (">", "RELEASE")]

    for ref in refs:
        b.pbx_a.hang_up(ref)
    phone_a.hang_up("s1")
    b.settle()
    assert b.a.endpoint.dialog_count == b.b.endpoint.dialog_count == 0


def test_exception_in_one_call_on_the_originating_side(bench, monkeypatch):
    b = bench()
    original = Call.line_cleared_from_line

    def sabotaged(self, leg, cause, now):
        if leg.ref == "a2":
            raise ValueError("cannot clear")
        original(self, leg, cause, now)

    monkeypatch.setattr(Call, "line_cleared_from_line", sabotaged)
    b.pbx_a.seize("a1", "5551234")
    b.pbx_a.seize("a2", "5551235")
    b.world.run_until(lambda: b.pbx_a.view("a2")[-1:] == [(">", "CONNECT ACK")], 5)
    b.pbx_a.hang_up("a2")
    b.run(0.1)
    # The failing call was cleared by hand (BYE with Reason 41), the other one is untouched.
    assert b.pbx_a.view("a2")[-3:] == [
        (">", "DISCONNECT 16"),
        ("<", "RELEASE 41"),
        (">", "RELEASE COMPLETE"),
    ]
    assert b.a.core.live_calls == 1
    assert ("<", "DISCONNECT 41") in b.pbx_b.view(offered(b.pbx_b)[1].ref)
    assert b.pbx_a.view("a1")[-1] == (">", "CONNECT ACK")
    b.pbx_a.hang_up("a1")
    b.settle()


# --------------------------------------------------------------------------- unexpected SIP


def caller_world(kit, **plan_changes):
    world = kit.World()
    b = kit.Gateway(world, kit.GW_B, kit.plan_b(**plan_changes))
    caller = kit.RawPeer(world, kit.GW_A, "raw-a")
    return world, b, caller


OFFER_FROM_A = SDP_PCMU.replace(b"10.0.0.2", b"10.0.0.1")


def send_invite(world, caller, body=OFFER_FROM_A, **kw):
    endpoint = caller.endpoint
    request = endpoint.new_request(
        "INVITE",
        "sip:5551234@10.0.0.2:5060",
        from_="<sip:1000@10.0.0.1>",
        to="<sip:5551234@10.0.0.2>",
        body=body,
        content_type="application/sdp" if body else None,
        **kw,
    )
    endpoint.send_request(request, world.now)
    return request


def final_ok(world, caller):
    world.run_until(
        lambda: any(
            isinstance(e, ResponseReceived) and e.response.status == 200 for e in caller.events
        ),
        5,
    )
    return next(
        e for e in caller.events if isinstance(e, ResponseReceived) and e.response.status == 200
    )


def test_delayed_offer_is_answered_in_the_ack(kit):
    world, b, caller = caller_world(kit)
    send_invite(world, caller, body=b"")
    ok = final_ok(world, caller)
    offer = SessionDescription.parse(ok.response.body)  # our offer rides on the 200
    assert offer.media[0].port == 30000
    assert b.media == []  # nothing to send to before the answer
    answer = SDP_PCMU.replace(b"10.0.0.2", b"10.0.0.1")
    caller.endpoint.send_ack(ok.dialog, world.now, body=answer, content_type="application/sdp")
    world.run(0.1)
    (start,) = b.media
    assert isinstance(start, StartMedia) and start.stream.remote_rtp == ("10.0.0.1", 40000)
    assert b.lines["pbx-b"].view()[-1] == ("<", "CONNECT ACK")
    caller.endpoint.send_in_dialog(ok.dialog, "BYE", world.now)
    world.run_until(lambda: b.core.live_calls == 0, 5)


def test_delayed_offer_without_an_answer_in_the_ack(kit):
    world, b, caller = caller_world(kit)
    send_invite(world, caller, body=b"")
    ok = final_ok(world, caller)
    caller.endpoint.send_ack(ok.dialog, world.now)
    world.run_until(lambda: b.core.live_calls == 0, 80)
    assert b.lines["pbx-b"].view()[-2:] == [("<", "DISCONNECT 111"), (">", "RELEASE")]
    (bye,) = b.messages("out", "BYE")[:1]
    assert bye.headers.get("reason").startswith("Q.850;cause=111;")


def test_reinvite_before_the_ack_gets_491(kit):
    world, b, caller = caller_world(kit)
    endpoint = caller.endpoint
    send_invite(world, caller)
    ok = final_ok(world, caller)
    endpoint.send_in_dialog(
        ok.dialog,
        "INVITE",
        world.now,
        body=OFFER_FROM_A,
        content_type="application/sdp",
    )
    world.run(0.1)
    assert ("out", "491/INVITE") in b.sip()  # RFC 3261 s14.2
    assert b.core.live_calls == 1
    endpoint.send_in_dialog(ok.dialog, "BYE", world.now)
    world.run_until(lambda: b.core.live_calls == 0, 5)
    assert b.lines["pbx-b"].view()[-2:] == [("<", "DISCONNECT 16"), (">", "RELEASE")]


def test_requests_the_state_does_not_expect(kit):
    world, b, caller = caller_world(kit)
    endpoint = caller.endpoint
    first = send_invite(world, caller)
    ok = final_ok(world, caller)
    endpoint.send_ack(ok.dialog, world.now)
    # The same Call-ID out of the dialog: a second path of the INVITE (482).
    again = endpoint.new_request(
        "INVITE",
        "sip:5551234@10.0.0.2:5060",
        from_="<sip:1000@10.0.0.1>",
        to="<sip:5551234@10.0.0.2>",
        call_id=first.call_id,
        cseq=7,
    )
    endpoint.send_request(again, world.now)
    # OPTIONS out of any dialog is answered; an UPDATE inside the dialog is not supported.
    endpoint.send_request(
        endpoint.new_request(
            "OPTIONS", "sip:10.0.0.2:5060", from_="<sip:1000@10.0.0.1>", to="<sip:10.0.0.2>"
        ),
        world.now,
    )
    endpoint.send_in_dialog(ok.dialog, "UPDATE", world.now)
    world.run(0.2)
    labels = [label for direction, label in b.sip() if direction == "out"]
    assert "482/INVITE" in labels
    assert "200/OPTIONS" in labels
    assert "405/UPDATE" in labels
    assert b.core.live_calls == 1
    assert b.lines["pbx-b"].view()[-1] == ("<", "CONNECT ACK")
    endpoint.send_in_dialog(ok.dialog, "BYE", world.now)
    world.run_until(lambda: b.core.live_calls == 0, 5)


@pytest.mark.parametrize(
    ("status", "headers", "cause"),
    [
        (486, (), 17),
        (404, (), 1),
        (480, (), 18),
        (503, (), 41),
        (488, (("Warning", '305 peer "Incompatible media format"'),), 65),
        (603, (), 21),
        (486, (("Reason", "Q.850;cause=34"),), 34),  # RFC 3326: the Reason wins
    ],
)
def test_failures_from_a_foreign_peer_map_through_the_cause_map(kit, status, headers, cause):
    world, a, peer = raw_world(kit)
    pbx_a = a.lines["pbx-a"]
    pbx_a.seize("a1", "5551234")
    invite = incoming_invite(world, peer)
    peer.endpoint.respond(invite.transaction, status, world.now, headers=headers)
    world.run_until(lambda: a.core.live_calls == 0, 5)
    assert pbx_a.view() == [
        (">", "SETUP"),
        ("<", "CALL PROCEEDING"),
        ("<", f"DISCONNECT {cause}"),
        (">", "RELEASE"),
    ]


def test_cause_map_profile_and_overrides_shape_the_responses(bench):
    from gateway.calls.causes import CauseMap

    cisco = CauseMap.from_config("cisco", {"pstn-cause": {"17": "600"}})
    b = bench(plan_b_changes={"cause_map": cisco})
    b.pbx_b.behaviour.answer_after = None
    b.pbx_b.behaviour.alert_after = None
    b.pbx_a.seize("a1", "5551234")
    b.run(0.1)
    (ref,) = [c.ref for c in offered(b.pbx_b)]
    b.pbx_b.hang_up(ref, cause=31)  # Cisco: 31 -> 404 (RFC 3398 would say 480)
    b.pbx_a.seize("a2", "5551234")
    b.run(0.1)
    (_, ref2) = [c.ref for c in offered(b.pbx_b)]
    b.pbx_b.hang_up(ref2, cause=17)  # the configured override: 17 -> 600
    b.settle()
    assert b.b.messages("out", "404/INVITE") and b.b.messages("out", "600/INVITE")
    assert ("<", "DISCONNECT 31") in b.pbx_a.view("a1")
    assert ("<", "DISCONNECT 17") in b.pbx_a.view("a2")
