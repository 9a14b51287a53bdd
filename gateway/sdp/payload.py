"""RTP payload formats as SDP describes them: ``a=rtpmap``, ``a=fmtp``, the RFC 3551 static table.

A :class:`PayloadFormat` is one entry of an ``m=`` format list resolved to its codec: from its
``a=rtpmap`` when there is one, else from the static payload type table of RFC 3551 §6, so
``m=audio 4000 RTP/AVP 0 18`` without any ``a=rtpmap`` still means PCMU and G.729.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from gateway.errors import RemoteProtocolError
from gateway.sdp.fields import parse_decimal

TELEPHONE_EVENT = "telephone-event"
COMFORT_NOISE = "CN"


@dataclass(frozen=True, slots=True)
class PayloadFormat:
    """One RTP payload type bound to a codec: number, encoding name, clock rate, channels, fmtp.

    ``fmtp`` is the format-specific parameter text (``"annexb=no"``, ``"0-15"``) or ``None``.
    """

    payload_type: int
    encoding_name: str
    clock_rate: int
    channels: int = 1
    fmtp: str | None = None

    @property
    def is_telephone_event(self) -> bool:
        return self.encoding_name.lower() == TELEPHONE_EVENT

    @property
    def is_comfort_noise(self) -> bool:
        return self.encoding_name.upper() == COMFORT_NOISE

    def same_codec(self, name: str, clock_rate: int, channels: int = 1) -> bool:
        """Same encoding (names are case-insensitive, RFC 4855 §3), clock rate and channels."""
        return (
            self.encoding_name.lower() == name.lower()
            and self.clock_rate == clock_rate
            and self.channels == channels
        )

    def __str__(self) -> str:
        text = f"{self.payload_type} {self.encoding_name}/{self.clock_rate}"
        if self.channels != 1:
            text += f"/{self.channels}"
        return text


def _static(pt: int, name: str, clock: int, channels: int = 1) -> tuple[int, PayloadFormat]:
    return pt, PayloadFormat(pt, name, clock, channels)


# RFC 3551 §6, Tables 4 and 5: payload types with a fixed meaning under RTP/AVP.  (G722 is
# listed at 8000 Hz although it samples at 16 kHz: an error in RFC 1890 kept for compatibility.)
STATIC_PAYLOAD_TYPES: Mapping[int, PayloadFormat] = MappingProxyType(
    dict(
        (
            _static(0, "PCMU", 8000),
            _static(3, "GSM", 8000),
            _static(4, "G723", 8000),
            _static(5, "DVI4", 8000),
            _static(6, "DVI4", 16000),
            _static(7, "LPC", 8000),
            _static(8, "PCMA", 8000),
            _static(9, "G722", 8000),
            _static(10, "L16", 44100, 2),
            _static(11, "L16", 44100),
            _static(12, "QCELP", 8000),
            _static(13, "CN", 8000),
            _static(14, "MPA", 90000),
            _static(15, "G728", 8000),
            _static(16, "DVI4", 11025),
            _static(17, "DVI4", 22050),
            _static(18, "G729", 8000),
            _static(25, "CelB", 90000),
            _static(26, "JPEG", 90000),
            _static(28, "nv", 90000),
            _static(31, "H261", 90000),
            _static(32, "MPV", 90000),
            _static(33, "MP2T", 90000),
            _static(34, "H263", 90000),
        )
    )
)

# RFC 3551 §3: dynamic payload types are assigned from 96-127.
DYNAMIC_PAYLOAD_TYPES = range(96, 128)


def static_payload_type(name: str, clock_rate: int, channels: int = 1) -> int | None:
    """The RFC 3551 static number for a codec, or ``None`` when it needs a dynamic one."""
    for payload_type, fmt in STATIC_PAYLOAD_TYPES.items():
        if fmt.same_codec(name, clock_rate, channels):
            return payload_type
    return None


@dataclass(frozen=True, slots=True)
class RtpMap:
    """``a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]``.

    RFC 8866 §6.6; for audio the encoding parameter is the number of channels (default 1).
    """

    payload_type: int
    encoding_name: str
    clock_rate: int
    channels: int | None = None

    @classmethod
    def parse(cls, text: str) -> RtpMap:
        pt_text, _, encoding = text.strip().partition(" ")
        payload_type = parse_decimal(pt_text, "a=rtpmap", "payload type", maximum=127)
        pieces = encoding.strip().split("/")
        if len(pieces) < 2 or not pieces[0]:
            raise RemoteProtocolError(
                f"a=rtpmap:{payload_type} needs <encoding name>/<clock rate>, got {encoding!r}",
                400,
            )
        if len(pieces) > 3:
            raise RemoteProtocolError(f"a=rtpmap:{payload_type} has too many '/' parts", 400)
        clock_rate = parse_decimal(pieces[1], "a=rtpmap", "clock rate")
        channels = parse_decimal(pieces[2], "a=rtpmap", "channels") if len(pieces) == 3 else None
        if clock_rate == 0 or channels == 0:
            raise RemoteProtocolError(f"a=rtpmap:{payload_type} clock rate or channels is 0", 400)
        return cls(payload_type, pieces[0], clock_rate, channels)

    def __str__(self) -> str:
        text = f"{self.payload_type} {self.encoding_name}/{self.clock_rate}"
        if self.channels is not None:
            text += f"/{self.channels}"
        return text


@dataclass(frozen=True, slots=True)
class Fmtp:
    """``a=fmtp:<format> <format specific parameters>`` (RFC 8866 §6.15)."""

    format: str
    parameters: str

    @classmethod
    def parse(cls, text: str) -> Fmtp:
        fmt, _, parameters = text.strip().partition(" ")
        if not fmt:
            raise RemoteProtocolError("a=fmtp: format missing", 400)
        return cls(fmt, parameters.strip())

    def __str__(self) -> str:
        return f"{self.format} {self.parameters}"


def format_parameters(text: str | None) -> dict[str, str]:
    """``"annexb=no; mode=20"`` -> ``{"annexb": "no", "mode": "20"}`` (names lower-cased).

    Items without ``=`` (the telephone-event list ``0-15``) map to ``""``.
    """
    parameters: dict[str, str] = {}
    if not text:
        return parameters
    for item in text.split(";"):
        name, _, value = item.strip().partition("=")
        if name:
            parameters[name.strip().lower()] = value.strip()
    return parameters


def g729_annex_b(fmtp: str | None) -> bool:
    """Whether a G.729 ``fmtp`` allows Annex B (VAD/CNG): ``yes`` unless ``annexb=no``.

    RFC 4856 §2.1.9 (audio/G729): "yes" is implied when the parameter is omitted.
    """
    return format_parameters(fmtp).get("annexb", "yes").lower() != "no"


# RFC 4733 §2.4.1: without an events list only the DTMF events 0-15 may be assumed.
DEFAULT_TELEPHONE_EVENTS: frozenset[int] = frozenset(range(16))


def parse_event_list(text: str | None) -> frozenset[int]:
    """The events of a telephone-event ``fmtp`` (``"0-15,66,70"``), RFC 4733 §7.1.1.

    ``None`` (no fmtp) gives the DTMF default 0-15.  Malformed lists raise RemoteProtocolError.
    """
    if text is None:
        return DEFAULT_TELEPHONE_EVENTS
    # Some stacks write "events=0-15"; RFC 4733 writes the bare list.
    body = text.strip()
    if body.lower().startswith("events="):
        body = body[len("events=") :]
    events: set[int] = set()
    for item in body.split(","):
        low_text, dash, high_text = item.strip().partition("-")
        low = parse_decimal(low_text, "a=fmtp", "telephone event", maximum=255)
        high = parse_decimal(high_text, "a=fmtp", "telephone event", maximum=255) if dash else low
        if high < low:
            raise RemoteProtocolError(f"a=fmtp: telephone event range {item.strip()!r}", 400)
        events.update(range(low, high + 1))
    return frozenset(events)


def format_event_list(events: Iterable[int]) -> str:
    """The shortest RFC 4733 list for a set of events: ``{0..15, 16}`` -> ``"0-16"``."""
    ordered = sorted(set(events))
    items: list[str] = []
    index = 0
    while index < len(ordered):
        end = index
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        low, high = ordered[index], ordered[end]
        items.append(str(low) if low == high else f"{low}-{high}")
        index = end + 1
    return ",".join(items)
