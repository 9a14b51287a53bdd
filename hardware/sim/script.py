"""A small script language for the device simulators (``gwemu hw-sim ... --script FILE``).

One step per line (or separated by ``;``), ``#`` starts a comment::

    ready                        # wait until the host has set the device up and gone quiet
    ring 5551234 ALICE SMITH     # modem: a call arrives with caller ID (P: private, O: unknown)
    wait-for answered timeout=30 # wait (at most 30 s) for a device event of that kind
    play tone:1004 2             # the far end / the person speaks a tone for 2 s
    dtmf 123#                    # modem: the far end presses keys
    hangup busy                  # modem: loop-break (default), busy, dial-tone or silence
    wait 1.5
    unplug                       # the device disappears ...
    replug                       # ... and comes back behind the same symlink

Modem steps: ``ring``, ``stop-ringing``, ``play``, ``dtmf``, ``hangup``, ``dial-result``,
``garbage N``.  FXS steps: ``offhook``, ``onhook``, ``dial DIGITS [pulse]``, ``answer``, ``play``,
``garbage N``.  Both: ``ready``, ``wait``, ``wait-for KIND [VALUE] [timeout=S]`` (the kinds of
:class:`~hardware.sim.events.DeviceEvent`), ``unplug``, ``replug``.  ``play`` takes
``tone:F1[,F2]``, ``wav:PATH`` or ``silence``; a tone takes an optional duration in seconds
(forever without one), a WAV file plays once.
"""

from __future__ import annotations

import asyncio
import shlex
from dataclasses import dataclass
from typing import Final

from gateway.errors import ConfigError
from gateway.media.audio import AudioSource
from gateway.media.tones import ToneGenerator
from gateway.media.wav import WavFileSource
from hardware.protocols.caller_id import CallerId
from hardware.sim.fxs import SimulatedFxsPhone
from hardware.sim.modem import SimulatedModem
from hardware.sim.runner import DeviceRunner

_READY_QUIET: Final = 0.3
_COMMON = frozenset({"ready", "wait", "wait-for", "unplug", "replug", "play", "garbage"})
_MODEM = _COMMON | {"ring", "stop-ringing", "dtmf", "hangup", "dial-result"}
_FXS = _COMMON | {"offhook", "onhook", "dial", "answer"}
_HANGUPS = ("loop-break", "busy", "dial-tone", "silence")


class ScriptError(ValueError):
    """A script step that cannot run; the message names the step's line."""


@dataclass(frozen=True, slots=True)
class Step:
    verb: str
    args: tuple[str, ...]
    line: int

    def __str__(self) -> str:
        return " ".join((self.verb, *self.args))


def parse_script(text: str, device: str) -> list[Step]:
    """Parse ``text`` for a ``modem`` or ``fxs`` simulator; raise :class:`ScriptError`."""
    verbs = _MODEM if device == "modem" else _FXS
    steps: list[Step] = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        for part in raw_line.split("#", 1)[0].split(";"):
            try:
                words = shlex.split(part)
            except ValueError as exc:
                raise ScriptError(f"line {number}: {exc}") from None
            if not words:
                continue
            step = Step(words[0].lower(), tuple(words[1:]), number)
            if step.verb not in verbs:
                raise ScriptError(f"line {number}: {step.verb!r} is not a {device} step "
                                  f"(steps: {', '.join(sorted(verbs))})")
            _check(step)
            steps.append(step)
    return steps


def _number(text: str, step: Step) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ScriptError(f"line {step.line}: {text!r} is not a number of seconds") from None
    if value < 0:
        raise ScriptError(f"line {step.line}: negative time")
    return value


def _check(step: Step) -> None:
    """Validate arguments at parse time, so a typo fails before the simulator starts."""
    verb, args = step.verb, step.args
    wants = {"wait": (1, 1), "wait-for": (1, 3), "ring": (1, 50), "dtmf": (1, 1),
             "hangup": (0, 1), "dial-result": (1, 3), "dial": (1, 2), "play": (1, 2),
             "garbage": (1, 1)}
    low, high = wants.get(verb, (0, 0))
    if not low <= len(args) <= high:
        raise ScriptError(f"line {step.line}: {verb} takes {low} to {high} arguments")
    if verb == "wait":
        _number(args[0], step)
    elif verb == "wait-for":
        _wait_for_arguments(step)
    elif verb == "hangup" and args and args[0] not in _HANGUPS:
        raise ScriptError(f"line {step.line}: hangup is one of {', '.join(_HANGUPS)}")
    elif verb == "dial" and len(args) == 2 and args[1] not in ("pulse", "dtmf"):
        raise ScriptError(f"line {step.line}: dial DIGITS [pulse|dtmf]")
    elif verb == "play":
        audio_source(args[0], None, step)
        if len(args) == 2:
            _number(args[1], step)
    elif verb == "garbage" and not args[0].isdigit():
        raise ScriptError(f"line {step.line}: garbage takes a byte count")


