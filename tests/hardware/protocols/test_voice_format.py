"""+VSM sample formats: parsing modem answers, choosing, converting, detecting silence."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import RemoteProtocolError
from hardware.protocols.voice_format import (
    VsmMethod,
    choose,
    classify,
    from_line,
    is_silent,
    line_codec,
    parse_methods,
    to_line,
)

# Answers as the vendors' references print them: USRobotics, Conexant, MultiTech, ZyXEL.
USR = [
    '1,"UNSIGNED PCM",8,0,(7200,8000),(0),(0)',
    '128,"8-BIT LINEAR",8,0,(7200,8000),(0),(0)',
    '129,"ADPCM",4,0,(7200,8000),(0),(0)',
    '131,"ULAW",8,0,(7200,8000),(0),(0)',
    '132,"ALAW",8,0,(7200,8000),(0),(0)',
    '133,"LINEAR",16,0,(7200,8000),(0),(0)',
]
CONEXANT = ['1,"UNSIGNED PCM",8,0,8000,0,0', '129,"IMA ADPCM",4,0,8000,0,0', "OK"]
MULTITECH = ['+VSM: 128,"SIGNED PCM",12,0,(7200-8000,11025),(127-129),(0-50)']
ZYXEL = ["1;CELP;1;0;(9600)"]


def test_usr_answer() -> None:
    methods = parse_methods(USR)
    assert [m.sample_format for m in methods] == ["u8", "u8", "other", "pcmu", "pcma", "s16le"]
    assert methods[3] == VsmMethod(131, "ULAW", 8, (7200, 8000))
    assert [m.code for m in choose(methods)] == [131, 132, 1, 128, 133]
    assert choose(methods, prefer_alaw=True)[0].code == 132


def test_bare_and_prefixed_answers() -> None:
    assert parse_methods(CONEXANT) == [
        VsmMethod(1, "UNSIGNED PCM", 8, (8000,)),
        VsmMethod(129, "IMA ADPCM", 4, (8000,)),
    ]
    (multitech,) = parse_methods(MULTITECH)
    assert multitech.rates == (7200, 8000, 11025) and multitech.sample_format == "other"
    assert parse_methods(ZYXEL) == []


def test_rate_ranges_and_unusable_methods() -> None:
    ranged = VsmMethod(4, "G.711U", 8, (7200, 11025))
    assert choose([ranged]) == [ranged]
    assert choose([VsmMethod(4, "G.711U", 8, (7200,))]) == []
    assert choose([VsmMethod(129, "ADPCM", 4)]) == []


@pytest.mark.parametrize(
    ("name", "bits", "fmt"),
    [
        ("G711U", 8, "pcmu"),
        ("U-LAW", 8, "pcmu"),
        ("G.711 ALAW", 8, "pcma"),
        ("ULAW", 16, "other"),
        ("SIGNED PCM", 8, "s8"),
        ("SIGNED PCM", 16, "s16le"),
        ("UNSIGNED PCM", 16, "other"),
        ("16-BIT LINEAR", 16, "s16le"),
        ("CELP", 1, "other"),
    ],
)
def test_classify(name: str, bits: int, fmt: str) -> None:
    assert classify(name, bits) == fmt


def test_method_round_trip() -> None:
    for line in USR:
        method = VsmMethod.parse(line)
        assert VsmMethod.parse(str(method)) == method and str(method) == line


def test_conversions() -> None:
    assert (
        line_codec("pcmu") == "pcmu" and line_codec("u8") == "l16" and line_codec("s16le") == "l16"
    )
    assert to_line("u8", b"\x80\xff\x00") == b"\x00\x00\x00\x7f\x00\x80"
    assert to_line("s8", b"\x00\x7f\x80") == b"\x00\x00\x00\x7f\x00\x80"
    assert from_line("u8", to_line("u8", bytes(range(256)))) == bytes(range(256))
    assert from_line("s8", to_line("s8", bytes(range(256)))) == bytes(range(256))
    assert to_line("pcma", b"\xd5") == b"\xd5" and from_line("pcmu", b"\xff") == b"\xff"


def test_silence() -> None:
    assert is_silent("u8", b"\x80\x81\x7f" * 100) and not is_silent("u8", b"\x80" * 99 + b"\xa0")
    assert is_silent("pcmu", b"\xff\x7f\xfe") and not is_silent("pcmu", b"\xff\x00")
    assert is_silent("pcma", b"\xd5\x55") and not is_silent("pcma", b"\xd5\xaa")
    assert is_silent("s16le", b"\x10\x00\xf0\xff") and not is_silent("s16le", b"\x00\x40")
    assert is_silent("u8", b"")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_lines_only_raise_the_protocol_error(text: str) -> None:
    try:
        VsmMethod.parse(text)
    except RemoteProtocolError:
        pass
