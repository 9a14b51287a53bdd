"""The dial plan: exact extensions, X wildcards, open T patterns, digit manipulation."""

from __future__ import annotations

import pytest

from pbx_sim.config import RouteConfig
from pbx_sim.dialplan import Destination, DialPlan, Fit, Pattern

PLAN = DialPlan.build(
    ["1000", "1001", "100"],
    [
        RouteConfig(pattern="9T", trunk="gw", strip=1),
        RouteConfig(pattern="2XXX", trunk="gw", prepend="555"),
        RouteConfig(pattern="20XX", trunk="other"),
        RouteConfig(pattern="*21#", extension="1001"),
    ],
)


@pytest.mark.parametrize(
    ("pattern", "number", "fit"),
    [
        ("2XXX", "2", Fit.PARTIAL), ("2XXX", "2123", Fit.COMPLETE), ("2XXX", "21234", Fit.NONE),
        ("2XXX", "3", Fit.NONE), ("2XXX", "2*", Fit.NONE), ("9T", "9", Fit.OPEN),
        ("9T", "95551234", Fit.OPEN), ("9T", "", Fit.PARTIAL), ("9T", "8", Fit.NONE),
    ],
)
def test_pattern_fit(pattern: str, number: str, fit: Fit) -> None:
    assert Pattern.parse(pattern).fit(number) is fit


def test_an_extension_that_is_a_prefix_of_another_waits_for_more_digits() -> None:
    assert PLAN.classify("100").verdict == "incomplete"
    assert PLAN.classify("100", final=True).destination == Destination("extension", "100", "100")
    assert PLAN.classify("1000").destination == Destination("extension", "1000", "1000")


def test_the_most_specific_complete_route_wins_and_digits_are_manipulated() -> None:
    assert PLAN.classify("2001").destination == Destination("trunk", "other", "2001")
    assert PLAN.classify("2101").destination == Destination("trunk", "gw", "5552101")


def test_open_routes_report_their_destination_before_the_number_is_complete() -> None:
    verdict = PLAN.classify("9555")
    assert verdict.verdict == "incomplete"
    assert verdict.destination == Destination("trunk", "gw", "555")
    assert PLAN.classify("9555#").destination == Destination("trunk", "gw", "555")
    assert PLAN.classify("9555#").verdict == "complete"


def test_feature_codes_keep_their_hash_and_nonsense_is_invalid() -> None:
    assert PLAN.classify("*21#").destination == Destination("extension", "1001", "1001")
    assert PLAN.classify("7").verdict == "invalid"
    assert PLAN.classify("10", final=True).verdict == "invalid"