def audio_source(spec: str, seconds: float | None, step: Step | None = None) -> AudioSource | None:
    """``tone:F1[,F2]``, ``wav:PATH`` or ``silence`` as an audio source (None for silence)."""
    where = f"line {step.line}: " if step is not None else ""
    duration = None if seconds is None else int(seconds * 1000)
    if spec == "silence":
        return None
    if spec.startswith("wav:"):
        try:
            return WavFileSource(spec[4:])
        except (OSError, ConfigError) as exc:
            raise ScriptError(f"{where}{exc}") from None
    if spec.startswith("tone:"):
        try:
            frequencies = [int(f) for f in spec[5:].split(",") if f]
            if not frequencies:
                raise ValueError
            return ToneGenerator([(f, -10.0) for f in frequencies], duration_ms=duration)
        except ValueError:
            raise ScriptError(f"{where}bad tone {spec!r} (tone:FREQ[,FREQ])") from None
    raise ScriptError(f"{where}play takes tone:FREQ[,FREQ], wav:PATH or silence, not {spec!r}")


def caller_id(args: tuple[str, ...]) -> CallerId:
    """``NUMBER [NAME...]``; ``P`` / ``O`` mean private / unavailable."""
    number, name = args[0], " ".join(args[1:]) or None
    absences = {"P": "private", "O": "unavailable"}
    if number in absences:
        absent = absences[number]
        return CallerId(number_absent=absent, name=name)  # type: ignore[arg-type]
    return CallerId(number=number, name=name)


async def run_script(runner: DeviceRunner, steps: list[Step]) -> None:
    """Carry out ``steps`` on the simulator ``runner`` drives."""
    for step in steps:
        await _run_step(runner, step)


async def _run_step(runner: DeviceRunner, step: Step) -> None:
    verb, args = step.verb, step.args
    device = runner.device
    if verb == "wait":
        await asyncio.sleep(float(args[0]))
    elif verb == "wait-for":
        kind, value, timeout = _wait_for_arguments(step)
        await runner.wait_event(kind, value, timeout=timeout)
    elif verb == "ready":
        await _ready(runner)
    elif verb == "unplug":
        runner.unplug()
    elif verb == "replug":
        runner.replug()
    elif not isinstance(device, (SimulatedModem, SimulatedFxsPhone)):
        raise ScriptError(f"line {step.line}: {verb} needs a modem or FXS simulator")
    elif verb == "garbage":
        count = int(args[0])
        runner.act(lambda _now: device.inject_garbage(count))
    elif verb == "play":
        seconds = float(args[1]) if len(args) == 2 else None
        device.play(audio_source(args[0], seconds, step))
    elif isinstance(device, SimulatedModem):
        _modem_step(runner, device, step)
    elif isinstance(device, SimulatedFxsPhone):
        _fxs_step(runner, device, step)


def _modem_step(runner: DeviceRunner, modem: SimulatedModem, step: Step) -> None:
    verb, args = step.verb, step.args
    if verb == "ring":
        cid = caller_id(args)
        runner.act(lambda now: modem.ring(cid, now))
    elif verb == "stop-ringing":
        runner.act(modem.stop_ringing)
    elif verb == "dtmf":
        runner.act(lambda now: modem.send_dtmf(args[0], now))
    elif verb == "hangup":
        signal = args[0] if args else "loop-break"
        runner.act(lambda now: modem.hang_up(signal, now))  # type: ignore[arg-type]
    elif verb == "dial-result":
        modem.set_dial_result(" ".join(args).upper())


def _fxs_step(runner: DeviceRunner, phone: SimulatedFxsPhone, step: Step) -> None:
    verb, args = step.verb, step.args
    if verb == "offhook":
        runner.act(phone.lift)
    elif verb == "onhook":
        runner.act(phone.hang_up)
    elif verb == "answer":
        runner.act(phone.answer)
    elif verb == "dial":
        mode = args[1] if len(args) == 2 else "dtmf"
        runner.act(lambda now: phone.dial(args[0], now, mode=mode))  # type: ignore[arg-type]


async def _ready(runner: DeviceRunner) -> None:
    device = runner.device
    while True:
        ready = getattr(device, "host_ready", False)
        quiet = runner.now() - getattr(device, "last_command_at", 0.0) >= _READY_QUIET
        if ready and quiet:
            return
        await asyncio.sleep(0.05)


def _wait_for_arguments(step: Step) -> tuple[str, str | None, float]:
    """``KIND [VALUE] [timeout=S]`` -> kind, value, timeout (an hour when not given)."""
    args = list(step.args)
    timeout = 3600.0
    if args and args[-1].startswith("timeout="):
        timeout = _number(args.pop()[8:], step)
    if not 1 <= len(args) <= 2:
        raise ScriptError(f"line {step.line}: wait-for KIND [VALUE] [timeout=SECONDS]")
    return args[0], args[1] if len(args) == 2 else None, timeout
