"""Q.931 messages (s4): protocol discriminator, call reference, message type, information elements.

One :class:`Message` value serves every message type: the type is a field, the elements a tuple
in wire order (shifts included), so a parsed message re-encodes byte for byte.  Use
:meth:`Message.build` to create messages: it puts the elements in the order s4.5.1 asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, cast

from gateway.errors import LocalProtocolError
from pbx_sim.q931.constants import (
    IMPLEMENTED_MESSAGES,
    PROTOCOL_DISCRIMINATOR,
    SENDING_COMPLETE,
    SHIFT,
    ie_name,
    message_name,
)
from pbx_sim.q931.errors import Q931Error
from pbx_sim.q931.ie import (
    CODESET0_ELEMENTS,
    BearerCapability,
    CalledPartyNumber,
    CallingPartyNumber,
    CallStateIE,
    Cause,
    ChannelIdentification,
    Display,
    InformationElement,
    KeypadFacility,
    ProgressIndicator,
    RawIE,
    RestartIndicator,
    SendingComplete,
    Shift,
    codeset_of,
    identifier_of,
)
from pbx_sim.q931.validation import find_defects

T = TypeVar("T")

MIN_MESSAGE_LENGTH = 3  # discriminator, call reference length octet, message type (s5.8.2)


@dataclass(frozen=True, slots=True)
class CallReference:
    """Call reference (s4.3).

    ``flag`` is bit 8 of the first value octet: False when the message comes *from* the side
    that allocated the reference, True when it goes *to* it.  ``length`` is the number of value
    octets (1 on basic rate, 2 on primary rate; 0 is the dummy call reference).  Value 0 with a
    non-zero length is the global call reference (RESTART, s5.5).
    """

    value: int
    flag: bool = False
    length: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.length <= 15:
            raise LocalProtocolError(f"call reference length {self.length} is not 0..15")
        if self.length == 0:
            if self.value or self.flag:
                raise LocalProtocolError("the dummy call reference has no value and no flag")
            return
        if not 0 <= self.value < 1 << (8 * self.length - 1):
            raise LocalProtocolError(
                f"call reference value {self.value} does not fit in {self.length} octets"
            )

    @classmethod
    def global_ref(cls, *, flag: bool = False, length: int = 2) -> CallReference:
        return cls(0, flag, length)

    @classmethod
    def dummy(cls) -> CallReference:
        return cls(0, False, 0)

    @property
    def is_global(self) -> bool:
        return self.length > 0 and self.value == 0

    @property
    def is_dummy(self) -> bool:
        return self.length == 0

    def reply(self) -> CallReference:
        """The reference as the other side uses it (same value, flag inverted)."""
        return CallReference(self.value, not self.flag, self.length) if self.length else self

    def __bytes__(self) -> bytes:
        if not self.length:
            return b"\x00"
        wire = self.value | (1 << (8 * self.length - 1) if self.flag else 0)
        return bytes((self.length,)) + wire.to_bytes(self.length, "big")

    def __str__(self) -> str:
        if self.is_dummy:
            return "dummy"
        wire = self.value | (1 << (8 * self.length - 1) if self.flag else 0)
        text = f"0x{wire:0{2 * self.length}X}"
        return f"{text}(global)" if self.is_global else text


@dataclass(frozen=True, slots=True)
class Message:
    """A Q.931 message.  ``message_type`` is an int so that unknown types survive parsing."""

    message_type: int
    call_ref: CallReference
    ies: tuple[InformationElement, ...] = ()

    # ------------------------------------------------------------------------- construction

    @classmethod
    def build(
        cls,
        message_type: int,
        call_ref: CallReference,
        *ies: InformationElement | None,
    ) -> Message:
        """A message with its elements in s4.5.1 order.

        Single-octet codeset 0 elements (Sending complete) come first, as in the message tables
        of s3; variable-length codeset 0 elements follow in ascending identifier order (repeated
        ones keep their relative order); elements of other codesets come last, each codeset
        behind one locking shift, codesets ascending (a locking shift may only go up, s4.5.3).
        ``None`` entries are skipped, so optional elements can be passed inline.
        """
        if not 0 <= message_type < 0x80:
            raise LocalProtocolError(f"message type 0x{message_type:02X} has bit 8 set")
        single: list[InformationElement] = []
        variable: list[InformationElement] = []
        by_codeset: dict[int, list[InformationElement]] = {}
        for element in ies:
            if element is None:
                continue
            if isinstance(element, Shift):
                raise LocalProtocolError("Message.build places shift elements itself")
            codeset = codeset_of(element)
            if codeset:
                by_codeset.setdefault(codeset, []).append(element)
            elif identifier_of(element) & 0x80:
                single.append(element)
            else:
                variable.append(element)
        variable.sort(key=identifier_of)
        ordered = single + variable
        for codeset in sorted(by_codeset):
            ordered.append(Shift(codeset, locking=True))
            ordered.extend(sorted(by_codeset[codeset], key=identifier_of))
        return cls(message_type, call_ref, tuple(ordered))

    # -------------------------------------------------------------------------------- codec

    @classmethod
    def parse(cls, data: bytes, *, lenient: bool = False) -> Message:
        """Decode one message.

        Strict (the default): any defect raises :class:`Q931Error` with the cause s5.8 answers
        (95 too short / not Q.931, 81 bad call reference, 97 unknown message type, 100 bad
        element framing or contents, 96 missing mandatory or unknown comprehension-required
        element).  Lenient: only framing errors raise; unknown message types are kept, and a
        known element with bad contents is kept as a :class:`RawIE` whose ``defect`` says why,
        so the link can still act on the message as s5.8.6/5.8.7 require.
        """
        data = bytes(data)
        if len(data) < MIN_MESSAGE_LENGTH:
            raise Q931Error(f"message too short ({len(data)} octets)", cause=95)
        if data[0] != PROTOCOL_DISCRIMINATOR:
            raise Q931Error(f"protocol discriminator 0x{data[0]:02X} is not Q.931", cause=95)
        if data[1] & 0xF0:
            raise Q931Error(
                f"call reference length octet 0x{data[1]:02X} has bits 8-5 set", cause=81
            )
        length = data[1] & 0x0F
        type_index = 2 + length
        if len(data) <= type_index:
            raise Q931Error("message ends inside the call reference", cause=95)
        call_ref = _decode_call_reference(data[2:type_index])
        message_type = data[type_index]
        if message_type & 0x80:
            raise Q931Error(
                f"message type octet 0x{message_type:02X} has bit 8 set",
                cause=97,
                call_ref=call_ref,
                message_type=message_type,
            )
        if not lenient and message_type not in IMPLEMENTED_MESSAGES:
            raise Q931Error(
                f"{message_name(message_type)} is not implemented",
                cause=97,
                call_ref=call_ref,
                message_type=message_type,
            )
        ies = _decode_elements(data, type_index + 1, call_ref, message_type, lenient)
        message = cls(message_type, call_ref, ies)
        if not lenient:
            # Unknown optional elements are no error (s5.8.7.1): they stay RawIE values.
            for defect in find_defects(message, receiver=None):
                if not defect.fatal:
                    continue
                raise Q931Error(
                    defect.reason,
                    cause=defect.cause,
                    ie_identifier=defect.identifier,
                    call_ref=call_ref,
                    message_type=message_type,
                )
        return message

    def __bytes__(self) -> bytes:
        head = bytes((PROTOCOL_DISCRIMINATOR,)) + bytes(self.call_ref)
        return head + bytes((self.message_type,)) + b"".join(bytes(e) for e in self.ies)

    # ----------------------------------------------------------------------------- accessors

    @property
    def name(self) -> str:
        return message_name(self.message_type)

    def get(self, kind: type[T]) -> T | None:
        """The first element of ``kind``: repeats are ignored (s5.8.5.2)."""
        for element in self.ies:
            if isinstance(element, kind):
                return element
        return None

    def all(self, kind: type[T]) -> tuple[T, ...]:
        return tuple(element for element in self.ies if isinstance(element, kind))

    @property
    def cause(self) -> Cause | None:
        return self.get(Cause)

    @property
    def channel(self) -> ChannelIdentification | None:
        return self.get(ChannelIdentification)

    @property
    def bearer(self) -> BearerCapability | None:
        return self.get(BearerCapability)

    @property
    def called(self) -> CalledPartyNumber | None:
        return self.get(CalledPartyNumber)

    @property
    def calling(self) -> CallingPartyNumber | None:
        return self.get(CallingPartyNumber)

    @property
    def display(self) -> str | None:
        element = self.get(Display)
        return element.text if element else None

    @property
    def keypad(self) -> str | None:
        element = self.get(KeypadFacility)
        return element.text if element else None

    @property
    def progress(self) -> tuple[ProgressIndicator, ...]:
        # Q.931 allows up to two progress indicators in one message (Table 3-3 etc.).
        return self.all(ProgressIndicator)

    @property
    def call_state(self) -> CallStateIE | None:
        return self.get(CallStateIE)

    @property
    def restart_indicator(self) -> RestartIndicator | None:
        return self.get(RestartIndicator)

    @property
    def sending_complete(self) -> bool:
        return self.get(SendingComplete) is not None


def _decode_call_reference(octets: bytes) -> CallReference:
    if not octets:
        return CallReference.dummy()
    wire = int.from_bytes(octets, "big")
    top = 1 << (8 * len(octets) - 1)
    return CallReference(wire & (top - 1), bool(wire & top), len(octets))


def _decode_elements(
    data: bytes,
    start: int,
    call_ref: CallReference,
    message_type: int,
    lenient: bool,
) -> tuple[InformationElement, ...]:
    """Walk the element list, following shifts (s4.5.2-4.5.4)."""
    elements: list[InformationElement] = []
    locked = 0  # codeset selected by the last locking shift
    once: int | None = None  # codeset selected by a non-locking shift, for one element
    index, end = start, len(data)
    while index < end:
        octet = data[index]
        if octet & 0x80:
            index += 1
            if octet & 0xF0 == SHIFT:
                shift = Shift(octet & 0x07, not octet & 0x08)
                elements.append(shift)
                if shift.locking:
                    locked, once = shift.codeset, None
                else:
                    once = shift.codeset
                continue
            codeset = locked if once is None else once
            once = None
            if codeset == 0 and octet == SENDING_COMPLETE:
                elements.append(SendingComplete())
            else:
                elements.append(RawIE(octet, b"", codeset))
            continue
        codeset = locked if once is None else once
        once = None
        if index + 2 > end:
            raise Q931Error(
                f"{ie_name(octet, codeset)} has no length octet (message truncated)",
                cause=100,
                ie_identifier=octet,
                call_ref=call_ref,
                message_type=message_type,
            )
        length = data[index + 1]
        contents = data[index + 2 : index + 2 + length]
        if len(contents) != length:
            raise Q931Error(
                f"{ie_name(octet, codeset)} claims {length} octets, {len(contents)} remain",
                cause=100,
                ie_identifier=octet,
                call_ref=call_ref,
                message_type=message_type,
            )
        index += 2 + length
        kind = CODESET0_ELEMENTS.get(octet) if codeset == 0 else None
        if kind is None:
            elements.append(RawIE(octet, contents, codeset))
            continue
        try:
            elements.append(cast(InformationElement, kind.from_contents(contents)))
        except Q931Error as error:
            if not lenient:
                error.call_ref, error.message_type = call_ref, message_type
                raise
            elements.append(RawIE(octet, contents, 0, defect=error.reason))
    return tuple(elements)
