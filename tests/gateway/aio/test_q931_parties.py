"""Numbers and names from SIP made fit for a Q.931 SETUP (gateway/aio/q931_parties.py)."""

from __future__ import annotations

import pytest

from gateway.aio.q931_parties import (
    CALLED_DIGITS_MAX,
    CALLING_DIGITS_MAX,
    DISPLAY_LIMIT,
    display_text,
    party_number,
)
from gateway.errors import LocalProtocolError
from pbx_sim.q931.constants import NumberingPlan, NumberType
from pbx_sim.q931.ie import CalledPartyNumber, CallingPartyNumber, Display

UNKNOWN, NATIONAL = NumberType.UNKNOWN, NumberType.NATIONAL


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("5551000", ("5551000", NATIONAL, NumberingPlan.NATIONAL)),
        ("*69#", ("*69#", NATIONAL, NumberingPlan.NATIONAL)),
        ("+15551000", ("15551000", NumberType.INTERNATIONAL, NumberingPlan.E164)),
        ("+", None),
        ("", None),
        ("++1555", None),
        ("555+1000", None),
        ("555 1000", None),
        ("555;1", None),
        ("éé", None),
    ],
)
def test_party_numbers(number: str, expected: tuple[str, int, int] | None) -> None:
    assert party_number(number, NATIONAL, NumberingPlan.NATIONAL) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (None, None),
        ("", None),
        ("Alice", "Alice"),
        ("  Alice  ", "Alice"),
        ("José Müller", "Jose Muller"),
        ("Ångström Ærø", "Angstrom ?r?"),
        ("李小龍", "???"),
        ("A\r\nB\tC\x00D\u200bE", "ABCDE"),
        ("\r\n", None),
        ("x" * 200, "x" * DISPLAY_LIMIT),
        ("y" * 79 + " z", "y" * 79),
    ],
)
def test_display_texts(name: str | None, expected: str | None) -> None:
    text = display_text(name)
    assert text == expected
    if text is not None:
        Display(text)  # the IE accepts every result


def test_the_limits_are_the_ies() -> None:
    assert DISPLAY_LIMIT == 80
    Display("x" * DISPLAY_LIMIT)
    plan = NumberingPlan.E164
    longest_called = "5" * CALLED_DIGITS_MAX
    assert party_number(longest_called, UNKNOWN, plan, longest=CALLED_DIGITS_MAX)
    bytes(CalledPartyNumber(longest_called, UNKNOWN, plan))  # the IE encodes
    assert party_number(longest_called + "5", UNKNOWN, plan, longest=CALLED_DIGITS_MAX) is None
    longest_calling = "5" * CALLING_DIGITS_MAX
    assert party_number(longest_calling, UNKNOWN, plan)
    bytes(CallingPartyNumber(longest_calling, UNKNOWN, plan, presentation=0, screening=0))
    assert party_number("+" + longest_calling, UNKNOWN, plan)
    assert party_number(longest_calling + "5", UNKNOWN, plan) is None
    with pytest.raises(LocalProtocolError):
        bytes(CalledPartyNumber(longest_called + "5", UNKNOWN, plan))
