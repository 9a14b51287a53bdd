"""Which information elements a message must carry, and what is wrong with a received one.

Mandatory elements per message come from the message tables of Q.931 s3.1 (the "M" rows beyond
discriminator, call reference and type).  Where the tables make an element mandatory only on a
*first* response (Channel identification in CALL PROCEEDING/ALERTING/CONNECT/SETUP ACKNOWLEDGE
toward the user) we do not insist: whether a message is the first response depends on history the
codec cannot see, and a missing channel there is harmless (the SETUP's channel stands).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pbx_sim.q931.constants import (
    IE,
    MessageType,
    Role,
    comprehension_required,
    ie_name,
)
from pbx_sim.q931.ie import RawIE, codeset_of, identifier_of

if TYPE_CHECKING:
    from pbx_sim.q931.message import Message

MANDATORY: dict[int, tuple[int, ...]] = {
    MessageType.SETUP: (IE.BEARER_CAPABILITY,),  # Table 3-16
    MessageType.DISCONNECT: (IE.CAUSE,),  # Table 3-8
    MessageType.PROGRESS: (IE.PROGRESS_INDICATOR,),  # Table 3-12
    MessageType.NOTIFY: (IE.NOTIFICATION_INDICATOR,),  # Table 3-11
    MessageType.STATUS: (IE.CAUSE, IE.CALL_STATE),  # Table 3-17
    MessageType.RESTART: (IE.RESTART_INDICATOR,),  # Table 3-43
    MessageType.RESTART_ACKNOWLEDGE: (IE.RESTART_INDICATOR,),  # Table 3-44
}
# Mandatory in the network-to-user direction only (Table 3-16 note: the network always names
# the B-channel it offers).
MANDATORY_TOWARD_USER: dict[int, tuple[int, ...]] = {
    MessageType.SETUP: (IE.CHANNEL_IDENTIFICATION,),
}


@dataclass(frozen=True, slots=True)
class Defect:
    """One thing wrong with a received message.

    ``fatal`` defects (a missing or broken mandatory element, an unknown comprehension-required
    element) stop the message from being acted on (s5.8.6, s5.8.7.1 first paragraph); the others
    (a broken optional element, an unknown optional one) are reported while the message is
    acted on without the element (s5.8.7).
    """

    cause: int
    reason: str
    identifier: int | None = None
    fatal: bool = True


def mandatory_elements(
    message_type: int, receiver: Role | None, *, first_clearing: bool = False
) -> tuple[int, ...]:
    """The identifiers that must be present for ``receiver`` (None: the side-independent ones).

    RELEASE needs a Cause only when it is the first clearing message (Table 3-9 note 2).
    """
    required = MANDATORY.get(message_type, ())
    if receiver == "user":
        required += MANDATORY_TOWARD_USER.get(message_type, ())
    if first_clearing and message_type == MessageType.RELEASE:
        required += (IE.CAUSE,)
    return required


def find_defects(
    message: Message, receiver: Role | None, *, first_clearing: bool = False
) -> list[Defect]:
    """Every defect of ``message``, fatal ones first (the first fatal one decides the answer)."""
    fatal: list[Defect] = []
    minor: list[Defect] = []
    required = mandatory_elements(message.message_type, receiver, first_clearing=first_clearing)
    seen: set[int] = set()
    for element in message.ies:
        codeset = codeset_of(element)
        if codeset:
            continue  # other codesets are skipped, never reported (s4.5.2 lets us ignore them)
        identifier = identifier_of(element)
        first = identifier not in seen
        seen.add(identifier)
        if not isinstance(element, RawIE) or not first:
            continue  # decoded fine, or a repeat the receiver ignores (s5.8.5.2)
        name = ie_name(identifier)
        if element.defect is not None:
            defect = Defect(100, element.defect, identifier, identifier in required)
            (fatal if defect.fatal else minor).append(defect)
        elif comprehension_required(identifier, codeset):
            fatal.append(Defect(96, f"{name} is not understood and comprehension is required",
                                identifier))
        else:
            minor.append(Defect(99, f"{name} is not implemented", identifier, fatal=False))
    for identifier in required:
        if identifier not in seen:
            fatal.append(Defect(96, f"mandatory {ie_name(identifier)} is missing", identifier))
    return fatal + minor
