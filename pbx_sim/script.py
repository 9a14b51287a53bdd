"""A phone's script: a few steps a scenario or a config file gives a phone to run.

Steps are separated by ``;`` or new lines::

    offhook; wait 0.5; dial 5551234; expect far-end-answered within 10
    play tone:1004; wait 2; digits 123; wait 1; hangup

=====================================  ==================================================
step                                   effect
=====================================  ==================================================
``offhook`` / ``onhook`` (``hangup``)  lift / hang up the handset
``answer``                             answer the ringing phone (lift it)
``dial NUMBER``                        lift if needed, then dial (keypad or DTMF, per
                                       the phone's ``dial-mode``)
``digits DIGITS``                      send DTMF digits during the call
``play SPEC`` / ``stop``               start / stop saying something (pbx_sim.sources)
``flash``                              a hook flash
``wait SECONDS``                       pause
``expect KIND [VALUE] [within S]``     wait for a phone event (``expect tone busy``,
                                       ``expect cleared 17``, ``expect ring``); after S
                                       seconds (default 30) the script stops, failed
=====================================  ==================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast, get_args

from pbx_sim.events import PhoneEventKind
from pbx_sim.sources import parse_source_spec

StepAction = Literal[
    "offhook", "onhook", "answer", "dial", "digits", "play", "stop", "flash", "wait", "expect"
]
DEFAULT_EXPECT_TIMEOUT = 30.0
_EVENT_KINDS: frozenset[str] = frozenset(get_args(PhoneEventKind))
_ALIASES = {"hangup": "onhook", "lift": "offhook"}
_NEEDS_ARGUMENT = {"dial", "digits", "play", "wait", "expect"}


@dataclass(frozen=True, slots=True)
class ScriptStep:
    action: StepAction
    argument: str = ""
    value: str = ""
    seconds: float = 0.0

    def __str__(self) -> str:
        parts: list[str] = [self.action]
        if self.action == "wait":
            parts.append(f"{self.seconds:g}")
        elif self.argument:
            parts.append(self.argument)
        if self.value:
            parts.append(self.value)
        if self.action == "expect":
            parts.append(f"within {self.seconds:g}")
        return " ".join(parts)


def parse_script(text: str) -> tuple[ScriptStep, ...]:
    """The steps of ``text``; ValueError names the step that is wrong."""
    steps: list[ScriptStep] = []
    for raw in text.replace("\n", ";").split(";"):
        words = raw.split()
        if not words:
            continue
        action = _ALIASES.get(words[0].lower(), words[0].lower())
        if action not in get_args(StepAction):
            raise ValueError(f"script step {raw.strip()!r}: unknown action {words[0]!r}")
        rest = words[1:]
        if action in _NEEDS_ARGUMENT and not rest:
            raise ValueError(f"script step {raw.strip()!r}: {action} needs an argument")
        if action not in _NEEDS_ARGUMENT and rest:
            raise ValueError(f"script step {raw.strip()!r}: {action} takes no argument")
        steps.append(_step(cast(StepAction, action), rest, raw.strip()))
    return tuple(steps)


def _step(action: StepAction, rest: list[str], raw: str) -> ScriptStep:
    if action == "wait":
        return ScriptStep("wait", seconds=_seconds(rest[0], raw)) if len(rest) == 1 else _bad(raw)
    if action == "expect":
        timeout = DEFAULT_EXPECT_TIMEOUT
        if len(rest) >= 3 and rest[-2] == "within":
            timeout = _seconds(rest[-1], raw)
            rest = rest[:-2]
        if rest[0] not in _EVENT_KINDS or len(rest) > 2:
            raise ValueError(f"script step {raw!r}: expect KIND [VALUE] [within SECONDS], "
                             f"KIND one of {', '.join(sorted(_EVENT_KINDS))}")
        return ScriptStep("expect", rest[0], rest[1] if len(rest) == 2 else "", timeout)
    if action in ("dial", "digits"):
        digits = "".join(rest)
        if not set(digits.upper()) <= set("0123456789*#ABCD"):
            raise ValueError(f"script step {raw!r}: {digits!r} is not a string of digits")
        return ScriptStep(action, digits)
    if action == "play":
        spec = " ".join(rest)
        try:
            parse_source_spec(spec)
        except ValueError as exc:
            raise ValueError(f"script step {raw!r}: {exc}") from None
        return ScriptStep("play", spec)
    return ScriptStep(action)


def _seconds(text: str, raw: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86400:
        raise ValueError(f"script step {raw!r}: {text!r} is not a number of seconds")
    return value


def _bad(raw: str) -> ScriptStep:
    raise ValueError(f"script step {raw!r}: wait takes one number of seconds")
