"""Caller ID as voice modems present it: formatted tag lines and raw SDMF/MDMF packets.

Formatted presentation (``AT+VCID=1``, Rockwell/USR ``AT#CID=1``) prints one ``<tag> = <value>``
line per item after the first RING; modems differ in the spacing (``NMBR = 5551234`` and
``NMBR=5551234`` both occur).  Tags: ``DATE`` (MMDD), ``TIME`` (HHMM), ``NMBR`` (number, or ``P``
private / ``O`` out of area), ``NAME`` (same ``P``/``O`` convention, so a name that is just one of
those letters cannot be told from an absence), ``DDN_NMBR`` (dialable directory number) and
``MESG`` (hex of an item the modem did not understand).

Unformatted presentation (``AT+VCID=2``, ``AT#CID=2``) prints the whole Bellcore GR-30-CORE
message in ASCII hex: SDMF (type 0x04: date/time + number) or MDMF (type 0x80: typed parameters),
each ending with a checksum byte chosen so that all bytes sum to zero modulo 256.

The same module encodes both forms for modem simulators.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass, field
from typing import Literal

from gateway.errors import LocalProtocolError, RemoteProtocolError

Absence = Literal["private", "unavailable"]

TAGS = ("DATE", "TIME", "NMBR", "NAME", "DDN_NMBR", "MESG")
_ABSENCE_CODES: dict[str, Absence] = {"P": "private", "O": "unavailable"}
_ABSENCE_LETTERS: dict[Absence, str] = {"private": "P", "unavailable": "O"}

# GR-30-CORE message types and MDMF parameter types.
SDMF_CALLER_ID = 0x04
MDMF_CALLER_ID = 0x80
PARAM_DATE_TIME = 0x01
PARAM_NUMBER = 0x02
PARAM_DIALABLE_NUMBER = 0x03
PARAM_NUMBER_ABSENT = 0x04
PARAM_NAME = 0x07
PARAM_NAME_ABSENT = 0x08

MAX_LINE = 256


@dataclass(frozen=True, slots=True)
class CallerId:
    """Who is calling, as far as the line told us."""

    number: str | None = None
    name: str | None = None
    number_absent: Absence | None = None
    name_absent: Absence | None = None
    date: str | None = None
    time: str | None = None
    dialable_number: str | None = None
    messages: tuple[str, ...] = ()

    @property
    def presentation_allowed(self) -> bool:
        return self.number_absent != "private" and self.name_absent != "private"

    @property
    def empty(self) -> bool:
        return self == CallerId()


@dataclass(frozen=True, slots=True)
class CallerIdLine:
    """One formatted caller ID line, e.g. ``NMBR = 5551234``; ``separator`` keeps the spacing."""

    tag: str
    value: str
    separator: str = " = "

    @classmethod
    def match(cls, line: str) -> CallerIdLine | None:
        """The tag line in ``line``, or ``None`` when it is not one (never raises)."""
        equals = line.find("=")
        if equals <= 0 or len(line) > MAX_LINE:
            return None
        tag = line[:equals].rstrip(" ")
        if tag.upper() not in TAGS:
            return None
        rest = line[equals + 1 :]
        value = rest.lstrip(" ")
        separator = line[len(tag) : len(line) - len(value)]
        return cls(tag, value, separator)

    @classmethod
    def parse(cls, line: str) -> CallerIdLine:
        found = cls.match(line)
        if found is None:
            raise RemoteProtocolError(f"not a caller ID line: {line[:40]!r}", None)
        return found

    def __str__(self) -> str:
        return f"{self.tag}{self.separator}{self.value}"

    def __bytes__(self) -> bytes:
        """The line as a modem prints it, with its CR LF."""
        return str(self).encode("latin-1", "replace") + b"\r\n"


def formatted_lines(cid: CallerId, separator: str = " = ") -> list[CallerIdLine]:
    """The formatted presentation of ``cid`` (what a modem prints after RING)."""
    lines: list[CallerIdLine] = []
    if cid.date is not None:
        lines.append(CallerIdLine("DATE", cid.date, separator))
    if cid.time is not None:
        lines.append(CallerIdLine("TIME", cid.time, separator))
    if cid.number is not None:
        lines.append(CallerIdLine("NMBR", cid.number, separator))
    elif cid.number_absent is not None:
        lines.append(CallerIdLine("NMBR", _ABSENCE_LETTERS[cid.number_absent], separator))
    if cid.name is not None:
        lines.append(CallerIdLine("NAME", cid.name, separator))
    elif cid.name_absent is not None:
        lines.append(CallerIdLine("NAME", _ABSENCE_LETTERS[cid.name_absent], separator))
    if cid.dialable_number is not None:
        lines.append(CallerIdLine("DDN_NMBR", cid.dialable_number, separator))
    lines.extend(CallerIdLine("MESG", message, separator) for message in cid.messages)
    return lines


# ------------------------------------------------------------------------- GR-30 binary packets


def checksum(body: bytes) -> int:
    """The GR-30 checksum byte: the two's complement of the byte sum (all bytes sum to 0)."""
    return -sum(body) & 0xFF


