"""A V.253 voice modem as a gateway line (FXO: it answers and places calls on an analog line).

:class:`VoiceModemAdapter` is :class:`hardware.drivers.serial_line.SerialLineAdapter` around
:class:`hardware.protocols.voice_modem.VoiceModemLine`: RING and caller ID become
:class:`~gateway.line.LineSeized` with the caller's number, :class:`~gateway.line.AnswerCall`
takes the line off hook into full-duplex voice (``+VTR``), DLE DTMF reports become
:class:`~gateway.line.LineDigit`, :class:`~gateway.line.SendDigit` goes out with ``+VTS``,
:class:`~gateway.line.OfferCall` dials, and the far end hanging up (loop current, busy tone,
silence) clears the call.  Voice is G.711 where the modem offers it, 16-bit linear otherwise.
"""

from __future__ import annotations

from gateway.line import LineInfo
from gateway.trace import TraceSink, discard
from hardware.drivers.serial_line import ReopenPolicy, SerialLineAdapter
from hardware.protocols.voice_modem import VoiceModemConfig, VoiceModemLine
from hardware.serial_io import FlowControl, Opener, SerialSettings, serial_opener


class VoiceModemAdapter(SerialLineAdapter):
    """One voice modem on one analog line; ``opener`` is the connection factory.

    ``numbers`` are the line's own numbers (pots dial-peers, registration); by default the
    number its incoming calls are routed to (``config.number``)."""

    core: VoiceModemLine

    def __init__(self, config: VoiceModemConfig, opener: Opener, *,
                 reopen: ReopenPolicy | None = None, trace: TraceSink = discard,
                 device: str = "", numbers: tuple[str, ...] | None = None) -> None:
        if numbers is None:
            numbers = (config.number,) if config.number else ()
        super().__init__(VoiceModemLine(config, trace=trace),
                         LineInfo(config.line, "fxo", numbers=numbers), opener,
                         reopen=reopen, device=device)
        self.config = config

    @classmethod
    def open_device(cls, config: VoiceModemConfig, device: str, *,
                    baud_rate: int | None = None, flow_control: FlowControl = "none",
                    exclusive: bool = True, reopen: ReopenPolicy | None = None,
                    trace: TraceSink = discard,
                    numbers: tuple[str, ...] | None = None) -> VoiceModemAdapter:
        """The adapter for a modem at ``device`` (a path, ``socket://`` or ``rfc2217://``);
        the speed defaults to the quirk profile's."""
        settings = SerialSettings(device, baud_rate or config.quirks.baud_rate, flow_control,
                                  exclusive)
        return cls(config, serial_opener(settings), reopen=reopen, trace=trace, device=device,
                   numbers=numbers)
