"""Digit collection for station lines and overlap sending, decided against dial-peer patterns.

After each digit the collector says one of three things (IOS behaviour):

* **complete** -- some pattern matches the digits and no pattern could use another digit: route
  now (``555`` routes after three digits, whatever the caller dials next);
* **need more** -- some pattern could still use more digits: wait for the next digit until the
  inter-digit deadline (``timeouts interdigit``, 10 s by default).  If a pattern already matches
  (a shorter peer, or a ``T`` pattern) the timeout completes the number; otherwise it fails with
  cause 28 (invalid number format / address incomplete);
* **no match** -- no pattern can match whatever follows: cause 1 (unallocated number), reorder.

The terminator (``#``, IOS ``dial-peer terminator``) or a Q.931 Sending complete decides at once;
the terminator is not part of the number.
Before the first digit the initial deadline (``timeouts initial``, 10 s) applies.  The collector
is sans-IO: the caller passes ``now`` and re-arms its one timer from :meth:`get_timer`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from gateway.calls.dialpeer import DIAL_CHARS, NumberPattern
from gateway.errors import LocalProtocolError

DEFAULT_INITIAL_TIMEOUT: Final = 10.0
DEFAULT_INTERDIGIT_TIMEOUT: Final = 10.0
DEFAULT_TERMINATOR: Final = "#"
MAX_DIALLED_DIGITS: Final = 32  # IOS numbers carry at most 32 digits
UNALLOCATED_NUMBER: Final = 1
INVALID_NUMBER_FORMAT: Final = 28


class Collect(StrEnum):
    NEED_MORE = "need-more"
    COMPLETE = "complete"
    NO_MATCH = "no-match"


@dataclass(frozen=True, slots=True)
class DigitDecision:
    """Where collection stands.

    ``number`` is the digits so far (never the terminator).  For NEED_MORE, ``deadline`` is when
    the timer fires and ``route_on_timeout`` whether that completes the number; for NO_MATCH,
    ``cause`` is the Q.850 cause to clear with (1 or 28).
    """

    outcome: Collect
    number: str
    cause: int | None = None
    deadline: float | None = None
    route_on_timeout: bool = False


@dataclass(frozen=True, slots=True)
class PatternProgress:
    """Whether any pattern matches the digits so far, and whether any could use more digits."""

    matched: bool
    extendable: bool


class _Tracker:
    """One pattern's automaton state as digits arrive (prefix semantics, like routing)."""

    __slots__ = ("matched", "pattern", "state")

    def __init__(self, pattern: NumberPattern) -> None:
        self.pattern = pattern
        self.state = pattern.initial_state()
        self.matched = pattern.accepts(self.state)

    def feed(self, digit: str) -> None:
        self.state = self.pattern.advance(self.state, digit)
        # Without '$' a pattern that matched stays matched: further digits are extra digits.
        accepted = self.pattern.accepts(self.state)
        self.matched = accepted or (self.matched and not self.pattern.anchored_end)

    @property
    def extendable(self) -> bool:
        return self.pattern.can_extend(self.state)


def progress(digits: str, patterns: Iterable[NumberPattern]) -> PatternProgress:
    """Pure classification of ``digits`` (no terminator) against ``patterns``."""
    trackers = [_Tracker(p) for p in patterns]
    for digit in digits:
        for tracker in trackers:
            tracker.feed(digit)
    return PatternProgress(any(t.matched for t in trackers), any(t.extendable for t in trackers))


class DigitCollector:
    """Collects one dialled number; feed digits with :meth:`receive_digit`, fire the timer with
    :meth:`handle_timer`.  Once the decision is COMPLETE or NO_MATCH the collector is finished."""

    __slots__ = (
        "_decision",
        "_digits",
        "_interdigit_timeout",
        "_terminator",
        "_trackers",
    )

    def __init__(
        self,
        patterns: Iterable[NumberPattern],
        *,
        now: float,
        initial_timeout: float = DEFAULT_INITIAL_TIMEOUT,
        interdigit_timeout: float = DEFAULT_INTERDIGIT_TIMEOUT,
        terminator: str = DEFAULT_TERMINATOR,
    ) -> None:
        if len(terminator) != 1 or terminator not in DIAL_CHARS:
            raise LocalProtocolError(f"terminator must be one keypad character, got {terminator!r}")
        if initial_timeout <= 0 or interdigit_timeout <= 0:
            raise LocalProtocolError("timeouts must be positive")
        self._trackers = [_Tracker(p) for p in patterns]
        self._terminator = terminator
        self._interdigit_timeout = interdigit_timeout
        self._digits = ""
        self._decision = DigitDecision(
            Collect.NEED_MORE,
            "",
            deadline=now + initial_timeout,
            route_on_timeout=self._matched(),
        )

    @property
    def digits(self) -> str:
        return self._digits

    @property
    def decision(self) -> DigitDecision:
        return self._decision

    @property
    def finished(self) -> bool:
        return self._decision.outcome is not Collect.NEED_MORE

    def get_timer(self) -> float | None:
        return self._decision.deadline if not self.finished else None

    def receive_digit(self, digit: str, now: float) -> DigitDecision:
        """Take one keypad digit (``0-9 * # A-D``) and decide."""
        if self.finished:
            raise LocalProtocolError("digit collection is already finished")
        if len(digit) != 1 or digit.upper() not in DIAL_CHARS:
            raise LocalProtocolError(f"not a keypad digit: {digit!r}")
        if digit == self._terminator:
            return self._finish()
        self._digits += digit
        for tracker in self._trackers:
            tracker.feed(digit)
        if len(self._digits) >= MAX_DIALLED_DIGITS:
            return self._finish()
        matched = self._matched()
        extendable = any(t.extendable for t in self._trackers)
        if not matched and not extendable:
            return self._set(Collect.NO_MATCH, cause=UNALLOCATED_NUMBER)
        if matched and not extendable:
            return self._set(Collect.COMPLETE)
        return self._set(
            Collect.NEED_MORE, deadline=now + self._interdigit_timeout, route_on_timeout=matched
        )

    def sending_complete(self) -> DigitDecision:
        """The line says the number is complete (Q.931 Sending complete): route it or refuse it."""
        if self.finished:
            raise LocalProtocolError("digit collection is already finished")
        return self._finish()

    def handle_timer(self, now: float) -> DigitDecision | None:
        """Fire the initial/inter-digit timer if it is due; return the new decision if it was."""
        deadline = self.get_timer()
        if deadline is None or now < deadline:
            return None
        return self._finish()

    def _matched(self) -> bool:
        return any(t.matched for t in self._trackers)

    def _finish(self) -> DigitDecision:
        """The number ended (terminator, timeout or length limit): route it or refuse it.

        Every digit so far was still a possible start of some pattern, so a number that matches
        nothing now is incomplete: cause 28.
        """
        if self._matched():
            return self._set(Collect.COMPLETE)
        return self._set(Collect.NO_MATCH, cause=INVALID_NUMBER_FORMAT)

    def _set(
        self,
        outcome: Collect,
        *,
        cause: int | None = None,
        deadline: float | None = None,
        route_on_timeout: bool = False,
    ) -> DigitDecision:
        self._decision = DigitDecision(outcome, self._digits, cause, deadline, route_on_timeout)
        return self._decision
