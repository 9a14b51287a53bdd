"""One class-level ``transitions`` machine per leg type, driven by tables of data.

ARCHITECTURE.md, "State machines": a single ``Machine(model=None, auto_transitions=False,
send_event=True)`` serves every leg of a type; a leg is a ``__slots__`` object with a ``state``
attribute, and an event is fired with ``Machine.events[name].trigger(leg, **data)``.  No Machine
per call and no ``add_model`` (it is O(n) and keeps every model alive).

:class:`LegMachine` adds one thing: it knows from the table which triggers each state accepts, so
asking "may this leg take this event now?" costs a set lookup instead of a caught
``MachineError`` -- call control decides what an unexpected event means (usually: the peer broke
the protocol, clear the call with a cause).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from transitions import Machine

__all__ = ["LegMachine", "Stateful", "TransitionRow"]

# A row of a transition table: trigger, source(s), dest (None: internal), optional callbacks.
TransitionRow = Mapping[str, Any]


class Stateful(Protocol):
    state: str


class LegMachine:
    """A shared machine for one leg type, built from ``states`` and ``transitions`` tables."""

    __slots__ = ("_accepts", "initial", "machine", "states", "transitions")

    def __init__(
        self, states: Sequence[str], transitions: Sequence[TransitionRow], initial: str
    ) -> None:
        self.states = tuple(states)
        self.transitions = tuple(transitions)
        self.initial = initial
        self.machine = Machine(
            model=None,
            states=list(self.states),
            transitions=[dict(row) for row in self.transitions],
            initial=initial,
            auto_transitions=False,
            send_event=True,
        )
        accepts: set[tuple[str, str]] = set()
        for row in self.transitions:
            sources = row["source"]
            for source in (sources,) if isinstance(sources, str) else sources:
                accepts.add((row["trigger"], source))
        self._accepts = frozenset(accepts)

    def accepts(self, leg: Stateful, trigger: str) -> bool:
        """True when the table has a transition for ``trigger`` from the leg's state."""
        return (trigger, leg.state) in self._accepts

    def fire(self, leg: Stateful, trigger: str, **data: Any) -> bool:
        """Fire ``trigger`` on ``leg`` if its state accepts it; False when it does not (or when
        every matching row's condition refused)."""
        if (trigger, leg.state) not in self._accepts:
            return False
        return bool(self.machine.events[trigger].trigger(leg, **data))
