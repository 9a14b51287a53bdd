"""The phone model on its own: behaviours, actions, audio, recording, scripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.errors import LocalProtocolError
from gateway.media.audio import FRAME_BYTES, SILENCE_FRAME
from gateway.media.dtmf_inband import detect_digits
from gateway.media.tones import ToneGenerator, tone_plan
from gateway.media.wav import read_wav
from pbx_sim.config import PhoneSettings
from pbx_sim.phone import KeyPress, OffHook, OnHook, Phone, PhoneAction

PLAN = tone_plan("us")


def make(**settings: object) -> Phone:
    return Phone("p", PhoneSettings(**settings), plan=PLAN)  # type: ignore[arg-type]


def actions(phone: Phone) -> list[PhoneAction]:
    out = []
    while (action := phone.next_action()) is not None:
        out.append(action)
    return out


def run(phone: Phone, until: float) -> float:
    while (deadline := phone.get_timer()) is not None and deadline <= until:
        phone.handle_timer(deadline)
    return until


@pytest.mark.parametrize("rings", [0, 1, 3])
def test_answers_after_n_rings(rings: int) -> None:
    phone = make(answer_after_rings=rings)
    for index in range(4):
        phone.ring(True, 2.0 * index)
        if phone.off_hook:
            break
        phone.ring(False, 2.0 * index + 1)
        if phone.off_hook:
            break
    assert [e.value for e in phone.events if e.kind == "ring"][-1] == str(max(rings, 1))
    assert actions(phone) == [OffHook()]
    assert [e.kind for e in phone.events][-2:] == ["off-hook", "answered"]


def test_without_answer_setting_it_rings_forever_and_refusals_are_logged() -> None:
    phone = make()
    for index in range(10):
        phone.ring(True, index)
        phone.ring(False, index + 0.5)
    assert not phone.off_hook and actions(phone) == []
    assert make(busy=True).refusal(0.0) == 17
    rejecting = make(reject_cause=21)
    assert rejecting.refusal(0.0) == 21
    assert rejecting.events[-1].kind == "rejected" and rejecting.events[-1].cause == 21
    lifted = make()
    lifted.lift(0.0)
    assert lifted.refusal(1.0) == 17


def test_connected_behaviour_play_digits_and_hang_up() -> None:
    phone = make(play="tone:1004", hangup_after=2.0, digits_after_answer="12",
                 digits_delay=0.5)
    phone.lift(0.0)
    phone.connected(0.0, far_end_answered=True)
    assert phone.speak(0.0) != SILENCE_FRAME
    run(phone, 1.0)
    assert [a for a in actions(phone) if isinstance(a, KeyPress)] == [KeyPress("1"),
                                                                     KeyPress("2")]
    run(phone, 3.0)
    assert not phone.off_hook
    assert [e.kind for e in phone.events] == [
        "off-hook", "far-end-answered", "play", "dial", "dial", "play-done", "on-hook"]


def test_dtmf_dial_mode_speaks_the_digits() -> None:
    phone = make(dial_mode="dtmf", dial_delay=0.1)
    phone.dial("159", 0.0)
    assert actions(phone) == [OffHook()]
    assert phone.speak(0.0) == SILENCE_FRAME
    run(phone, 0.2)
    pcm = b"".join(phone.speak(0.2) for _ in range(40))
    assert detect_digits(pcm) == "159"
    with pytest.raises(LocalProtocolError):
        phone.send_digits("x", 1.0)


def test_cleared_hangs_up_later_and_recording_is_written(tmp_path: Path) -> None:
    target = tmp_path / "heard.wav"
    phone = make(record=str(target), hangup_on_clear=1.0)
    phone.lift(0.0)
    tone = ToneGenerator([(1004, -13.0)])
    for index in range(10):
        phone.hear(tone.read_frame() or SILENCE_FRAME, index * 0.02)
    phone.cleared(16, 0.2)
    assert phone.off_hook
    run(phone, 1.3)
    assert not phone.off_hook and actions(phone)[-1] == OnHook()
    assert len(read_wav(target)) == 10 * FRAME_BYTES
    assert phone.events[-1].kind == "recorded"


def test_scripts_wait_expect_and_fail_on_timeout() -> None:
    phone = make()
    phone.run_script("offhook; wait 1; digits 4; expect ring within 2; hangup", 0.0)
    assert phone.off_hook and phone.script_running
    run(phone, 1.0)
    assert actions(phone) == [OffHook(), KeyPress("4")]
    run(phone, 5.0)
    assert phone.off_hook and not phone.script_running
    assert phone.events[-1].kind == "script" and "failed" in phone.events[-1].value
    answering = make()
    answering.run_script("expect ring; answer; expect cleared 16; hangup", 0.0)
    answering.ring(True, 1.0)
    run(answering, 1.0)
    assert answering.off_hook
    answering.cleared(16, 2.0)
    run(answering, 2.0)
    assert not answering.off_hook and not answering.script_running
    bad = make()
    bad.run_script("answer", 0.0)
    assert "not ringing" in bad.events[-1].value
