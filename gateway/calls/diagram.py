"""Mermaid state diagrams of the leg machines, drawn from the very tables the machines run on.

For documentation builds only (``scripts/diagrams.py``): it builds a ``GraphMachine`` with
``graph_engine="mermaid"`` from ``LINE_STATES``/``LINE_TRANSITIONS`` and
``SIP_STATES``/``SIP_TRANSITIONS``, so a picture can never drift from the code.  Call control
itself never imports this module (ARCHITECTURE.md: no GraphMachine at run time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.calls.line_leg import LINE_STATES, LINE_TRANSITIONS
from gateway.calls.sip_leg import SIP_STATES, SIP_TRANSITIONS

__all__ = ["LEG_TABLES", "leg_diagrams", "mermaid"]

LEG_TABLES: Mapping[str, tuple[Sequence[str], Sequence[Mapping[str, Any]]]] = {
    "line-leg": (LINE_STATES, LINE_TRANSITIONS),
    "sip-leg": (SIP_STATES, SIP_TRANSITIONS),
}


def mermaid(title: str, states: Sequence[str], transitions: Sequence[Mapping[str, Any]]) -> str:
    """A mermaid ``stateDiagram-v2`` of one table (conditions shown on their edges)."""
    from transitions.extensions import GraphMachine  # documentation builds only

    machine = GraphMachine(
        states=list(states),
        transitions=[dict(row) for row in transitions],
        initial=states[0],
        auto_transitions=False,
        graph_engine="mermaid",
        show_conditions=True,
        title=title,
    )
    source: str = machine.get_graph().draw(None)
    return source


def leg_diagrams() -> dict[str, str]:
    """``{"line-leg": <mermaid>, "sip-leg": <mermaid>}``."""
    return {name: mermaid(name, *table) for name, table in LEG_TABLES.items()}
