"""WAV files in and out: announcements and prompts to play, recordings to keep.

Reading accepts what people actually have and converts it to gwemu's line audio (8 kHz mono 16-bit):

* PCM of 8 (unsigned), 16, 24 or 32 bits, IEEE float of 32 or 64 bits, G.711 A-law (format 6)
  and mu-law (format 7), plain or WAVE_FORMAT_EXTENSIBLE;
* any number of channels, mixed down to mono by averaging;
* any sample rate, resampled to 8 kHz.  Going down, a windowed-sinc low-pass (Hamming, pass band
  to 3.6 kHz, stop band from 4 kHz) runs first so that content above 4 kHz does not fold back
  into the telephone band; ``audioop.ratecv`` then interpolates to the new rate.  The filter is a
  sum of scaled, shifted copies of the signal, each a C call over the whole file at 32-bit
  precision, so loading stays fast.

A file that cannot be used raises :class:`WavFileError` (a :class:`~gateway.errors.ConfigError`:
WAV files are named by configuration and scenarios), naming the file and what is wrong with it.
Writing produces 8 kHz mono 16-bit PCM.
"""

from __future__ import annotations

import math
import struct
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from gateway.errors import ConfigError
from gateway.media import g711
from gateway.media.audio import (
    FRAME_BYTES,
    FRAME_MS,
    SAMPLE_RATE,
    SAMPLE_WIDTH,
    PcmSource,
    audioop,
)

__all__ = [
    "WavFileError",
    "WavFileSource",
    "WavInfo",
    "WavRecorder",
    "decode_wav",
    "read_wav",
    "resample_to_line",
    "wav_bytes",
]

FORMAT_PCM: Final = 1
FORMAT_FLOAT: Final = 3
FORMAT_ALAW: Final = 6
FORMAT_MULAW: Final = 7
FORMAT_EXTENSIBLE: Final = 0xFFFE
_FORMAT_NAMES: Final = {
    2: "Microsoft ADPCM",
    0x11: "IMA ADPCM",
    0x31: "GSM 6.10",
    0x50: "MPEG",
    0x55: "MPEG layer 3",
}
# Sizes that mean "unknown, up to the end of the file" (written by streaming recorders).
_UNKNOWN_SIZES: Final = (0, 0xFFFFFFFF)

PASS_BAND_HZ: Final = 3600
STOP_BAND_HZ: Final = 4000


class WavFileError(ConfigError):
    """A WAV file is unreadable or in a form gwemu cannot convert."""


@dataclass(frozen=True, slots=True)
class WavInfo:
    """What the file held before conversion."""

    format_tag: int
    channels: int
    sample_rate: int
    bits_per_sample: int
    frames: int  # sample frames (one sample per channel)

    @property
    def duration_ms(self) -> float:
        return self.frames * 1000 / self.sample_rate


def _fail(name: str, message: str) -> WavFileError:
    return WavFileError(message, file=name)


def _chunks(data: bytes, name: str) -> dict[bytes, bytes]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        if data[:4] == b"RIFX":
            raise _fail(name, "big-endian RIFX WAV files are not supported")
        raise _fail(name, f"not a WAV file (starts with {data[:12]!r}, expected RIFF....WAVE)")
    riff_size = struct.unpack_from("<I", data, 4)[0]
    end = len(data)
    if riff_size not in _UNKNOWN_SIZES:
        if 8 + riff_size > len(data):
            raise _fail(
                name,
                f"truncated: the RIFF header declares {8 + riff_size} bytes, "
                f"the file has {len(data)}",
            )
        end = 8 + riff_size  # whatever follows the RIFF chunk is not part of the file
    chunks: dict[bytes, bytes] = {}
    position = 12
    while position + 8 <= end:
        chunk_id = data[position : position + 4]
        size = struct.unpack_from("<I", data, position + 4)[0]
        body_start = position + 8
        if chunk_id == b"data" and size in _UNKNOWN_SIZES and b"fmt " in chunks:
            size = end - body_start
        if body_start + size > end:
            label = chunk_id.decode("latin-1")
            raise _fail(
                name, f"truncated: chunk {label!r} declares {size} bytes, {end - body_start} remain"
            )
        chunks.setdefault(chunk_id, data[body_start : body_start + size])
        position = body_start + size + (size & 1)  # chunks are word aligned
    return chunks


