"""What a simulated phone can say: audio sources named by a short text spec.

========================================  ====================================================
spec                                      source
========================================  ====================================================
``tone:1004``                             a 1004 Hz test tone at -13 dBm0, until stopped
``tone:697+1209,level=-9,ms=500``         several frequencies mixed, a level, a duration
``plan:busy``                             a tone of the PBX's national plan, with its cadence
``dtmf:123#``                             in-band DTMF digits (100 ms tone, 100 ms pause)
``wav:greeting.wav`` / ``wav:x.wav,loop``  a WAV file (any format :mod:`gateway.media.wav` reads)
``silence`` / ``silence,ms=300``          silence
========================================  ====================================================

:func:`parse_source_spec` checks a spec without touching files; :func:`open_source` builds the
source (reading a WAV file at that moment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

from gateway.media.audio import AudioSource, LoopSource, SilenceSource
from gateway.media.dtmf_inband import DTMF_DIGITS, DtmfGenerator
from gateway.media.tones import Tone, ToneGenerator
from gateway.media.wav import WavFileSource

SourceKind = Literal["tone", "plan", "dtmf", "wav", "silence"]
TEST_TONE_LEVEL = -13.0  # dBm0: the level of the classic 1004 Hz milliwatt-less test tone


@dataclass(frozen=True, slots=True)
class SourceSpec:
    kind: SourceKind
    argument: str = ""
    frequencies: tuple[int, ...] = ()
    level_dbm0: float = TEST_TONE_LEVEL
    duration_ms: int | None = None
    loop: bool = False

    def __str__(self) -> str:
        text = self.kind if not self.argument else f"{self.kind}:{self.argument}"
        if self.kind == "tone" and self.level_dbm0 != TEST_TONE_LEVEL:
            text += f",level={self.level_dbm0:g}"
        if self.duration_ms is not None:
            text += f",ms={self.duration_ms}"
        if self.loop:
            text += ",loop"
        return text


def parse_source_spec(text: str) -> SourceSpec:
    """Read a spec (see the module docstring); ValueError says what is wrong."""
    head, *options = [part.strip() for part in text.strip().split(",")]
    kind, _, argument = head.partition(":")
    if kind not in ("tone", "plan", "dtmf", "wav", "silence"):
        raise ValueError(f"unknown audio source {head!r} (tone:, plan:, dtmf:, wav:, silence)")
    level = TEST_TONE_LEVEL
    duration: int | None = None
    loop = False
    for option in options:
        name, _, value = option.partition("=")
        try:
            if name == "level" and kind == "tone":
                level = float(value)
                if not -60.0 <= level <= 3.0:
                    raise ValueError
            elif name == "ms" and kind in ("tone", "silence"):
                duration = int(value)
                if duration <= 0:
                    raise ValueError
            elif name == "loop" and not value and kind == "wav":
                loop = True
            else:
                raise ValueError
        except ValueError:
            raise ValueError(f"option {option!r} does not fit a {kind} source") from None
    frequencies: tuple[int, ...] = ()
    if kind == "tone":
        try:
            frequencies = tuple(int(f) for f in argument.split("+"))
        except ValueError:
            message = f"tone frequencies {argument!r}: expected e.g. 1004 or 350+440"
            raise ValueError(message) from None
        if not all(50 <= f <= 3950 for f in frequencies):
            raise ValueError(f"tone frequencies {argument!r} must be 50..3950 Hz")
    elif kind == "dtmf":
        if not argument or not set(argument.upper()) <= set(DTMF_DIGITS):
            raise ValueError(f"dtmf digits {argument!r}: expected 0-9, *, #, A-D")
    elif kind in ("plan", "wav") and not argument:
        raise ValueError(f"{kind}: needs a {'tone name' if kind == 'plan' else 'file name'}")
    elif kind == "silence" and argument:
        raise ValueError("silence takes no argument (use silence,ms=300)")
    return SourceSpec(cast(SourceKind, kind), argument, frequencies, level, duration, loop)


def open_source(spec: SourceSpec | str, plan: Mapping[str, Tone]) -> AudioSource:
    """The audio source for ``spec``; a WAV file is read now (WavFileError when unusable)."""
    if isinstance(spec, str):
        spec = parse_source_spec(spec)
    match spec.kind:
        case "tone":
            return ToneGenerator([(f, spec.level_dbm0) for f in spec.frequencies],
                                 duration_ms=spec.duration_ms)
        case "plan":
            tone = plan.get(spec.argument)
            if tone is None:
                raise ValueError(f"the tone plan has no {spec.argument!r} tone "
                                 f"(it has {', '.join(sorted(plan))})")
            return ToneGenerator.for_tone(tone)
        case "dtmf":
            return DtmfGenerator(spec.argument)
        case "wav":
            source = WavFileSource(spec.argument)
            return LoopSource(source) if spec.loop else source
        case _:
            return SilenceSource(spec.duration_ms)
