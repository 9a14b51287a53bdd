"""The board model: the firmware behaviour docs/fxs-serial-protocol.md describes."""

from __future__ import annotations

from hardware.protocols.fxs_board import AudioFrame, FxsInput, FxsStreamReader, SendCallerId
from hardware.protocols.fxs_device import FxsBoard, FxsBoardConfig


def lines(board: FxsBoard, now: float = 0.0) -> list[FxsInput]:
    return FxsStreamReader().feed(board.data_to_send(now))


def run_timers(board: FxsBoard, until: float) -> None:
    while (timer := board.get_timer()) is not None and timer <= until:
        board.handle_timer(timer)


def booted(config: FxsBoardConfig | None = None) -> FxsBoard:
    board = FxsBoard(config)
    board.receive_data(b"RING\r\n", 0.0)  # ignored before power-on
    board.power_on(0.0)
    assert lines(board) == ["INFO gwemu FXS board model", "STATE IDLE", "READY"]
    return board


def test_sync_queries_and_bad_commands() -> None:
    board = booted()
    board.receive_data(b"\r\nSTATE\r\nLINE\r\nTONE DIAL\r\nFLY\r\nRING 5\r\nSTOP\r\n", 0.1)
    assert lines(board) == [
        "READY",
        "OK",
        "STATE IDLE",
        "OK",
        "LINE ONHOOK",
        "OK",
        "INVALID",
        "INVALID",
        "INVALID",
    ]
    assert board.tone == "DIAL"


def test_ringing_cadence_trip_and_caller_id() -> None:
    board = booted()
    board.receive_data(b"CID 5551234 ACME\r\nRING 400,200,400,2000\r\n", 0.0)
    assert lines(board) == ["OK", "OK", "STATE RING", "RING"]
    assert board.displayed_caller_id == SendCallerId("5551234", "ACME")
    run_timers(board, 3.05)
    assert lines(board) == ["RING_PAUSE", "RING", "RING_PAUSE", "RING"]
    assert board.rings == 3 and board.bell_on
    board.set_hook(True, 3.1)
    assert lines(board) == ["RING_TRIP", "LINE OFFHOOK", "STATE WAIT"]
    assert board.get_timer() is None


def test_ring_refused_off_hook_and_ring_timeout() -> None:
    board = booted(FxsBoardConfig(ring_timeout=10.0))
    board.set_hook(True, 0.0)
    run_timers(board, 1.0)
    assert lines(board) == ["LINE OFFHOOK", "STATE WAIT"]
    board.receive_data(b"RING\r\n", 1.0)
    assert lines(board) == ["INVALID"]
    board.set_hook(False, 2.0)
    run_timers(board, 4.0)
    lines(board)
    board.receive_data(b"RING\r\n", 4.0)
    run_timers(board, 14.5)
    assert lines(board)[-2:] == ["RING_TIMEOUT", "STATE IDLE"]


def dial(board: FxsBoard, pulses: int, start: float) -> float:
    now = start
    for _ in range(pulses):
        board.set_hook(False, now)
        run_timers(board, now + 0.06)
        board.set_hook(True, now + 0.06)
        now += 0.1
    run_timers(board, now + 0.5)
    return now + 0.5


def test_counted_pulses() -> None:
    board = booted()
    board.set_hook(True, 0.0)
    run_timers(board, 0.2)
    lines(board)
    now = dial(board, 3, 1.0)
    now = dial(board, 10, now)
    assert lines(board) == [
        "DIAL_BEGIN",
        "STATE DIAL",
        "DIAL 3",
        "STATE WAIT",
        "DIAL_BEGIN",
        "STATE DIAL",
        "DIAL 0",
        "STATE WAIT",
    ]
    board.press_key("*", now)
    assert lines(board) == ["DIAL *"]
    board.set_hook(False, now)
    run_timers(board, now + 2)
    assert lines(board) == ["LINE ONHOOK", "STATE IDLE"]


def test_raw_pulses_are_reported_as_hook_changes() -> None:
    board = booted(FxsBoardConfig(report_raw_pulses=True))
    board.set_hook(True, 0.0)
    run_timers(board, 0.2)
    lines(board)
    dial(board, 2, 1.0)
    assert lines(board) == ["LINE ONHOOK", "LINE OFFHOOK"] * 2


def test_audio_channel() -> None:
    board = booted()
    board.receive_data(b"AUDIO ON PCMA\r\n", 0.0)
    assert lines(board) == ["OK"] and board.audio_on and board.audio_codec == "PCMA"
    board.set_hook(True, 0.0)
    run_timers(board, 0.2)
    lines(board)
    board.receive_data(bytes(AudioFrame(0, b"\x55" * 160)), 0.3)
    board.phone_says(b"\xd5" * 200, 0.3)
    assert board.heard == b"\x55" * 160
    assert lines(board) == [AudioFrame(0, b"\xd5" * 160), AudioFrame(1, b"\xd5" * 40)]
    quiet = booted(FxsBoardConfig(serial_audio=False))
    quiet.receive_data(b"AUDIO ON\r\n", 0.0)
    assert lines(quiet) == ["INVALID"] and not quiet.audio_on


def test_telephone_box_prompts() -> None:
    board = booted(FxsBoardConfig(prompt_after_commands=True))
    board.receive_data(b"STATE\r\n", 0.0)
    assert lines(board) == ["OK", "STATE IDLE", "READY"]


def test_dial_tone_stops_at_the_first_digit_and_cid_needs_idle() -> None:
    board = booted()
    board.set_hook(True, 0.0)
    run_timers(board, 0.2)
    board.receive_data(b"TONE DIAL\r\nCID 123\r\n", 0.3)
    assert lines(board)[-2:] == ["OK", "INVALID"] and board.tone == "DIAL"
    board.press_key("5", 0.4)
    assert board.tone == "OFF" and board.caller_id is None