def _text(raw: bytes) -> str:
    return raw.decode("latin-1")


def decode_packet(packet: bytes) -> CallerId:
    """Decode one SDMF or MDMF caller ID message (type, length, body, checksum)."""
    if len(packet) < 3:
        raise RemoteProtocolError("caller ID packet truncated", None)
    kind, length = packet[0], packet[1]
    if len(packet) != length + 3:
        raise RemoteProtocolError(
            f"caller ID packet length {len(packet)} does not match its length byte {length}", None
        )
    if sum(packet) & 0xFF:
        raise RemoteProtocolError("caller ID checksum error", None)
    body = packet[2 : 2 + length]
    if kind == SDMF_CALLER_ID:
        return _decode_sdmf(body)
    if kind == MDMF_CALLER_ID:
        return _decode_mdmf(body)
    raise RemoteProtocolError(f"not a caller ID message type: 0x{kind:02X}", None)


def _decode_sdmf(body: bytes) -> CallerId:
    if len(body) < 8:
        raise RemoteProtocolError("SDMF body shorter than its date and time", None)
    stamp = _text(body[:8])
    number = _text(body[8:])
    absent = _ABSENCE_CODES.get(number) if len(number) == 1 else None
    return CallerId(
        number=None if absent else number,
        number_absent=absent,
        date=stamp[:4],
        time=stamp[4:],
    )


def _decode_mdmf(body: bytes) -> CallerId:
    values: dict[str, str | None] = {}
    messages: list[str] = []
    number_absent: Absence | None = None
    name_absent: Absence | None = None
    i = 0
    while i < len(body):
        if i + 2 > len(body):
            raise RemoteProtocolError("MDMF parameter header truncated", None)
        kind, size = body[i], body[i + 1]
        value = body[i + 2 : i + 2 + size]
        if len(value) != size:
            raise RemoteProtocolError("MDMF parameter value truncated", None)
        i += 2 + size
        text = _text(value)
        if kind == PARAM_DATE_TIME and size == 8:
            values["date"], values["time"] = text[:4], text[4:]
        elif kind == PARAM_NUMBER:
            values["number"] = text
        elif kind == PARAM_DIALABLE_NUMBER:
            values["dialable_number"] = text
        elif kind == PARAM_NAME:
            values["name"] = text.rstrip(" ")
        elif kind == PARAM_NUMBER_ABSENT and text in _ABSENCE_CODES:
            number_absent = _ABSENCE_CODES[text]
        elif kind == PARAM_NAME_ABSENT and text in _ABSENCE_CODES:
            name_absent = _ABSENCE_CODES[text]
        else:
            messages.append(binascii.hexlify(bytes((kind, size)) + value).decode().upper())
    return CallerId(
        number=values.get("number"),
        name=values.get("name"),
        number_absent=number_absent,
        name_absent=name_absent,
        date=values.get("date"),
        time=values.get("time"),
        dialable_number=values.get("dialable_number"),
        messages=tuple(messages),
    )


def _framed(kind: int, body: bytes) -> bytes:
    if len(body) > 255:
        raise LocalProtocolError("caller ID message longer than 255 bytes")
    head = bytes((kind, len(body))) + body
    return head + bytes((checksum(head),))


def _stamp(cid: CallerId) -> bytes:
    stamp = (cid.date or "0101") + (cid.time or "0000")
    if len(stamp) != 8 or not stamp.isdigit():
        raise LocalProtocolError("caller ID date and time must be MMDD and HHMM digits")
    return stamp.encode("ascii")