def _format(chunks: dict[bytes, bytes], name: str) -> tuple[int, int, int, int, int]:
    fmt = chunks.get(b"fmt ")
    if fmt is None:
        raise _fail(name, "no 'fmt ' chunk")
    if len(fmt) < 16:
        raise _fail(name, f"'fmt ' chunk is {len(fmt)} bytes, at least 16 needed")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == FORMAT_EXTENSIBLE:
        if len(fmt) < 40:
            raise _fail(name, "WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk shorter than 40 bytes")
        tag = struct.unpack_from("<H", fmt, 24)[0]  # first two bytes of the sub-format GUID
    if channels == 0:
        raise _fail(name, "declares 0 channels")
    if rate == 0:
        raise _fail(name, "declares a sample rate of 0 Hz")
    return tag, channels, rate, block_align, bits


def _to_linear16(samples: bytes, tag: int, bits: int, name: str) -> bytes:
    if tag == FORMAT_PCM:
        if bits == 8:
            return audioop.lin2lin(audioop.bias(samples, 1, -128), 1, SAMPLE_WIDTH)
        if bits in (16, 24, 32):
            return audioop.lin2lin(samples, bits // 8, SAMPLE_WIDTH)
        raise _fail(name, f"{bits}-bit PCM is not supported (8, 16, 24 or 32)")
    if tag == FORMAT_FLOAT:
        if bits not in (32, 64):
            raise _fail(name, f"{bits}-bit float is not supported (32 or 64)")
        values = array("f" if bits == 32 else "d", samples)
        if any(math.isnan(v) for v in values):
            raise _fail(name, "float samples include NaN")
        scaled = [max(-32768, min(32767, round(v * 32767))) for v in values]
        return array("h", scaled).tobytes()
    if tag in (FORMAT_ALAW, FORMAT_MULAW):
        if bits != 8:
            raise _fail(name, f"G.711 WAV with {bits} bits per sample (must be 8)")
        return g711.alaw_decode(samples) if tag == FORMAT_ALAW else g711.ulaw_decode(samples)
    label = _FORMAT_NAMES.get(tag, "unknown")
    raise _fail(
        name,
        f"WAV format {tag} ({label}) is not supported: use PCM, IEEE float, A-law or mu-law",
    )


def _mix_to_mono(pcm: bytes, channels: int) -> bytes:
    if channels == 1:
        return pcm
    if channels == 2:
        return audioop.tomono(pcm, SAMPLE_WIDTH, 0.5, 0.5)
    interleaved = array("h", pcm)
    mono = b""
    for channel in range(channels):
        part = audioop.mul(interleaved[channel::channels].tobytes(), SAMPLE_WIDTH, 1 / channels)
        mono = part if not mono else audioop.add(mono, part, SAMPLE_WIDTH)
    return mono


def _low_pass_taps(rate: int) -> list[float]:
    """Hamming-windowed sinc with its -6 dB point between pass and stop band edges."""
    transition = (STOP_BAND_HZ - PASS_BAND_HZ) / rate
    count = math.ceil(3.3 / transition) | 1  # Hamming: width ~ 3.3 / N, odd for symmetry
    cutoff = (PASS_BAND_HZ + STOP_BAND_HZ) / 2 / rate
    middle = count // 2
    taps = []
    for n in range(count):
        k = n - middle
        ideal = 2 * cutoff if k == 0 else math.sin(2 * math.pi * cutoff * k) / (math.pi * k)
        taps.append(ideal * (0.54 - 0.46 * math.cos(2 * math.pi * n / (count - 1))))
    gain = sum(taps)
    return [tap / gain for tap in taps]


def _low_pass(pcm: bytes, rate: int) -> bytes:
    taps = _low_pass_taps(rate)
    wide = 4
    # 32-bit accumulation at half scale: each product keeps 15 more bits than 16-bit would, and
    # the headroom absorbs the filter's overshoot on full-scale input.
    signal = audioop.mul(audioop.lin2lin(pcm, SAMPLE_WIDTH, wide), wide, 0.5)
    samples = len(pcm) // SAMPLE_WIDTH
    half = len(taps) // 2
    padded = bytes(half * wide) + signal + bytes(half * wide)
    accumulator = bytes(samples * wide)
    for index, tap in enumerate(taps):
        shifted = padded[index * wide : (index + samples) * wide]
        accumulator = audioop.add(accumulator, audioop.mul(shifted, wide, tap), wide)
    return audioop.lin2lin(audioop.mul(accumulator, wide, 2.0), wide, SAMPLE_WIDTH)


def resample_to_line(pcm: bytes, rate: int) -> bytes:
    """Mono 16-bit PCM at ``rate`` to 8 kHz (band-limited first when going down)."""
    if rate == SAMPLE_RATE or not pcm:
        return pcm
    if rate > SAMPLE_RATE:
        pcm = _low_pass(pcm, rate)
    converted, _state = audioop.ratecv(pcm, SAMPLE_WIDTH, 1, rate, SAMPLE_RATE, None)
    return converted


def decode_wav(data: bytes, name: str = "<memory>") -> tuple[bytes, WavInfo]:
    """Convert WAV file contents to line audio; ``name`` is used in error messages."""
    chunks = _chunks(data, name)
    tag, channels, rate, block_align, bits = _format(chunks, name)
    samples = chunks.get(b"data")
    if samples is None:
        raise _fail(name, "no 'data' chunk")
    expected_align = channels * ((bits + 7) // 8)
    if block_align != expected_align:
        raise _fail(
            name, f"block align {block_align} does not match {channels} channel(s) of {bits} bits"
        )
    if len(samples) % block_align:
        raise _fail(
            name,
            f"'data' chunk of {len(samples)} bytes is not a whole number of "
            f"{block_align}-byte sample frames",
        )
    info = WavInfo(tag, channels, rate, bits, len(samples) // block_align)
    linear = _to_linear16(samples, tag, bits, name)
    return resample_to_line(_mix_to_mono(linear, channels), rate), info


def read_wav(path: str | Path) -> bytes:
    """Line audio (8 kHz mono 16-bit PCM) from a WAV file."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise WavFileError(f"cannot read: {exc.strerror or exc}", file=str(path)) from exc
    pcm, _info = decode_wav(data, str(path))
    return pcm


class WavFileSource(PcmSource):
    """A WAV file as an :class:`~gateway.media.audio.AudioSource` (converted on load)."""

    __slots__ = ("path",)

    def __init__(self, path: str | Path) -> None:
        super().__init__(read_wav(path))
        self.path = Path(path)


def wav_bytes(pcm: bytes, *, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A complete mono 16-bit PCM WAV file holding ``pcm``."""
    if len(pcm) % SAMPLE_WIDTH:
        raise ValueError("PCM must be whole 16-bit samples")
    fmt = struct.pack(
        "<HHIIHH",
        FORMAT_PCM,
        1,
        sample_rate,
        sample_rate * SAMPLE_WIDTH,
        SAMPLE_WIDTH,
        SAMPLE_WIDTH * 8,
    )
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", len(pcm))
        + pcm
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


class WavRecorder:
    """An :class:`~gateway.media.audio.AudioSink` that keeps what it hears, for a WAV file."""

    __slots__ = ("_frames",)

    def __init__(self) -> None:
        self._frames: list[bytes] = []

    def write_frame(self, frame: bytes) -> None:
        if len(frame) != FRAME_BYTES:
            raise ValueError(f"a frame is {FRAME_BYTES} bytes, got {len(frame)}")
        self._frames.append(frame)

    @property
    def duration_ms(self) -> int:
        return len(self._frames) * FRAME_MS

    def pcm(self) -> bytes:
        return b"".join(self._frames)

    def wav_bytes(self) -> bytes:
        return wav_bytes(self.pcm())

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.wav_bytes())
