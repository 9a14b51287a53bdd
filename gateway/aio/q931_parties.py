"""What a call's numbers and name become in an outgoing Q.931 SETUP.

SIP carries parties as free text: ``sip:+15551000@...`` and a display name in any script.  Q.931
does not: a party number holds IA5 digits, ``*``, ``#`` and ``A``-``D`` only (s4.5.8, s4.5.10),
with "+" expressed as the type of number *international* in the E.164 plan, and the Display
holds at most 80 printable IA5 characters (s4.5.16).  A gateway converts what it can, as a user
of a real one expects, and says what it could not -- a call must never get stuck because its
SETUP could not be built.
"""

from __future__ import annotations

import unicodedata
from typing import Final

from pbx_sim.q931.constants import NumberingPlan, NumberType
from pbx_sim.q931.ie import NUMBER_CHARACTERS, PRINTABLE_IA5, Display

__all__ = [
    "CALLED_DIGITS_MAX",
    "CALLING_DIGITS_MAX",
    "DISPLAY_LIMIT",
    "display_text",
    "party_number",
]

DISPLAY_LIMIT: Final = Display.MAX_LENGTH - 2  # 80 characters of text (s4.5.16)


# An IE's contents are at most 255 octets: octet 3 (type, plan), for a calling number octet 3a
# (presentation, screening), then one octet per digit.
CALLED_DIGITS_MAX: Final = 254
CALLING_DIGITS_MAX: Final = 253


def party_number(
    number: str, number_type: int, plan: int, *, longest: int = CALLING_DIGITS_MAX
) -> tuple[str, int, int] | None:
    """``(digits, type, plan)`` for a party number, or None when Q.931 cannot carry it.

    ``+E.164`` becomes its digits with type international and plan E.164 (ITU-T E.164 s12 and
    Q.931 s4.5.8); the trunk's configured type and plan apply to everything else.  More than
    ``longest`` digits do not fit the information element.
    """
    if number.startswith("+"):
        number, number_type, plan = number[1:], NumberType.INTERNATIONAL, NumberingPlan.E164
    if not number or len(number) > longest:
        return None
    if any(char not in NUMBER_CHARACTERS for char in number):
        return None
    return number, number_type, plan


def display_text(name: str | None) -> str | None:
    """A display name as printable IA5 of at most 80 characters (None when nothing is left).

    Accents are dropped (``José`` -> ``Jose``), other characters outside IA5 become ``?``,
    control characters go, and a long name is cut.
    """
    if not name:
        return None
    decomposed = unicodedata.normalize("NFKD", name)
    chars = []
    for char in decomposed:
        if char in PRINTABLE_IA5:
            chars.append(char)
        elif unicodedata.combining(char):
            continue  # the accent of a decomposed letter
        elif unicodedata.category(char).startswith("C") or char in "\r\n\t":
            continue  # control and format characters carry nothing to show
        else:
            chars.append("?")
    text = "".join(chars).strip()[:DISPLAY_LIMIT].rstrip()
    return text or None
