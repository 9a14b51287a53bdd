"""Hairpin: a line calls a number on another line of the same gateway -- no SIP at all.

GW-A's lines: trunk ``pbx-a`` (pots peer 1, ``1...``) and station ``phone-a`` (pots peer 2,
``2001``)."""

from __future__ import annotations

from gateway.calls.commands import JoinLines, PlayToLine, StopMedia
from gateway.line import LineDigit


def tones(gateway):
    return [m.tone for m in gateway.media if isinstance(m, PlayToLine)]


def test_a_trunk_calls_a_station_on_the_same_gateway(bench):
    b = bench()
    phone = b.a.lines["phone-a"]
    b.pbx_a.seize("h1", "2001", "1000")
    b.world.run_until(lambda: (">", "CONNECT ACK") in b.pbx_a.view(), 5)
    assert b.pbx_a.view() == [
        (">", "SETUP"),
        ("<", "CALL PROCEEDING"),
        ("<", "ALERTING"),  # no PI: the PBX rings back itself
        ("<", "CONNECT"),
        (">", "CONNECT ACK"),
    ]
    assert phone.view() == [("<", "SETUP"), (">", "ALERTING"), (">", "CONNECT")]
    (offer,) = [c for c in phone.commands if type(c).__name__ == "OfferCall"]
    assert (offer.called, offer.calling) == ("2001", "1000")
    joins = [m for m in b.a.media if isinstance(m, JoinLines)]
    assert len(joins) == 1 and (joins[0].line, joins[0].far_line) == ("pbx-a", "phone-a")
    assert b.a.sip() == []  # no SIP at all
    (snapshot,) = b.a.core.calls()
    assert snapshot.phase == "active" and len(snapshot.legs) == 2
    b.pbx_a.send(LineDigit("pbx-a", "h1", "7"))
    b.run(0.1)
    assert ("<", "KEYPAD 7") in phone.view()
    b.pbx_a.hang_up("h1")
    b.settle()
    assert phone.view()[-2:] == [("<", "DISCONNECT 16"), (">", "RELEASE")]
    assert b.pbx_a.view()[-2:] == [("<", "RELEASE 16"), (">", "RELEASE COMPLETE")]
    assert isinstance(b.a.media[-1], StopMedia)
    assert b.a.core.live_calls == 0


def test_a_station_calls_the_trunk_and_the_far_end_hangs_up(bench):
    b = bench()
    phone = b.a.lines["phone-a"]
    phone.seize("s1", "", "2001")
    b.run(0.5)
    phone.dial("s1", "1001", gap=0.2)
    b.world.run_until(lambda: ("<", "CONNECT") in phone.view(), 15)
    b.run(0.1)
    # A station has no CONNECT ACKNOWLEDGE: the trunk's CONNECT is acknowledged at once.
    assert b.pbx_a.view() == [
        ("<", "SETUP"),
        (">", "CALL PROCEEDING"),
        (">", "ALERTING"),
        (">", "CONNECT"),
        ("<", "CONNECT ACK"),
    ]
    assert tones(b.a) == ["dial", None, "ringback", None]
    b.pbx_a.hang_up(b.pbx_a.ladder[0][2])
    b.settle()
    assert phone.view()[-2:] == [("<", "DISCONNECT 16"), (">", "RELEASE")]
    assert b.a.sip() == []


def test_a_busy_station_and_an_unanswered_one(bench):
    b = bench()
    phone = b.a.lines["phone-a"]
    phone.behaviour.busy = True
    b.pbx_a.seize("h1", "2001")
    b.settle()
    assert b.pbx_a.view() == [
        (">", "SETUP"),
        ("<", "CALL PROCEEDING"),
        ("<", "DISCONNECT 17"),
        (">", "RELEASE"),
    ]
    phone.behaviour.busy = False
    phone.behaviour.answer_after = None
    b.pbx_a.seize("h2", "2001")
    b.settle()
    assert b.pbx_a.view("h2")[-2:] == [("<", "DISCONNECT 19"), (">", "RELEASE")]
    assert phone.view()[-2:] == [("<", "DISCONNECT 19"), (">", "RELEASE")]
    assert 20.0 <= b.world.now < 22.0  # the ring-no-answer timer


def test_a_line_is_not_offered_its_own_call_back(bench):
    b = bench()
    b.pbx_a.seize("h1", "1001")  # pbx-a's own pots peer: no hairpin onto the same trunk
    b.settle()
    assert b.pbx_a.view() == [
        (">", "SETUP"),
        ("<", "DISCONNECT 1"),
        (">", "RELEASE"),
    ]
