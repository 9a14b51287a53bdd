"""Q.931 call states as data: (state, message) -> reception step, (state, primitive) -> send step.

One table pair per side.  State numbers follow Q.931 s2.1: on both sides 1-4 belong to calls the
*user* originated and 6-9/25 to calls the *network* originated, so a caller runs through
U1 U2 U3 U4 U10 on the user side but N6 N25 N9 N7 N8 N10 on the network side.  Reception rules are
s5.1-5.3 and the SDL of Annex A; error rules (what is not in the table) are s5.8.

Timers named in ``stop``/``start`` are the Table 9-1/9-2 timers; stopping one that is not running
is a no-op, ``ALL`` stops every timer of the call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from pbx_sim.q931.constants import CallState, MessageType, Role

S = CallState
M = MessageType
ALL = "*"


class Rx(Enum):
    """What the link does with an expected message (after the step's timers and state)."""

    SETUP_ACKNOWLEDGE = "setup acknowledge"
    PROCEEDING = "proceeding"
    ALERTING = "alerting"
    PROGRESS = "progress"
    CONNECT = "connect"
    CONNECT_ACKNOWLEDGE = "connect acknowledge"
    INFORMATION = "information"
    NOTIFY = "notify"
    DISCONNECT = "disconnect"
    DISCONNECT_COLLISION = "disconnect collision"  # s5.3.5: answer with RELEASE at once
    RELEASE = "release"
    RELEASE_COLLISION = "release collision"  # s5.3.5: RELEASE crossed ours; no RELEASE COMPLETE
    RELEASE_COMPLETE = "release complete"
    STATUS = "status"  # s5.8.11
    STATUS_ENQUIRY = "status enquiry"  # s5.8.10
    IGNORE = "ignore"


class Primitive(Enum):
    """Requests from call control (each one sends the message of the same name)."""

    SETUP = "setup"
    SETUP_ACKNOWLEDGE = "setup_ack"
    PROCEEDING = "proceeding"
    ALERTING = "alerting"
    PROGRESS = "progress"
    CONNECT = "connect"
    CONNECT_ACKNOWLEDGE = "connect_ack"
    INFORMATION = "information"
    DISCONNECT = "disconnect"
    RELEASE = "release"
    REJECT = "reject"  # RELEASE COMPLETE as the answer to a SETUP (s5.2.5.1/5.2.5.3)
    STATUS_ENQUIRY = "status_enquiry"


PRIMITIVE_MESSAGE: dict[Primitive, MessageType] = {
    Primitive.SETUP: M.SETUP,
    Primitive.SETUP_ACKNOWLEDGE: M.SETUP_ACKNOWLEDGE,
    Primitive.PROCEEDING: M.CALL_PROCEEDING,
    Primitive.ALERTING: M.ALERTING,
    Primitive.PROGRESS: M.PROGRESS,
    Primitive.CONNECT: M.CONNECT,
    Primitive.CONNECT_ACKNOWLEDGE: M.CONNECT_ACKNOWLEDGE,
    Primitive.INFORMATION: M.INFORMATION,
    Primitive.DISCONNECT: M.DISCONNECT,
    Primitive.RELEASE: M.RELEASE,
    Primitive.REJECT: M.RELEASE_COMPLETE,
    Primitive.STATUS_ENQUIRY: M.STATUS_ENQUIRY,
}


@dataclass(frozen=True, slots=True)
class Step:
    """One table cell: the action, the next state (None = stay) and the timers to stop/start."""

    action: Rx | Primitive
    to: CallState | None = None
    stop: tuple[str, ...] = ()
    start: str | None = None


Table = dict[tuple[CallState, object], Step]


def _rows(states: Iterable[CallState], key: object, step: Step) -> Table:
    return {(state, key): step for state in states}


def _merge(*tables: Table) -> Table:
    merged: Table = {}
    for table in tables:
        for cell in table:
            if cell in merged:
                raise ValueError(f"state table defines {cell} twice")
        merged.update(table)
    return merged


# -------------------------------------------------------------------------- state families

# Establishment states of a user-originated and of a network-originated call (same on both sides).
USER_ORIGINATED = frozenset({S.CALL_INITIATED, S.OVERLAP_SENDING, S.OUTGOING_CALL_PROCEEDING,
                             S.CALL_DELIVERED})
NETWORK_ORIGINATED = frozenset({S.CALL_PRESENT, S.CALL_RECEIVED, S.CONNECT_REQUEST,
                                S.INCOMING_CALL_PROCEEDING, S.OVERLAP_RECEIVING})
CLEARING = frozenset({S.DISCONNECT_REQUEST, S.DISCONNECT_INDICATION, S.RELEASE_REQUEST})
LIVE = USER_ORIGINATED | NETWORK_ORIGINATED | {S.ACTIVE}  # a call not being cleared
NON_NULL = LIVE | CLEARING

# The state each side enters when *it sends* / *it receives* the first DISCONNECT.
DISCONNECT_SENT_STATE: dict[Role, CallState] = {
    "user": S.DISCONNECT_REQUEST,  # U11
    "network": S.DISCONNECT_INDICATION,  # N12
}
DISCONNECT_RECEIVED_STATE: dict[Role, CallState] = {
    "user": S.DISCONNECT_INDICATION,  # U12
    "network": S.DISCONNECT_REQUEST,  # N11
}
# The state a side is in right after receiving SETUP (U6 / N1) and after sending it (U1 / N6).
OFFERED_STATE: dict[Role, CallState] = {"user": S.CALL_PRESENT, "network": S.CALL_INITIATED}
CALLING_STATE: dict[Role, CallState] = {"user": S.CALL_INITIATED, "network": S.CALL_PRESENT}
# Overlap: the caller's state after SETUP ACKNOWLEDGE (U2 / N25), the answerer's (U25 / N2).
CALLER_OVERLAP_STATE: dict[Role, CallState] = {
    "user": S.OVERLAP_SENDING, "network": S.OVERLAP_RECEIVING,
}
ANSWERER_OVERLAP_STATE: dict[Role, CallState] = {
    "user": S.OVERLAP_RECEIVING, "network": S.OVERLAP_SENDING,
}

# s5.8.11 leaves "incompatible state" to the implementation (except for Null, handled in the
# link): a peer state is incompatible when it belongs to a call set up the other way round, or
# when we are Active and the peer is still setting the call up (it sent CONNECT or CONNECT
# ACKNOWLEDGE before we could be Active, so it cannot be behind us).
INCOMPATIBLE_PEER_STATES: dict[CallState, frozenset[int]] = {
    **{state: frozenset(NETWORK_ORIGINATED) for state in USER_ORIGINATED},
    **{state: frozenset(USER_ORIGINATED) for state in NETWORK_ORIGINATED},
    S.ACTIVE: frozenset(USER_ORIGINATED | NETWORK_ORIGINATED),
}


def _clearing_rows(role: Role) -> Table:
    """DISCONNECT / RELEASE / RELEASE COMPLETE / STATUS (ENQUIRY) and SETUP, for every state."""
    sent, received = DISCONNECT_SENT_STATE[role], DISCONNECT_RECEIVED_STATE[role]
    return _merge(
        _rows(LIVE, M.DISCONNECT, Step(Rx.DISCONNECT, received, stop=(ALL,))),
        {(sent, M.DISCONNECT): Step(Rx.DISCONNECT_COLLISION, S.RELEASE_REQUEST,
                                    stop=(ALL,), start="T308")},
        {(S.RELEASE_REQUEST, M.DISCONNECT): Step(Rx.IGNORE)},
        # s5.8.4: an unexpected RELEASE / RELEASE COMPLETE clears the call in any state.
        _rows(NON_NULL - {S.RELEASE_REQUEST}, M.RELEASE, Step(Rx.RELEASE, S.NULL, stop=(ALL,))),
        {(S.RELEASE_REQUEST, M.RELEASE): Step(Rx.RELEASE_COLLISION, S.NULL, stop=(ALL,))},
        _rows(NON_NULL, M.RELEASE_COMPLETE, Step(Rx.RELEASE_COMPLETE, S.NULL, stop=(ALL,))),
        _rows(NON_NULL, M.STATUS, Step(Rx.STATUS, stop=("T322",))),
        _rows(NON_NULL, M.STATUS_ENQUIRY, Step(Rx.STATUS_ENQUIRY)),
        _rows(NON_NULL, M.SETUP, Step(Rx.IGNORE)),  # s5.8.3.2 e): SETUP on a busy reference
        # In Release request the call is gone for us: late establishment traffic is dropped.
        {
            (S.RELEASE_REQUEST, message): Step(Rx.IGNORE)
            for message in (M.ALERTING, M.CALL_PROCEEDING, M.PROGRESS, M.CONNECT,
                            M.CONNECT_ACKNOWLEDGE, M.SETUP_ACKNOWLEDGE, M.INFORMATION, M.NOTIFY)
        },
    )


# ------------------------------------------------------------------------ reception tables

USER_RECEIVE: Table = _merge(
    # Outgoing call, s5.1 (U1 call initiated -> U2 overlap sending -> U3 -> U4 -> U10).
    {(S.CALL_INITIATED, M.SETUP_ACKNOWLEDGE): Step(Rx.SETUP_ACKNOWLEDGE, S.OVERLAP_SENDING,
                                                   stop=("T303",), start="T304")},
    _rows({S.CALL_INITIATED, S.OVERLAP_SENDING}, M.CALL_PROCEEDING,
          Step(Rx.PROCEEDING, S.OUTGOING_CALL_PROCEEDING, stop=("T303", "T304"), start="T310")),
    _rows({S.CALL_INITIATED, S.OVERLAP_SENDING, S.OUTGOING_CALL_PROCEEDING}, M.ALERTING,
          Step(Rx.ALERTING, S.CALL_DELIVERED, stop=("T303", "T304", "T310"))),
    _rows(USER_ORIGINATED, M.CONNECT,
          Step(Rx.CONNECT, S.ACTIVE, stop=("T303", "T304", "T310"))),
    _rows({S.OVERLAP_SENDING, S.OUTGOING_CALL_PROCEEDING, S.CALL_DELIVERED}, M.PROGRESS,
          Step(Rx.PROGRESS, stop=("T310",))),
    # Incoming call, s5.2 (U6 -> U25 overlap receiving -> U9 -> U7 -> U8 -> U10).
    {(S.CONNECT_REQUEST, M.CONNECT_ACKNOWLEDGE): Step(Rx.CONNECT_ACKNOWLEDGE, S.ACTIVE,
                                                      stop=("T313",))},
    {(S.OVERLAP_RECEIVING, M.INFORMATION): Step(Rx.INFORMATION, stop=("T302",), start="T302")},
    # INFORMATION and NOTIFY while the call is up (keypad digits, display updates).
    _rows({S.OVERLAP_SENDING, S.OUTGOING_CALL_PROCEEDING, S.CALL_DELIVERED, S.CALL_RECEIVED,
           S.CONNECT_REQUEST, S.INCOMING_CALL_PROCEEDING, S.ACTIVE}, M.INFORMATION,
          Step(Rx.INFORMATION)),
    _rows({S.OVERLAP_SENDING, S.OUTGOING_CALL_PROCEEDING, S.CALL_DELIVERED, S.CALL_RECEIVED,
           S.CONNECT_REQUEST, S.INCOMING_CALL_PROCEEDING, S.OVERLAP_RECEIVING, S.ACTIVE},
          M.NOTIFY, Step(Rx.NOTIFY)),
    _clearing_rows("user"),
)

NETWORK_RECEIVE: Table = _merge(
    # Call from the user, s5.1 as the network sees it (N1 -> N2 -> N3 -> N4 -> N10).
    {(S.OVERLAP_SENDING, M.INFORMATION): Step(Rx.INFORMATION, stop=("T302",), start="T302")},
    {(S.ACTIVE, M.CONNECT_ACKNOWLEDGE): Step(Rx.CONNECT_ACKNOWLEDGE)},
    # Call to the user, s5.2 (N6 call present -> N25 -> N9 -> N7 -> N8 -> N10).
    {(S.CALL_PRESENT, M.SETUP_ACKNOWLEDGE): Step(Rx.SETUP_ACKNOWLEDGE, S.OVERLAP_RECEIVING,
                                                 stop=("T303",), start="T304")},
    _rows({S.CALL_PRESENT, S.OVERLAP_RECEIVING}, M.CALL_PROCEEDING,
          Step(Rx.PROCEEDING, S.INCOMING_CALL_PROCEEDING, stop=("T303", "T304"), start="T310")),
    _rows({S.CALL_PRESENT, S.OVERLAP_RECEIVING, S.INCOMING_CALL_PROCEEDING}, M.ALERTING,
          Step(Rx.ALERTING, S.CALL_RECEIVED, stop=("T303", "T304", "T310"), start="T301")),
    _rows({S.CALL_PRESENT, S.OVERLAP_RECEIVING, S.INCOMING_CALL_PROCEEDING, S.CALL_RECEIVED},
          M.CONNECT, Step(Rx.CONNECT, S.CONNECT_REQUEST, stop=("T303", "T304", "T310", "T301"))),
    _rows({S.OVERLAP_RECEIVING, S.INCOMING_CALL_PROCEEDING, S.CALL_RECEIVED}, M.PROGRESS,
          Step(Rx.PROGRESS, stop=("T310",))),
    _rows({S.OUTGOING_CALL_PROCEEDING, S.CALL_DELIVERED, S.OVERLAP_RECEIVING,
           S.INCOMING_CALL_PROCEEDING, S.CALL_RECEIVED, S.CONNECT_REQUEST, S.ACTIVE},
          M.INFORMATION, Step(Rx.INFORMATION)),
    _rows({S.OVERLAP_SENDING, S.OUTGOING_CALL_PROCEEDING, S.CALL_DELIVERED, S.OVERLAP_RECEIVING,
           S.INCOMING_CALL_PROCEEDING, S.CALL_RECEIVED, S.CONNECT_REQUEST, S.ACTIVE},
          M.NOTIFY, Step(Rx.NOTIFY)),
    _clearing_rows("network"),
)

RECEIVE: dict[Role, Table] = {"user": USER_RECEIVE, "network": NETWORK_RECEIVE}


# ------------------------------------------------------------------------ primitive tables


def _common_primitives(role: Role) -> Table:
    """Clearing and status enquiry, the same on both sides (s5.3, s5.8.10)."""
    offered = OFFERED_STATE[role]
    return _merge(
        _rows(LIVE - {offered}, Primitive.DISCONNECT,
              Step(Primitive.DISCONNECT, DISCONNECT_SENT_STATE[role], stop=(ALL,), start="T305")),
        # RELEASE normally answers a DISCONNECT; as a first clearing message it is the
        # exceptional clearing of s5.3.2 (allowed in any state but Release request).
        _rows(NON_NULL - {S.RELEASE_REQUEST}, Primitive.RELEASE,
              Step(Primitive.RELEASE, S.RELEASE_REQUEST, stop=(ALL,), start="T308")),
        {(offered, Primitive.REJECT): Step(Primitive.REJECT, S.NULL, stop=(ALL,))},
        _rows(NON_NULL, Primitive.STATUS_ENQUIRY, Step(Primitive.STATUS_ENQUIRY, start="T322")),
    )


USER_PRIMITIVES: Table = _merge(
    {(S.NULL, Primitive.SETUP): Step(Primitive.SETUP, S.CALL_INITIATED, start="T303")},
    {(S.OVERLAP_SENDING, Primitive.INFORMATION): Step(Primitive.INFORMATION,
                                                      stop=("T304",), start="T304")},
    _rows({S.OUTGOING_CALL_PROCEEDING, S.CALL_DELIVERED, S.CALL_RECEIVED, S.CONNECT_REQUEST,
           S.INCOMING_CALL_PROCEEDING, S.OVERLAP_RECEIVING, S.ACTIVE}, Primitive.INFORMATION,
          Step(Primitive.INFORMATION)),
    {(S.ACTIVE, Primitive.CONNECT_ACKNOWLEDGE): Step(Primitive.CONNECT_ACKNOWLEDGE)},
    {(S.CALL_PRESENT, Primitive.SETUP_ACKNOWLEDGE): Step(Primitive.SETUP_ACKNOWLEDGE,
                                                         S.OVERLAP_RECEIVING, start="T302")},
    _rows({S.CALL_PRESENT, S.OVERLAP_RECEIVING}, Primitive.PROCEEDING,
          Step(Primitive.PROCEEDING, S.INCOMING_CALL_PROCEEDING, stop=("T302",))),
    _rows({S.CALL_PRESENT, S.OVERLAP_RECEIVING, S.INCOMING_CALL_PROCEEDING}, Primitive.ALERTING,
          Step(Primitive.ALERTING, S.CALL_RECEIVED, stop=("T302",))),
    _rows({S.CALL_PRESENT, S.OVERLAP_RECEIVING, S.INCOMING_CALL_PROCEEDING, S.CALL_RECEIVED},
          Primitive.CONNECT,
          Step(Primitive.CONNECT, S.CONNECT_REQUEST, stop=("T302",), start="T313")),
    _rows({S.OVERLAP_RECEIVING, S.INCOMING_CALL_PROCEEDING, S.CALL_RECEIVED}, Primitive.PROGRESS,
          Step(Primitive.PROGRESS)),
    _common_primitives("user"),
)

NETWORK_PRIMITIVES: Table = _merge(
    {(S.NULL, Primitive.SETUP): Step(Primitive.SETUP, S.CALL_PRESENT, start="T303")},
    {(S.OVERLAP_RECEIVING, Primitive.INFORMATION): Step(Primitive.INFORMATION,
                                                        stop=("T304",), start="T304")},
    _rows({S.OVERLAP_SENDING, S.OUTGOING_CALL_PROCEEDING, S.CALL_DELIVERED,
           S.INCOMING_CALL_PROCEEDING, S.CALL_RECEIVED, S.CONNECT_REQUEST, S.ACTIVE},
          Primitive.INFORMATION, Step(Primitive.INFORMATION)),
    {(S.CONNECT_REQUEST, Primitive.CONNECT_ACKNOWLEDGE): Step(Primitive.CONNECT_ACKNOWLEDGE,
                                                              S.ACTIVE)},
    {(S.CALL_INITIATED, Primitive.SETUP_ACKNOWLEDGE): Step(Primitive.SETUP_ACKNOWLEDGE,
                                                           S.OVERLAP_SENDING, start="T302")},
    _rows({S.CALL_INITIATED, S.OVERLAP_SENDING}, Primitive.PROCEEDING,
          Step(Primitive.PROCEEDING, S.OUTGOING_CALL_PROCEEDING, stop=("T302",))),
    _rows({S.CALL_INITIATED, S.OVERLAP_SENDING, S.OUTGOING_CALL_PROCEEDING}, Primitive.ALERTING,
          Step(Primitive.ALERTING, S.CALL_DELIVERED, stop=("T302",))),
    _rows({S.CALL_INITIATED, S.OVERLAP_SENDING, S.OUTGOING_CALL_PROCEEDING, S.CALL_DELIVERED},
          Primitive.CONNECT, Step(Primitive.CONNECT, S.ACTIVE, stop=("T302",))),
    _rows({S.OVERLAP_SENDING, S.OUTGOING_CALL_PROCEEDING, S.CALL_DELIVERED}, Primitive.PROGRESS,
          Step(Primitive.PROGRESS)),
    _common_primitives("network"),
)

PRIMITIVES: dict[Role, Table] = {"user": USER_PRIMITIVES, "network": NETWORK_PRIMITIVES}
