"""Q.931 information elements (s4.5) as frozen values.

Every element has ``parse(data)`` (the whole element: identifier, length, contents) and
``__bytes__``; ``from_contents``/``contents`` work on the contents alone.  Construction checks
every field (a bad field is our caller's bug: :class:`LocalProtocolError`); decoding turns the
same checks into ``Q931Error(cause=100)`` ("invalid information element contents", s5.8.6.2).
Spare bits must be zero and octet-group extension bits must be right, so a value that decodes
re-encodes to the same bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Self

from gateway.errors import LocalProtocolError
from pbx_sim.q931.constants import (
    IE,
    INBAND_PROGRESS,
    SENDING_COMPLETE,
    SHIFT,
    CodingStandard,
    Layer1Protocol,
    Location,
    NumberingPlan,
    NumberType,
    RestartClass,
    TransferCapability,
    TransferMode,
    TransferRate,
    ie_name,
)
from pbx_sim.q931.errors import Q931Error

EXT = 0x80  # bit 8 of an octet in a group: 1 = last octet of the group (s4.5.1)
INVALID_IE_CONTENTS = 100

# Digits of a party number: IA5 digits, * and #, and the DTMF letters A-D (s4.5.8, s4.5.10).
NUMBER_CHARACTERS = frozenset("0123456789*#ABCDabcd")
# Display and Keypad facility carry printable IA5 characters (s4.5.16, s4.5.18).
PRINTABLE_IA5 = frozenset(chr(c) for c in range(0x20, 0x7F))


def _check(condition: bool, reason: str) -> None:
    if not condition:
        raise LocalProtocolError(reason)


def _check_field(value: int, bits: int, what: str) -> None:
    _check(0 <= value < (1 << bits), f"{what} {value} does not fit in {bits} bits")


def _check_text(text: str, allowed: frozenset[str], what: str) -> None:
    for char in text:
        _check(char in allowed, f"{what} contains {char!r}, which is not allowed there")


def _decode_text(contents: bytes, what: str) -> str:
    if any(octet & 0x80 for octet in contents):
        raise LocalProtocolError(f"{what} is not IA5 (an octet has bit 8 set)")
    return contents.decode("ascii")


def _group(contents: bytes, start: int, what: str) -> int:
    """Index just past the octet group starting at ``start`` (ends with an ext=1 octet)."""
    for index in range(start, len(contents)):
        if contents[index] & EXT:
            return index + 1
    raise LocalProtocolError(f"{what} ends inside an octet group (no octet with the ext bit)")


class VariableIE(ABC):
    """A codeset 0 variable-length element: identifier (bit 8 = 0), length, contents."""

    __slots__ = ()
    IDENTIFIER: ClassVar[int]
    # Longest whole element (identifier and length octets included), Q.931 Table 4-3.
    MAX_LENGTH: ClassVar[int] = 257

    @classmethod
    @abstractmethod
    def _decode(cls, contents: bytes) -> Self:
        """Build the value from contents; raise LocalProtocolError on any bad field."""

    @abstractmethod
    def contents(self) -> bytes:
        """The element contents (octets 3 onwards)."""

    @classmethod
    def from_contents(cls, contents: bytes) -> Self:
        name = ie_name(cls.IDENTIFIER)
        if len(contents) + 2 > cls.MAX_LENGTH:
            raise Q931Error(
                f"{name}: {len(contents) + 2} octets exceed the maximum of {cls.MAX_LENGTH}",
                cause=INVALID_IE_CONTENTS,
                ie_identifier=cls.IDENTIFIER,
            )
        try:
            return cls._decode(contents)
        except (LocalProtocolError, IndexError, UnicodeDecodeError) as error:
            detail = "too short" if isinstance(error, IndexError) else str(error)
            raise Q931Error(
                f"{name}: {detail}", cause=INVALID_IE_CONTENTS, ie_identifier=cls.IDENTIFIER
            ) from None

    @classmethod
    def parse(cls, data: bytes) -> Self:
        """Parse one whole element (identifier, length, contents) and nothing more."""
        name = ie_name(cls.IDENTIFIER)
        if len(data) < 2 or data[0] != cls.IDENTIFIER:
            raise Q931Error(
                f"{name}: expected identifier 0x{cls.IDENTIFIER:02X} and a length octet",
                cause=INVALID_IE_CONTENTS,
                ie_identifier=cls.IDENTIFIER,
            )
        if data[1] != len(data) - 2:
            raise Q931Error(
                f"{name}: length octet says {data[1]}, {len(data) - 2} octets follow",
                cause=INVALID_IE_CONTENTS,
                ie_identifier=cls.IDENTIFIER,
            )
        return cls.from_contents(bytes(data[2:]))

    def __bytes__(self) -> bytes:
        body = self.contents()
        if len(body) > 255:
            raise LocalProtocolError(f"{ie_name(self.IDENTIFIER)} contents exceed 255 octets")
        return bytes((self.IDENTIFIER, len(body))) + body


# --------------------------------------------------------------------------------- elements


@dataclass(frozen=True, slots=True)
class BearerCapability(VariableIE):
    """Bearer capability (s4.5.5): what the call carries; speech over G.711 for a voice trunk.

    ``layer1_extension`` keeps octets 5a-5d (rate adaption details) and ``upper_layers`` octets
    6/7 (layer 2/3 protocol) verbatim; a voice call has neither.
    """

    IDENTIFIER: ClassVar[int] = IE.BEARER_CAPABILITY
    MAX_LENGTH: ClassVar[int] = 12

    transfer_capability: int = TransferCapability.SPEECH
    layer1_protocol: int | None = Layer1Protocol.G711_ALAW
    coding_standard: int = CodingStandard.ITU_T
    transfer_mode: int = TransferMode.CIRCUIT
    transfer_rate: int = TransferRate.KBIT_64
    rate_multiplier: int | None = None
    layer1_extension: bytes = b""
    upper_layers: bytes = b""

    def __post_init__(self) -> None:
        _check_field(self.transfer_capability, 5, "information transfer capability")
        _check_field(self.coding_standard, 2, "coding standard")
        _check_field(self.transfer_mode, 2, "transfer mode")
        _check_field(self.transfer_rate, 5, "information transfer rate")
        multirate = self.transfer_rate == TransferRate.MULTIRATE
        _check(
            (self.rate_multiplier is not None) == multirate,
            "a rate multiplier (octet 4.1) goes with, and only with, the multirate rate",
        )
        if self.rate_multiplier is not None:
            _check_field(self.rate_multiplier, 7, "rate multiplier")
        if self.layer1_protocol is not None:
            _check_field(self.layer1_protocol, 5, "layer 1 protocol")
        if self.layer1_extension:
            _check(self.layer1_protocol is not None, "octets 5a.. need octet 5")
            _check(
                _group(self.layer1_extension, 0, "octets 5a..") == len(self.layer1_extension),
                "octets 5a..: only the last octet may have the ext bit set",
            )
        if self.upper_layers:
            _check(
                (self.upper_layers[0] >> 5) & 0x03 in (2, 3),
                "octets after layer 1 must start with a layer 2 or layer 3 identifier",
            )

    @classmethod
    def speech(cls, layer1: int = Layer1Protocol.G711_ALAW) -> BearerCapability:
        """Speech, circuit mode, 64 kbit/s, G.711 (A-law on E1, µ-law on T1)."""
        return cls(TransferCapability.SPEECH, layer1)

    @classmethod
    def _decode(cls, contents: bytes) -> BearerCapability:
        octet3, octet4 = contents[0], contents[1]
        _check(bool(octet3 & EXT), "octet 3 must end its group (no octet 3a in Q.931)")
        _check(bool(octet4 & EXT), "octet 4 must end its group")
        rate = octet4 & 0x1F
        index = 2
        multiplier = None
        if rate == TransferRate.MULTIRATE:
            multiplier = contents[index] & 0x7F
            _check(bool(contents[index] & EXT), "octet 4.1 must end its group")
            index += 1
        layer1: int | None = None
        extension = b""
        if index < len(contents) and (contents[index] >> 5) & 0x03 == 1:
            layer1 = contents[index] & 0x1F
            end = index + 1
            if not contents[index] & EXT:
                end = _group(contents, index + 1, "octet 5 group")
                extension = bytes(contents[index + 1 : end])
            index = end
        return cls(
            transfer_capability=octet3 & 0x1F,
            layer1_protocol=layer1,
            coding_standard=(octet3 >> 5) & 0x03,
            transfer_mode=(octet4 >> 5) & 0x03,
            transfer_rate=rate,
            rate_multiplier=multiplier,
            layer1_extension=extension,
            upper_layers=bytes(contents[index:]),
        )

    def contents(self) -> bytes:
        out = bytearray(
            (
                EXT | self.coding_standard << 5 | self.transfer_capability,
                EXT | self.transfer_mode << 5 | self.transfer_rate,
            )
        )
        if self.rate_multiplier is not None:
            out.append(EXT | self.rate_multiplier)
        if self.layer1_protocol is not None:
            ext = 0 if self.layer1_extension else EXT
            out.append(ext | 0x20 | self.layer1_protocol)
            out += self.layer1_extension
        out += self.upper_layers
        return bytes(out)


@dataclass(frozen=True, slots=True)
class ChannelIdentification(VariableIE):
    """Channel identification (s4.5.13): which B-channel the call uses.

    ``selection`` is octet 3 bits 2-1: on a basic-rate interface 1/2 name B1/B2 and 3 is "any";
    on a primary-rate interface 1 means "the channel numbers follow" (``channel_numbers``),
    3 is "any channel" and 0 "no channel".  ``slot_map`` replaces the numbers when the
    number/map bit is set; ``interface_id`` holds octets 3.1 verbatim when present.
    """

    IDENTIFIER: ClassVar[int] = IE.CHANNEL_IDENTIFICATION

    channel_numbers: tuple[int, ...] = ()
    exclusive: bool = False
    primary_rate: bool = True
    selection: int = 1
    d_channel: bool = False
    interface_id: bytes | None = None
    coding_standard: int = CodingStandard.ITU_T
    element_type: int = 3  # B-channel units
    slot_map: bytes = b""

    def __post_init__(self) -> None:
        _check_field(self.selection, 2, "information channel selection")
        _check_field(self.coding_standard, 2, "coding standard")
        _check_field(self.element_type, 4, "channel type")
        for number in self.channel_numbers:
            _check_field(number, 7, "channel number")
        if self.interface_id is not None:
            _check(
                _group(self.interface_id, 0, "interface identifier") == len(self.interface_id),
                "interface identifier: only its last octet may have the ext bit set",
            )
        follows = self.primary_rate and self.selection == 1
        _check(
            not (self.channel_numbers and self.slot_map),
            "give channel numbers or a slot map, not both",
        )
        _check(
            follows == bool(self.channel_numbers or self.slot_map),
            "channel numbers/slot map go with, and only with, a primary-rate interface "
            "whose selection is 'indicated in the following octets' (1)",
        )

    @classmethod
    def pri(cls, channel: int, *, exclusive: bool = False) -> ChannelIdentification:
        """A primary-rate B-channel by number (E1: 1-31 without 16; T1: 1-24)."""
        return cls(channel_numbers=(channel,), exclusive=exclusive)

    @classmethod
    def bri(cls, b_channel: int, *, exclusive: bool = False) -> ChannelIdentification:
        """A basic-rate B-channel (1 or 2)."""
        _check(b_channel in (1, 2), "a basic-rate interface has B-channels 1 and 2")
        return cls(primary_rate=False, selection=b_channel, exclusive=exclusive)

    @classmethod
    def any_channel(cls, *, primary_rate: bool = True) -> ChannelIdentification:
        return cls(primary_rate=primary_rate, selection=3)

    @property
    def channel(self) -> int | None:
        """The (first) B-channel number named, or None for 'any'/'no channel'/a slot map."""
        if self.primary_rate:
            return self.channel_numbers[0] if self.channel_numbers else None
        return self.selection if self.selection in (1, 2) else None

    @classmethod
    def _decode(cls, contents: bytes) -> ChannelIdentification:
        octet3 = contents[0]
        _check(bool(octet3 & EXT), "octet 3 must end its group")
        _check(not octet3 & 0x10, "octet 3 spare bit 5 is set")
        index = 1
        interface_id = None
        if octet3 & 0x40:
            end = _group(contents, index, "interface identifier")
            interface_id = bytes(contents[index:end])
            index = end
        primary = bool(octet3 & 0x20)
        selection = octet3 & 0x03
        coding: int = CodingStandard.ITU_T
        element_type = 3
        numbers: tuple[int, ...] = ()
        slot_map = b""
        if primary and selection == 1:
            octet32 = contents[index]
            _check(bool(octet32 & EXT), "octet 3.2 must end its group")
            coding, element_type = (octet32 >> 5) & 0x03, octet32 & 0x0F
            index += 1
            if octet32 & 0x10:
                slot_map = bytes(contents[index:])
                _check(bool(slot_map), "the slot map is missing")
                index = len(contents)
            else:
                end = _group(contents, index, "channel numbers")
                numbers = tuple(octet & 0x7F for octet in contents[index:end])
                index = end
        _check(index == len(contents), f"{len(contents) - index} unexpected trailing octets")
        return cls(
            channel_numbers=numbers,
            exclusive=bool(octet3 & 0x08),
            primary_rate=primary,
            selection=selection,
            d_channel=bool(octet3 & 0x04),
            interface_id=interface_id,
            coding_standard=coding,
            element_type=element_type,
            slot_map=slot_map,
        )

    def contents(self) -> bytes:
        octet3 = (
            EXT
            | (0x40 if self.interface_id is not None else 0)
            | (0x20 if self.primary_rate else 0)
            | (0x08 if self.exclusive else 0)
            | (0x04 if self.d_channel else 0)
            | self.selection
        )
        out = bytearray((octet3,))
        if self.interface_id is not None:
            out += self.interface_id
        if self.primary_rate and self.selection == 1:
            is_map = 0x10 if self.slot_map else 0
            out.append(EXT | self.coding_standard << 5 | is_map | self.element_type)
            if self.slot_map:
                out += self.slot_map
            else:
                out += bytes(number for number in self.channel_numbers[:-1])
                out.append(EXT | self.channel_numbers[-1])
        return bytes(out)


@dataclass(frozen=True, slots=True)
class Cause(VariableIE):
    """Cause (s4.5.12, Q.850): why a call is cleared or an error reported."""

    IDENTIFIER: ClassVar[int] = IE.CAUSE
    MAX_LENGTH: ClassVar[int] = 32

    value: int
    location: int = Location.USER
    coding_standard: int = CodingStandard.ITU_T
    recommendation: int | None = None
    diagnostics: bytes = b""

    def __post_init__(self) -> None:
        _check_field(self.value, 7, "cause value")
        _check_field(self.location, 4, "location")
        _check_field(self.coding_standard, 2, "coding standard")
        if self.recommendation is not None:
            _check_field(self.recommendation, 7, "recommendation")

    @classmethod
    def _decode(cls, contents: bytes) -> Cause:
        octet3 = contents[0]
        _check(not octet3 & 0x10, "octet 3 spare bit 5 is set")
        index = 1
        recommendation = None
        if not octet3 & EXT:
            recommendation = contents[1] & 0x7F
            _check(bool(contents[1] & EXT), "octet 3a must end its group")
            index = 2
        octet4 = contents[index]
        _check(bool(octet4 & EXT), "octet 4 (the cause value) must end its group")
        return cls(
            value=octet4 & 0x7F,
            location=octet3 & 0x0F,
            coding_standard=(octet3 >> 5) & 0x03,
            recommendation=recommendation,
            diagnostics=bytes(contents[index + 1 :]),
        )

    def contents(self) -> bytes:
        octet3 = self.coding_standard << 5 | self.location
        if self.recommendation is None:
            head = bytes((EXT | octet3,))
        else:
            head = bytes((octet3, EXT | self.recommendation))
        return head + bytes((EXT | self.value,)) + self.diagnostics


@dataclass(frozen=True, slots=True)
class ProgressIndicator(VariableIE):
    """Progress indicator (s4.5.23): interworking and in-band information events."""

    IDENTIFIER: ClassVar[int] = IE.PROGRESS_INDICATOR
    MAX_LENGTH: ClassVar[int] = 4

    description: int
    location: int = Location.USER
    coding_standard: int = CodingStandard.ITU_T

    def __post_init__(self) -> None:
        _check_field(self.description, 7, "progress description")
        _check_field(self.location, 4, "location")
        _check_field(self.coding_standard, 2, "coding standard")

    @property
    def inband(self) -> bool:
        """True when in-band tones/announcements are on the B-channel (descriptions 1 and 8)."""
        return self.description in INBAND_PROGRESS

    @classmethod
    def _decode(cls, contents: bytes) -> ProgressIndicator:
        _check(len(contents) == 2, "must be exactly 2 octets")
        octet3, octet4 = contents[0], contents[1]
        _check(bool(octet3 & EXT) and bool(octet4 & EXT), "octets 3 and 4 must end their groups")
        _check(not octet3 & 0x10, "octet 3 spare bit 5 is set")
        return cls(octet4 & 0x7F, octet3 & 0x0F, (octet3 >> 5) & 0x03)

    def contents(self) -> bytes:
        return bytes((EXT | self.coding_standard << 5 | self.location, EXT | self.description))


@dataclass(frozen=True, slots=True)
class CalledPartyNumber(VariableIE):
    """Called party number (s4.5.8): the digits dialled (all of them, or some when overlap)."""

    IDENTIFIER: ClassVar[int] = IE.CALLED_PARTY_NUMBER

    digits: str
    number_type: int = NumberType.UNKNOWN
    numbering_plan: int = NumberingPlan.E164

    def __post_init__(self) -> None:
        _check_field(self.number_type, 3, "type of number")
        _check_field(self.numbering_plan, 4, "numbering plan")
        _check_text(self.digits, NUMBER_CHARACTERS, "called party number")

    @classmethod
    def _decode(cls, contents: bytes) -> CalledPartyNumber:
        octet3 = contents[0]
        _check(bool(octet3 & EXT), "octet 3 must end its group")
        digits = _decode_text(bytes(contents[1:]), "number digits")
        return cls(digits, (octet3 >> 4) & 0x07, octet3 & 0x0F)

    def contents(self) -> bytes:
        return bytes((EXT | self.number_type << 4 | self.numbering_plan,)) + self.digits.encode()


@dataclass(frozen=True, slots=True)
class CallingPartyNumber(VariableIE):
    """Calling party number (s4.5.10) with presentation/screening (octet 3a) when present."""

    IDENTIFIER: ClassVar[int] = IE.CALLING_PARTY_NUMBER

    digits: str
    number_type: int = NumberType.UNKNOWN
    numbering_plan: int = NumberingPlan.E164
    presentation: int | None = None
    screening: int | None = None

    def __post_init__(self) -> None:
        _check_field(self.number_type, 3, "type of number")
        _check_field(self.numbering_plan, 4, "numbering plan")
        _check_text(self.digits, NUMBER_CHARACTERS, "calling party number")
        _check(
            (self.presentation is None) == (self.screening is None),
            "presentation and screening indicators come together (octet 3a)",
        )
        if self.presentation is not None and self.screening is not None:
            _check_field(self.presentation, 2, "presentation indicator")
            _check_field(self.screening, 2, "screening indicator")

    @property
    def presentation_allowed(self) -> bool:
        return self.presentation in (None, 0)

    @classmethod
    def _decode(cls, contents: bytes) -> CallingPartyNumber:
        octet3 = contents[0]
        index = 1
        presentation = screening = None
        if not octet3 & EXT:
            octet3a = contents[1]
            _check(bool(octet3a & EXT), "octet 3a must end its group")
            _check(not octet3a & 0x1C, "octet 3a spare bits 5-3 are set")
            presentation, screening = (octet3a >> 5) & 0x03, octet3a & 0x03
            index = 2
        digits = _decode_text(bytes(contents[index:]), "number digits")
        return cls(digits, (octet3 >> 4) & 0x07, octet3 & 0x0F, presentation, screening)

    def contents(self) -> bytes:
        octet3 = self.number_type << 4 | self.numbering_plan
        if self.presentation is None or self.screening is None:
            head = bytes((EXT | octet3,))
        else:
            head = bytes((octet3, EXT | self.presentation << 5 | self.screening))
        return head + self.digits.encode()


@dataclass(frozen=True, slots=True)
class Display(VariableIE):
    """Display (s4.5.16): IA5 text for the user's display (calling name, announcements)."""

    IDENTIFIER: ClassVar[int] = IE.DISPLAY
    MAX_LENGTH: ClassVar[int] = 82

    text: str

    def __post_init__(self) -> None:
        _check_text(self.text, PRINTABLE_IA5, "display")
        _check(len(self.text) + 2 <= self.MAX_LENGTH, "display text exceeds 80 characters")

    @classmethod
    def _decode(cls, contents: bytes) -> Display:
        return cls(_decode_text(contents, "display"))

    def contents(self) -> bytes:
        return self.text.encode()


