"""The simulated FXS board and phone against the host's line core in memory, on a virtual clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.line import (
    DigitsDialled,
    LineAnswered,
    LineCleared,
    LineEvent,
    LineHookFlash,
    LineProgress,
    LineSeized,
    LineStatus,
    OfferCall,
)
from gateway.media.tones import ToneDetector, ToneGenerator
from hardware.protocols.fxs_line import FxsBoardLine, FxsLineConfig
from hardware.protocols.line_audio import LineAudioFrame
from hardware.sim.fxs import SimFxsOptions, SimulatedFxsPhone

LINE = "f"


class Pair:
    def __init__(self, *, raw: bool = False, **options: object) -> None:
        self.phone = SimulatedFxsPhone(SimFxsOptions(report_raw_pulses=raw, **options))  # type: ignore[arg-type]
        self.host = FxsBoardLine(FxsLineConfig(line=LINE, audio="serial", raw_pulses=raw))
        self.now = 0.0
        self.events: list[LineEvent] = []
        self.audio: list[LineAudioFrame] = []
        self.phone.plugged(self.now)
        self.host.start(self.now)
        self.pump()

    def pump(self) -> None:
        for _ in range(100):
            a = self.host.data_to_send(self.now)
            b = self.phone.data_to_send(self.now)
            if a:
                self.phone.receive_data(a, self.now)
            if b:
                self.host.receive_data(b, self.now)
            while (event := self.host.next_event()) is not None:
                (self.audio if isinstance(event, LineAudioFrame) else self.events).append(event)  # type: ignore[arg-type]
            if not a and not b:
                return

    def advance(self, seconds: float) -> None:
        until = self.now + seconds
        while self.now < until - 1e-9:
            self.now = min(until, self.now + 0.01)
            for node in (self.host, self.phone):
                deadline = node.get_timer()
                while deadline is not None and deadline <= self.now:
                    node.handle_timer(self.now)
                    deadline = node.get_timer()
            if round(self.now * 100) % 2 == 0:
                self.phone.audio_tick(self.now)
            self.pump()

    def act(self, action: object) -> None:
        action(self.now)  # type: ignore[operator]
        self.pump()

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        return [e for e in self.events if isinstance(e, kind)]


def test_board_found_and_audio_switched_on() -> None:
    pair = Pair()
    assert pair.of(LineStatus) == [LineStatus(LINE, True, "board ready")]
    assert pair.phone.board.audio_on and pair.phone.host_ready


@pytest.mark.parametrize(("mode", "raw"), [("dtmf", False), ("pulse", False), ("pulse", True)])
def test_dialling_in_every_mode(mode: str, raw: bool) -> None:
    pair = Pair(raw=raw)
    pair.act(lambda now: pair.phone.dial("907", now, mode=mode))
    pair.advance(5.0)
    assert len(pair.of(LineSeized)) == 1
    assert "".join(d.digits for d in pair.of(DigitsDialled)) == "907"
    assert [e.value for e in pair.phone.events if e.kind == "tone"][:2] == ["dial", "off"]


def test_dial_tone_reaches_the_earpiece() -> None:
    pair = Pair()
    pair.act(pair.phone.lift)
    pair.advance(0.5)
    detector = ToneDetector((350, 440))
    heard = bytes(pair.phone.heard)
    assert sum(detector.feed(heard[i:i + 320]) for i in range(0, len(heard) - 319, 320)) >= 15


def test_auto_answer_after_two_rings_with_caller_id() -> None:
    pair = Pair(answer_after_rings=2)
    pair.host.handle_command(OfferCall(LINE, "c", "1", calling="5551234", calling_name="AL"),
                             pair.now)
    pair.pump()
    pair.advance(7.0)  # the board's default cadence: 2 s on, 4 s off
    assert [e.value for e in pair.phone.events if e.kind == "caller-id"] == ["5551234 AL"]
    assert [e.value for e in pair.phone.events if e.kind == "ring"] == ["1", "2"]
    assert [type(e) for e in pair.events[-2:]] == [LineProgress, LineAnswered]
    pair.phone.play(ToneGenerator([(697, -10.0)]))
    pair.advance(0.4)
    assert len(pair.audio) >= 15


def test_hook_flash_and_hang_up() -> None:
    pair = Pair()
    pair.act(pair.phone.lift)
    pair.advance(0.3)
    pair.act(pair.phone.hang_up)
    pair.advance(0.3)
    pair.act(pair.phone.lift)  # 0.3 s on hook: a flash
    pair.advance(0.3)
    assert len(pair.of(LineHookFlash)) == 1
    pair.act(pair.phone.hang_up)
    pair.advance(2.0)
    assert [c.cause for c in pair.of(LineCleared)] == [16]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=12))
def test_host_garbage_never_breaks_the_board(chunks: list[bytes]) -> None:
    phone = SimulatedFxsPhone()
    phone.plugged(0.0)
    phone.data_to_send(0.0)
    for index, chunk in enumerate(chunks):
        phone.receive_data(chunk, index * 0.1)
        phone.handle_timer(index * 0.1)
        phone.audio_tick(index * 0.1)
        phone.data_to_send(index * 0.1)
    phone.receive_data(b"\r\n\r\n", 9.0)
    assert phone.data_to_send(9.0).endswith(b"READY\r\n")
