"""A simulated analog phone, sans-IO: a handset, a keypad, a mouth and an ear.

The phone is wired to a *line*: a PBX extension (:mod:`pbx_sim.pbx`) or a simulated FXS board
(:mod:`pbx_sim.fxs_phone`).  The line drives it with what a real line does -- ring bursts, caller
ID, audio, and (where the line can say so) tones, answer supervision and the clearing cause --
and reads back what the user does as :data:`PhoneAction` values (hook, keys, flash).  Audio runs
in 20 ms frames of linear PCM: :meth:`Phone.speak` gives the next frame the phone says,
:meth:`Phone.hear` takes the next frame it hears (recorded, and analysed by its
:class:`~pbx_sim.hearing.Ear`).

Behaviour comes from :class:`~pbx_sim.config.PhoneSettings` (answer after N rings, busy, reject,
play, hang up after, digits after answer, a script) and from the API (``lift``, ``dial``,
``answer``, ``hang_up``, ``play``, ``send_digits``, ``flash``, ``run_script``).  Everything it
does or perceives is a :class:`~pbx_sim.events.PhoneEvent` in :attr:`Phone.events`.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from gateway.errors import ConfigError, LocalProtocolError
from gateway.media.audio import SILENCE_FRAME, AudioSource
from gateway.media.dtmf_inband import DtmfGenerator
from gateway.media.tones import Tone
from gateway.media.wav import WavRecorder
from pbx_sim.config import PhoneSettings
from pbx_sim.events import PhoneEvent, PhoneEventKind, Via
from pbx_sim.hearing import Ear
from pbx_sim.q931.constants import CauseValue
from pbx_sim.script import ScriptStep, parse_script
from pbx_sim.sources import open_source, parse_source_spec

# DTMF as a phone keypad sends it: Q.24 wants at least 40 ms; telephones send about 100 ms.
DTMF_TONE_MS = 100
DTMF_PAUSE_MS = 100


@dataclass(frozen=True, slots=True)
class OffHook:
    pass


@dataclass(frozen=True, slots=True)
class OnHook:
    pass


@dataclass(frozen=True, slots=True)
class KeyPress:
    """A key signalled out of band (a line that decodes keys itself, or a keypad IE)."""

    digit: str


@dataclass(frozen=True, slots=True)
class HookFlash:
    pass


PhoneAction = OffHook | OnHook | KeyPress | HookFlash

_TimerKind = Literal["dial", "key", "hangup", "digits", "script", "expect-timeout"]


class Phone:
    """See the module docstring.  ``observer`` sees each event as it is logged."""

    def __init__(
        self,
        name: str,
        settings: PhoneSettings,
        *,
        plan: Mapping[str, Tone],
        observer: Callable[[PhoneEvent], None] | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self._plan = plan
        self._observer = observer
        self.events: list[PhoneEvent] = []
        self._actions: deque[PhoneAction] = deque()
        self.off_hook = False
        self.ringing = False  # the bell sounds right now
        self.alerted = False  # a call is being offered (ringing, between bursts too)
        self.in_call = False  # the line said the call is through
        self.rings = 0
        self._speech: AudioSource | None = None
        self._dtmf: DtmfGenerator | None = None
        self._ear = Ear(plan, settings.detect)
        self._recorder = WavRecorder() if settings.record else None
        self._timers: list[tuple[float, int, _TimerKind, str]] = []
        self._sequence = itertools.count()
        self._keys: deque[str] = deque()
        self._script: tuple[ScriptStep, ...] = ()
        self._script_index = 0
        self._expect: ScriptStep | None = None

    # ------------------------------------------------------------------------ line -> phone

    def refusal(self, now: float) -> int | None:
        """Asked by the line when a call is offered: the cause to refuse it with, or None."""
        cause: int | None = None
        if self.off_hook or self.settings.busy:
            cause = CauseValue.USER_BUSY
        elif self.settings.reject_cause is not None:
            cause = self.settings.reject_cause
        if cause is not None:
            self._log(now, "rejected", cause=cause)
        return cause

    def ring(self, on: bool, now: float) -> None:
        """A ring burst starts (``on``) or ends."""
        if on == self.ringing:
            return
        self.ringing = on
        answer_after = self.settings.answer_after_rings
        if on:
            self.alerted = True
            self.rings += 1
            self._log(now, "ring", str(self.rings))
            if answer_after == 0 and self.rings == 1:
                self.answer(now)
        elif answer_after and self.rings >= answer_after and self.alerted and not self.off_hook:
            self.answer(now)

    def alerting_ended(self, now: float) -> None:
        """The line stopped offering the call (answered, abandoned, timed out)."""
        self.alerted = False
        self.ringing = False
        self.rings = 0

    def caller_id(self, number: str, name: str, now: float) -> None:
        self._log(now, "caller-id", f"{number} {name}".strip())

    def signal_tone(self, tone: str, now: float) -> None:
        """The line says which tone it plays (when the phone cannot hear it: no media)."""
        if self.off_hook:
            self._log(now, "tone", tone, via="signal")

    def signal_digit(self, digit: str, now: float) -> None:
        """A digit from the far end signalled out of band."""
        self._log(now, "digit", digit, via="signal")

    def connected(self, now: float, *, far_end_answered: bool) -> None:
        """The call is through (the phone answered, or the called party did)."""
        if self.in_call or not self.off_hook:
            return
        self.in_call = True
        self.alerting_ended(now)
        if far_end_answered:
            self._log(now, "far-end-answered")
        settings = self.settings
        if settings.play is not None:
            self.play(settings.play, now)
        if settings.hangup_after is not None:
            self._schedule(now + settings.hangup_after, "hangup")
        if settings.digits_after_answer:
            self._schedule(now + settings.digits_delay, "digits", settings.digits_after_answer)

    def cleared(self, cause: int | None, now: float) -> None:
        """The line cleared the call (``cause`` when it knows one)."""
        self.in_call = False
        self.alerting_ended(now)
        self._log(now, "cleared", cause=cause)
        self._cancel("hangup", "digits", "key", "dial")
        self._keys.clear()
        self._dtmf = None
        self._stop_speech(now)
        delay = self.settings.hangup_on_clear
        if self.off_hook and delay is not None:
            self._schedule(now + delay, "hangup")

    def hear(self, frame: bytes, now: float) -> None:
        """One 20 ms frame reaches the earpiece."""
        if not self.off_hook:
            return
        if self._recorder is not None:
            self._recorder.write_frame(frame)
        for heard in self._ear.hear(frame):
            if heard.kind == "frequency":
                self._log(now, "frequency", heard.value)
            else:
                self._log(now, heard.kind, heard.value, via="audio")

    def speak(self, now: float) -> bytes:
        """The next 20 ms frame from the mouthpiece (silence on hook)."""
        if not self.off_hook:
            return SILENCE_FRAME
        if self._dtmf is not None:
            frame = self._dtmf.read_frame()
            if frame is not None:
                return frame
            self._dtmf = None
        speech = self._speech
        if speech is not None:
            frame = speech.read_frame()
            if frame is not None:
                return frame
            self._speech = None
            self._log(now, "play-done")
        return SILENCE_FRAME

    def next_action(self) -> PhoneAction | None:
        return self._actions.popleft() if self._actions else None

    @property
    def has_actions(self) -> bool:
        return bool(self._actions)

    # ------------------------------------------------------------------------------ the user

    def lift(self, now: float) -> None:
        """Off hook: answers a ringing phone, else the line gives dial tone."""
        if self.off_hook:
            return
        self.off_hook = True
        self._ear.reset()
        self._actions.append(OffHook())
        self._log(now, "off-hook")
        if self.alerted:
            self._log(now, "answered")
            self.alerting_ended(now)

    def answer(self, now: float) -> None:
        if self.alerted and not self.off_hook:
            self.lift(now)

    def hang_up(self, now: float) -> None:
        if not self.off_hook:
            return
        self.off_hook = False
        self.in_call = False
        self._actions.append(OnHook())
        self._keys.clear()
        self._dtmf = None
        self._cancel("dial", "key", "hangup", "digits")
        self._stop_speech(now)
        self._ear.reset()
        self._log(now, "on-hook")
        recorder = self._recorder
        if recorder is not None and self.settings.record and recorder.duration_ms:
            recorder.save(self.settings.record)
            self._log(now, "recorded", self.settings.record)

    def dial(self, number: str, now: float) -> None:
        """Lift (if on hook) and dial ``number`` after the phone's dial delay."""
        _check_digits(number)
        delay = 0.0 if self.off_hook else self.settings.dial_delay
        self.lift(now)
        self._schedule(now + delay, "dial", number)

    def send_digits(self, digits: str, now: float) -> None:
        """Send digits now: in-band DTMF (dial-mode dtmf) or keypad signals."""
        _check_digits(digits)
        if not self.off_hook:
            raise LocalProtocolError(f"phone {self.name} is on hook: it cannot send digits")
        self._press(digits, now)

    def play(self, spec: str, now: float) -> None:
        """Start saying ``spec`` (see :mod:`pbx_sim.sources`), replacing what it said."""
        try:
            source = open_source(parse_source_spec(spec), self._plan)
        except (ValueError, ConfigError) as exc:
            raise LocalProtocolError(f"phone {self.name}: cannot play {spec!r}: {exc}") from None
        self._speech = source
        self._log(now, "play", spec)

    def stop_playing(self, now: float) -> None:
        self._stop_speech(now)

    def flash(self, now: float) -> None:
        if self.off_hook:
            self._actions.append(HookFlash())

    def run_script(self, script: str | Sequence[ScriptStep], now: float) -> None:
        """Run steps (text, see :mod:`pbx_sim.script`) from now, replacing any running script."""
        self._script = parse_script(script) if isinstance(script, str) else tuple(script)
        self._script_index = 0
        self._expect = None
        self._cancel("script", "expect-timeout")
        self._continue_script(now)

    @property
    def script_running(self) -> bool:
        return self._script_index < len(self._script) or self._expect is not None

    # ------------------------------------------------------------------------------ timers

    def get_timer(self) -> float | None:
        return self._timers[0][0] if self._timers else None

    def handle_timer(self, now: float) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now:
            _deadline, _seq, kind, argument = heapq.heappop(timers)
            self._fire(kind, argument, now)

    def _fire(self, kind: _TimerKind, argument: str, now: float) -> None:
        match kind:
            case "dial":
                if self.off_hook:
                    self._press(argument, now)
            case "key":
                self._next_key(now)
            case "hangup":
                self.hang_up(now)
            case "digits":
                if self.off_hook and self.in_call:
                    self._press(argument, now)
            case "script":
                self._continue_script(now)
            case "expect-timeout":
                step = self._expect
                if step is not None:
                    self._expect = None
                    self._script_index = len(self._script)
                    self._log(now, "script", f"failed: {step} (no such event)")

    def _schedule(self, deadline: float, kind: _TimerKind, argument: str = "") -> None:
        heapq.heappush(self._timers, (deadline, next(self._sequence), kind, argument))

    def _cancel(self, *kinds: _TimerKind) -> None:
        kept = [timer for timer in self._timers if timer[2] not in kinds]
        if len(kept) != len(self._timers):
            heapq.heapify(kept)
            self._timers = kept

    # ------------------------------------------------------------------------------ internals

    def _press(self, digits: str, now: float) -> None:
        if self.settings.dial_mode == "dtmf":
            self._dtmf = DtmfGenerator(digits, tone_ms=DTMF_TONE_MS, pause_ms=DTMF_PAUSE_MS)
            for digit in digits:
                self._log(now, "dial", digit, via="dtmf")
            return
        start = not self._keys
        self._keys.extend(digits)
        if start:
            self._next_key(now)

    def _next_key(self, now: float) -> None:
        if not self._keys or not self.off_hook:
            return
        digit = self._keys.popleft()
        self._actions.append(KeyPress(digit))
        self._log(now, "dial", digit, via="keypad")
        if self._keys:
            self._schedule(now + self.settings.digit_interval, "key")

    def _stop_speech(self, now: float) -> None:
        if self._speech is not None:
            self._speech = None
            self._log(now, "play-done")

    def _continue_script(self, now: float) -> None:
        steps = self._script
        while self._script_index < len(steps) and self._expect is None:
            step = steps[self._script_index]
            self._script_index += 1
            try:
                waiting = self._perform(step, now)
            except LocalProtocolError as exc:
                self._script_index = len(steps)
                self._log(now, "script", f"failed: {step}: {exc}")
                return
            if waiting:
                return

    def _perform(self, step: ScriptStep, now: float) -> bool:
        """Carry out one step; True when the script must wait."""
        match step.action:
            case "offhook":
                self.lift(now)
            case "onhook":
                self.hang_up(now)
            case "answer":
                if not self.alerted:
                    raise LocalProtocolError("the phone is not ringing")
                self.answer(now)
            case "dial":
                self.dial(step.argument, now)
            case "digits":
                self.send_digits(step.argument, now)
            case "play":
                self.play(step.argument, now)
            case "stop":
                self.stop_playing(now)
            case "flash":
                self.flash(now)
            case "wait":
                self._schedule(now + step.seconds, "script")
                return True
            case "expect":
                self._expect = step
                self._schedule(now + step.seconds, "expect-timeout")
                return True
        return False

    def _log(
        self,
        now: float,
        kind: PhoneEventKind,
        value: str = "",
        *,
        cause: int | None = None,
        via: Via = "",
    ) -> None:
        event = PhoneEvent(now, self.name, kind, value, cause, via)
        self.events.append(event)
        if self._observer is not None:
            self._observer(event)
        expect = self._expect
        if expect is not None and kind == expect.argument and (
            not expect.value or expect.value in (value, str(cause))
        ):
            self._expect = None
            self._cancel("expect-timeout")
            # Go on from the timer, not from inside whatever logged the event.
            self._schedule(now, "script")


def _check_digits(digits: str) -> None:
    if not digits or not set(digits.upper()) <= set("0123456789*#ABCD"):
        raise LocalProtocolError(f"{digits!r} is not a string of dialling digits")
