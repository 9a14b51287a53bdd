"""The device side of an AT link: what a modem simulator reads from the host, sans-IO.

A DCE collects command lines up to the S3 character (CR) and ignores LF (V.250 command lines); in
a voice data state it reads shielded samples and DTE actions instead (V.253), until an action that
ends the stream.  Responses are written with :func:`hardware.protocols.at.format_line`
and :class:`hardware.protocols.at.FinalResult`, voice events with
:class:`hardware.protocols.dle.DleEvent` and :func:`hardware.protocols.dle.escape`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardware.protocols.dle import DleDecoder, DleEvent


@dataclass(frozen=True, slots=True)
class CommandLine:
    """One line from the host; ``text`` is stripped (empty for a bare CR, which aborts a dial)."""

    text: str
    raw: bytes

    @property
    def is_command(self) -> bool:
        return self.text[:2].upper() == "AT"


@dataclass(frozen=True, slots=True)
class HostSamples:
    samples: bytes


@dataclass(frozen=True, slots=True)
class HostAction:
    """A shielded DTE action; :attr:`DleEvent.ends_stream` tells whether command mode resumed."""

    event: DleEvent


@dataclass(frozen=True, slots=True)
class HostNoise:
    reason: str
    raw: bytes


HostInput = CommandLine | HostSamples | HostAction | HostNoise


class AtCommandReader:
    """Split the host's bytes into command lines, or samples and actions in voice data mode."""

    __slots__ = ("_buffer", "_decoder", "_max_line", "_overflow", "_voice")

    def __init__(self, *, max_line: int = 256) -> None:
        self._max_line = max_line
        self._buffer = bytearray()
        self._overflow = False
        self._voice = False
        self._decoder = DleDecoder("dte")

    @property
    def in_voice_data(self) -> bool:
        return self._voice

    def enter_voice_data(self) -> None:
        """The device answered CONNECT to +VTX/+VRX/+VTR: what follows is shielded data."""
        self._voice = True
        self._decoder.reset()

    def leave_voice_data(self) -> None:
        """The device ended the stream on its own (it sent <DLE><ETX>)."""
        self._voice = False

    def feed(self, data: bytes) -> list[HostInput]:
        found: list[HostInput] = []
        index = 0
        while index < len(data):
            if self._voice:
                items, used = self._decoder.feed(data[index:])
                index += used
                for item in items:
                    if isinstance(item, bytes):
                        found.append(HostSamples(item))
                    else:
                        found.append(HostAction(item))
                if self._decoder.ended:
                    self._voice = False
                continue
            byte = data[index]
            index += 1
            if byte == 0x0D:
                if self._overflow:
                    self._overflow = False
                else:
                    raw = bytes(self._buffer)
                    found.append(CommandLine(raw.decode("latin-1").strip(), raw))
                self._buffer.clear()
            elif byte == 0x0A:
                continue
            elif not self._overflow:
                self._buffer.append(byte)
                if len(self._buffer) > self._max_line:
                    found.append(HostNoise("command line too long", bytes(self._buffer[:64])))
                    self._buffer.clear()
                    self._overflow = True
        return found
