"""The host FXS line against the board model (and against scripted board lines)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.line import (
    AnswerCall,
    ClearCall,
    DigitsDialled,
    IndicateProgress,
    LineAnswered,
    LineCleared,
    LineDigit,
    LineEvent,
    LineHookFlash,
    LineProgress,
    LineReleased,
    LineSeized,
    LineStatus,
    OfferCall,
    ProceedCall,
)
from gateway.trace import TraceRecorder
from hardware.protocols.fxs_board import SendCallerId
from hardware.protocols.fxs_device import FxsBoard, FxsBoardConfig
from hardware.protocols.fxs_line import FxsBoardLine, FxsLineConfig
from hardware.protocols.line_audio import LineAudioFrame

LINE = "phone1"


class Pair:
    def __init__(
        self,
        line: FxsLineConfig | None = None,
        board: FxsBoardConfig | None = None,
        *,
        chunk: int | None = None,
    ) -> None:
        self.trace = TraceRecorder()
        self.board = FxsBoard(board or FxsBoardConfig(), trace=self.trace)
        self.line = FxsBoardLine(line or FxsLineConfig(line=LINE), trace=self.trace)
        self.chunk = chunk
        self.now = 0.0
        self.events: list[LineEvent | LineAudioFrame] = []

    def pump(self) -> None:
        for _ in range(1000):
            to_board = self.line.data_to_send(self.now)
            to_line = self.board.data_to_send(self.now)
            if not to_board and not to_line:
                break
            if to_board:
                self.board.receive_data(to_board, self.now)
            step = self.chunk or max(1, len(to_line))
            for i in range(0, len(to_line), step):
                self.line.receive_data(to_line[i : i + step], self.now)
        while (event := self.line.next_event()) is not None:
            self.events.append(event)

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while True:
            timers = [t for t in (self.line.get_timer(), self.board.get_timer()) if t is not None]
            if not timers or min(timers) > end:
                break
            self.now = max(self.now, min(timers))
            self.line.handle_timer(self.now)
            self.board.handle_timer(self.now)
            self.pump()
        self.now = end
        self.pump()

    def start(self) -> None:
        self.board.power_on(self.now)
        self.line.start(self.now)
        self.pump()
        assert self.take() == [LineStatus(LINE, True, "board ready")]

    def hook(self, off: bool, hold: float = 0.0) -> None:
        self.board.set_hook(off, self.now)
        self.pump()
        if hold:
            self.advance(hold)

    def dial_pulses(self, digit: str) -> None:
        for _ in range(10 if digit == "0" else int(digit)):
            self.hook(False, 0.06)
            self.hook(True, 0.04)
        self.advance(0.6)

    def take(self) -> list[LineEvent | LineAudioFrame]:
        taken, self.events = self.events, []
        return taken

    def offer(self, **kwargs: object) -> None:
        self.line.handle_command(OfferCall(LINE, "in-1", "2001", **kwargs), self.now)  # type: ignore[arg-type]
        self.pump()


def test_start_finds_the_board_and_opens_the_audio_channel() -> None:
    pair = Pair(FxsLineConfig(line=LINE, audio="serial"))
    pair.start()
    assert pair.board.audio_on and pair.board.audio_codec == "PCMU"
    assert pair.line.board_state == "IDLE" and not pair.line.off_hook


def test_originating_call_with_pulse_digits_counted_by_the_board() -> None:
    pair = Pair()
    pair.start()
    pair.hook(True, 0.2)
    (seized,) = pair.take()
    assert seized == LineSeized(LINE, "phone1-1")
    assert pair.board.tone == "DIAL"
    for digit in "407":
        pair.dial_pulses(digit)
    assert pair.take() == [DigitsDialled(LINE, "phone1-1", d) for d in "407"]
    assert pair.board.tone == "OFF"
    pair.board.press_key("#", pair.now)
    pair.pump()
    assert pair.take() == [DigitsDialled(LINE, "phone1-1", "#")]
    pair.hook(False, 2.0)
    assert pair.take() == [LineCleared(LINE, "phone1-1", 16), LineReleased(LINE, "phone1-1")]
    assert pair.board.state == "IDLE"


def test_raw_pulses_are_assembled_by_the_host() -> None:
    pair = Pair(
        FxsLineConfig(line=LINE, raw_pulses=True), FxsBoardConfig(report_raw_pulses=True), chunk=1
    )
    pair.start()
    pair.hook(True, 0.2)
    pair.take()
    for digit in "90":
        pair.dial_pulses(digit)
    assert pair.take() == [DigitsDialled(LINE, "phone1-1", d) for d in "90"]


def test_hook_flash_in_both_pulse_modes() -> None:
    for raw in (False, True):
        pair = Pair(FxsLineConfig(line=LINE, raw_pulses=raw), FxsBoardConfig(report_raw_pulses=raw))
        pair.start()
        pair.hook(True, 0.2)
        pair.take()
        pair.hook(False, 0.45)
        pair.hook(True, 0.5)
        assert pair.take() == [LineHookFlash(LINE, "phone1-1")], raw


def test_hook_flicker_is_debounced() -> None:
    line = FxsBoardLine(FxsLineConfig(line=LINE))
    line.start(0.0)
    line.receive_data(b"READY\r\nOK\r\nSTATE IDLE\r\nOK\r\nLINE ONHOOK\r\n", 0.0)
    assert line.next_event() == LineStatus(LINE, True, "board ready")
    assert line.data_to_send(0.0) == b"\r\nSTATE\r\nLINE\r\n"
    line.receive_data(b"LINE OFFHOOK\r\n", 1.0)
    line.receive_data(b"LINE ONHOOK\r\n", 1.01)  # a 10 ms bounce
    line.handle_timer(1.2)
    assert line.next_event() is None and not line.off_hook
    line.receive_data(b"LINE OFFHOOK\r\n", 2.0)
    line.handle_timer(2.1)
    assert line.next_event() == LineSeized(LINE, "phone1-1")
    assert line.data_to_send(2.1) == b"TONE DIAL\r\n"
    line.receive_data(b"OK\r\n", 2.1)
    line.receive_data(b"LINE ONHOOK\r\n", 3.0)
    line.receive_data(b"LINE OFF_HOOK\r\n", 3.01)  # bounce during the call: nothing happens
    line.handle_timer(5.0)
    assert line.next_event() is None and line.off_hook


def test_ring_with_caller_id_then_ring_trip_and_audio() -> None:
    pair = Pair(FxsLineConfig(line=LINE, audio="serial"), chunk=7)
    pair.start()
    pair.offer(calling="5551234", calling_name="JOHN DOE")
    assert pair.board.state == "RING" and pair.board.bell_on
    assert pair.board.displayed_caller_id == SendCallerId("5551234", "JOHN DOE")
    assert pair.take() == [LineProgress(LINE, "in-1", "alerting")]
    pair.advance(7.0)
    assert pair.take() == [] and pair.board.rings == 2
    pair.hook(True)
    assert pair.take() == [LineAnswered(LINE, "in-1")]
    pair.board.phone_says(bytes(range(200)) + b"\xa5\r\n" * 40, pair.now)
    pair.pump()
    frames = pair.take()
    assert b"".join(f.data for f in frames) == bytes(range(200)) + b"\xa5\r\n" * 40  # type: ignore[union-attr]
    assert {f.codec for f in frames} == {"pcmu"}  # type: ignore[union-attr]
    pair.line.send_audio("in-1", b"\xff" * 320, pair.now)
    pair.pump()
    assert bytes(pair.board.heard) == b"\xff" * 320
    pair.board.press_key("5", pair.now)
    pair.pump()
    assert pair.take() == [LineDigit(LINE, "in-1", "5")]
    pair.line.handle_command(ClearCall(LINE, "in-1"), pair.now)
    pair.pump()
    assert pair.take() == [LineReleased(LINE, "in-1")] and pair.board.tone == "BUSY"
    pair.hook(False, 2.0)
    assert pair.take() == [] and pair.board.tone == "OFF" and pair.board.state == "IDLE"


def test_withheld_caller_id_is_sent_as_private() -> None:
    pair = Pair()
    pair.start()
    pair.offer(calling="5551234", presentation_allowed=False)
    assert pair.board.displayed_caller_id == SendCallerId("P")


def test_ring_timeout_clears_with_no_answer() -> None:
    pair = Pair(board=FxsBoardConfig(ring_timeout=12.0))
    pair.start()
    pair.offer()
    pair.take()
    pair.advance(13)
    assert pair.take() == [LineCleared(LINE, "in-1", 19), LineReleased(LINE, "in-1")]


def test_clear_while_ringing_stops_the_bell() -> None:
    pair = Pair()
    pair.start()
    pair.offer()
    pair.line.handle_command(ClearCall(LINE, "in-1"), pair.now)
    pair.pump()
    assert pair.take()[-1] == LineReleased(LINE, "in-1")
    assert pair.board.state == "IDLE" and not pair.board.bell_on


def test_offer_to_a_busy_phone_is_refused() -> None:
    pair = Pair()
    pair.start()
    pair.hook(True, 0.2)
    pair.take()
    pair.offer()
    assert pair.take() == [LineCleared(LINE, "in-1", 17), LineReleased(LINE, "in-1")]


def test_progress_tones_for_an_originating_call() -> None:
    pair = Pair()
    pair.start()
    pair.hook(True, 0.2)
    pair.take()
    pair.line.handle_command(ProceedCall(LINE, "phone1-1"), pair.now)
    pair.line.handle_command(IndicateProgress(LINE, "phone1-1", "alerting"), pair.now)
    pair.pump()
    assert pair.board.tone == "RINGBACK"
    pair.line.handle_command(AnswerCall(LINE, "phone1-1"), pair.now)
    pair.pump()
    assert pair.board.tone == "OFF"
    pair.board.press_key("1", pair.now)
    pair.pump()
    assert pair.take() == [LineDigit(LINE, "phone1-1", "1")]


def test_board_restart_mid_call_clears_and_resyncs() -> None:
    pair = Pair()
    pair.start()
    pair.hook(True, 0.2)
    pair.take()
    pair.board.state = "INIT"
    pair.board.power_on(pair.now)  # the board rebooted (the phone is still off hook)
    pair.pump()
    events = pair.take()
    assert events[:2] == [LineCleared(LINE, "phone1-1", 38), LineReleased(LINE, "phone1-1")]
    assert LineStatus(LINE, True, "board ready") in events and pair.line.in_service


def test_telephone_box_style_prompts_are_not_restarts() -> None:
    pair = Pair(
        FxsLineConfig(line=LINE, board_prompts=True), FxsBoardConfig(prompt_after_commands=True)
    )
    pair.start()
    pair.offer(calling="1")
    pair.hook(True)
    assert pair.take() == [LineProgress(LINE, "in-1", "alerting"), LineAnswered(LINE, "in-1")]


def test_a_silent_board_goes_out_of_service() -> None:
    line = FxsBoardLine(FxsLineConfig(line=LINE, command_timeout=2.0))
    line.start(0.0)
    assert line.data_to_send(0.0) == b"\r\n"
    timer = line.get_timer()
    assert timer == 2.0
    line.handle_timer(timer)
    assert line.next_event() == LineStatus(LINE, False, "no answer to sync")
    assert line.data_to_send(timer) == b"\r\n"  # it keeps looking for the board


def test_device_closed() -> None:
    pair = Pair()
    pair.start()
    pair.hook(True, 0.2)
    pair.take()
    pair.line.receive_data(b"", pair.now)
    pair.pump()
    assert pair.take() == [
        LineCleared(LINE, "phone1-1", 38),
        LineReleased(LINE, "phone1-1"),
        LineStatus(LINE, False, "device closed"),
    ]


def test_garbage_lines_are_dropped_and_counted() -> None:
    pair = Pair()
    pair.start()
    pair.line.receive_data(
        b"HELLO\r\nDIAL 55\r\n\xff\xfe\r\nLINE SIDEWAYS\r\n" + b"Z" * 400 + b"\n", 1
    )
    assert pair.line.noise == 5 and pair.line.in_service
    assert any(e.direction == "drop" for e in pair.trace.events)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=40))
def test_arbitrary_bytes_never_raise(junk: bytes, chunk: int) -> None:
    line = FxsBoardLine(FxsLineConfig(line=LINE, audio="serial"))
    line.start(0.0)
    line.receive_data(b"READY\r\nOK\r\nLINE OFFHOOK\r\n", 0.0)
    for i in range(0, len(junk), chunk):
        line.receive_data(junk[i : i + chunk], 0.5)
    line.handle_timer(10.0)
    while line.next_event() is not None:
        pass


def test_random_hook_storm_keeps_events_consistent() -> None:
    """Seeded random hook changes: every seized call is released exactly once."""
    rng = random.Random(4475)
    pair = Pair(FxsLineConfig(line=LINE, raw_pulses=True), FxsBoardConfig(report_raw_pulses=True))
    pair.start()
    off = False
    for _ in range(300):
        off = not off
        pair.hook(off, rng.choice((0.01, 0.05, 0.08, 0.3, 0.7, 1.6, 2.5)))
    pair.hook(False, 3.0)
    events = pair.take()
    seized = [e.ref for e in events if isinstance(e, LineSeized)]
    released = [e.ref for e in events if isinstance(e, LineReleased)]
    assert seized and sorted(seized) == sorted(released) and len(set(seized)) == len(seized)


def test_board_error_clears_and_resyncs() -> None:
    pair = Pair()
    pair.start()
    pair.offer()
    pair.take()
    pair.line.receive_data(b"ERROR ring generator fault\r\n", pair.now)
    pair.pump()
    assert pair.take() == [
        LineCleared(LINE, "in-1", 38),
        LineReleased(LINE, "in-1"),
        LineStatus(LINE, False, "board error: ring generator fault"),
        LineStatus(LINE, True, "board ready"),
    ]
