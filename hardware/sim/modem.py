"""A scriptable V.253 voice modem and the analog line behind it, built from the protocol cores.

The host side is a byte stream (the pty); this class reads it with
:class:`hardware.protocols.at_device.AtCommandReader` and answers the way the chipset of its
:class:`~hardware.protocols.quirks.ModemQuirks` profile does: verbose result codes, echo after
``ATZ`` until ``ATE0``, the profile's ``+VSM`` table, caller ID lines after the first ``RING``
(``NMBR = 5551234`` or ``NMBR=5551234``), shielded DTMF with or without duration marks, the
profile's ``+VSD`` behaviour, and voice data in the selected sample format, 160 samples per
20 ms tick.

The far end of the line is scripted: :meth:`SimulatedModem.ring` (a call arrives with caller ID),
:meth:`~SimulatedModem.play` (what the far end says), :meth:`~SimulatedModem.send_dtmf`,
:meth:`~SimulatedModem.hang_up` (loop-current break, busy tone, dial tone or silence), and for
calls the host places, :attr:`SimModemOptions.dial_result` (VCON, BUSY, NO ANSWER, NO DIALTONE...).
What the host sends toward the line is kept as linear PCM in :attr:`SimulatedModem.heard`.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from typing import Literal

from gateway.media.audio import FRAME_SAMPLES, AudioSource
from gateway.media.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from hardware.protocols.at import FinalResult, format_line
from hardware.protocols.at_device import (
    AtCommandReader,
    CommandLine,
    HostAction,
    HostNoise,
    HostSamples,
)
from hardware.protocols.caller_id import CallerId, formatted_lines
from hardware.protocols.dle import DTMF_DIGITS, DleEvent, DleKind, escape
from hardware.protocols.quirks import GENERIC_V253, ModemQuirks
from hardware.protocols.voice_format import SampleFormat, VsmMethod, from_line, to_line
from hardware.sim.device import Agenda, EventLog
from hardware.sim.events import DeviceObserver

HangupSignal = Literal["loop-break", "busy", "dial-tone", "silence"]
VoiceState = Literal["duplex", "receive", "transmit"]
_HANGUP_CODES: dict[str, DleKind] = {
    "loop-break": DleKind.LOOP_BREAK,
    "busy": DleKind.BUSY,
    "dial-tone": DleKind.DIAL_TONE,
}
_VOICE_COMMANDS: dict[str, VoiceState] = {"+VTR": "duplex", "+VRX": "receive", "+VTX": "transmit"}
_DIAL_RESULTS = ("VCON", "OK", "BUSY", "NO ANSWER", "NO DIALTONE", "NO CARRIER", "ERROR")


@dataclass(frozen=True, slots=True)
class SimModemOptions:
    """How the simulated modem and its line behave beyond the quirk profile."""

    quirks: ModemQuirks = GENERIC_V253
    # Caller ID tag spacing: " = " (NMBR = 5551234) or "=" (NMBR=5551234).
    caller_id_separator: str = " = "
    ring_interval: float = 6.0
    caller_id_delay: float = 0.5  # after the first RING (Bellcore: between the 1st and 2nd ring)
    max_rings: int = 20
    dial_result: str = "VCON"
    dial_delay: float = 0.5
    # Misbehaviours beyond the profile.
    refuse_vtr: bool = False  # +VTR answered ERROR: the host must fall back to half duplex
    bare_ok_after_abort: bool = False  # an abort answered OK without <DLE><ETX>
    refused_commands: tuple[str, ...] = ()  # command prefixes answered ERROR
    busy_repeat: float = 1.0  # how often <DLE>b repeats while the host stays in voice

    def __post_init__(self) -> None:
        if self.dial_result not in _DIAL_RESULTS:
            raise ValueError(f"dial result is one of {', '.join(_DIAL_RESULTS)}")
        if self.caller_id_separator not in (" = ", "="):
            raise ValueError("the caller ID separator is ' = ' or '='")


@dataclass(slots=True)
class _FarEnd:
    """The party at the other end of the analog line."""

    incoming: bool
    caller: CallerId | None = None
    state: Literal["ringing", "connected", "gone"] = "ringing"
    rings: int = 0
    hangup_signal: HangupSignal | None = None


@dataclass(slots=True)
class _Voice:
    state: VoiceState
    silent_since: float = 0.0
    silence_reported: bool = False
    ending: bool = False


def _to_pcm(sample_format: SampleFormat, samples: bytes) -> bytes:
    if sample_format == "pcmu":
        return ulaw_decode(samples)
    if sample_format == "pcma":
        return alaw_decode(samples)
    return to_line(sample_format, samples)


def _from_pcm(sample_format: SampleFormat, pcm: bytes) -> bytes:
    if sample_format == "pcmu":
        return ulaw_encode(pcm)
    if sample_format == "pcma":
        return alaw_encode(pcm)
    return from_line(sample_format, pcm)


@dataclass(slots=True)
class _Settings:
    """What the host configured (reset by ATZ)."""

    echo: bool = True
    caller_id: bool = False
    voice_class: bool = False
    vsm: VsmMethod | None = None
    vsd_tenths: int = 0
    off_hook: bool = False
    extra: dict[str, str] = field(default_factory=dict)


class SimulatedModem:
    """One voice modem on one analog line (see the module docstring)."""

    def __init__(self, options: SimModemOptions | None = None, *, name: str = "modem",
                 rng: random.Random | None = None) -> None:
        self.name = name
        self.options = options or SimModemOptions()
        self.quirks = self.options.quirks
        self._rng = rng or random.Random(0)
        self._log = EventLog(name)
        self.events = self._log.events
        self._agenda = Agenda()
        self._out = bytearray()
        self._reader = AtCommandReader()
        self._settings = _Settings()
        self._far: _FarEnd | None = None
        self._voice: _Voice | None = None
        self._dialing: str | None = None
        self._source: AudioSource | None = None
        self.heard = bytearray()
        self.last_command_at = 0.0
        self.dial_result = self.options.dial_result

    # ------------------------------------------------------------------------------ queries

    @property
    def host_ready(self) -> bool:
        """The host put the modem in voice mode and chose a sample format (its set-up ran)."""
        return self._settings.voice_class and self._settings.vsm is not None

    @property
    def off_hook(self) -> bool:
        return self._settings.off_hook

    @property
    def voice_state(self) -> VoiceState | None:
        return self._voice.state if self._voice is not None else None

    @property
    def sample_format(self) -> SampleFormat | None:
        vsm = self._settings.vsm
        return vsm.sample_format if vsm is not None else None

    @property
    def in_call(self) -> bool:
        return self._far is not None and self._far.state == "connected"

    def set_observer(self, observer: DeviceObserver | None) -> None:
        self._log.set_observer(observer)

    # ------------------------------------------------------------------------------ runner side

    def plugged(self, now: float) -> None:
        """Power-up: every setting back to its default, no call."""
        self._settings = _Settings()
        self._reader = AtCommandReader()
        self._far = None
        self._voice = None
        self._dialing = None
        self._agenda.clear()
        self._out.clear()
        self._log.record(now, "plugged", self.quirks.name)

    def receive_data(self, data: bytes, now: float) -> None:
        for item in self._reader.feed(data):
            if isinstance(item, CommandLine):
                self._command_line(item, now)
            elif isinstance(item, HostSamples):
                self._host_samples(item.samples)
            elif isinstance(item, HostAction):
                self._host_action(item.event, now)
            elif isinstance(item, HostNoise):
                self._log.record(now, "noise", item.reason)

    def data_to_send(self, now: float) -> bytes:
        data = bytes(self._out)
        self._out.clear()
        return data

    def get_timer(self) -> float | None:
        return self._agenda.next_time()

    def handle_timer(self, now: float) -> None:
        self._agenda.run_due(now)

    def audio_tick(self, now: float) -> None:
        """One 20 ms frame of line audio toward the host while a receiving voice state runs."""
        voice = self._voice
        fmt = self.sample_format
        if voice is None or voice.ending or voice.state == "transmit" or fmt is None:
            return
        pcm = None
        far = self._far
        if self._source is not None and far is not None and far.state == "connected":
            pcm = self._source.read_frame()
            if pcm is None:
                self._source = None
        if pcm is None:
            pcm = bytes(2 * FRAME_SAMPLES)
            self._silence(voice, now)
        else:
            voice.silent_since = now
        self._out += escape(_from_pcm(fmt, pcm))

    # ------------------------------------------------------------------------------ far end script

    def ring(self, caller: CallerId | None, now: float) -> None:
        """A call arrives: RING every ring interval, caller ID after the first one."""
        if self._far is not None or self.off_hook:
            raise ValueError("the line is busy: a call is already up or the host is off hook")
        self._far = _FarEnd(incoming=True, caller=caller)
        self._ring_once(self._far, now)

    def stop_ringing(self, now: float) -> None:
        far = self._far
        if far is not None and far.state == "ringing" and far.incoming:
            self._far = None
            self._log.record(now, "far-end-hangup", "gave up ringing")

    def play(self, source: AudioSource | None) -> None:
        """What the far end says from the next audio tick on (None: silence)."""
        self._source = source

    def send_dtmf(self, digits: str, now: float, *, duration: float = 0.1,
                  gap: float = 0.1) -> None:
        """The far end presses keys: shielded DTMF reports in the voice data stream."""
        when = now
        for digit in digits:
            if digit not in DTMF_DIGITS:
                raise ValueError(f"not a DTMF digit: {digit!r}")
            self._agenda.at(when, functools.partial(self._dtmf_start, digit))
            if self.quirks.dtmf_shielding:
                self._agenda.at(when + duration, self._dtmf_end)
            when += duration + gap

    def hang_up(self, signal: HangupSignal, now: float) -> None:
        """The far end hangs up; the line tells it by ``signal``."""
        far = self._far
        if far is None:
            return
        if far.state == "ringing":
            self.stop_ringing(now)
            return
        far.state = "gone"
        far.hangup_signal = signal
        self._source = None
        self._log.record(now, "far-end-hangup", signal)
        if signal == "silence":
            return  # the audio goes quiet; +VSD (where it works) or the host notices
        code = _HANGUP_CODES[signal]
        self._shielded(code, now)
        if signal == "busy":
            self._agenda.at(now + self.options.busy_repeat, self._repeat_busy)

    def set_dial_result(self, result: str) -> None:
        """How the next call the host places ends: VCON (answered), OK, BUSY, NO ANSWER..."""
        if result not in _DIAL_RESULTS:
            raise ValueError(f"dial result is one of {', '.join(_DIAL_RESULTS)}")
        self.dial_result = result

    def inject(self, data: bytes) -> None:
        """Raw bytes toward the host, as line noise or a broken firmware would send them."""
        self._out += data

    def inject_garbage(self, count: int) -> bytes:
        """``count`` seeded random bytes toward the host (returned for the test's record)."""
        data = self._rng.randbytes(count)
        self._out += data
        return data

    # ------------------------------------------------------------------------------ host input

    def _command_line(self, line: CommandLine, now: float) -> None:
        self.last_command_at = now
        if self._dialing is not None:
            self._abort_dial(now)
            return
        if not line.text:
            return
        if self._settings.echo:
            self._out += line.raw + b"\r"
        if not line.is_command:
            self._final("ERROR")
            return
        self._log.record(now, "command", line.text)
        command = line.text[2:].strip()
        upper = command.upper()
        if any(line.text.upper().startswith(p.upper()) for p in self.options.refused_commands):
            self._final("ERROR")
            return
        self._execute(upper, command, now)

    def _execute(self, upper: str, command: str, now: float) -> None:
        settings = self._settings
        if upper in ("", "Z", "&F"):
            self._reset(now)
            self._final("OK")
        elif upper in ("E0", "E1"):
            settings.echo = upper == "E1"
            self._final("OK")
        elif upper in ("V1", "Q0"):
            self._final("OK")
        elif upper == "+FCLASS=8":
            settings.voice_class = True
            self._final("OK")
        elif upper.startswith("+FCLASS="):
            settings.voice_class = False
            self._final("OK")
        elif upper.startswith("+GCI="):
            settings.extra["country"] = upper[5:]
            self._final("OK")
        elif upper in {c[2:].upper() for c in self.quirks.caller_id_commands}:
            settings.caller_id = True
            self._final("OK")
        elif upper == "+VSM=?":
            for method in self.quirks.vsm_methods:
                self._out += format_line(str(method))
            self._final("OK")
        elif upper.startswith("+VSM="):
            self._select_format(upper[5:])
        elif upper in ("+VLS=0", "+VLS=1", "H", "H0", "A"):
            self._hook(upper in ("+VLS=1", "A"), now)
            self._final("OK")
        elif upper.startswith("+VIT="):
            self._final("OK")
        elif upper.startswith("+VSD="):
            self._set_vsd(upper[5:])
        elif upper in ("+VTR", "+VRX", "+VTX"):
            self._start_voice(upper, now)
        elif upper.startswith("+VTS="):
            self._tone_digits(command[5:], now)
        elif upper.startswith("D"):
            self._dial(command[1:], now)
        else:
            self._final("ERROR")

    def _reset(self, now: float) -> None:
        if self.off_hook:
            self._hook(False, now)
        self._settings = _Settings()

    def _select_format(self, argument: str) -> None:
        code_text = argument.split(",")[0].strip()
        chosen = next((m for m in self.quirks.vsm_methods if str(m.code) == code_text), None)
        if chosen is None or chosen.sample_format == "other":
            self._final("ERROR")
            return
        self._settings.vsm = chosen
        self._final("OK")

    def _set_vsd(self, argument: str) -> None:
        parts = argument.split(",")
        if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
            self._final("ERROR")
            return
        # A chip that ignores +VSD still says OK: it just never reports silence.
        self._settings.vsd_tenths = int(parts[1]) if self.quirks.vsd_works else 0
        self._final("OK")

    def _hook(self, off_hook: bool, now: float) -> None:
        settings = self._settings
        if off_hook == settings.off_hook:
            return
        settings.off_hook = off_hook
        self._log.record(now, "off-hook" if off_hook else "on-hook")
        far = self._far
        if off_hook:
            if far is not None and far.incoming and far.state == "ringing":
                far.state = "connected"
                self._log.record(now, "answered", (far.caller.number or "") if far.caller else "")
            return
        self._voice = None
        if far is not None:
            if far.state == "connected":
                self._log.record(now, "host-hangup")
            self._far = None
        self._source = None

    def _start_voice(self, upper: str, now: float) -> None:
        if not self._settings.voice_class or self._settings.vsm is None:
            self._final("ERROR")
            return
        if upper == "+VTR" and (self.options.refuse_vtr or not self.quirks.supports_vtr):
            self._final("ERROR")
            return
        state = _VOICE_COMMANDS[upper]
        self._voice = _Voice(state, silent_since=now)
        self._reader.enter_voice_data()
        self._out += format_line("CONNECT")
        self._log.record(now, "voice", state)
        far = self._far
        signal = far.hangup_signal if far is not None else None
        if signal is not None and signal != "silence":
            # The far end left while the host was in command mode (a +VTS): tell it now.
            code = _HANGUP_CODES[signal]
            self._agenda.at(now + 0.05, lambda t: self._shielded(code, t))

    def _tone_digits(self, argument: str, now: float) -> None:
        digits = "".join(c for c in argument if c in DTMF_DIGITS)
        if not digits or not self.off_hook:
            self._final("ERROR")
            return
        for digit in digits:
            self._log.record(now, "digit-to-line", digit)
        self._final("OK")

    def _dial(self, argument: str, now: float) -> None:
        number = "".join(c for c in argument if c in DTMF_DIGITS)
        if not self._settings.off_hook:
            self._hook(True, now)
        self._dialing = number
        self._log.record(now, "dialled", number)
        self._agenda.at(now + self.options.dial_delay, self._dial_done)

    def _dial_done(self, now: float) -> None:
        if self._dialing is None:
            return
        self._dialing = None
        result = self.dial_result
        self._log.record(now, "dial-result", result)
        if result in ("VCON", "OK"):
            self._far = _FarEnd(incoming=False, state="connected")
        self._final(result)

    def _abort_dial(self, now: float) -> None:
        self._dialing = None
        self._log.record(now, "dial-result", "aborted")
        self._final("NO CARRIER")

    def _host_samples(self, samples: bytes) -> None:
        fmt = self.sample_format
        voice = self._voice
        if fmt is None or voice is None or voice.state == "receive":
            return
        if self._far is not None and self._far.state == "connected":
            self.heard += _to_pcm(fmt, samples)

    def _host_action(self, event: DleEvent, now: float) -> None:
        if event.kind is DleKind.DTMF and event.digit is not None:
            self._log.record(now, "digit-to-line", event.digit)
            return
        if not event.ends_stream:
            return
        voice = self._voice
        self._voice = None
        self._log.record(now, "voice-end", event.kind.value)
        if voice is not None and voice.state != "transmit" and not self.options.bare_ok_after_abort:
            self._out += bytes(DleEvent(DleKind.END_OF_STREAM, 0x03))
        self._final("OK")

    # ------------------------------------------------------------------------------ output

    def _final(self, code: str) -> None:
        self._out += bytes(FinalResult(code, code))

    def _ring_once(self, far: _FarEnd, now: float) -> None:
        if self._far is not far or far.state != "ringing":
            return
        if far.rings >= self.options.max_rings:
            self.stop_ringing(now)
            return
        far.rings += 1
        self._out += format_line("RING")
        self._log.record(now, "ring", str(far.rings))
        if far.rings == 1 and far.caller is not None and self._settings.caller_id:
            self._agenda.at(now + self.options.caller_id_delay,
                            lambda t: self._send_caller_id(far, t))
        self._agenda.at(now + self.options.ring_interval, lambda t: self._ring_once(far, t))

    def _send_caller_id(self, far: _FarEnd, now: float) -> None:
        if self._far is not far or far.state != "ringing" or far.caller is None:
            return
        self._out += b"\r\n"
        for line in formatted_lines(far.caller, self.options.caller_id_separator):
            self._out += bytes(line)
        self._out += b"\r\n"
        self._log.record(now, "caller-id", far.caller.number or far.caller.number_absent or "")

    def _shielded(self, kind: DleKind, now: float) -> None:
        voice = self._voice
        if voice is None or voice.ending:
            return  # in command mode the chip has no way to say it
        self._out += bytes(DleEvent.of(kind))
        self._log.record(now, "dle", kind.value)

    def _repeat_busy(self, now: float) -> None:
        far = self._far
        if far is None or far.state != "gone" or self._voice is None:
            return
        self._shielded(DleKind.BUSY, now)
        self._agenda.at(now + self.options.busy_repeat, self._repeat_busy)

    def _dtmf_start(self, digit: str, now: float) -> None:
        if self._voice is None or self._voice.state == "transmit":
            return
        if self.quirks.dtmf_shielding:
            self._out += bytes(DleEvent.of(DleKind.DTMF_START))
        self._out += bytes(DleEvent.dtmf(digit))
        self._log.record(now, "far-end-digit", digit)

    def _dtmf_end(self, now: float) -> None:
        if self._voice is not None and self._voice.state != "transmit":
            self._out += bytes(DleEvent.of(DleKind.DTMF_END))

    def _silence(self, voice: _Voice, now: float) -> None:
        # +VSD: silence for the configured time is reported once (V.253 <DLE>s).
        tenths = self._settings.vsd_tenths
        if tenths and not voice.silence_reported and now - voice.silent_since >= tenths / 10:
            voice.silence_reported = True
            self._shielded(DleKind.SILENCE, now)