def encode_sdmf(cid: CallerId) -> bytes:
    """SDMF: date/time and the number (or ``P``/``O``); a name cannot be carried."""
    if cid.number is not None:
        number = cid.number
    else:
        number = _ABSENCE_LETTERS[cid.number_absent or "unavailable"]
    return _framed(SDMF_CALLER_ID, _stamp(cid) + number.encode("latin-1"))


def encode_mdmf(cid: CallerId) -> bytes:
    """MDMF with date/time, number or its absence, name or its absence, dialable number."""

    def param(kind: int, value: bytes) -> bytes:
        if len(value) > 255:
            raise LocalProtocolError("caller ID parameter longer than 255 bytes")
        return bytes((kind, len(value))) + value

    body = param(PARAM_DATE_TIME, _stamp(cid))
    if cid.number is not None:
        body += param(PARAM_NUMBER, cid.number.encode("latin-1"))
    elif cid.number_absent is not None:
        body += param(PARAM_NUMBER_ABSENT, _ABSENCE_LETTERS[cid.number_absent].encode())
    if cid.name is not None:
        body += param(PARAM_NAME, cid.name.encode("latin-1"))
    elif cid.name_absent is not None:
        body += param(PARAM_NAME_ABSENT, _ABSENCE_LETTERS[cid.name_absent].encode())
    if cid.dialable_number is not None:
        body += param(PARAM_DIALABLE_NUMBER, cid.dialable_number.encode("latin-1"))
    return _framed(MDMF_CALLER_ID, body)


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def parse_hex(text: str) -> bytes:
    """The bytes of an ASCII hex dump (spaces allowed between bytes)."""
    compact = text.replace(" ", "")
    if not compact or len(compact) % 2 or not _HEX_DIGITS.issuperset(compact):
        raise RemoteProtocolError(f"not an ASCII hex caller ID message: {text[:40]!r}", None)
    return binascii.unhexlify(compact)


def match_unformatted(line: str) -> CallerId | None:
    """The caller ID in a bare unformatted (hex) line, or ``None`` when it is not one."""
    if len(line) < 8 or len(line) > 2 * 260 + 300:
        return None
    try:
        return decode_packet(parse_hex(line))
    except RemoteProtocolError:
        return None


# ------------------------------------------------------------------------------------ collector


@dataclass(slots=True)
class CallerIdCollector:
    """Accumulate one caller ID block, line by line or as a whole packet.

    The block is :attr:`complete` once a packet decoded, or once NMBR arrived and -- when a name is
    expected on this line -- NAME too.  Callers also close it on the next RING or a timer, with
    whatever arrived (:meth:`result`).
    """

    expect_name: bool = True
    _values: dict[str, str] = field(default_factory=dict)
    _messages: list[str] = field(default_factory=list)
    _packet: CallerId | None = None

    @property
    def empty(self) -> bool:
        return not self._values and not self._messages and self._packet is None

    @property
    def has_number(self) -> bool:
        return self._packet is not None or "NMBR" in self._values

    @property
    def complete(self) -> bool:
        if self._packet is not None:
            return True
        if "NMBR" not in self._values:
            return False
        return "NAME" in self._values or not self.expect_name

    def add_line(self, line: CallerIdLine) -> None:
        tag = line.tag.upper()
        if tag == "MESG":
            packet = match_unformatted(line.value)
            if packet is not None:
                self._packet = packet
            else:
                self._messages.append(line.value)
            return
        self._values[tag] = line.value.strip()

    def add_packet(self, cid: CallerId) -> None:
        self._packet = cid

    def reset(self) -> None:
        self._values.clear()
        self._messages.clear()
        self._packet = None

    def result(self) -> CallerId:
        if self._packet is not None:
            return self._packet
        number, number_absent = self._split("NMBR")
        name, name_absent = self._split("NAME")
        return CallerId(
            number=number,
            name=name,
            number_absent=number_absent,
            name_absent=name_absent,
            date=self._values.get("DATE"),
            time=self._values.get("TIME"),
            dialable_number=self._values.get("DDN_NMBR"),
            messages=tuple(self._messages),
        )

    def _split(self, tag: str) -> tuple[str | None, Absence | None]:
        value = self._values.get(tag)
        if value is None or value == "":
            return None, None
        absent = _ABSENCE_CODES.get(value)
        return (None, absent) if absent else (value, None)
