"""The device side of the AT link (what a modem simulator reads)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardware.protocols.at_device import (
    AtCommandReader,
    CommandLine,
    HostAction,
    HostInput,
    HostNoise,
    HostSamples,
)
from hardware.protocols.dle import DleEvent, DleKind, encode_action, escape


def read(reader: AtCommandReader, data: bytes, size: int | None = None) -> list[HostInput]:
    step = size or max(1, len(data))
    found: list[HostInput] = []
    for i in range(0, len(data), step):
        for item in reader.feed(data[i : i + step]):
            if isinstance(item, HostSamples) and found and isinstance(found[-1], HostSamples):
                found[-1] = HostSamples(found[-1].samples + item.samples)
            else:
                found.append(item)
    return found


@pytest.mark.parametrize("size", [None, 1, 3])
def test_command_lines(size: int | None) -> None:
    assert read(AtCommandReader(), b"ATZ\r\nat+vcid=1\r\r", size) == [
        CommandLine("ATZ", b"ATZ"),
        CommandLine("at+vcid=1", b"at+vcid=1"),
        CommandLine("", b""),
    ]
    assert CommandLine("at+vtr", b"").is_command and not CommandLine("", b"").is_command


@pytest.mark.parametrize("size", [None, 1, 2])
def test_voice_data_until_the_host_ends_it(size: int | None) -> None:
    reader = AtCommandReader()
    reader.enter_voice_data()
    data = (
        escape(b"\x01\x10\x02")
        + encode_action(DleKind.VOLUME_UP)
        + bytes(DleEvent.dtmf("5"))
        + encode_action(DleKind.DUPLEX_ABORT, 3)
        + b"ATH\r"
    )
    assert read(reader, data, size) == [
        HostSamples(b"\x01\x10\x02"),
        HostAction(DleEvent(DleKind.VOLUME_UP, ord("u"))),
        HostAction(DleEvent(DleKind.DTMF, ord("5"))),
        HostSamples(b"\x10"),
        HostAction(DleEvent(DleKind.DUPLEX_ABORT, ord("^"))),
        CommandLine("ATH", b"ATH"),
    ]
    assert not reader.in_voice_data


def test_long_lines_are_bounded() -> None:
    reader = AtCommandReader(max_line=8)
    found = read(reader, b"AT" + b"X" * 40 + b"\rATH\r")
    assert isinstance(found[0], HostNoise) and found[1:] == [CommandLine("ATH", b"ATH")]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=1, max_value=9), st.booleans())
def test_arbitrary_bytes_are_chunk_invariant(data: bytes, size: int, voice: bool) -> None:
    def run(step: int | None) -> list[HostInput]:
        reader = AtCommandReader(max_line=30)
        if voice:
            reader.enter_voice_data()
        return read(reader, data, step)

    assert run(None) == run(size)
