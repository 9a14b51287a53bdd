"""DLE shielding of V.253 voice data, both directions, both sides.

In the voice data states (``+VTX``, ``+VRX``, ``+VTR``) every byte is a sample except those behind
a ``<DLE>`` (0x10): ``<DLE><DLE>`` is one 0x10 sample and ``<DLE><code>`` is a shielded code.  The
codes mean different things by direction (ITU-T V.253 shielded-code tables / IS-101, as
implemented by Rockwell, Conexant, USRobotics and Silicon Labs modems):

* DCE -> DTE (what a modem reports; :data:`DCE_EVENT_CODES`): DTMF digits with optional ``/`` ..
  ``~`` duration marking, ring, busy, dial tone, loop-current interruption, silence, handset hook,
  fax/data tones, ``<ETX>`` end of stream, ``X`` .. ``.`` complex event packets.
* DTE -> DCE (what a host sends; :data:`DTE_ACTION_CODES`): ``<ETX>`` end of transmit, ``!`` receive
  abort, ``^`` end of full duplex, ``<CAN>`` clear buffer, volume, pause/resume.

The host driver decodes ``source="dce"`` and encodes actions; a modem simulator decodes
``source="dte"`` and encodes events.  Unknown codes are never lost: they surface as
:attr:`DleKind.UNKNOWN` events carrying the raw code.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from gateway.errors import LocalProtocolError, RemoteProtocolError

DLE = 0x10
ETX = 0x03
SUB = 0x1A  # <DLE><SUB>: two 0x10 samples (V.253 / IS-101 data compaction)
CAN = 0x18
NUL = 0x00
DC4 = 0x14

Source = Literal["dce", "dte"]
DTMF_DIGITS = "0123456789*#ABCD"


class DleKind(enum.Enum):
    """What a shielded code means."""

    # DCE -> DTE event reports (V.253 Table 14 letters, IS-101 aliases in the code table).
    DTMF = "dtmf"
    DTMF_START = "dtmf-start"
    DTMF_END = "dtmf-end"
    RING = "ring"
    BUSY = "busy"
    REORDER = "reorder"
    DIAL_TONE = "dial-tone"
    STUTTER_DIAL_TONE = "stutter-dial-tone"
    RINGBACK = "ringback"
    LOOP_BREAK = "loop-break"
    POLARITY_REVERSAL = "polarity-reversal"
    SILENCE = "silence"
    QUIET = "quiet"
    HANDSET_ON_HOOK = "handset-on-hook"
    HANDSET_OFF_HOOK = "handset-off-hook"
    EXTENSION_ON_HOOK = "extension-on-hook"
    EXTENSION_OFF_HOOK = "extension-off-hook"
    FAX_CALLING = "fax-calling"
    DATA_CALLING = "data-calling"
    ANSWER_TONE = "answer-tone"
    DATA_ANSWER = "data-answer"
    BONG = "bong"
    SIT = "sit"
    CALL_WAITING = "call-waiting"
    TDD = "tdd"
    VOICE_DETECTED = "voice-detected"
    TIMING_MARK = "timing-mark"
    RX_OVERRUN = "rx-overrun"
    TX_UNDERRUN = "tx-underrun"
    INVALID_FORMAT = "invalid-format"
    LOST_DATA = "lost-data"
    XON = "xon"
    XOFF = "xoff"
    PACKET = "packet"
    # Both directions.
    END_OF_STREAM = "end-of-stream"
    # DTE -> DCE actions (V.253 Table 13 simple action commands).
    RECEIVE_ABORT = "receive-abort"
    DUPLEX_ABORT = "duplex-abort"
    CLEAR_BUFFER = "clear-buffer"
    CLEAR_AND_COMMAND = "clear-and-command"
    PAUSE = "pause"
    RESUME = "resume"
    VOLUME_UP = "volume-up"
    VOLUME_DOWN = "volume-down"
    NOOP = "noop"
    UNKNOWN = "unknown"


_PACKET_START = ord("X")
_PACKET_END = ord(".")

DCE_EVENT_CODES: dict[int, DleKind] = {
    **{ord(d): DleKind.DTMF for d in DTMF_DIGITS},
    ord("/"): DleKind.DTMF_START,
    ord("~"): DleKind.DTMF_END,
    ord("R"): DleKind.RING,
    ord("b"): DleKind.BUSY,
    ord("K"): DleKind.REORDER,
    ord("d"): DleKind.DIAL_TONE,
    ord("i"): DleKind.STUTTER_DIAL_TONE,
    ord("r"): DleKind.RINGBACK,
    ord("l"): DleKind.LOOP_BREAK,
    ord("L"): DleKind.POLARITY_REVERSAL,
    ord("s"): DleKind.SILENCE,
    ord("q"): DleKind.QUIET,
    ord("h"): DleKind.HANDSET_ON_HOOK,
    ord("H"): DleKind.HANDSET_OFF_HOOK,
    ord("p"): DleKind.EXTENSION_ON_HOOK,
    ord("P"): DleKind.EXTENSION_OFF_HOOK,
    ord("c"): DleKind.FAX_CALLING,
    ord("m"): DleKind.FAX_CALLING,  # IS-101 alias (mgetty)
    ord("e"): DleKind.DATA_CALLING,
    ord("a"): DleKind.ANSWER_TONE,
    ord("f"): DleKind.DATA_ANSWER,
    ord("$"): DleKind.BONG,
    ord("J"): DleKind.SIT,
    ord("w"): DleKind.CALL_WAITING,
    ord("t"): DleKind.TDD,
    ord("v"): DleKind.VOICE_DETECTED,
    ord("V"): DleKind.VOICE_DETECTED,
    ord("T"): DleKind.TIMING_MARK,
    ord("o"): DleKind.RX_OVERRUN,
    ord("u"): DleKind.TX_UNDERRUN,
    ord("E"): DleKind.INVALID_FORMAT,
    ord("Y"): DleKind.LOST_DATA,
    ord("Q"): DleKind.XON,
    ord("S"): DleKind.XOFF,
    ETX: DleKind.END_OF_STREAM,
}

DTE_ACTION_CODES: dict[int, DleKind] = {
    ETX: DleKind.END_OF_STREAM,
    ord("!"): DleKind.RECEIVE_ABORT,
    ord("^"): DleKind.DUPLEX_ABORT,
    CAN: DleKind.CLEAR_BUFFER,
    DC4: DleKind.CLEAR_AND_COMMAND,
    ord("p"): DleKind.PAUSE,
    ord("r"): DleKind.RESUME,
    ord("u"): DleKind.VOLUME_UP,
    ord("d"): DleKind.VOLUME_DOWN,
    NUL: DleKind.NOOP,
    # Some modems generate a DTMF digit shielded in the transmit stream (quirk ``dtmf_via_dle``).
    **{ord(d): DleKind.DTMF for d in DTMF_DIGITS},
}


def _first_code_of_each_kind(table: dict[int, DleKind]) -> dict[DleKind, int]:
    canonical: dict[DleKind, int] = {}
    for code, kind in table.items():
        canonical.setdefault(kind, code)
    return canonical


# The canonical code for each kind, per direction (the first entry of each table wins).
_CANONICAL: dict[Source, dict[DleKind, int]] = {
    "dce": _first_code_of_each_kind(DCE_EVENT_CODES),
    "dte": _first_code_of_each_kind(DTE_ACTION_CODES),
}

# Codes that end the stream: after them the bytes are AT command text again.
_STREAM_END: dict[Source, frozenset[DleKind]] = {
    "dce": frozenset({DleKind.END_OF_STREAM}),
    "dte": frozenset(
        {
            DleKind.END_OF_STREAM,
            DleKind.RECEIVE_ABORT,
            DleKind.DUPLEX_ABORT,
            DleKind.CLEAR_AND_COMMAND,
        }
    ),
}


def _table(source: Source) -> dict[int, DleKind]:
    return DCE_EVENT_CODES if source == "dce" else DTE_ACTION_CODES


@dataclass(frozen=True, slots=True)
class DleEvent:
    """One shielded code (or one ``<DLE>X ... <DLE>.`` complex event packet)."""

    kind: DleKind
    code: int
    payload: bytes = b""

    @property
    def digit(self) -> str | None:
        return chr(self.code) if self.kind is DleKind.DTMF else None

    @property
    def ends_stream(self) -> bool:
        return self.kind in _STREAM_END["dce"] | _STREAM_END["dte"]

    @classmethod
    def of(cls, kind: DleKind, source: Source = "dce") -> DleEvent:
        """The event with the canonical code for ``kind`` in ``source``'s direction."""
        code = _CANONICAL[source].get(kind)
        if code is None or kind is DleKind.DTMF:
            raise LocalProtocolError(f"{kind.value} has no single {source} code")
        return cls(kind, code)

    @classmethod
    def dtmf(cls, digit: str) -> DleEvent:
        if len(digit) != 1 or digit not in DTMF_DIGITS:
            raise LocalProtocolError(f"not a DTMF digit: {digit!r}")
        return cls(DleKind.DTMF, ord(digit))

    @classmethod
    def packet(cls, payload: bytes) -> DleEvent:
        return cls(DleKind.PACKET, _PACKET_START, payload)

    @classmethod
    def parse(cls, data: bytes, source: Source = "dce") -> DleEvent:
        """Parse exactly one shielded code (``<DLE><code>`` or a complete packet)."""
        decoder = DleDecoder(source)
        items, used = decoder.feed(data)
        events = [item for item in items if isinstance(item, DleEvent)]
        if len(items) != 1 or len(events) != 1 or used != len(data) or decoder.pending:
            raise RemoteProtocolError("not exactly one DLE shielded code", None)
        return events[0]

    def __bytes__(self) -> bytes:
        if self.kind is DleKind.PACKET:
            return bytes((DLE, _PACKET_START)) + escape(self.payload) + bytes((DLE, _PACKET_END))
        return bytes((DLE, self.code))


