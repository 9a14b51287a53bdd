"""WAV reading (formats, channels, rates, errors) and writing."""

from __future__ import annotations

import math
import struct
from array import array
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import ConfigError
from gateway.media import g711
from gateway.media.audio import FRAME_BYTES, read_all
from gateway.media.tones import signal_power, sine, tone_power
from gateway.media.wav import (
    WavFileError,
    WavFileSource,
    WavRecorder,
    decode_wav,
    read_wav,
    resample_to_line,
    wav_bytes,
)


def riff(fmt: bytes, data: bytes, *extra_chunks: bytes, data_size: int | None = None) -> bytes:
    size = len(data) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"".join(extra_chunks)
    body += b"data" + struct.pack("<I", size) + data + (b"\x00" if len(data) & 1 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt_chunk(tag: int, channels: int, rate: int, bits: int) -> bytes:
    align = channels * ((bits + 7) // 8)
    return struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)


def extensible_fmt(subformat: int, channels: int, rate: int, bits: int) -> bytes:
    guid = struct.pack("<H", subformat) + bytes.fromhex("000000001000800000aa00389b71")
    base = fmt_chunk(0xFFFE, channels, rate, bits)
    return base + struct.pack("<HHI", 22, bits, 0) + guid


RAMP = struct.pack("<8h", -32768, -20000, -1, 0, 1, 256, 20000, 32767)


def test_plain_pcm_round_trip() -> None:
    pcm = sine(440, 0, 800, 12000.0)
    assert decode_wav(wav_bytes(pcm))[0] == pcm
    data, info = decode_wav(wav_bytes(pcm))
    assert (info.format_tag, info.channels, info.sample_rate, info.frames) == (1, 1, 8000, 800)
    assert info.duration_ms == 100.0
    assert data == pcm


@pytest.mark.parametrize("bits", [8, 24, 32])
def test_other_pcm_widths(bits: int) -> None:
    values = struct.unpack("<8h", RAMP)
    if bits == 8:
        samples = bytes((v >> 8) + 128 for v in values)  # unsigned 8-bit
        expected = struct.pack("<8h", *((v >> 8) << 8 for v in values))
    elif bits == 24:
        samples = b"".join(struct.pack("<i", v << 8)[:3] for v in values)
        expected = RAMP
    else:
        samples = b"".join(struct.pack("<i", v << 16) for v in values)
        expected = RAMP
    pcm, _info = decode_wav(riff(fmt_chunk(1, 1, 8000, bits), samples))
    assert pcm == expected


@pytest.mark.parametrize("bits", [32, 64])
def test_float(bits: int) -> None:
    floats = [-1.0, -0.5, 0.0, 0.25, 1.0, 2.0]  # 2.0 clips
    samples = array("f" if bits == 32 else "d", floats).tobytes()
    pcm, _ = decode_wav(riff(fmt_chunk(3, 1, 8000, bits), samples))
    assert struct.unpack("<6h", pcm) == (-32767, -16384, 0, 8192, 32767, 32767)


def test_g711_formats_6_and_7() -> None:
    pcm = sine(1000, 0, 160, 9000.0)
    alaw, ulaw = g711.alaw_encode(pcm), g711.ulaw_encode(pcm)
    assert decode_wav(riff(fmt_chunk(6, 1, 8000, 8), alaw))[0] == g711.alaw_decode(alaw)
    assert decode_wav(riff(fmt_chunk(7, 1, 8000, 8), ulaw))[0] == g711.ulaw_decode(ulaw)


def test_extensible_pcm_and_extra_chunks() -> None:
    wav = riff(extensible_fmt(1, 1, 8000, 16), RAMP, b"LIST" + struct.pack("<I", 3) + b"abc\x00")
    assert decode_wav(wav)[0] == RAMP


def test_stereo_and_multichannel_mix_down() -> None:
    left, right = struct.unpack("<8h", RAMP), [1000] * 8
    stereo = struct.pack("<16h", *(v for pair in zip(left, right, strict=True) for v in pair))
    pcm, info = decode_wav(riff(fmt_chunk(1, 2, 8000, 16), stereo))
    assert info.channels == 2
    expected = [(a + b) / 2 for a, b in zip(left, right, strict=True)]
    assert all(abs(a - e) <= 1 for a, e in zip(struct.unpack("<8h", pcm), expected, strict=True))
    quad = struct.pack("<16h", *([4000, 0, -4000, 8000] * 4))
    mono, _ = decode_wav(riff(fmt_chunk(1, 4, 8000, 16), quad))
    assert all(abs(v - 2000) <= 2 for v in struct.unpack("<4h", mono))


@pytest.mark.parametrize("rate", [16000, 44100, 48000])
def test_resampling_keeps_the_band_and_stops_aliases(rate: int) -> None:
    count = rate // 2
    # 1 kHz (kept) plus 6 kHz, which plain decimation would fold onto 2 kHz.
    values = [
        round(
            8000 * math.sin(2 * math.pi * 1000 * n / rate)
            + 8000 * math.sin(2 * math.pi * 6000 * n / rate)
        )
        for n in range(count)
    ]
    pcm, _ = decode_wav(riff(fmt_chunk(1, 1, rate, 16), struct.pack(f"<{count}h", *values)))
    assert abs(len(pcm) // 2 - 4000) <= 1
    middle = pcm[1600:4800]
    reference = 8000.0**2 / 2
    assert tone_power(middle, 1000) == pytest.approx(reference, rel=0.05)
    assert tone_power(middle, 2000) < reference * 1e-4  # the alias is 40+ dB down


def test_upsampling_from_a_low_rate() -> None:
    count = 3000
    values = [round(8000 * math.sin(2 * math.pi * 500 * n / 6000)) for n in range(count)]
    pcm = resample_to_line(struct.pack(f"<{count}h", *values), 6000)
    assert abs(len(pcm) // 2 - 4000) <= 1
    assert tone_power(pcm[800:4000], 500) > 0.9 * signal_power(pcm[800:4000])


def test_streaming_sizes_and_trailing_data() -> None:
    wav = riff(fmt_chunk(1, 1, 8000, 16), RAMP, data_size=0xFFFFFFFF)
    streamed = wav[:4] + struct.pack("<I", 0xFFFFFFFF) + wav[8:]
    assert decode_wav(streamed)[0] == RAMP
    assert decode_wav(wav_bytes(RAMP) + b"JUNKJUNKJUNK")[0] == RAMP  # after the RIFF chunk


BAD_FILES = {
    "empty": (b"", "not a WAV file"),
    "text": (b"hello, this is not audio", "not a WAV file"),
    "rifx": (b"RIFX" + bytes(4) + b"WAVE", "RIFX"),
    "no fmt": (b"RIFF" + struct.pack("<I", 12) + b"WAVEdata" + bytes(4), "no 'fmt ' chunk"),
    "short fmt": (riff(b"\x01\x00\x01\x00", RAMP), "'fmt ' chunk is 4 bytes"),
    "no data": (
        b"RIFF" + struct.pack("<I", 28) + b"WAVEfmt " + struct.pack("<I", 16)
        + fmt_chunk(1, 1, 8000, 16),
        "no 'data' chunk",
    ),
    "mp3": (riff(fmt_chunk(0x55, 1, 8000, 16), RAMP), "MPEG layer 3"),
    "12-bit": (riff(fmt_chunk(1, 1, 8000, 12), RAMP), "12-bit PCM"),
    "zero channels": (riff(struct.pack("<HHIIHH", 1, 0, 8000, 0, 0, 16), RAMP), "0 channels"),
    "zero rate": (riff(fmt_chunk(1, 1, 0, 16), RAMP), "0 Hz"),
    "bad align": (riff(struct.pack("<HHIIHH", 1, 1, 8000, 16000, 4, 16), RAMP), "block align"),
    "odd data": (riff(fmt_chunk(1, 2, 8000, 16), RAMP[:6]), "whole number"),
    "16-bit alaw": (riff(fmt_chunk(6, 1, 8000, 16), RAMP), "G.711 WAV with 16 bits"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_name_the_file_and_the_problem(case: str) -> None:
    data, reason = BAD_FILES[case]
    with pytest.raises(WavFileError) as raised:
        decode_wav(data, "prompts/welcome.wav")
    message = str(raised.value)
    assert message.startswith("prompts/welcome.wav: ")
    assert reason in message
    assert isinstance(raised.value, ConfigError) and raised.value.file == "prompts/welcome.wav"


def test_truncated_files() -> None:
    whole = wav_bytes(sine(440, 0, 400, 9000.0))
    for cut in (4, 11, 30, 43, 44 + 100, len(whole) - 1):
        with pytest.raises(WavFileError, match=r"truncated|not a WAV"):
            decode_wav(whole[:cut], "cut.wav")


@given(st.binary(max_size=120))
@settings(max_examples=300)
def test_garbage_only_raises_wav_file_error(data: bytes) -> None:
    for candidate in (data, b"RIFF" + struct.pack("<I", len(data) + 4) + b"WAVE" + data):
        try:
            decode_wav(candidate, "fuzz.wav")
        except WavFileError:
            pass


def test_files_on_disk(tmp_path: Path) -> None:
    recorder = WavRecorder()
    frames = [sine(400, i * 160, 160, 5000.0) for i in range(5)]
    for frame in frames:
        recorder.write_frame(frame)
    assert recorder.duration_ms == 100
    path = tmp_path / "call.wav"
    recorder.save(path)
    assert read_wav(path) == b"".join(frames)
    source = WavFileSource(path)
    assert read_all(source, 100) == b"".join(frames)
    with pytest.raises(ValueError):
        recorder.write_frame(bytes(FRAME_BYTES - 2))
    missing = tmp_path / "missing.wav"
    with pytest.raises(WavFileError, match=r"missing\.wav: cannot read"):
        read_wav(missing)
