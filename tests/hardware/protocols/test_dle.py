"""DLE shielding of V.253 voice data."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError, RemoteProtocolError
from hardware.protocols.dle import (
    DCE_EVENT_CODES,
    DTE_ACTION_CODES,
    DleDecoder,
    DleEvent,
    DleItem,
    DleKind,
    Source,
    encode_action,
    escape,
)


def merged(items: list[DleItem]) -> list[DleItem]:
    """Adjacent sample runs joined: chunking may split runs, never reorder or change them."""
    out: list[DleItem] = []
    for item in items:
        if isinstance(item, bytes) and out and isinstance(out[-1], bytes):
            out[-1] = out[-1] + item
        elif item != b"":
            out.append(item)
    return out


def decode(
    data: bytes, source: Source = "dce", chunks: list[int] | None = None
) -> tuple[list[DleItem], int]:
    decoder = DleDecoder(source)
    items: list[DleItem] = []
    used = 0
    sizes = chunks or [len(data) or 1]
    index = 0
    while index < len(data):
        size = sizes[0] if len(sizes) == 1 else sizes.pop(0)
        got, consumed = decoder.feed(data[index : index + size])
        items += got
        used += consumed
        if decoder.ended:
            break
        index += size
    return merged(items), used


STREAM = (
    b"\x01\x02\x10\x10\x03"  # samples with a shielded 0x10 and a raw 0x03
    + b"\x10R\x10/\x105\x10~"  # ring, DTMF 5 with duration marks
    + b"\xff\x10\x1a\x00"  # <DLE><SUB> = two 0x10 samples
    + b"\x10X\x01\x10\x10\x02\x10."  # a complex event packet
    + b"\x10b\x10l\x10?"  # busy, loop break, an unknown code
    + b"\x10\x03"  # end of stream
    + b"\r\nOK\r\n"  # command text, not for the decoder
)
EXPECTED: list[DleItem] = [
    b"\x01\x02\x10\x03",
    DleEvent(DleKind.RING, ord("R")),
    DleEvent(DleKind.DTMF_START, ord("/")),
    DleEvent(DleKind.DTMF, ord("5")),
    DleEvent(DleKind.DTMF_END, ord("~")),
    b"\xff\x10\x10\x00",
    DleEvent.packet(b"\x01\x10\x02"),
    DleEvent(DleKind.BUSY, ord("b")),
    DleEvent(DleKind.LOOP_BREAK, ord("l")),
    DleEvent(DleKind.UNKNOWN, ord("?")),
    DleEvent(DleKind.END_OF_STREAM, 3),
]


def test_whole_stream() -> None:
    items, used = decode(STREAM)
    assert items == EXPECTED
    assert STREAM[used:] == b"\r\nOK\r\n"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_chunked_streams_decode_identically(size: int) -> None:
    items, used = decode(STREAM, chunks=[size])
    assert items == EXPECTED and STREAM[used:] == b"\r\nOK\r\n"


def test_random_chunking_with_a_fixed_seed() -> None:
    rng = random.Random(253)
    for _ in range(50):
        sizes = [rng.randint(1, 9) for _ in range(len(STREAM))]
        assert decode(STREAM, chunks=sizes)[0] == EXPECTED


def test_split_dle_is_kept_across_chunks() -> None:
    decoder = DleDecoder()
    assert decoder.feed(b"ab\x10") == ([b"ab"], 3)
    assert decoder.pending
    assert decoder.feed(b"\x10c") == ([b"\x10c"], 2)
    assert not decoder.pending


def test_truncated_packet_is_pending_then_bounded() -> None:
    decoder = DleDecoder(max_packet=4)
    items, _ = decoder.feed(b"\x10X123")
    assert items == [] and decoder.pending
    items, _ = decoder.feed(b"456789")
    assert items == [DleEvent.packet(b"1234"), b"56789"] and not decoder.pending


def test_packet_aborted_by_another_code() -> None:
    assert decode(b"\x10Xab\x10R")[0] == [DleEvent.packet(b"ab"), DleEvent(DleKind.RING, 82)]


def test_directions_give_letters_different_meanings() -> None:
    assert decode(b"\x10d", "dce")[0] == [DleEvent(DleKind.DIAL_TONE, ord("d"))]
    assert decode(b"\x10d", "dte")[0] == [DleEvent(DleKind.VOLUME_DOWN, ord("d"))]
    assert decode(b"\x10X", "dte")[0] == [DleEvent(DleKind.UNKNOWN, ord("X"))]


@pytest.mark.parametrize("code", [b"!", b"^", b"\x03", b"\x14"])
def test_dte_stream_ends(code: bytes) -> None:
    items, used = decode(b"\x00\x10" + code + b"ATH\r", "dte")
    assert used == 3 and isinstance(items[-1], DleEvent) and items[-1].ends_stream


def test_every_table_entry_round_trips() -> None:
    for source, table in (("dce", DCE_EVENT_CODES), ("dte", DTE_ACTION_CODES)):
        for code, kind in table.items():
            event = DleEvent(kind, code)
            assert DleEvent.parse(bytes(event), source) == event  # type: ignore[arg-type]


def test_parse_rejects_non_events() -> None:
    for data in (b"", b"\x10", b"ab", b"\x10\x10", b"\x10Ra"):
        with pytest.raises(RemoteProtocolError):
            DleEvent.parse(data)


def test_encoders() -> None:
    assert escape(b"a\x10b\x10\x10") == b"a\x10\x10b\x10\x10\x10\x10"
    assert encode_action(DleKind.RECEIVE_ABORT) == b"\x10!"
    assert encode_action(DleKind.DUPLEX_ABORT, 3) == b"\x10\x10\x10^"
    assert bytes(DleEvent.dtmf("#")) == b"\x10#"
    assert bytes(DleEvent.of(DleKind.SILENCE)) == b"\x10s"
    with pytest.raises(LocalProtocolError):
        encode_action(DleKind.END_OF_STREAM, 2)
    with pytest.raises(LocalProtocolError):
        encode_action(DleKind.RING)
    with pytest.raises(LocalProtocolError):
        DleEvent.dtmf("E")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_escaped_samples_decode_to_themselves(samples: bytes) -> None:
    assert decode(escape(samples))[0] == ([samples] if samples else [])


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=300), st.integers(min_value=1, max_value=17), st.sampled_from(["dce", "dte"])
)
def test_arbitrary_bytes_are_chunk_invariant(data: bytes, size: int, source: Source) -> None:
    assert decode(data, source) == decode(data, source, chunks=[size])
