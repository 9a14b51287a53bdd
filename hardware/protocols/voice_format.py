"""Voice sample formats of V.253 modems (``+VSM``) and their conversion to gateway line audio.

``AT+VSM=?`` lists the compression methods a modem offers, one per line::

    <cml>,<cmid>,<bps>,<tm>,<vsr>,<sds>,<sel>
    131,"ULAW",8,0,(7200,8000),(0),(0)          (USRobotics)
    1,"UNSIGNED PCM",8,0,8000,0,0               (Conexant)
    +VSM: 128,"8-BIT LINEAR",8,0,(7200,8000),(0),(0)

Vendors number the methods differently (V.253 leaves 128-255 to manufacturers), so the method is
recognised by its name and bit count, never by its number.  The gateway prefers G.711 (no
conversion, what RTP carries) and falls back to 8-bit linear, which becomes 16-bit linear (``l16``)
line audio.
"""

from __future__ import annotations

import array
import sys
from dataclasses import dataclass
from typing import Literal

from gateway.errors import LocalProtocolError, RemoteProtocolError
from gateway.line import LineCodec

SampleFormat = Literal["pcmu", "pcma", "u8", "s8", "s16le", "other"]

# Preference order: G.711 first (no transcoding), then 8-bit linear, then 16-bit linear.
PREFERENCE: tuple[SampleFormat, ...] = ("pcmu", "pcma", "u8", "s8", "s16le")

_ULAW_NAMES = ("ULAW", "U-LAW", "MU-LAW", "G711U", "G.711U", "G.711 U", "U-LOG", "PCMU")
_ALAW_NAMES = ("ALAW", "A-LAW", "G711A", "G.711A", "G.711 A", "A-LOG", "PCMA")


def classify(name: str, bits: int) -> SampleFormat:
    """The sample format behind a ``+VSM`` method name and bit count."""
    upper = name.upper()
    if any(alias in upper for alias in _ULAW_NAMES):
        return "pcmu" if bits == 8 else "other"
    if any(alias in upper for alias in _ALAW_NAMES):
        return "pcma" if bits == 8 else "other"
    if "ADPCM" in upper or "CELP" in upper or "GSM" in upper:
        return "other"
    if "UNSIGNED" in upper or "8-BIT LINEAR" in upper:
        return "u8" if bits == 8 else "other"
    if "SIGNED" in upper or "LINEAR" in upper or upper == "PCM":
        if bits == 8:
            return "s8"
        if bits == 16:
            return "s16le"
    return "other"


@dataclass(frozen=True, slots=True)
class VsmMethod:
    """One compression method a modem offers."""

    code: int
    name: str
    bits: int
    rates: tuple[int, ...] = (8000,)

    @property
    def sample_format(self) -> SampleFormat:
        return classify(self.name, self.bits)

    @classmethod
    def parse(cls, line: str) -> VsmMethod:
        """Parse one ``AT+VSM=?`` line (quoted or bare name, ranges with or without brackets)."""
        text = line.strip()
        if text.upper().startswith("+VSM:"):
            text = text[5:].strip()
        fields = _split_fields(text)
        if len(fields) < 3:
            raise RemoteProtocolError(f"+VSM line has too few fields: {line[:60]!r}", None)
        try:
            code = int(fields[0])
            bits = int(fields[2])
        except ValueError:
            raise RemoteProtocolError(f"+VSM line is not numeric: {line[:60]!r}", None) from None
        name = fields[1].strip().strip('"')
        rates = _parse_range(fields[4]) if len(fields) > 4 else (8000,)
        if not 0 <= code <= 255 or bits <= 0:
            raise RemoteProtocolError(f"+VSM values out of range: {line[:60]!r}", None)
        return cls(code, name, bits, rates or (8000,))

    def __str__(self) -> str:
        rates = ",".join(str(rate) for rate in self.rates)
        return f'{self.code},"{self.name}",{self.bits},0,({rates}),(0),(0)'

    def __bytes__(self) -> bytes:
        return str(self).encode("ascii", "replace") + b"\r\n"


def _split_fields(text: str) -> list[str]:
    """Split on commas outside quotes and brackets."""
    fields: list[str] = []
    depth = 0
    quoted = False
    start = 0
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            fields.append(text[start:index])
            start = index + 1
    fields.append(text[start:])
    return fields


def _parse_range(field: str) -> tuple[int, ...]:
    """``(7200,8000,11025)``, ``(7200-8000)``, ``8000`` -> the listed rates (ranges by ends)."""
    rates: list[int] = []
    for part in field.strip().strip("()").split(","):
        for bound in part.split("-"):
            bound = bound.strip()
            if bound.isdigit() and len(bound) <= 6:
                rates.append(int(bound))
    return tuple(rates)


