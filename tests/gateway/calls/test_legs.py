"""The leg machines: one class-level transitions Machine per leg type, tables as data."""

from __future__ import annotations

import pytest

from gateway.calls.commands import PlayToLine
from gateway.calls.line_leg import LINE_MACHINE, LINE_STATES, LINE_TRANSITIONS, LineLeg
from gateway.calls.sip_leg import (
    SIP_MACHINE,
    SIP_STATES,
    SIP_TRANSITIONS,
    Respond,
    SendAck,
    SendBye,
    SipLeg,
)
from gateway.line import AnswerCall, ClearCall, IndicateProgress, ProceedCall

TABLES = [
    (LINE_MACHINE, LINE_STATES, LINE_TRANSITIONS, LineLeg),
    (SIP_MACHINE, SIP_STATES, SIP_TRANSITIONS, SipLeg),
]


@pytest.mark.parametrize(("machine", "states", "transitions", "leg_type"), TABLES)
def test_tables_are_consistent_and_every_state_is_reachable(machine, states, transitions, leg_type):
    reachable = {machine.initial}
    for _ in states:
        for row in transitions:
            sources = [row["source"]] if isinstance(row["source"], str) else row["source"]
            assert set(sources) <= set(states), row
            dest = row["dest"]
            assert dest is None or dest in states, row
            if dest is not None and reachable & set(sources):
                reachable.add(dest)
            for callback in _callbacks(row):
                assert callable(getattr(leg_type, callback)), callback
    assert reachable == set(states)
    # One machine for every leg of the type, never a model added to it.
    assert machine.machine.models == []
    assert not machine.machine.auto_transitions
    leg = (
        leg_type("c", "line", "r", "trunk", "incoming")
        if leg_type is LineLeg
        else leg_type("c", "uac", "id", ("10.0.0.1", 5060), 1)
    )
    assert not hasattr(leg, "__dict__")


def _callbacks(row):
    for key in ("after", "before"):
        value = row.get(key)
        if value:
            yield from [value] if isinstance(value, str) else value


def test_many_legs_share_the_machine_and_keep_their_own_state():
    legs = [LineLeg(f"c{n}", "pbx", f"r{n}", "trunk", "incoming") for n in range(100)]
    for leg in legs[::2]:
        assert leg.fire("seize")
        assert leg.fire("proceed")
    assert {leg.state for leg in legs[::2]} == {"proceeding"}
    assert {leg.state for leg in legs[1::2]} == {"idle"}
    assert LINE_MACHINE.machine.models == []
    assert legs[0].outbox == [ProceedCall("pbx", "r0")]


def test_line_leg_commands_and_station_tones():
    leg = LineLeg("c1", "phone", "s1", "station", "incoming")
    leg.fire("seize", dial_tone=True)
    leg.fire("dialled")
    leg.fire("proceed")
    leg.fire("alert", inband=False)
    leg.fire("connect")
    assert leg.outbox == [
        PlayToLine("c1", "dial", "phone", "s1"),
        PlayToLine("c1", None, "phone", "s1"),
        ProceedCall("phone", "s1"),
        IndicateProgress("phone", "s1", "alerting", False),
        PlayToLine("c1", "ringback", "phone", "s1"),
        PlayToLine("c1", None, "phone", "s1"),
        AnswerCall("phone", "s1"),
    ]
    assert not leg.accepts("offer")
    assert not leg.fire("offer", command=None)  # not from this state: refused, no effect
    leg.outbox.clear()
    leg.fire("clear", cause=16)
    assert leg.outbox == [ClearCall("phone", "s1", 16)]
    assert leg.fire("released") and leg.done


def test_trunk_gets_no_tones():
    leg = LineLeg("c1", "pbx", "a1", "trunk", "incoming")
    leg.fire("seize", dial_tone=True)
    leg.fire("proceed")
    leg.fire("fail", cause=17, tone="busy")
    assert leg.outbox == [ProceedCall("pbx", "a1")]


def test_sip_leg_waits_for_the_ack_before_its_bye():
    leg = SipLeg("c1", "uas", "cid", ("10.0.0.1", 5060), 30)
    leg.fire("invited")
    leg.fire("answer", status=200, sdp=b"v=0")
    leg.fire("hangup", cause=17)
    assert leg.state == "accepted"  # RFC 3261 s15: no BYE before the ACK
    assert leg.outbox == [Respond(100), Respond(200, (), b"v=0")]
    leg.fire("acked")
    assert leg.state == "terminating"
    assert isinstance(leg.outbox[-1], SendBye)
    assert "cause=17" in leg.outbox[-1].reason


def test_uac_acknowledges_before_hanging_up():
    leg = SipLeg("c1", "uac", "cid", ("10.0.0.2", 5060), 10)
    leg.fire("invite", request=None, destination=None)
    leg.fire("answered")
    leg.fire("hangup", cause=16)
    assert [type(a) for a in leg.outbox[1:]] == [SendAck, SendBye]
