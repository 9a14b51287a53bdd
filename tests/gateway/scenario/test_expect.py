"""The expectation engine over a synthetic flow-1 trace and phone logs: every kind passes when
it should, and a failure says what did not happen, where, and shows the ladder around it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from gateway.config import load_toml
from gateway.scenario.expect import (
    NodeState,
    RunRecord,
    RunView,
    evaluate,
    first_failure,
    match_ladder,
)
from gateway.scenario.patterns import StepPattern
from gateway.scenario.schema import Expectations, LadderExpectation
from pbx_sim.events import PbxEvent, PhoneEvent

PHONE_A = [
    PhoneEvent(0.0, "1000", "off-hook"), PhoneEvent(0.0, "1000", "tone", "dial", via="audio"),
    PhoneEvent(0.0, "1000", "dial", "9", via="keypad"),
    PhoneEvent(0.2, "1000", "tone", "ringback", via="audio"),
    PhoneEvent(2.1, "1000", "far-end-answered"), PhoneEvent(2.3, "1000", "frequency", "697"),
    PhoneEvent(2.6, "1000", "on-hook"),
]
PHONE_B = [
    PhoneEvent(0.05, "2000", "ring", "1"), PhoneEvent(2.0, "2000", "answered"),
    PhoneEvent(2.2, "2000", "frequency", "1004"),
    PhoneEvent(2.3, "2000", "digit", "1", via="audio"),
    PhoneEvent(2.4, "2000", "digit", "2", via="audio"),
    PhoneEvent(2.7, "2000", "cleared", cause=16),
]


def record(tracer: Any, **changes: Any) -> RunRecord:
    base = RunRecord(
        "test", 0.0, tracer.time + 1.0, tuple(tracer.events),
        {"PBX-A": (*PHONE_A, PbxEvent(0.1, "PBX-A", "route", "5552000 -> trunk gw-a")),
         "PBX-B": tuple(PHONE_B)},
        {"GW-A": NodeState("GW-A", "gateway", registrations=(("5551000", "registered"),)),
         "PBX-A": NodeState("PBX-A", "pbx")},
    )
    return replace(base, **changes)


def expectations(text: str) -> Expectations:
    return load_toml(Expectations, text, file="test.toml")


def test_the_whole_flow_passes(flow: Callable[..., Any], flow_one_steps: list[str]) -> None:
    steps = ",\n".join(f'"{s}"' for s in flow_one_steps)
    expect = expectations(f"""
        [ladder]
        match = "exact"
        steps = [{steps}]
        [[phone]]
        phone = "PBX-A/1000"
        events = ["off-hook", "tone dial", "tone ringback via=audio", "far-end-answered",
                  "on-hook"]
        absent = ["tone busy", "cleared"]
        [[media]]
        phone = "PBX-B/2000"
        frequencies = [1004]
        digits = "12"
        via = "audio"
        [[rtp]]
        between = "GW-A <-> GW-B"
        codec = "PCMU"
        max-loss-percent = 1
        max-jitter = "5ms"
        min-packets = 40
        [[leg]]
        between = "GW-A -> GW-B"
        status = 200
        answered = true
        cause = 16
        cleared-by = "GW-A"
        [[leg]]
        between = "PBX-A -> GW-A"
        answered = true
        cause = 16
        cleared-by = "PBX-A"
        [[timing]]
        name = "post-dial delay"
        from = "last PBX-A/1000 dial"
        to = "GW-A -> PBX-A ALERTING"
        max = "1s"
        [[timing]]
        from = "PBX-A route"
        to = "GW-B -> GW-A 200 cseq=INVITE"
        min = "1s"
        max = "3s"
        [[registration]]
        node = "GW-A"
        number = "5551000"
    """)
    results = evaluate(record(flow()), expect)
    assert [r.kind for r in results] == ["ladder", "phone", "media", "rtp", "leg", "leg",
                                         "timing", "timing", "registration", "idle"]
    failed = [(r.description, r.message) for r in results if not r.passed]
    assert failed == []
    assert "loss 0.0%" in results[3].message


def test_a_missing_step_names_it_the_step_before_and_a_near_miss(
    flow: Callable[..., Any], flow_one_steps: list[str],
) -> None:
    flow_one_steps[7] = "GW-B -> GW-A 183"
    expect = expectations("[ladder]\nsteps = [" + ", ".join(f'"{s}"' for s in flow_one_steps)
                          + "]")
    view = RunView(record(flow()))
    (result, _idle) = evaluate(view.record, expect, view)
    assert not result.passed and result.key == "expect.ladder"
    assert result.message.splitlines()[0] == "step 8 of 23 not seen: GW-B -> GW-A 183"
    assert "after step 7 (PBX-B -> GW-B ALERTING pi=8)" in result.message
    assert "no 183 at all after that" in result.message
    assert result.focus is not None
    assert any(a.name == "ALERTING" for a in result.excerpt)


def test_a_failed_check_is_reported_as_such(flow: Callable[..., Any]) -> None:
    expect = expectations('[ladder]\nsteps = ["PBX-A -> GW-A SETUP", '
                          '"GW-A -> PBX-A CALL PROC", "PBX-A -> GW-A DISCONNECT cause=31"]')
    (result, _) = evaluate(record(flow()), expect)
    assert not result.passed
    assert "PBX-A -> GW-A DISCONNECT cause=16 at" in result.message
    assert "does not meet cause=31" in result.message


def test_exact_rejects_an_unexpected_arrow(flow: Callable[..., Any],
                                           flow_one_steps: list[str]) -> None:
    del flow_one_steps[3]  # GW-B -> GW-A 100
    expect = expectations('[ladder]\nmatch = "exact"\nsteps = [' +
                          ", ".join(f'"{s}"' for s in flow_one_steps) + "]")
    (result, _) = evaluate(record(flow()), expect)
    assert not result.passed and result.message.startswith("unexpected GW-B -> GW-A 100 Trying")
    assert result.marked is not None and result.marked.name == "100"
    # ... which subsequence matching lets through.
    relaxed = replace(expect, ladder=replace(expect.ladder, match="subsequence"))
    assert evaluate(record(flow()), relaxed)[0].passed


def test_causal_order_lets_independent_legs_race_but_not_cause_and_effect(
    flow: Callable[..., Any],
) -> None:
    arrows = RunView(record(flow())).arrows

    def matched(order: str, *texts: str) -> list[bool]:
        steps = tuple(StepPattern.parse(text) for text in texts)
        outcome = match_ladder(arrows, LadderExpectation(steps=steps, order=order))  # type: ignore[arg-type]
        return [arrow is not None for arrow in outcome.matched]

    # Two answers reaching GW-A from different peers: a race, either order passes.
    race = ("PBX-A -> GW-A RELEASE COMPLETE", "GW-B -> GW-A 200 cseq=BYE")
    assert matched("causal", *race) == [True, True]
    assert matched("strict", *race) == [True, False]
    # On one link the order is the order.
    assert matched("causal", "GW-B -> GW-A 180", "GW-B -> GW-A 100") == [True, False]
    # What GW-A received before it sent: ACK only after CONNECT ACK.
    assert matched("causal", "GW-A -> GW-B ACK", "PBX-A -> GW-A CONNECT ACK") == [True, False]
    assert matched("causal", "GW-B -> GW-A 180", "GW-A -> PBX-A CONNECT") == [True, True]
    assert matched("causal", "GW-A -> PBX-A CONNECT", "GW-B -> GW-A 200 sdp") == [True, False]
    # Two messages one node sends at once on two links: either order.
    assert matched("causal", "GW-A -> GW-B INVITE", "GW-A -> PBX-A CALL PROC") == [True, True]


@pytest.mark.parametrize(("text", "fragment"), [
    ('[[phone]]\nphone = "PBX-A/1000"\nevents = ["off-hook", "tone busy"]',
     "PBX-A/1000: no 'tone busy' after 'off-hook' at 0.000 s"),
    ('[[phone]]\nphone = "PBX-A/1000"\nabsent = ["frequency 697"]',
     "PBX-A/1000: 'frequency 697' at 2.300 s"),
    ('[[media]]\nphone = "PBX-B/2000"\ndigits = "123"',
     "DTMF heard '12', expected '123'"),
    ('[[media]]\nphone = "PBX-B/2000"\nfrequencies = [440]',
     "440 Hz never heard (heard: 1004)"),
    ('[[rtp]]\nbetween = "GW-A -> GW-B"\ncodec = "PCMA"', "carries PCMU, not PCMA"),
    ('[[rtp]]\nbetween = "PBX-A <-> GW-A"', "no RTP from PBX-A to GW-A in the trace"),
    ('[[leg]]\nbetween = "GW-A -> GW-B"\nstatus = 486', "final status 200, expected 486"),
    ('[[leg]]\nbetween = "GW-B -> GW-A"\nstatus = 200', "no INVITE or SETUP from GW-B to GW-A"),
    ('[[leg]]\nbetween = "PBX-A -> GW-A"\ncleared-by = "GW-A"',
     "cleared by PBX-A, expected GW-A"),
    ('[[timing]]\nfrom = "PBX-A -> GW-A SETUP"\nto = "GW-A -> PBX-A CONNECT"\nmax = "1s"',
     "outside <= 1 s"),
    ('[[timing]]\nfrom = "PBX-A/1000 rejected"\nto = "GW-A -> PBX-A CONNECT"',
     "'PBX-A/1000 rejected' never happened"),
    ('[[registration]]\nnode = "GW-A"\nnumber = "5551001"',
     "5551001 is not registering at all, expected registered"),
])
def test_failures_say_what_went_wrong(flow: Callable[..., Any], text: str,
                                      fragment: str) -> None:
    results = evaluate(record(flow()), expectations(text))
    failed = first_failure(results)
    assert failed is not None and fragment in failed.message, failed


def test_rtp_loss_and_idle_end_state(flow: Callable[..., Any]) -> None:
    tracer = flow(lost=frozenset({3, 4, 5}))
    expect = expectations('[[rtp]]\nbetween = "GW-A -> GW-B"\nmax-loss-percent = 2')
    busy = {"GW-B": NodeState("GW-B", "gateway", live_calls=1),
            "PBX-A": NodeState("PBX-A", "pbx", off_hook=("1000",))}
    results = evaluate(record(tracer, final=busy, problems=("timed out waiting for x",)),
                       expect)
    assert [r.kind for r in results] == ["run", "rtp", "idle"]
    assert results[0].message == "timed out waiting for x"
    assert "6.00% lost, more than 2%" in results[1].message
    assert results[2].message == ("GW-B still has 1 call(s); PBX-A: phone(s) 1000 off hook")
