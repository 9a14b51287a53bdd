"""The phone's ear names the tones of every national plan, watched frequencies and digits."""

from __future__ import annotations

import pytest

from gateway.media.audio import SILENCE_FRAME
from gateway.media.dtmf_inband import DtmfGenerator
from gateway.media.tones import TONE_PLANS, ToneGenerator, tone_plan
from pbx_sim.hearing import Ear, Heard


def listen(ear: Ear, source: ToneGenerator | DtmfGenerator, frames: int) -> list[Heard]:
    heard: list[Heard] = []
    for _ in range(frames):
        frame = source.read_frame()
        heard += ear.hear(frame if frame is not None else SILENCE_FRAME)
    return heard


@pytest.mark.parametrize("plan", sorted(TONE_PLANS))
@pytest.mark.parametrize("name", ["ringback", "busy", "congestion"])
def test_cadenced_tones_are_named_after_silence(plan: str, name: str) -> None:
    tones = tone_plan(plan)
    ear = Ear(tones)
    assert listen(ear, ToneGenerator([(440, -60.0)], duration_ms=200), 10) == []
    heard = listen(ear, ToneGenerator.for_tone(tones[name]), 400)  # 8 s
    assert heard == [Heard("tone", name)]


@pytest.mark.parametrize("plan", sorted(TONE_PLANS))
def test_dial_tone_is_named_from_off_hook_even_when_cut_short(plan: str) -> None:
    tones = tone_plan(plan)
    ear = Ear(tones)
    heard = listen(ear, ToneGenerator.for_tone(tones["dial"], duration_ms=300), 40)
    assert heard == [Heard("tone", "dial")]
    ear.reset()  # a new episode: heard again
    assert listen(ear, ToneGenerator.for_tone(tones["dial"]), 100) == [Heard("tone", "dial")]


def test_a_long_continuous_tone_that_started_later_is_dial_tone_too() -> None:
    tones = tone_plan("etsi")
    ear = Ear(tones)
    listen(ear, ToneGenerator([(1004, -60.0)], duration_ms=100), 5)
    heard = listen(ear, ToneGenerator.for_tone(tones["dial"]), 80)
    assert heard == [Heard("tone", "dial")]


def test_watched_frequencies_and_digits() -> None:
    ear = Ear(tone_plan("us"), (1004, 697))
    heard = listen(ear, ToneGenerator([(1004, -13.0)], duration_ms=400), 20)
    assert heard == [Heard("frequency", "1004")]
    heard = listen(ear, DtmfGenerator("15"), 30)
    assert heard == [Heard("digit", "1"), Heard("digit", "5")]  # 697 inside "1" is no tone
    assert listen(ear, ToneGenerator([(1004, -13.0)], duration_ms=400), 20) == [
        Heard("frequency", "1004")]  # back after an absence
