"""What a simulated device reports to its runner, tests and the ``gwemu hw-sim`` console."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """One thing that happened at the device or at its far end.

    Modem kinds: ``command`` (an AT line from the host), ``ring``, ``caller-id``, ``off-hook``,
    ``on-hook``, ``answered`` (the host took the ringing call), ``dialled``, ``dial-result``,
    ``voice`` (a voice data state began: duplex/receive/transmit), ``voice-end``,
    ``digit-to-line`` (+VTS or an in-stream digit), ``far-end-digit``, ``far-end-hangup``,
    ``noise``.  FXS kinds: ``command``, ``ring``, ``caller-id``, ``tone``, ``off-hook``,
    ``on-hook``, ``digit``, ``audio-on``, ``noise``.  Both: ``plugged``, ``unplugged``.
    """

    time: float
    device: str
    kind: str
    value: str = ""

    def __str__(self) -> str:
        return f"{self.time:10.3f} {self.device} {self.kind} {self.value}".rstrip()


DeviceObserver = Callable[[DeviceEvent], None]