@dataclass(frozen=True, slots=True)
class KeypadFacility(VariableIE):
    """Keypad facility (s4.5.18): IA5 characters keyed by the user (digits, * and #)."""

    IDENTIFIER: ClassVar[int] = IE.KEYPAD_FACILITY
    MAX_LENGTH: ClassVar[int] = 34

    text: str

    def __post_init__(self) -> None:
        _check(bool(self.text), "keypad facility needs at least one character")
        _check_text(self.text, PRINTABLE_IA5, "keypad facility")
        _check(len(self.text) + 2 <= self.MAX_LENGTH, "keypad facility exceeds 32 characters")

    @classmethod
    def _decode(cls, contents: bytes) -> KeypadFacility:
        return cls(_decode_text(contents, "keypad facility"))

    def contents(self) -> bytes:
        return self.text.encode()


@dataclass(frozen=True, slots=True)
class Signal(VariableIE):
    """Signal (s4.5.28): which tone or alerting pattern the network wants the user to apply."""

    IDENTIFIER: ClassVar[int] = IE.SIGNAL
    MAX_LENGTH: ClassVar[int] = 3

    value: int

    def __post_init__(self) -> None:
        _check_field(self.value, 8, "signal value")

    @classmethod
    def _decode(cls, contents: bytes) -> Signal:
        _check(len(contents) == 1, "must be exactly 1 octet")
        return cls(contents[0])

    def contents(self) -> bytes:
        return bytes((self.value,))


