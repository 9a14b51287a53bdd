"""Invariants of the state tables (they are data, so they can be checked as data)."""

from __future__ import annotations

import dataclasses

import pytest

from pbx_sim.q931 import CallState, MessageType, Q931Timers, state_label
from pbx_sim.q931.states import (
    ALL,
    DISCONNECT_RECEIVED_STATE,
    NON_NULL,
    PRIMITIVES,
    RECEIVE,
    Primitive,
    Rx,
)
from pbx_sim.q931.timers import TIMER_RULES

S = CallState
M = MessageType
ROLES = ["user", "network"]


@pytest.mark.parametrize("role", ROLES)
def test_every_live_state_can_be_cleared_and_queried(role: str) -> None:
    receive, primitives = RECEIVE[role], PRIMITIVES[role]  # type: ignore[index]
    received = DISCONNECT_RECEIVED_STATE
    for state in NON_NULL:
        for message in (M.RELEASE, M.RELEASE_COMPLETE, M.STATUS, M.STATUS_ENQUIRY):
            assert (state, message) in receive, (state, message)
        assert (state, Primitive.STATUS_ENQUIRY) in primitives
        # DISCONNECT is expected everywhere but after the peer's own DISCONNECT.
        assert ((state, M.DISCONNECT) in receive) == (state != received[role]), state
        if state != S.RELEASE_REQUEST:
            assert (state, Primitive.RELEASE) in primitives


@pytest.mark.parametrize("role", ROLES)
def test_every_state_a_table_enters_is_handled(role: str) -> None:
    receive, primitives = RECEIVE[role], PRIMITIVES[role]  # type: ignore[index]
    entered = {step.to for step in [*receive.values(), *primitives.values()] if step.to}
    handled = {state for state, _ in receive} | {S.NULL}
    assert entered <= handled


@pytest.mark.parametrize("role", ROLES)
def test_every_timer_in_the_tables_has_a_rule_and_a_duration(role: str) -> None:
    steps = [*RECEIVE[role].values(), *PRIMITIVES[role].values()]  # type: ignore[index]
    names = {step.start for step in steps if step.start} | {
        name for step in steps for name in step.stop if name != ALL
    }
    durations = {field.name.upper() for field in dataclasses.fields(Q931Timers)}
    assert names <= set(TIMER_RULES) <= durations


def test_the_sides_differ_where_q931_says_so() -> None:
    # The user answers CONNECT with CONNECT ACKNOWLEDGE from Active; the network has N8 for it.
    assert RECEIVE["user"][(S.CALL_DELIVERED, M.CONNECT)].to == S.ACTIVE
    assert RECEIVE["network"][(S.CALL_RECEIVED, M.CONNECT)].to == S.CONNECT_REQUEST
    # Only the user side runs T313; only the network side runs T301.
    assert PRIMITIVES["user"][(S.CALL_RECEIVED, Primitive.CONNECT)].start == "T313"
    assert PRIMITIVES["network"][(S.CALL_DELIVERED, Primitive.CONNECT)].start is None
    assert RECEIVE["network"][(S.INCOMING_CALL_PROCEEDING, M.ALERTING)].start == "T301"
    assert RECEIVE["user"][(S.OUTGOING_CALL_PROCEEDING, M.ALERTING)].start is None
    # DISCONNECT crossing DISCONNECT happens in U11 on the user side and N12 on the network side.
    assert RECEIVE["user"][(S.DISCONNECT_REQUEST, M.DISCONNECT)].action is Rx.DISCONNECT_COLLISION
    assert (
        RECEIVE["network"][(S.DISCONNECT_INDICATION, M.DISCONNECT)].action
        is Rx.DISCONNECT_COLLISION
    )


def test_state_labels() -> None:
    assert state_label("user", 10) == "U10 Active"
    assert state_label("network", 7) == "N7 Call received"
    assert state_label("user", 5) == "U5 unknown"
