"""B-channel selection on a trunk (Q.931 s5.1.2 / s5.2.3): which channel a call gets.

The Channel identification element of an offered call names a channel *exclusively* (only that
one will do), as *preferred* (another is acceptable), or asks for any.  The answers follow
s5.2.3.1/5.2.3.2: an exclusive channel that is busy refuses the call with cause 44 (requested
circuit/channel not available), a channel that does not exist on the interface with cause 82,
and no free channel at all with cause 34 (no circuit/channel available).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pbx_sim.config import ChannelOrder
from pbx_sim.q931.constants import CauseValue
from pbx_sim.q931.ie import ChannelIdentification


@dataclass(frozen=True, slots=True)
class ChannelRefused:
    cause: int
    reason: str


class ChannelPool:
    """The B-channels of one trunk and which are in use."""

    __slots__ = ("_busy", "_order", "numbers", "primary_rate")

    def __init__(self, numbers: Sequence[int], order: ChannelOrder, *, primary_rate: bool) -> None:
        self.numbers = tuple(numbers)
        self.primary_rate = primary_rate
        hunt = sorted(self.numbers)
        self._order = tuple(hunt if order == "ascending" else reversed(hunt))
        self._busy: set[int] = set()

    @property
    def busy(self) -> frozenset[int]:
        return frozenset(self._busy)

    @property
    def free_count(self) -> int:
        return len(self.numbers) - len(self._busy)

    def hunt(self) -> int | None:
        """The next free channel in hunting order, or None."""
        return next((n for n in self._order if n not in self._busy), None)

    def select(self, requested: ChannelIdentification | None) -> int | ChannelRefused:
        """The channel for a call offered with ``requested`` (None: any), not yet taken."""
        wanted, exclusive = self.requested_number(requested)
        if wanted is not None:
            if wanted not in self.numbers:
                if exclusive:
                    return ChannelRefused(CauseValue.CHANNEL_DOES_NOT_EXIST,
                                          f"channel {wanted} does not exist on this trunk")
            elif wanted not in self._busy:
                return wanted
            elif exclusive:
                return ChannelRefused(CauseValue.REQUESTED_CHANNEL_NOT_AVAILABLE,
                                      f"channel {wanted} is busy")
        free = self.hunt()
        if free is None:
            return ChannelRefused(CauseValue.NO_CIRCUIT_AVAILABLE, "every channel is busy")
        return free

    def requested_number(self, requested: ChannelIdentification | None) -> tuple[int | None, bool]:
        """(channel named, exclusive?) of a Channel identification; (None, False) for "any"."""
        if requested is None or requested.d_channel:
            return None, False
        return requested.channel, requested.exclusive

    def take(self, number: int) -> None:
        if number not in self.numbers or number in self._busy:
            raise ValueError(f"channel {number} cannot be taken")
        self._busy.add(number)

    def release(self, number: int) -> None:
        self._busy.discard(number)

    def identification(self, number: int, *, exclusive: bool) -> ChannelIdentification:
        if self.primary_rate:
            return ChannelIdentification.pri(number, exclusive=exclusive)
        return ChannelIdentification.bri(number, exclusive=exclusive)
