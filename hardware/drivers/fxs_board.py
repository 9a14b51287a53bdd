"""A serial FXS board as a gateway station line (it rings a phone and reads its hook and dial).

:class:`FxsBoardAdapter` is :class:`hardware.drivers.serial_line.SerialLineAdapter` around
:class:`hardware.protocols.fxs_line.FxsBoardLine` (docs/fxs-serial-protocol.md): off-hook becomes
:class:`~gateway.line.LineSeized` (calling: the line's first number, the phone's station ID),
digits :class:`~gateway.line.DigitsDialled`, :class:`~gateway.line.OfferCall` rings the phone
with caller ID and ring trip answers, on-hook clears.  With ``audio = "serial"`` the call's
voice is the board's framed G.711 channel; with ``external`` (a sound card on the SLIC) or
``none`` the adapter offers no LineAudio.
"""

from __future__ import annotations

import dataclasses

from gateway.line import LineInfo, LineSeized
from gateway.trace import TraceSink, discard
from hardware.drivers.serial_line import ReopenPolicy, SerialLineAdapter
from hardware.protocols.fxs_board import AUDIO_BAUD_RATE, BAUD_RATE
from hardware.protocols.fxs_line import FxsBoardLine, FxsLineConfig
from hardware.serial_io import FlowControl, Opener, SerialSettings, serial_opener


class FxsBoardAdapter(SerialLineAdapter):
    """One phone on one serial FXS board; ``opener`` is the connection factory."""

    core: FxsBoardLine

    def __init__(self, config: FxsLineConfig, opener: Opener, *,
                 numbers: tuple[str, ...] = (), reopen: ReopenPolicy | None = None,
                 trace: TraceSink = discard, device: str = "") -> None:
        super().__init__(FxsBoardLine(config, trace=trace),
                         LineInfo(config.line, "station", numbers=numbers), opener,
                         reopen=reopen, device=device)
        self.config = config

    def _seized(self, event: LineSeized) -> LineSeized:
        # The phone calls from its own line: its number is the calling party (a station ID).
        if event.calling is None and self.info.numbers:
            return dataclasses.replace(event, calling=self.info.numbers[0])
        return event

    @classmethod
    def open_device(cls, config: FxsLineConfig, device: str, *, numbers: tuple[str, ...] = (),
                    baud_rate: int | None = None, flow_control: FlowControl = "none",
                    exclusive: bool = True, reopen: ReopenPolicy | None = None,
                    trace: TraceSink = discard) -> FxsBoardAdapter:
        """The adapter for a board at ``device``; 57600 baud, or 230400 with serial audio."""
        speed = baud_rate or (AUDIO_BAUD_RATE if config.audio == "serial" else BAUD_RATE)
        settings = SerialSettings(device, speed, flow_control, exclusive)
        return cls(config, serial_opener(settings), numbers=numbers, reopen=reopen, trace=trace,
                   device=device)
