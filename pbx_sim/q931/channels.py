"""B-channels of one Q.931 trunk and which a call gets (Q.931 s4.5.13, s5.1.2, s5.2.3), sans-IO.

Both ends of a simulated trunk use this one module -- the PBX simulator and the gateway's trunk
adapter -- so they agree on channel numbers and on the answers:

* an interface's B-channels are numbered as the Channel identification element names them: an E1
  carries them in timeslots 1-15 and 17-31 (16 is the D-channel), a T1 in 1-23 (24 is the
  D-channel), a basic-rate interface has B1 and B2;
* an offered call names a channel *exclusively* (only that one will do), as *preferred* (another
  is acceptable) or asks for any.  s5.2.3.1/5.2.3.2: an exclusive channel that is busy refuses
  the call with cause 44, a channel that does not exist on the interface with cause 82, and no
  free channel at all with cause 34;
* our own calls hunt in the configured order (by default the network side from the bottom up,
  the user side from the top down, which keeps glare rare).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from pbx_sim.q931.constants import CauseValue
from pbx_sim.q931.ie import ChannelIdentification

__all__ = ["INTERFACE_CHANNELS", "ChannelOrder", "ChannelPool", "ChannelRefused", "Interface"]

Interface = Literal["e1", "t1", "bri"]
ChannelOrder = Literal["ascending", "descending"]

INTERFACE_CHANNELS: Final[dict[str, tuple[int, ...]]] = {
    "e1": (*range(1, 16), *range(17, 32)),
    "t1": tuple(range(1, 24)),
    "bri": (1, 2),
}


@dataclass(frozen=True, slots=True)
class ChannelRefused:
    """Why no channel could be given to a call, as the Q.850 cause to clear it with."""

    cause: int
    reason: str


class ChannelPool:
    """The B-channels of one trunk and which of them calls hold."""

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
        """The channel for a call offered with ``requested`` (None or "any": our choice), not
        yet taken."""
        wanted, exclusive = self.requested(requested)
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

    @staticmethod
    def requested(identification: ChannelIdentification | None) -> tuple[int | None, bool]:
        """(channel named, exclusive?) of a Channel identification; (None, False) for any."""
        if identification is None or identification.d_channel:
            return None, False
        return identification.channel, identification.exclusive

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