@dataclass(frozen=True, slots=True)
class CallStateIE(VariableIE):
    """Call state (s4.5.7): the sender's state, carried by STATUS."""

    IDENTIFIER: ClassVar[int] = IE.CALL_STATE
    MAX_LENGTH: ClassVar[int] = 3

    state: int
    coding_standard: int = CodingStandard.ITU_T

    def __post_init__(self) -> None:
        _check_field(self.state, 6, "call state value")
        _check_field(self.coding_standard, 2, "coding standard")

    @classmethod
    def _decode(cls, contents: bytes) -> CallStateIE:
        _check(len(contents) == 1, "must be exactly 1 octet")
        return cls(contents[0] & 0x3F, contents[0] >> 6)

    def contents(self) -> bytes:
        return bytes((self.coding_standard << 6 | self.state,))


@dataclass(frozen=True, slots=True)
class NotificationIndicator(VariableIE):
    """Notification indicator (s4.5.22): user suspended/resumed, bearer change, ..."""

    IDENTIFIER: ClassVar[int] = IE.NOTIFICATION_INDICATOR

    description: int
    information: bytes = b""  # extended descriptions (Q.932) kept verbatim

    def __post_init__(self) -> None:
        _check_field(self.description, 7, "notification description")

    @classmethod
    def _decode(cls, contents: bytes) -> NotificationIndicator:
        _check(bool(contents[0] & EXT), "octet 3 must end its group")
        return cls(contents[0] & 0x7F, bytes(contents[1:]))

    def contents(self) -> bytes:
        return bytes((EXT | self.description,)) + self.information


