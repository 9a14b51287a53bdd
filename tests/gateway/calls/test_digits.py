"""Digit collection: when a dialled number is complete, needs more digits, completes on the
inter-digit timeout or cannot match, stepped on a virtual clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.calls.dialpeer import NumberPattern
from gateway.calls.digits import (
    MAX_DIALLED_DIGITS,
    Collect,
    DigitCollector,
    DigitDecision,
    progress,
)
from gateway.errors import LocalProtocolError


def patterns(*texts: str) -> list[NumberPattern]:
    return [NumberPattern.parse(t) for t in texts]


def dial(collector: DigitCollector, digits: str, start: float = 0.0) -> list[DigitDecision]:
    """Dial one digit per second from ``start``; return every decision."""
    return [collector.receive_digit(d, start + i) for i, d in enumerate(digits)]


def test_complete_as_soon_as_no_longer_pattern_can_match() -> None:
    collector = DigitCollector(patterns("555....", "5551..."), now=0.0)
    decisions = dial(collector, "5551234", start=1.0)
    assert [d.outcome for d in decisions] == [Collect.NEED_MORE] * 6 + [Collect.COMPLETE]
    assert decisions[-1] == DigitDecision(Collect.COMPLETE, "5551234")
    assert collector.finished and collector.get_timer() is None
    with pytest.raises(LocalProtocolError):
        collector.receive_digit("5", 9.0)


def test_interdigit_deadline_follows_each_digit() -> None:
    collector = DigitCollector(patterns("555...."), now=0.0, interdigit_timeout=4.0)
    assert collector.get_timer() == 10.0  # initial timeout before the first digit
    first = collector.receive_digit("5", 2.5)
    assert (first.outcome, first.deadline, first.route_on_timeout) == (
        Collect.NEED_MORE,
        6.5,
        False,
    )
    assert collector.get_timer() == 6.5
    assert collector.handle_timer(6.4) is None
    collector.receive_digit("5", 6.0)
    assert collector.get_timer() == 10.0


def test_variable_length_pattern_completes_on_timeout_or_terminator() -> None:
    collector = DigitCollector(patterns("9T"), now=0.0)
    decisions = dial(collector, "95551234")
    assert all(d.outcome is Collect.NEED_MORE for d in decisions)
    assert decisions[0].route_on_timeout and decisions[-1].deadline == 17.0
    fired = collector.handle_timer(collector.get_timer() or 0.0)
    assert fired == DigitDecision(Collect.COMPLETE, "95551234")

    collector = DigitCollector(patterns("9T"), now=0.0)
    dial(collector, "9555")
    done = collector.receive_digit("#", 5.0)
    assert done == DigitDecision(Collect.COMPLETE, "9555")  # '#' is not part of the number


def test_north_american_pattern_and_no_match() -> None:
    nanp = patterns("1[2-9]..[2-9]......")
    collector = DigitCollector(nanp, now=0.0)
    decisions = dial(collector, "12125551234")
    assert decisions[-2].outcome is Collect.NEED_MORE
    assert decisions[-1] == DigitDecision(Collect.COMPLETE, "12125551234")
    collector = DigitCollector(nanp, now=0.0)
    assert dial(collector, "11")[-1] == DigitDecision(Collect.NO_MATCH, "11", cause=1)


def test_no_pattern_can_match_is_unallocated_number() -> None:
    collector = DigitCollector(patterns("555....", "9T"), now=0.0)
    assert collector.receive_digit("7", 1.0) == DigitDecision(Collect.NO_MATCH, "7", cause=1)


def test_incomplete_number_is_invalid_format_on_timeout_or_terminator() -> None:
    collector = DigitCollector(patterns("555...."), now=0.0)
    dial(collector, "555")
    assert collector.handle_timer(12.0) == DigitDecision(Collect.NO_MATCH, "555", cause=28)
    collector = DigitCollector(patterns("555...."), now=0.0)
    dial(collector, "555")
    assert collector.receive_digit("#", 3.0) == DigitDecision(Collect.NO_MATCH, "555", cause=28)


def test_sending_complete_decides_at_once() -> None:
    collector = DigitCollector(patterns("555", "5551234"), now=0.0)
    dial(collector, "555")
    assert collector.sending_complete() == DigitDecision(Collect.COMPLETE, "555")
    with pytest.raises(LocalProtocolError):
        collector.sending_complete()
    collector = DigitCollector(patterns("5551234"), now=0.0)
    dial(collector, "555")
    assert collector.sending_complete() == DigitDecision(Collect.NO_MATCH, "555", cause=28)


def test_shorter_match_waits_for_the_longer_pattern_then_routes_on_timeout() -> None:
    both = patterns("555", "5551234")
    collector = DigitCollector(both, now=0.0)
    decisions = dial(collector, "555")
    assert decisions[-1].outcome is Collect.NEED_MORE and decisions[-1].route_on_timeout
    assert collector.handle_timer(100.0) == DigitDecision(Collect.COMPLETE, "555")

    collector = DigitCollector(both, now=0.0)
    assert dial(collector, "5551234")[-1] == DigitDecision(Collect.COMPLETE, "5551234")
    # A digit that only the shorter (prefix) pattern accepts ends collection at once.
    collector = DigitCollector(both, now=0.0)
    assert dial(collector, "5559")[-1] == DigitDecision(Collect.COMPLETE, "5559")


@pytest.mark.parametrize(
    ("pattern", "collected"),
    [("5......", "5550124"), ("555....", "5550124"), ("555", "555"), ("555T", "5550124")],
)
def test_cisco_dialled_digits_collected_table(pattern: str, collected: str) -> None:
    # Dialling 5550124 against each pattern alone; T needs the timeout (or '#') to finish.
    collector = DigitCollector(patterns(pattern), now=0.0)
    for i, digit in enumerate("5550124"):
        if collector.finished:
            break
        collector.receive_digit(digit, float(i))
    if not collector.finished:
        collector.handle_timer(collector.get_timer() or 0.0)
    assert collector.decision == DigitDecision(Collect.COMPLETE, collected)


def test_anchored_pattern_rejects_extra_digits() -> None:
    collector = DigitCollector(patterns("555$", "5556..."), now=0.0)
    assert dial(collector, "5551")[-1] == DigitDecision(Collect.NO_MATCH, "5551", cause=1)


def test_initial_timeout() -> None:
    collector = DigitCollector(patterns("555...."), now=5.0, initial_timeout=3.0)
    assert collector.handle_timer(7.9) is None
    assert collector.handle_timer(8.0) == DigitDecision(Collect.NO_MATCH, "", cause=28)
    # A bare T matches no digits at all (why Cisco recommends .T).
    collector = DigitCollector(patterns("T"), now=0.0)
    assert collector.decision.route_on_timeout
    assert collector.handle_timer(10.0) == DigitDecision(Collect.COMPLETE, "")
    # No dial peers: the first digit cannot match anything.
    collector = DigitCollector([], now=0.0)
    assert collector.receive_digit("1", 1.0).cause == 1


def test_length_limit_ends_collection() -> None:
    collector = DigitCollector(patterns(".T"), now=0.0)
    decisions = dial(collector, "1" * MAX_DIALLED_DIGITS)
    assert decisions[-2].outcome is Collect.NEED_MORE
    assert decisions[-1] == DigitDecision(Collect.COMPLETE, "1" * MAX_DIALLED_DIGITS)


def test_star_digits_custom_terminator_and_bad_input() -> None:
    collector = DigitCollector(patterns("#67T"), now=0.0, terminator="*")
    dial(collector, "#67")  # with '*' as terminator, '#' is an ordinary digit
    assert collector.receive_digit("*", 5.0) == DigitDecision(Collect.COMPLETE, "#67")
    collector = DigitCollector(patterns("*67T", "#1"), now=0.0)
    assert dial(collector, "*675551234")[-1].route_on_timeout
    with pytest.raises(LocalProtocolError):
        collector.receive_digit("x", 20.0)
    with pytest.raises(LocalProtocolError):
        collector.receive_digit("12", 20.0)
    with pytest.raises(LocalProtocolError):
        DigitCollector([], now=0.0, terminator="##")
    with pytest.raises(LocalProtocolError):
        DigitCollector([], now=0.0, interdigit_timeout=0)


def test_progress_is_the_pure_classification() -> None:
    ps = patterns("555....", "5551...", "9T")
    assert progress("", ps) == progress("555", ps)
    assert (progress("555", ps).matched, progress("555", ps).extendable) == (False, True)
    assert (progress("5551234", ps).matched, progress("5551234", ps).extendable) == (True, False)
    assert (progress("9", ps).matched, progress("9", ps).extendable) == (True, True)
    assert (progress("7", ps).matched, progress("7", ps).extendable) == (False, False)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789*", min_size=1, max_size=14))
def test_completed_numbers_are_routable(digits: str) -> None:
    """Whatever is dialled, a COMPLETE number matches some pattern (so routing finds a peer)."""
    ps = patterns("555....", "5551...", "9T", "1[2-9]..[2-9]......", "*6.", "0%1?")
    collector = DigitCollector(ps, now=0.0)
    for i, digit in enumerate(digits):
        if collector.finished:
            break
        collector.receive_digit(digit, float(i))
    if not collector.finished:
        collector.handle_timer(1000.0)
    decision = collector.decision
    assert decision.outcome is not Collect.NEED_MORE
    routable = any(p.match(decision.number) is not None for p in ps)
    assert routable is (decision.outcome is Collect.COMPLETE)
