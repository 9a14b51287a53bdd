"""Numbers and names from SIP made fit for a Q.931 SETUP (gateway/aio/q931_parties.py)."""

from __future__ import annotations

import pytest

from gateway.aio.q931_parties import DISPLAY_LIMIT, display_text, party_number
from pbx_sim.q931.constants import NumberingPlan, NumberType
from pbx_sim.q931.ie import Display

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


def test_the_limit_is_the_ies() -> None:
    assert DISPLAY_LIMIT == 80
    Display("x" * DISPLAY_LIMIT)
