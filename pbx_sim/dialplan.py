"""The PBX dial plan: which digits go where, and when a number is complete.

Every extension number is an exact entry; the configured routes add patterns (``X`` any digit,
a trailing ``T`` for "any number of further digits").  :meth:`DialPlan.classify` looks at the
digits so far and says whether the number is complete (route it now), may still grow (wait for
more digits or the inter-digit timeout), or can never match (unallocated number).  A route with
digit manipulation turns the dialled digits into the number sent (``strip`` then ``prepend``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from pbx_sim.config import RouteConfig

DestinationKind = Literal["extension", "trunk"]


class Fit(Enum):
    NONE = 0
    PARTIAL = 1  # a prefix of something the pattern matches: more digits needed
    OPEN = 2  # matches, and more digits would still match (a T pattern)
    COMPLETE = 3  # matches exactly; no longer number would


@dataclass(frozen=True, slots=True)
class Pattern:
    """``digits``: literal digits and ``X``; ``open``: the pattern ended in ``T``."""

    digits: str
    open: bool

    @classmethod
    def parse(cls, text: str) -> Pattern:
        if text.endswith("T"):
            return cls(text[:-1], True)
        return cls(text, False)

    def fit(self, number: str) -> Fit:
        fixed = self.digits
        for index, digit in enumerate(number[: len(fixed)]):
            wanted = fixed[index]
            if wanted != digit and not (wanted == "X" and digit.isdigit()):
                return Fit.NONE
        if len(number) < len(fixed):
            return Fit.PARTIAL
        if self.open:
            return Fit.OPEN
        return Fit.COMPLETE if len(number) == len(fixed) else Fit.NONE

    @property
    def specificity(self) -> int:
        """Literal digits count: the more, the more specific (chosen first on a tie)."""
        return sum(1 for d in self.digits if d != "X")


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a number goes: an extension (``target`` its number) or a trunk (its name), and
    the digits to send there."""

    kind: DestinationKind
    target: str
    number: str


@dataclass(frozen=True, slots=True)
class Route:
    pattern: Pattern
    kind: DestinationKind
    target: str
    strip: int = 0
    prepend: str = ""

    def destination(self, dialled: str) -> Destination:
        if self.kind == "extension":
            return Destination("extension", self.target, self.target)
        return Destination("trunk", self.target, self.prepend + dialled[self.strip :])


Verdict = Literal["complete", "incomplete", "invalid"]


@dataclass(frozen=True, slots=True)
class Classification:
    """``complete``: route to ``destination`` now.  ``incomplete``: wait for more digits;
    ``destination`` is set when an open (T) route already matches, so an overlap trunk may be
    seized at once.  ``invalid``: no entry can ever match (cause 1)."""

    verdict: Verdict
    destination: Destination | None = None


class DialPlan:
    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = tuple(routes)

    @classmethod
    def build(cls, extensions: Iterable[str], routes: Iterable[RouteConfig]) -> DialPlan:
        table = [Route(Pattern(number, False), "extension", number) for number in extensions]
        for route in routes:
            if route.trunk:
                table.append(Route(Pattern.parse(route.pattern), "trunk", route.trunk,
                                   route.strip, route.prepend))
            else:
                table.append(Route(Pattern.parse(route.pattern), "extension", route.extension))
        return cls(table)

    def classify(self, dialled: str, *, final: bool = False) -> Classification:
        """What ``dialled`` is; ``final`` when no more digits will come (inter-digit timeout,
        Sending complete, a closing ``#``)."""
        if dialled.endswith("#") and not self._matches_literally(dialled):
            dialled, final = dialled[:-1], True
        complete: list[Route] = []
        open_: list[Route] = []
        partial = False
        for route in self.routes:
            fit = route.pattern.fit(dialled)
            if fit is Fit.COMPLETE:
                complete.append(route)
            elif fit is Fit.OPEN:
                open_.append(route)
            elif fit is Fit.PARTIAL:
                partial = True
        best = _most_specific(complete) or _most_specific(open_)
        if final:
            if best is None:
                return Classification("invalid")
            return Classification("complete", best.destination(dialled))
        if complete and not open_ and not partial:
            assert best is not None
            return Classification("complete", best.destination(dialled))
        if complete or open_ or partial:
            opened = _most_specific(open_)
            return Classification(
                "incomplete", opened.destination(dialled) if opened is not None else None
            )
        return Classification("invalid")

    def _matches_literally(self, dialled: str) -> bool:
        """A pattern that itself contains the ``#`` (a feature code) keeps it as a digit."""
        return any(r.pattern.fit(dialled) is not Fit.NONE and "#" in r.pattern.digits
                   for r in self.routes)


def _most_specific(routes: list[Route]) -> Route | None:
    if not routes:
        return None
    return max(routes, key=lambda r: r.pattern.specificity)  # first of equals: table order