@dataclass(frozen=True, slots=True)
class RestartIndicator(VariableIE):
    """Restart indicator (s4.5.25): what a RESTART covers (channels, interface, all)."""

    IDENTIFIER: ClassVar[int] = IE.RESTART_INDICATOR
    MAX_LENGTH: ClassVar[int] = 3

    restart_class: int = RestartClass.ALL_INTERFACES

    def __post_init__(self) -> None:
        _check(
            self.restart_class in tuple(RestartClass),
            f"restart class {self.restart_class} is reserved",
        )

    @classmethod
    def _decode(cls, contents: bytes) -> RestartIndicator:
        _check(len(contents) == 1, "must be exactly 1 octet")
        _check(bool(contents[0] & EXT), "octet 3 must end its group")
        _check(not contents[0] & 0x78, "octet 3 spare bits 7-4 are set")
        return cls(contents[0] & 0x07)

    def contents(self) -> bytes:
        return bytes((EXT | self.restart_class,))


# ----------------------------------------------------------------------- single-octet and raw


@dataclass(frozen=True, slots=True)
class SendingComplete:
    """Sending complete (s4.5.27, single octet 0xA1): the called number is complete."""

    IDENTIFIER: ClassVar[int] = SENDING_COMPLETE

    @classmethod
    def parse(cls, data: bytes) -> SendingComplete:
        if bytes(data) != bytes((SENDING_COMPLETE,)):
            raise Q931Error("Sending complete is the single octet 0xA1", cause=100,
                            ie_identifier=SENDING_COMPLETE)
        return cls()

    def __bytes__(self) -> bytes:
        return bytes((SENDING_COMPLETE,))