def parse_methods(lines: tuple[str, ...] | list[str]) -> list[VsmMethod]:
    """Every method line of an ``AT+VSM=?`` answer; lines that are not methods are skipped."""
    methods = []
    for line in lines:
        try:
            methods.append(VsmMethod.parse(line))
        except RemoteProtocolError:
            continue
    return methods


def choose(
    methods: list[VsmMethod] | tuple[VsmMethod, ...],
    *,
    prefer_alaw: bool = False,
    rate: int = 8000,
) -> list[VsmMethod]:
    """The usable methods at ``rate``, best first (A-law first when the country uses it)."""
    order = list(PREFERENCE)
    if prefer_alaw:
        order.remove("pcma")
        order.insert(0, "pcma")

    def usable(method: VsmMethod) -> bool:
        return method.sample_format != "other" and _offers_rate(method, rate)

    candidates = [method for method in methods if usable(method)]
    return sorted(candidates, key=lambda method: order.index(method.sample_format))


def _offers_rate(method: VsmMethod, rate: int) -> bool:
    if rate in method.rates:
        return True
    # A two-value answer like (7200-8000) is a range.
    return len(method.rates) == 2 and method.rates[0] <= rate <= method.rates[1]


# -------------------------------------------------------------------------- sample conversion


def line_codec(sample_format: SampleFormat) -> LineCodec:
    """The gateway line codec that carries ``sample_format`` (linear formats become ``l16``)."""
    if sample_format in ("pcmu", "pcma"):
        return sample_format
    if sample_format in ("u8", "s8", "s16le"):
        return "l16"
    raise LocalProtocolError(f"no line codec for sample format {sample_format}")


def bytes_per_sample(sample_format: SampleFormat) -> int:
    return 2 if sample_format == "s16le" else 1


_LITTLE_ENDIAN = sys.byteorder == "little"
# 8-bit linear to the high byte of a 16-bit sample: u8 is offset binary, s8 two's complement.
_U8_HIGH = bytes((value - 128) & 0xFF for value in range(256))


def to_line(sample_format: SampleFormat, samples: bytes) -> bytes:
    """Modem samples -> line audio (G.711 unchanged, linear -> 16-bit little-endian)."""
    if sample_format in ("pcmu", "pcma", "s16le"):
        return samples
    high = samples.translate(_U8_HIGH) if sample_format == "u8" else samples
    if sample_format not in ("u8", "s8"):
        raise LocalProtocolError(f"cannot convert {sample_format} samples")
    out = bytearray(2 * len(high))
    out[1::2] = high
    return bytes(out)


def from_line(sample_format: SampleFormat, audio: bytes) -> bytes:
    """Line audio -> modem samples (the inverse of :func:`to_line`; 16-bit keeps its high byte)."""
    if sample_format in ("pcmu", "pcma", "s16le"):
        return audio
    if sample_format not in ("u8", "s8"):
        raise LocalProtocolError(f"cannot convert to {sample_format} samples")
    high = audio[1::2]
    return high.translate(_U8_HIGH) if sample_format == "u8" else high


# Energy classes for silence detection: 1 marks a byte whose sample is louder than about -40 dBm0.
def _loud_table(sample_format: SampleFormat) -> bytes:
    table = bytearray(256)
    for value in range(256):
        if sample_format == "pcmu":
            loud = ((~value) >> 4) & 7 >= 2  # segment >= 2 (|x| > ~95 of 8159)
        elif sample_format == "pcma":
            loud = ((value ^ 0x55) >> 4) & 7 >= 2
        elif sample_format == "u8":
            loud = abs(value - 128) > 2
        else:  # s8
            loud = abs(value - 256 if value > 127 else value) > 2
        table[value] = 1 if loud else 0
    return bytes(table)


_LOUD_TABLES: dict[SampleFormat, bytes] = {
    fmt: _loud_table(fmt) for fmt in ("pcmu", "pcma", "u8", "s8")
}


def is_silent(sample_format: SampleFormat, samples: bytes) -> bool:
    """True when no sample in ``samples`` rises above the silence floor (software +VSD)."""
    if not samples:
        return True
    if sample_format == "s16le":
        values = array.array("h")
        values.frombytes(samples[: len(samples) & ~1])
        if not _LITTLE_ENDIAN:
            values.byteswap()
        return not values or (max(values) <= 512 and min(values) >= -512)
    table = _LOUD_TABLES.get(sample_format)
    if table is None:
        return False
    return b"\x01" not in samples.translate(table)
