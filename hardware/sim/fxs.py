"""A scriptable serial FXS board with one analog phone, built from the board model.

The board is :class:`hardware.protocols.fxs_device.FxsBoard` (what docs/fxs-serial-protocol.md
asks of firmware); this class is the phone on its line and the person holding it:
:meth:`SimulatedFxsPhone.lift`, :meth:`~SimulatedFxsPhone.dial` (DTMF keys or rotary pulses, timed
like a real dial), :meth:`~SimulatedFxsPhone.answer`, :meth:`~SimulatedFxsPhone.hang_up`,
:meth:`~SimulatedFxsPhone.play` (what the person says).  Ringing, caller ID and the board's tones
are recorded as :class:`~hardware.sim.events.DeviceEvent` values; what reaches the earpiece (the
board's tone while one plays, else the host's audio frames) is kept as linear PCM in
:attr:`SimulatedFxsPhone.heard`.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from gateway.media.audio import FRAME_SAMPLES, AudioSource
from gateway.media.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from gateway.media.tones import Tone, ToneGenerator, tone_plan
from hardware.protocols.dle import DTMF_DIGITS
from hardware.protocols.fxs_device import FxsBoard, FxsBoardConfig
from hardware.sim.device import Agenda, EventLog
from hardware.sim.events import DeviceObserver

DialMode = Literal["dtmf", "pulse"]
_BOARD_TONES = {"DIAL": "dial", "BUSY": "busy", "RINGBACK": "ringback",
                "CONGESTION": "congestion"}
_MAX_BACKLOG = 5 * FRAME_SAMPLES  # host audio beyond 100 ms is dropped (a jitter buffer's end)


@dataclass(frozen=True, slots=True)
class SimFxsOptions:
    """The board's dialling mode and the phone's habits."""

    report_raw_pulses: bool = False
    serial_audio: bool = True
    tone_plan: str = "us"
    answer_after_rings: int | None = None  # None: only answer() answers
    dial_delay: float = 0.3  # lift, wait for dial tone, then dial
    key_duration: float = 0.08
    key_gap: float = 0.12
    pulse_break: float = 0.06  # 10 pulses per second, 60/40 break/make
    pulse_make: float = 0.04
    interdigit: float = 0.5
    ring_timeout: float = 30.0

    def __post_init__(self) -> None:
        tone_plan(self.tone_plan)  # raises ValueError for an unknown plan


class SimulatedFxsPhone:
    """A phone on a simulated FXS board (see the module docstring)."""

    def __init__(self, options: SimFxsOptions | None = None, *, name: str = "fxs",
                 rng: random.Random | None = None) -> None:
        self.name = name
        self.options = options or SimFxsOptions()
        self._plan: Mapping[str, Tone] = tone_plan(self.options.tone_plan)
        self._log = EventLog(name)
        self.events = self._log.events
        self._agenda = Agenda()
        self.board = self._new_board()
        self._source: AudioSource | None = None
        self._tone_source: AudioSource | None = None
        self._seen_tone = "OFF"
        self._seen_bell = False
        self._seen_ringing = False
        self._seen_audio = False
        self._off_hook = False
        self.heard = bytearray()
        self.last_command_at = 0.0
        self._host_seen = False
        self._injected = bytearray()
        self._rng = rng or random.Random(0)

    def _new_board(self) -> FxsBoard:
        options = self.options
        return FxsBoard(FxsBoardConfig(
            report_raw_pulses=options.report_raw_pulses,
            serial_audio=options.serial_audio,
            ring_timeout=options.ring_timeout,
            boot_messages=(f"INFO gwemu hw-sim FXS board {self.name}",),
        ))

    # ------------------------------------------------------------------------------ queries

    @property
    def off_hook(self) -> bool:
        return self._off_hook

    @property
    def host_ready(self) -> bool:
        """The host has talked to the board since it powered up."""
        return self._host_seen

    @property
    def ringing(self) -> bool:
        return self.board.state == "RING"

    def set_observer(self, observer: DeviceObserver | None) -> None:
        self._log.set_observer(observer)

    # ------------------------------------------------------------------------------ runner side

    def plugged(self, now: float) -> None:
        """The board powers up (a new pty: the USB device was plugged in)."""
        self.board = self._new_board()
        self._agenda.clear()
        self._off_hook = False
        self._seen_tone, self._seen_bell, self._seen_ringing = "OFF", False, False
        self._seen_audio = False
        self._tone_source = None
        self._host_seen = False
        self.board.power_on(now)
        self._log.record(now, "plugged")

    def receive_data(self, data: bytes, now: float) -> None:
        self.last_command_at = now
        self._host_seen = True
        self.board.receive_data(data, now)
        self._sync(now)

    def data_to_send(self, now: float) -> bytes:
        data = self.board.data_to_send(now)
        if self._injected:
            data += bytes(self._injected)
            self._injected.clear()
        return data

    def get_timer(self) -> float | None:
        times = [t for t in (self.board.get_timer(), self._agenda.next_time()) if t is not None]
        return min(times, default=None)

    def handle_timer(self, now: float) -> None:
        self._agenda.run_due(now)
        if (deadline := self.board.get_timer()) is not None and deadline <= now:
            self.board.handle_timer(now)
        self._sync(now)

    def audio_tick(self, now: float) -> None:
        """One 20 ms frame each way between the handset and the board's audio channel."""
        board = self.board
        if not self._off_hook:
            board.heard.clear()
            return
        pcma = board.audio_codec == "PCMA"
        backlog = board.heard
        if len(backlog) > _MAX_BACKLOG:
            del backlog[: len(backlog) - _MAX_BACKLOG]
        frame = bytes(2 * FRAME_SAMPLES)
        if len(backlog) >= FRAME_SAMPLES:
            payload = bytes(backlog[:FRAME_SAMPLES])
            del backlog[:FRAME_SAMPLES]
            frame = alaw_decode(payload) if pcma else ulaw_decode(payload)
        if self._tone_source is not None:
            frame = self._tone_source.read_frame() or frame
        self.heard += frame
        spoken = self._source.read_frame() if self._source is not None else None
        if spoken is None:
            self._source = None
            spoken = bytes(2 * FRAME_SAMPLES)
        board.phone_says(alaw_encode(spoken) if pcma else ulaw_encode(spoken), now)

    # ------------------------------------------------------------------------------ the person

    def lift(self, now: float) -> None:
        """Off hook: answers a ringing phone, else starts a call (the host plays dial tone)."""
        if self._off_hook:
            return
        self._off_hook = True
        self.board.set_hook(True, now)
        self._log.record(now, "off-hook")
        self._sync(now)

    def answer(self, now: float) -> None:
        if not self.ringing:
            raise ValueError("the phone is not ringing")
        self.lift(now)

    def hang_up(self, now: float) -> None:
        if not self._off_hook:
            return
        self._off_hook = False
        self._agenda.clear()
        self.board.set_hook(False, now)
        self._log.record(now, "on-hook")
        self._sync(now)

    def dial(self, digits: str, now: float, *, mode: DialMode = "dtmf") -> float:
        """Lift (if needed) and dial ``digits``; returns when the last digit is out."""
        if any(d not in DTMF_DIGITS for d in digits) or (mode == "pulse" and
                                                           not digits.isdigit()):
            raise ValueError(f"cannot {mode}-dial {digits!r}")
        when = now
        if not self._off_hook:
            self.lift(now)
            when += self.options.dial_delay
        for digit in digits:
            when = self._key(digit, when) if mode == "dtmf" else self._pulses(digit, when)
        return when

    def play(self, source: AudioSource | None) -> None:
        """What the person says into the handset from the next frame on (None: silence)."""
        self._source = source

    def inject(self, data: bytes) -> None:
        """Raw bytes toward the host after what the board has queued (noise, broken firmware)."""
        self._injected += data

    def inject_garbage(self, count: int) -> bytes:
        """``count`` seeded random bytes toward the host (returned for the test's record)."""
        data = self._rng.randbytes(count)
        self._injected += data
        return data

    def _key(self, digit: str, when: float) -> float:
        def press(now: float) -> None:
            if self._off_hook:
                self.board.press_key(digit, now)
                self._log.record(now, "digit", digit)
                self._sync(now)

        self._agenda.at(when, press)
        return when + self.options.key_duration + self.options.key_gap

    def _pulses(self, digit: str, when: float) -> float:
        options = self.options
        count = 10 if digit == "0" else int(digit)
        for _ in range(count):
            self._agenda.at(when, lambda now: self._hook_edge(False, now))
            when += options.pulse_break
            self._agenda.at(when, lambda now: self._hook_edge(True, now))
            when += options.pulse_make
        self._agenda.at(when, functools.partial(self._dialled, digit))
        return when + options.interdigit

    def _dialled(self, digit: str, now: float) -> None:
        self._log.record(now, "digit", digit)

    def _hook_edge(self, off_hook: bool, now: float) -> None:
        if self._off_hook:
            self.board.set_hook(off_hook, now)
            self._sync(now)

    # ------------------------------------------------------------------------------ board watch

    def _sync(self, now: float) -> None:
        board = self.board
        ringing = board.state == "RING"
        if ringing and not self._seen_ringing:
            cid = board.displayed_caller_id
            if cid is not None:
                self._log.record(now, "caller-id", f"{cid.number} {cid.name}".strip())
        self._seen_ringing = ringing
        if board.bell_on != self._seen_bell:
            self._seen_bell = board.bell_on
            if board.bell_on:
                self._log.record(now, "ring", str(board.rings))
                answer_after = self.options.answer_after_rings
                if answer_after is not None and board.rings >= answer_after:
                    self._agenda.at(now + 0.05, self._auto_answer)
        if board.tone != self._seen_tone:
            self._seen_tone = board.tone
            self._log.record(now, "tone", board.tone.lower())
            name = _BOARD_TONES.get(board.tone)
            self._tone_source = (ToneGenerator.for_tone(self._plan[name])
                                 if name is not None else None)
        if board.audio_on != self._seen_audio:
            self._seen_audio = board.audio_on
            self._log.record(now, "audio-on" if board.audio_on else "audio-off",
                             board.audio_codec.lower())

    def _auto_answer(self, now: float) -> None:
        if self.ringing:
            self.lift(now)
