"""The host AT command engine: results, echo, unsolicited codes, deadlines, voice data mode."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.trace import TraceRecorder
from hardware.protocols.at import (
    AtEngine,
    AtEvent,
    CommandCompleted,
    CommandTimedOut,
    FinalResult,
    LinkClosed,
    LinkMode,
    LinkNoise,
    UnsolicitedResult,
    VoiceAudio,
    VoiceDataEnded,
    VoiceDataStarted,
    VoiceEvent,
    format_line,
    is_unsolicited,
)
from hardware.protocols.dle import DleEvent, DleKind


def drain(engine: AtEngine) -> list[AtEvent]:
    events: list[AtEvent] = []
    while (event := engine.next_event()) is not None:
        if isinstance(event, VoiceAudio) and events and isinstance(events[-1], VoiceAudio):
            events[-1] = VoiceAudio(events[-1].samples + event.samples)
        else:
            events.append(event)
    return events


def feed(engine: AtEngine, data: bytes, now: float = 0.0, size: int | None = None) -> list[AtEvent]:
    step = size or max(1, len(data))
    for i in range(0, len(data), step):
        engine.receive_data(data[i : i + step], now)
    return drain(engine)


@pytest.mark.parametrize(
    ("line", "code", "cme"),
    [
        ("OK", "OK", None),
        ("ERROR", "ERROR", None),
        ("CONNECT", "CONNECT", None),
        ("CONNECT 9600", "CONNECT", None),
        ("VCON", "VCON", None),
        ("NO CARRIER", "NO CARRIER", None),
        ("BUSY", "BUSY", None),
        ("NO ANSWER", "NO ANSWER", None),
        ("NO DIALTONE", "NO DIALTONE", None),
        ("NO DIAL TONE", "NO DIALTONE", None),
        ("+CME ERROR: 30", "+CME ERROR", 30),
        ("+CME ERROR: phone failure", "+CME ERROR", None),
    ],
)
def test_final_result_codes(line: str, code: str, cme: int | None) -> None:
    result = FinalResult.parse(line)
    assert (result.code, result.cme_error, str(result)) == (code, cme, line)
    assert bytes(result) == b"\r\n" + line.encode() + b"\r\n"


def test_non_final_lines() -> None:
    for line in ("RING", "RINGING", "+VCID: 1", "OKAY", ""):
        assert FinalResult.match(line) is None
    with pytest.raises(RemoteProtocolError):
        FinalResult.parse("OKAY")
    assert is_unsolicited("RING") and is_unsolicited("NMBR = 555") and is_unsolicited("DATE=0101")
    assert not is_unsolicited("RINGING") and not is_unsolicited('1,"ULAW",8,0,(8000),(0),(0)')


RESPONSE = (
    b'\r\n0,"SIGNED PCM",8,0,(8000),(0),(0)\r\n\r\n4,"G711U",8,0,(8000),(0),(0)\r\n\r\nOK\r\n'
)


@pytest.mark.parametrize("size", [None, 1, 3])
def test_command_with_intermediate_lines(size: int | None) -> None:
    engine = AtEngine()
    tag = engine.send_command("AT+VSM=?", 5.0, 0.0)
    assert engine.data_to_send(0.0) == b"AT+VSM=?\r"
    assert feed(engine, RESPONSE, 0.1, size) == [
        CommandCompleted(
            tag,
            "AT+VSM=?",
            FinalResult("OK", "OK"),
            ('0,"SIGNED PCM",8,0,(8000),(0),(0)', '4,"G711U",8,0,(8000),(0),(0)'),
        )
    ]
    assert engine.idle


@pytest.mark.parametrize("echo", [b"ATZ\r", b"ATZ\r\r\n", b"atz\n"])
def test_echo_is_swallowed(echo: bytes) -> None:
    engine = AtEngine()
    tag = engine.send_command("ATZ", 5.0, 0.0)
    events = feed(engine, echo + b"\r\nOK\r\n")
    assert events == [CommandCompleted(tag, "ATZ", FinalResult("OK", "OK"))]


def test_commands_queue_and_each_gets_its_own_deadline() -> None:
    engine = AtEngine()
    first = engine.send_command("ATE0", 2.0, 10.0)
    second = engine.send_command("ATV1", 3.0, 10.5)
    assert engine.data_to_send(10.5) == b"ATE0\r" and engine.get_timer() == 12.0
    engine.handle_timer(11.9)
    assert drain(engine) == []
    engine.handle_timer(12.0)
    assert drain(engine) == [CommandTimedOut(first, "ATE0")]
    assert engine.data_to_send(12.0) == b"ATV1\r" and engine.get_timer() == 15.0
    assert feed(engine, b"\r\nOK\r\n", 12.5) == [
        CommandCompleted(second, "ATV1", FinalResult("OK", "OK"))
    ]
    assert engine.get_timer() is None


def test_unsolicited_ring_and_caller_id_in_the_middle_of_a_response() -> None:
    engine = AtEngine()
    tag = engine.send_command("AT+VSM=?", 5.0, 0.0)
    events = feed(
        engine,
        b'\r\n1,"A",8,0,8000,0,0\r\n\r\nRING\r\n\r\nNMBR = 5551234\r\n'
        b'\r\n2,"B",8,0,8000,0,0\r\nOK\r\n',
    )
    assert events == [
        UnsolicitedResult("RING"),
        UnsolicitedResult("NMBR = 5551234"),
        CommandCompleted(
            tag, "AT+VSM=?", FinalResult("OK", "OK"), ('1,"A",8,0,8000,0,0', '2,"B",8,0,8000,0,0')
        ),
    ]


def test_lines_with_no_command_are_unsolicited() -> None:
    engine = AtEngine()
    assert feed(engine, b"\r\nRING\r\n\r\nOK\r\nDROF=40\r\n") == [
        UnsolicitedResult("RING"),
        UnsolicitedResult("OK"),
        UnsolicitedResult("DROF=40"),
    ]


VOICE = (
    b"\r\nCONNECT\r\n" + b"\x7f\x10\x10\x80" + b"\x10/\x103\x10~" + b"\x81\x10\x03" + b"\r\nOK\r\n"
)


@pytest.mark.parametrize("size", [None, 1, 2, 5])
def test_voice_data_mode(size: int | None) -> None:
    engine = AtEngine()
    tag = engine.send_command("AT+VRX", 5.0, 0.0)
    queued = engine.send_command("ATH", 5.0, 0.0)
    assert engine.data_to_send(0.0) == b"AT+VRX\r"
    events = feed(engine, VOICE, 1.0, size)
    assert events == [
        CommandCompleted(tag, "AT+VRX", FinalResult("CONNECT", "CONNECT")),
        VoiceDataStarted(tag, "AT+VRX", "receive"),
        VoiceAudio(b"\x7f\x10\x80"),
        VoiceEvent(DleEvent(DleKind.DTMF_START, ord("/"))),
        VoiceEvent(DleEvent(DleKind.DTMF, ord("3"))),
        VoiceEvent(DleEvent(DleKind.DTMF_END, ord("~"))),
        VoiceAudio(b"\x81"),
        VoiceEvent(DleEvent(DleKind.END_OF_STREAM, 3)),
        VoiceDataEnded("receive", FinalResult("OK", "OK"), "end of stream"),
    ]
    assert engine.mode is LinkMode.COMMAND
    assert engine.data_to_send(1.0) == b"ATH\r"  # only now: the modem is back in command mode
    assert feed(engine, b"\r\nOK\r\n") == [CommandCompleted(queued, "ATH", FinalResult("OK", "OK"))]


def test_transmit_and_actions() -> None:
    engine = AtEngine()
    engine.send_command("AT+VTR", 5.0, 0.0)
    engine.data_to_send(0.0)
    feed(engine, b"\r\nCONNECT\r\n")
    assert engine.voice_mode == "duplex"
    engine.send_voice(b"\x00\x10\xff", 1.0)
    engine.send_voice_digit("7", 1.0)
    engine.send_voice_action(DleKind.DUPLEX_ABORT, 1.0, prefix_count=3)
    assert engine.data_to_send(1.0) == b"\x00\x10\x10\xff\x107\x10\x10\x10^"


@pytest.mark.parametrize(
    "action",
    [DleKind.END_OF_STREAM, DleKind.DUPLEX_ABORT, DleKind.CLEAR_AND_COMMAND],
)
def test_no_samples_once_we_asked_to_end_the_stream(action: DleKind) -> None:
    """After our end code the modem is heading for command mode: samples would be a bad command."""
    engine = AtEngine()
    engine.send_command("AT+VTR", 5.0, 0.0)
    feed(engine, b"CONNECT\r\n")
    assert engine.accepts_samples
    engine.send_voice_action(action, 1.0)
    assert not engine.accepts_samples
    with pytest.raises(LocalProtocolError):
        engine.send_voice(b"\x01\x02", 1.01)
    with pytest.raises(LocalProtocolError):
        engine.send_voice_digit("5", 1.01)
    feed(engine, b"\x10\x03\r\nOK\r\n", 1.02)
    assert engine.mode is LinkMode.COMMAND and not engine.accepts_samples


def test_voice_misuse_raises() -> None:
    engine = AtEngine()
    with pytest.raises(LocalProtocolError):
        engine.send_voice(b"x", 0.0)
    with pytest.raises(LocalProtocolError):
        engine.send_voice_action(DleKind.END_OF_STREAM, 0.0)
    engine.send_command("AT+VRX", 5.0, 0.0)
    feed(engine, b"CONNECT\r\n")
    with pytest.raises(LocalProtocolError):
        engine.send_voice(b"x", 0.0)  # a receive session takes no samples
    for bad in ("", "AT\rATZ", "AT\n"):
        with pytest.raises(LocalProtocolError):
            engine.send_command(bad, 1.0, 0.0)
    with pytest.raises(LocalProtocolError):
        engine.send_command("ATZ", 0.0, 0.0)


@pytest.mark.parametrize("size", [None, 1, 4])
def test_bare_ok_after_abort_ends_voice(size: int | None) -> None:
    engine = AtEngine()
    engine.send_command("AT+VRX", 5.0, 0.0)
    feed(engine, b"CONNECT\r\n\x01\x02")
    engine.send_voice_action(DleKind.RECEIVE_ABORT, 1.0)
    events = feed(engine, b"\x03\x04\r\nOK\r\n\r\nRING\r\n", 1.0, size)
    assert events == [
        VoiceAudio(b"\x03\x04"),
        VoiceDataEnded("receive", FinalResult("OK", "OK"), "final result without <DLE><ETX>"),
        UnsolicitedResult("RING"),
    ]


def test_a_stream_closed_without_a_final_result_times_out() -> None:
    engine = AtEngine(stream_close_timeout=2.0)
    engine.send_command("AT+VTX", 5.0, 0.0)
    feed(engine, b"CONNECT\r\n\x10\x03", 1.0)
    assert engine.mode is LinkMode.CLOSING and engine.get_timer() == 3.0
    engine.handle_timer(3.0)
    assert drain(engine) == [VoiceDataEnded("transmit", None, "no final result after <DLE><ETX>")]


def test_a_modem_that_ignores_the_abort_is_given_up_on() -> None:
    engine = AtEngine(abort_timeout=3.0)
    engine.send_command("AT+VTR", 5.0, 0.0)
    feed(engine, b"CONNECT\r\n")
    engine.send_voice_action(DleKind.DUPLEX_ABORT, 10.0)
    assert engine.get_timer() == 13.0
    feed(engine, b"\x01" * 50, 12.0)
    engine.handle_timer(13.0)
    assert drain(engine) == [
        VoiceDataEnded("duplex", None, "the modem did not end the stream after the abort")
    ]
    assert engine.mode is LinkMode.COMMAND


def test_noise_never_raises_and_is_bounded() -> None:
    engine = AtEngine(max_line=32)
    tag = engine.send_command("ATI", 5.0, 0.0)
    events = feed(
        engine, b"\x00\x00\r\r\r" + b"Z" * 100 + b"\r\n\x01\x02garbage\r\nUSR\x00 5637\r\nOK\r\n"
    )
    assert [type(e) for e in events] == [LinkNoise, LinkNoise, CommandCompleted]
    assert events[-1] == CommandCompleted(tag, "ATI", FinalResult("OK", "OK"), ("USR 5637",))


def test_link_closed() -> None:
    engine = AtEngine()
    engine.send_command("ATZ", 5.0, 0.0)
    engine.receive_data(b"", 1.0)
    assert drain(engine) == [LinkClosed()] and engine.idle and engine.get_timer() is None


def test_trace_records_lines_with_the_injected_time() -> None:
    trace = TraceRecorder()
    engine = AtEngine(node="m1", trace=trace)
    engine.send_command("ATZ", 5.0, 7.0)
    feed(engine, format_line("OK"), 7.5)
    assert [(e.time, e.direction, e.summary) for e in trace.of("at")] == [
        (7.0, "out", "ATZ"),
        (7.5, "in", "OK"),
    ]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=13))
def test_arbitrary_bytes_are_chunk_invariant(data: bytes, size: int) -> None:
    def run(step: int | None) -> list[AtEvent]:
        engine = AtEngine(max_line=40)
        engine.send_command("AT+VTR", 5.0, 0.0)
        engine.send_command("ATH", 5.0, 0.0)
        return feed(engine, b"CONNECT\r\n" + data if data[:1] == b"V" else data, 0.0, step)

    assert run(None) == run(size)
