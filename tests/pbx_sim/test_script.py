"""Phone scripts: parsing and errors."""

from __future__ import annotations

import pytest

from pbx_sim.script import ScriptStep, parse_script


def test_steps_parse_with_both_separators() -> None:
    steps = parse_script("offhook; wait 0.5\ndial 2000;expect far-end-answered within 10\n"
                         "play tone:1004; digits 12#; expect cleared 16; hangup")
    assert [str(s) for s in steps] == [
        "offhook", "wait 0.5", "dial 2000", "expect far-end-answered within 10",
        "play tone:1004", "digits 12#", "expect cleared 16 within 30", "onhook"]
    assert steps[3] == ScriptStep("expect", "far-end-answered", "", 10.0)
    assert parse_script("") == ()


@pytest.mark.parametrize("bad", ["jump", "dial", "dial 12x", "wait soon", "wait -1",
                                 "expect nothing", "offhook now", "play beep",
                                 "expect tone busy maybe extra"])
def test_bad_steps_are_named(bad: str) -> None:
    with pytest.raises(ValueError, match="script step"):
        parse_script(f"offhook; {bad}")