DleItem = bytes | DleEvent


def escape(samples: bytes) -> bytes:
    """Shield voice samples for the wire: every 0x10 doubled (V.253)."""
    return samples.replace(b"\x10", b"\x10\x10")


def encode_action(kind: DleKind, prefix_count: int = 1) -> bytes:
    """A DTE -> DCE action, with ``prefix_count`` DLEs in front of the code.

    V.253 uses one.  Conexant CX930xx modems are driven in the field with three
    (``<DLE><DLE><DLE>!``): a strict decoder reads the extra pair as one 0x10 sample and then the
    action, so an odd count is safe on every modem.
    """
    if prefix_count < 1 or prefix_count % 2 == 0:
        raise LocalProtocolError("the DLE prefix count must be odd (1, 3, ...)")
    code = _CANONICAL["dte"].get(kind)
    if code is None or kind is DleKind.DTMF:
        raise LocalProtocolError(f"{kind.value} is not a DTE action")
    return b"\x10" * prefix_count + bytes((code,))


class DleDecoder:
    """Split a shielded byte stream, fed in arbitrary chunks, into samples and events.

    :meth:`feed` returns the decoded items in order (``bytes`` runs of samples and
    :class:`DleEvent`) and how many input bytes it consumed: decoding stops right after a code
    that ends the stream (``<DLE><ETX>``; from a DTE also ``!``, ``^``, ``<DC4>``), because what
    follows is AT command text for someone else.  A ``<DLE>`` split across chunks is kept.
    """

    __slots__ = ("_ended", "_max_packet", "_packet", "_pending_dle", "_source", "_table")

    def __init__(self, source: Source = "dce", *, max_packet: int = 256) -> None:
        self._source: Source = source
        self._table = _table(source)
        self._max_packet = max_packet
        self._pending_dle = False
        self._packet: bytearray | None = None
        self._ended = False

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def pending(self) -> bool:
        """True while a ``<DLE>`` or a complex event packet is incomplete."""
        return self._pending_dle or self._packet is not None

    def reset(self) -> None:
        self._pending_dle = False
        self._packet = None
        self._ended = False

    def feed(self, data: bytes) -> tuple[list[DleItem], int]:
        items: list[DleItem] = []
        if self._ended:
            return items, 0
        run = bytearray()
        i = 0
        n = len(data)
        while i < n:
            if self._pending_dle:
                code = data[i]
                i += 1
                self._pending_dle = False
                if self._shielded(code, run, items):
                    break
                continue
            if self._packet is not None:
                j = data.find(b"\x10", i)
                end = n if j < 0 else j
                room = self._max_packet - len(self._packet)
                if end - i > room:
                    # A packet without its end: keep the bound, the rest is samples again.
                    self._packet += data[i : i + room]
                    i += room
                    self._close_packet(items)
                    continue
                self._packet += data[i:end]
                i = end
                if j >= 0:
                    i = j + 1
                    self._pending_dle = True
                continue
            j = data.find(b"\x10", i)
            if j < 0:
                run += data[i:]
                i = n
                break
            run += data[i:j]
            i = j + 1
            self._pending_dle = True
        if run:
            items.append(bytes(run))
        return items, i

    def _shielded(self, code: int, run: bytearray, items: list[DleItem]) -> bool:
        """Handle the byte after a DLE; True when the stream ended."""
        packet = self._packet
        if packet is not None:
            if code == DLE:
                packet.append(DLE)
            elif code == SUB:
                packet += b"\x10\x10"
            elif code == _PACKET_END:
                self._close_packet(items)
            else:
                # Any other code aborts the packet; it is then handled as a normal code.
                self._close_packet(items)
                return self._shielded(code, run, items)
            return False
        if code == DLE:
            run.append(DLE)
            return False
        if code == SUB:
            run += b"\x10\x10"
            return False
        if run:
            items.append(bytes(run))
            run.clear()
        if code == _PACKET_START and self._source == "dce":
            self._packet = bytearray()
            return False
        kind = self._table.get(code, DleKind.UNKNOWN)
        items.append(DleEvent(kind, code))
        if kind in _STREAM_END[self._source]:
            self._ended = True
            return True
        return False

    def _close_packet(self, items: list[DleItem]) -> None:
        assert self._packet is not None
        items.append(DleEvent.packet(bytes(self._packet)))
        self._packet = None
