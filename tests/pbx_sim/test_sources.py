"""Audio source specs: parsing, errors, and the sources they build."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.media.audio import FRAME_BYTES, read_all
from gateway.media.dtmf_inband import detect_digits
from gateway.media.tones import ToneDetector, tone_plan
from gateway.media.wav import wav_bytes
from pbx_sim.sources import open_source, parse_source_spec

PLAN = tone_plan("us")


def test_specs_round_trip_to_text() -> None:
    for text in ("tone:1004", "tone:697+1209,level=-9,ms=500", "dtmf:12#", "wav:x.wav,loop",
                 "silence,ms=300", "plan:busy"):
        assert str(parse_source_spec(text)) == text


@pytest.mark.parametrize("bad", ["noise", "tone:", "tone:10", "tone:abc", "dtmf:12x",
                                 "wav:", "silence:1", "tone:1004,level=9", "tone:1004,loop",
                                 "silence,ms=-1"])
def test_bad_specs_say_what_is_wrong(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_source_spec(bad)


def test_the_sources_sound_right(tmp_path: Path) -> None:
    tone = read_all(open_source("tone:1004,ms=200", PLAN), 100)
    assert len(tone) == 10 * FRAME_BYTES
    detector = ToneDetector(1004)
    assert all(detector.feed(tone[i : i + FRAME_BYTES]) for i in range(0, len(tone), FRAME_BYTES))
    assert detect_digits(read_all(open_source("dtmf:159#", PLAN), 100)) == "159#"
    wav = tmp_path / "a.wav"
    wav.write_bytes(wav_bytes(tone))
    assert read_all(open_source(f"wav:{wav}", PLAN), 100) == tone
    assert len(read_all(open_source(f"wav:{wav},loop", PLAN), 25)) == 25 * FRAME_BYTES
    busy = read_all(open_source("plan:busy", PLAN), 50)
    assert busy[: FRAME_BYTES] != bytes(FRAME_BYTES)
    with pytest.raises(ValueError):
        open_source("plan:howler", PLAN)
