"""The serial FXS board wire format: commands, events, audio frames, the stream reader."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError, RemoteProtocolError
from hardware.protocols.fxs_board import (
    AudioFrame,
    BoardError,
    BoardReady,
    CommandOk,
    DialDigit,
    FxsInput,
    FxsNoise,
    FxsStreamReader,
    LineReport,
    PlayTone,
    RingOn,
    SendCallerId,
    SetAudio,
    StartRinging,
    StateReport,
    Sync,
    parse_command,
    parse_event,
)

COMMANDS = [
    "RING",
    "RING 2000,4000",
    "RING 400,200,400,2000",
    "STOP",
    "STATE",
    "LINE",
    "CID 5551234",
    "CID 5551234 JOHN DOE",
    "CID P",
    "CID O",
    "CID +4930123*#",
    "TONE DIAL",
    "TONE OFF",
    "AUDIO ON PCMU",
    "AUDIO ON PCMA",
    "AUDIO OFF",
]
EVENTS = [
    "READY",
    "OK",
    "INVALID",
    "ERROR",
    "ERROR ring generator fault",
    "RING",
    "RING_PAUSE",
    "RING_TIMEOUT",
    "RING_TRIP",
    "DIAL_BEGIN",
    "DIAL 7",
    "DIAL #",
    "DIAL_ERROR",
    "STATE IDLE",
    "STATE DIAL_ERROR",
    "LINE ONHOOK",
    "LINE OFFHOOK",
    "LINE SHORT",
    "LINE ON_HOOK",
    "LINE OFF_HOOK",
    "INFO Telephone box 1.2",
    "TEST Line sense: PASS",
]


@pytest.mark.parametrize("line", COMMANDS)
def test_commands_round_trip(line: str) -> None:
    command = parse_command(line)
    assert bytes(command) == line.encode() + b"\r\n"
    assert type(command).parse(line) == command


@pytest.mark.parametrize("line", EVENTS)
def test_events_round_trip(line: str) -> None:
    event = parse_event(line)
    assert bytes(event) == line.encode() + b"\r\n"
    assert type(event).parse(line) == event


def test_values() -> None:
    assert parse_command("") == Sync() and bytes(Sync()) == b"\r\n"
    assert parse_command("RING 2000,4000") == StartRinging((2000, 4000))
    assert parse_command("CID 123 A B") == SendCallerId("123", "A B")
    assert parse_command("AUDIO ON") == SetAudio(True, "PCMU")
    assert parse_event("LINE OFF_HOOK") == LineReport("OFFHOOK", underscore=True)
    assert LineReport("SHORT").off_hook and not LineReport("ONHOOK").off_hook
    assert parse_event("DIAL 0") == DialDigit("0") and parse_event("RING") == RingOn()
    assert parse_event("ERROR x") == BoardError("x") and parse_event("STATE WAIT") == StateReport(
        "WAIT"
    )
    with pytest.raises(RemoteProtocolError):
        BoardReady.parse("OK")


@pytest.mark.parametrize(
    "line",
    [
        "ring",
        "RING 2000",
        "RING 0,100",
        "RING 1,2,3,4,5,6,7,8,9,10",
        "RING 99999,1",
        "CID",
        "CID 55a",
        "CID " + "1" * 21,
        "CID 1 " + "N" * 51,
        "TONE SIREN",
        "AUDIO ON GSM",
        "STOP NOW",
        "HELLO",
        "X" * 200,
    ],
)
def test_bad_commands(line: str) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_command(line)


@pytest.mark.parametrize(
    "line",
    ["DIAL", "DIAL 12", "DIAL E", "LINE", "LINE UP", "STATE", "STATE idle", "INFO", "ok", "?"],
)
def test_bad_events(line: str) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_event(line)


def test_misused_values_raise_locally() -> None:
    with pytest.raises(LocalProtocolError):
        bytes(SendCallerId("55a"))
    with pytest.raises(LocalProtocolError):
        bytes(SendCallerId("555", "bad\x07name"))
    with pytest.raises(LocalProtocolError):
        bytes(AudioFrame(256, b"x"))
    with pytest.raises(LocalProtocolError):
        bytes(AudioFrame(1, b""))
    assert bytes(PlayTone("BUSY")) == b"TONE BUSY\r\n"


def test_audio_frame_layout() -> None:
    frame = AudioFrame(7, b"\x01\x02\xa5")
    wire = bytes(frame)
    assert wire[:4] == b"\xa5A\x07\x03" and sum(wire[1:]) % 256 == 0
    assert AudioFrame.parse(wire) == frame
    for broken in (wire[:-1], wire[:-1] + bytes([wire[-1] ^ 1]), b"\xa5B" + wire[2:]):
        with pytest.raises(RemoteProtocolError):
            AudioFrame.parse(broken)


STREAM = (
    b"READY\r\n"
    + bytes(AudioFrame(0, b"\r\n\xa5" * 20))
    + b"OK\n"
    + bytes(AudioFrame(1, bytes(range(255))))
    + bytes(AudioFrame(2, b"\x00"))
    + b"LINE OFFHOOK\r"
)
EXPECTED: list[FxsInput] = [
    "READY",
    AudioFrame(0, b"\r\n\xa5" * 20),
    "OK",
    AudioFrame(1, bytes(range(255))),
    AudioFrame(2, b"\x00"),
    "LINE OFFHOOK",
]


def read(data: bytes, sizes: list[int] | None = None, keep_empty: bool = False) -> list[FxsInput]:
    reader = FxsStreamReader(keep_empty=keep_empty)
    found: list[FxsInput] = []
    index = 0
    while index < len(data):
        size = sizes.pop(0) if sizes and len(sizes) > 1 else (sizes[0] if sizes else len(data))
        found += reader.feed(data[index : index + size])
        index += size
    return found


def test_reader_whole_and_chunked() -> None:
    assert read(STREAM) == EXPECTED
    for size in (1, 2, 3, 160):
        assert read(STREAM, [size]) == EXPECTED
    rng = random.Random(57600)
    for _ in range(30):
        assert read(STREAM, [rng.randint(1, 40) for _ in range(len(STREAM))]) == EXPECTED


def test_reader_garbage() -> None:
    data = (
        b"OK\xa5\r\n"  # a marker inside a line
        + bytes(AudioFrame(3, b"ab"))[:-1]
        + b"\x00"  # a frame with a bad checksum
        + b"\xa5A\x00\x00"  # a frame of length 0
        + b"Z" * 300
        + b"\r\n"
        + b"\x01\x02\r\n"
        + b"READY\r\n"
    )
    found = read(data)
    assert [type(item) for item in found] == [FxsNoise] * 5 + [str]
    assert found[-1] == "READY"


def test_empty_lines_for_the_board() -> None:
    assert read(b"\r\nSTATE\r\n\n", keep_empty=True) == ["", "STATE"]
    assert read(b"\r\nSTATE\r\n") == ["STATE"]


def test_truncated_frame_waits_for_more() -> None:
    reader = FxsStreamReader()
    wire = bytes(AudioFrame(9, b"xyz"))
    assert reader.feed(wire[:5]) == []
    assert reader.feed(wire[5:] + b"OK\r\n") == [AudioFrame(9, b"xyz"), "OK"]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=31))
def test_arbitrary_bytes_are_chunk_invariant(data: bytes, size: int) -> None:
    assert read(data) == read(data, [size])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=140))
def test_arbitrary_text_only_raises_the_protocol_error(text: str) -> None:
    for parse in (parse_command, parse_event):
        try:
            value = parse(text)
        except RemoteProtocolError:
            continue
        assert bytes(value).endswith(b"\r\n")
    assert CommandOk().text() == "OK"