@dataclass(frozen=True, slots=True)
class Shift:
    """Shift (s4.5.3 locking / s4.5.4 non-locking): following IEs belong to another codeset."""

    codeset: int
    locking: bool = True

    def __post_init__(self) -> None:
        _check_field(self.codeset, 3, "codeset")

    @classmethod
    def parse(cls, data: bytes) -> Shift:
        if len(data) != 1 or data[0] & 0xF0 != SHIFT:
            raise Q931Error("Shift is a single octet 1001 N ccc", cause=100, ie_identifier=SHIFT)
        return cls(data[0] & 0x07, not data[0] & 0x08)

    def __bytes__(self) -> bytes:
        return bytes((SHIFT | (0 if self.locking else 0x08) | self.codeset,))


@dataclass(frozen=True, slots=True)
class RawIE:
    """An element kept as bytes: unknown to us, from another codeset, or undecodable.

    ``identifier`` is the whole identifier octet; with bit 8 set the element is a single octet
    and has no contents.  ``defect`` says why a known element could not be decoded (its
    contents were invalid, Q.931 s5.8.6.2/5.8.7.2); it is None for merely unknown elements.
    """

    identifier: int
    contents: bytes = b""
    codeset: int = 0
    defect: str | None = None

    def __post_init__(self) -> None:
        _check_field(self.identifier, 8, "identifier")
        _check_field(self.codeset, 3, "codeset")
        if self.single_octet:
            _check(not self.contents, "a single-octet element has no contents")
            _check(self.identifier & 0xF0 != SHIFT, "use Shift for shift elements")
        _check(len(self.contents) <= 255, "contents exceed 255 octets")

    @property
    def single_octet(self) -> bool:
        return bool(self.identifier & 0x80)

    def __bytes__(self) -> bytes:
        if self.single_octet:
            return bytes((self.identifier,))
        return bytes((self.identifier, len(self.contents))) + self.contents


InformationElement = (
    BearerCapability
    | ChannelIdentification
    | Cause
    | ProgressIndicator
    | CalledPartyNumber
    | CallingPartyNumber
    | Display
    | KeypadFacility
    | Signal
    | CallStateIE
    | NotificationIndicator
    | RestartIndicator
    | SendingComplete
    | Shift
    | RawIE
)

CODESET0_ELEMENTS: dict[int, type[VariableIE]] = {
    cls.IDENTIFIER: cls
    for cls in (
        BearerCapability,
        ChannelIdentification,
        Cause,
        ProgressIndicator,
        CalledPartyNumber,
        CallingPartyNumber,
        Display,
        KeypadFacility,
        Signal,
        CallStateIE,
        NotificationIndicator,
        RestartIndicator,
    )
}


def identifier_of(element: InformationElement) -> int:
    """The identifier octet of any element (the whole octet for single-octet ones)."""
    if isinstance(element, RawIE):
        return element.identifier
    if isinstance(element, Shift):
        return bytes(element)[0]
    return element.IDENTIFIER


def codeset_of(element: InformationElement) -> int:
    return element.codeset if isinstance(element, RawIE) else 0
