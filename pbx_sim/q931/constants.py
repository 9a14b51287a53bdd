"""Q.931 codepoints: message types, information element identifiers, Q.850 causes, call states.

Values are ITU-T Q.931 (05/98) section 4 and Q.850 codepoints (cross-checked against the Wireshark
value tables in ``shared/corpora/q931-codepoints``).  Fields inside values stay plain ``int`` so
that any codepoint a peer sends survives a round trip; these enums name the ones we know.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

Role = Literal["user", "network"]

PROTOCOL_DISCRIMINATOR = 0x08  # Q.931 s4.2: "Q.931/I.451 user-network call control messages"


class MessageType(IntEnum):
    """Q.931 Table 4-2 (the messages this codec implements; others parse as plain ints)."""

    ALERTING = 0x01
    CALL_PROCEEDING = 0x02
    PROGRESS = 0x03
    SETUP = 0x05
    CONNECT = 0x07
    SETUP_ACKNOWLEDGE = 0x0D
    CONNECT_ACKNOWLEDGE = 0x0F
    DISCONNECT = 0x45
    RESTART = 0x46
    RELEASE = 0x4D
    RESTART_ACKNOWLEDGE = 0x4E
    RELEASE_COMPLETE = 0x5A
    NOTIFY = 0x6E
    STATUS_ENQUIRY = 0x75
    INFORMATION = 0x7B
    STATUS = 0x7D


IMPLEMENTED_MESSAGES = frozenset(int(m) for m in MessageType)

# Message types Q.931 defines that this stack does not implement: they get cause 97 (s5.8.4).
_OTHER_MESSAGE_NAMES = {
    0x00: "ESCAPE",
    0x20: "USER INFORMATION",
    0x21: "SUSPEND REJECT",
    0x22: "RESUME REJECT",
    0x24: "HOLD",
    0x25: "SUSPEND",
    0x26: "RESUME",
    0x28: "HOLD ACKNOWLEDGE",
    0x2D: "SUSPEND ACKNOWLEDGE",
    0x2E: "RESUME ACKNOWLEDGE",
    0x30: "HOLD REJECT",
    0x31: "RETRIEVE",
    0x33: "RETRIEVE ACKNOWLEDGE",
    0x37: "RETRIEVE REJECT",
    0x60: "SEGMENT",
    0x62: "FACILITY",
    0x64: "REGISTER",
    0x79: "CONGESTION CONTROL",
}


def message_name(message_type: int) -> str:
    """The Q.931 name of a message type ("SETUP", "CONNECT ACKNOWLEDGE", "MESSAGE 0x13")."""
    if message_type in IMPLEMENTED_MESSAGES:
        return MessageType(message_type).name.replace("_", " ")
    return _OTHER_MESSAGE_NAMES.get(message_type, f"MESSAGE 0x{message_type:02X}")


class IE(IntEnum):
    """Codeset 0 variable-length information element identifiers (Q.931 Table 4-3)."""

    SEGMENTED_MESSAGE = 0x00
    CHANGE_STATUS = 0x01
    BEARER_CAPABILITY = 0x04
    CAUSE = 0x08
    CALL_IDENTITY = 0x10
    CALL_STATE = 0x14
    CHANNEL_IDENTIFICATION = 0x18
    FACILITY = 0x1C
    PROGRESS_INDICATOR = 0x1E
    NETWORK_SPECIFIC_FACILITIES = 0x20
    NOTIFICATION_INDICATOR = 0x27
    DISPLAY = 0x28
    DATE_TIME = 0x29
    KEYPAD_FACILITY = 0x2C
    SIGNAL = 0x34
    CONNECTED_NUMBER = 0x4C
    CALLING_PARTY_NUMBER = 0x6C
    CALLING_PARTY_SUBADDRESS = 0x6D
    CALLED_PARTY_NUMBER = 0x70
    CALLED_PARTY_SUBADDRESS = 0x71
    REDIRECTING_NUMBER = 0x74
    TRANSIT_NETWORK_SELECTION = 0x78
    RESTART_INDICATOR = 0x79
    LOW_LAYER_COMPATIBILITY = 0x7C
    HIGH_LAYER_COMPATIBILITY = 0x7D
    USER_USER = 0x7E


SHIFT = 0x90  # single-octet type 1: 1001 N ccc (N = non-locking, ccc = codeset), s4.5.3/4.5.4
SENDING_COMPLETE = 0xA1  # single-octet type 2, s4.5.27


def ie_name(identifier: int, codeset: int = 0) -> str:
    """A readable name for an information element identifier."""
    if codeset != 0:
        return f"codeset {codeset} IE 0x{identifier:02X}"
    if identifier & 0x80:
        if identifier & 0xF0 == SHIFT:
            return "Shift"
        if identifier == SENDING_COMPLETE:
            return "Sending complete"
        if identifier == 0xA0:
            return "More data"
        if identifier & 0xF0 == 0xB0:
            return "Congestion level"
        if identifier & 0xF0 == 0xD0:
            return "Repeat indicator"
        return f"single-octet IE 0x{identifier:02X}"
    try:
        return IE(identifier).name.replace("_", " ").capitalize()
    except ValueError:
        return f"IE 0x{identifier:02X}"


def comprehension_required(identifier: int, codeset: int) -> bool:
    """Q.931 Table 4-3 note: codeset 0 identifiers 0000 xxxx must be understood (s5.8.7.1)."""
    return codeset == 0 and identifier < 0x10


class CauseValue(IntEnum):
    """Q.850 cause values (the ones RFC 3398 maps, plus the Q.931 protocol-error class)."""

    UNALLOCATED_NUMBER = 1
    NO_ROUTE_TO_TRANSIT_NETWORK = 2
    NO_ROUTE_TO_DESTINATION = 3
    SEND_SPECIAL_INFORMATION_TONE = 4
    MISDIALLED_TRUNK_PREFIX = 5
    CHANNEL_UNACCEPTABLE = 6
    CALL_AWARDED_IN_ESTABLISHED_CHANNEL = 7
    PREEMPTION = 8
    NORMAL_CALL_CLEARING = 16
    USER_BUSY = 17
    NO_USER_RESPONDING = 18
    NO_ANSWER = 19
    SUBSCRIBER_ABSENT = 20
    CALL_REJECTED = 21
    NUMBER_CHANGED = 22
    NON_SELECTED_USER_CLEARING = 26
    DESTINATION_OUT_OF_ORDER = 27
    INVALID_NUMBER_FORMAT = 28
    FACILITY_REJECTED = 29
    RESPONSE_TO_STATUS_ENQUIRY = 30
    NORMAL_UNSPECIFIED = 31
    NO_CIRCUIT_AVAILABLE = 34
    NETWORK_OUT_OF_ORDER = 38
    TEMPORARY_FAILURE = 41
    SWITCHING_EQUIPMENT_CONGESTION = 42
    ACCESS_INFORMATION_DISCARDED = 43
    REQUESTED_CHANNEL_NOT_AVAILABLE = 44
    RESOURCE_UNAVAILABLE = 47
    QUALITY_OF_SERVICE_UNAVAILABLE = 49
    FACILITY_NOT_SUBSCRIBED = 50
    OUTGOING_CALLS_BARRED_IN_CUG = 53
    INCOMING_CALLS_BARRED_IN_CUG = 55
    BEARER_CAPABILITY_NOT_AUTHORIZED = 57
    BEARER_CAPABILITY_NOT_AVAILABLE = 58
    SERVICE_NOT_AVAILABLE = 63
    BEARER_CAPABILITY_NOT_IMPLEMENTED = 65
    CHANNEL_TYPE_NOT_IMPLEMENTED = 66
    FACILITY_NOT_IMPLEMENTED = 69
    ONLY_RESTRICTED_DIGITAL_AVAILABLE = 70
    SERVICE_NOT_IMPLEMENTED = 79
    INVALID_CALL_REFERENCE = 81
    CHANNEL_DOES_NOT_EXIST = 82
    USER_NOT_MEMBER_OF_CUG = 87
    INCOMPATIBLE_DESTINATION = 88
    INVALID_TRANSIT_NETWORK = 91
    INVALID_MESSAGE = 95
    MANDATORY_IE_MISSING = 96
    MESSAGE_TYPE_NOT_IMPLEMENTED = 97
    MESSAGE_NOT_COMPATIBLE_OR_NOT_IMPLEMENTED = 98
    IE_NOT_IMPLEMENTED = 99
    INVALID_IE_CONTENTS = 100
    MESSAGE_NOT_COMPATIBLE_WITH_STATE = 101
    RECOVERY_ON_TIMER_EXPIRY = 102
    PARAMETER_NOT_IMPLEMENTED = 103
    PROTOCOL_ERROR = 111
    INTERWORKING = 127


_CAUSE_TEXT = {
    1: "unallocated number",
    2: "no route to transit network",
    3: "no route to destination",
    4: "send special information tone",
    5: "misdialled trunk prefix",
    6: "channel unacceptable",
    7: "call awarded in established channel",
    8: "preemption",
    16: "normal call clearing",
    17: "user busy",
    18: "no user responding",
    19: "no answer from user",
    20: "subscriber absent",
    21: "call rejected",
    22: "number changed",
    26: "non-selected user clearing",
    27: "destination out of order",
    28: "invalid number format",
    29: "facility rejected",
    30: "response to STATUS ENQUIRY",
    31: "normal, unspecified",
    34: "no circuit/channel available",
    38: "network out of order",
    41: "temporary failure",
    42: "switching equipment congestion",
    43: "access information discarded",
    44: "requested circuit/channel not available",
    47: "resource unavailable",
    49: "quality of service not available",
    50: "requested facility not subscribed",
    53: "outgoing calls barred within CUG",
    55: "incoming calls barred within CUG",
    57: "bearer capability not authorized",
    58: "bearer capability not presently available",
    63: "service or option not available",
    65: "bearer capability not implemented",
    66: "channel type not implemented",
    69: "requested facility not implemented",
    70: "only restricted digital information bearer capability is available",
    79: "service or option not implemented",
    81: "invalid call reference value",
    82: "identified channel does not exist",
    87: "user not member of CUG",
    88: "incompatible destination",
    91: "invalid transit network selection",
    95: "invalid message",
    96: "mandatory information element is missing",
    97: "message type non-existent or not implemented",
    98: "message not compatible with call state or message type non-existent",
    99: "information element non-existent or not implemented",
    100: "invalid information element contents",
    101: "message not compatible with call state",
    102: "recovery on timer expiry",
    103: "parameter non-existent or not implemented",
    111: "protocol error, unspecified",
    127: "interworking, unspecified",
}


def cause_text(value: int) -> str:
    """Q.850 wording for a cause value; unallocated ones fall back to their class (Q.850 s2.2.5)."""
    text = _CAUSE_TEXT.get(value)
    if text is not None:
        return text
    classes = {0: "normal event", 1: "normal event", 2: "resource unavailable",
               3: "service or option not available", 4: "service or option not implemented",
               5: "invalid message", 6: "protocol error", 7: "interworking"}
    return f"{classes[(value >> 4) & 0x07]}, unspecified"


class Location(IntEnum):
    """Cause / progress location (Q.850 Table 1, Q.931 s4.5.23)."""

    USER = 0
    PRIVATE_NETWORK_LOCAL = 1
    PUBLIC_NETWORK_LOCAL = 2
    TRANSIT_NETWORK = 3
    PUBLIC_NETWORK_REMOTE = 4
    PRIVATE_NETWORK_REMOTE = 5
    INTERNATIONAL_NETWORK = 7
    BEYOND_INTERWORKING_POINT = 10


class CodingStandard(IntEnum):
    ITU_T = 0
    ISO_IEC = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3


class TransferCapability(IntEnum):
    """Bearer capability octet 3 (Q.931 s4.5.5)."""

    SPEECH = 0x00
    UNRESTRICTED_DIGITAL = 0x08
    RESTRICTED_DIGITAL = 0x09
    AUDIO_3_1_KHZ = 0x10
    UNRESTRICTED_DIGITAL_WITH_TONES = 0x11
    VIDEO = 0x18


class TransferMode(IntEnum):
    CIRCUIT = 0
    PACKET = 2


class TransferRate(IntEnum):
    PACKET_MODE = 0x00
    KBIT_64 = 0x10
    KBIT_2X64 = 0x11
    KBIT_384 = 0x13
    KBIT_1536 = 0x15
    KBIT_1920 = 0x17
    MULTIRATE = 0x18


class Layer1Protocol(IntEnum):
    """User information layer 1 protocol (Bearer capability octet 5)."""

    V110 = 0x01
    G711_ULAW = 0x02
    G711_ALAW = 0x03
    G721 = 0x04
    H221 = 0x05
    H223 = 0x06
    NON_ITU_RATE_ADAPTION = 0x07
    V120 = 0x08
    X31_HDLC = 0x09


class NumberType(IntEnum):
    UNKNOWN = 0
    INTERNATIONAL = 1
    NATIONAL = 2
    NETWORK_SPECIFIC = 3
    SUBSCRIBER = 4
    ABBREVIATED = 6


class NumberingPlan(IntEnum):
    UNKNOWN = 0
    E164 = 1
    X121 = 3
    F69 = 4
    NATIONAL = 8
    PRIVATE = 9


class Presentation(IntEnum):
    ALLOWED = 0
    RESTRICTED = 1
    NOT_AVAILABLE = 2


class Screening(IntEnum):
    USER_NOT_SCREENED = 0
    USER_VERIFIED_PASSED = 1
    USER_VERIFIED_FAILED = 2
    NETWORK_PROVIDED = 3


class ProgressDescription(IntEnum):
    """Progress indicator octet 4 (Q.931 s4.5.23)."""

    NOT_END_TO_END_ISDN = 1
    DESTINATION_NOT_ISDN = 2
    ORIGINATION_NOT_ISDN = 3
    RETURNED_TO_ISDN = 4
    INTERWORKING_SERVICE_CHANGE = 5
    INBAND_AVAILABLE = 8


# Progress descriptions that tell the receiver to connect the B-channel for in-band tones (s5.1.8).
INBAND_PROGRESS = frozenset({ProgressDescription.NOT_END_TO_END_ISDN,
                             ProgressDescription.INBAND_AVAILABLE})


class SignalValue(IntEnum):
    DIAL_TONE = 0x00
    RING_BACK_TONE = 0x01
    INTERCEPT_TONE = 0x02
    CONGESTION_TONE = 0x03
    BUSY_TONE = 0x04
    CONFIRM_TONE = 0x05
    ANSWER_TONE = 0x06
    CALL_WAITING_TONE = 0x07
    OFF_HOOK_WARNING_TONE = 0x08
    PREEMPTION_TONE = 0x09
    TONES_OFF = 0x3F
    ALERTING_ON_PATTERN_0 = 0x40
    ALERTING_OFF = 0x4F


class RestartClass(IntEnum):
    """Restart indicator octet 3 class (Q.931 s4.5.25)."""

    INDICATED_CHANNELS = 0
    SINGLE_INTERFACE = 6
    ALL_INTERFACES = 7


class CallState(IntEnum):
    """Call state values shared by both sides (Q.931 s2.1, Call state IE s4.5.7).

    The number means a different thing on each side (U1 "call initiated" = the user sent SETUP;
    N1 "call initiated" = the network received it), so the names here are neutral and
    :func:`state_label` renders the side-specific ``U``/``N`` form.
    """

    NULL = 0
    CALL_INITIATED = 1
    OVERLAP_SENDING = 2
    OUTGOING_CALL_PROCEEDING = 3
    CALL_DELIVERED = 4
    CALL_PRESENT = 6
    CALL_RECEIVED = 7
    CONNECT_REQUEST = 8
    INCOMING_CALL_PROCEEDING = 9
    ACTIVE = 10
    DISCONNECT_REQUEST = 11
    DISCONNECT_INDICATION = 12
    RELEASE_REQUEST = 19
    OVERLAP_RECEIVING = 25


class GlobalState(IntEnum):
    """States of the global call reference (Q.931 s2.4, used in STATUS on the global CR)."""

    REST0_NULL = 0
    REST1_RESTART_REQUEST = 61
    REST2_RESTART = 62


def state_label(role: Role, state: int) -> str:
    """``U10 Active`` / ``N7 Call received`` (the side-specific state name)."""
    prefix = "U" if role == "user" else "N"
    try:
        name = CallState(state).name.replace("_", " ").capitalize()
    except ValueError:
        name = "unknown"
    return f"{prefix}{state} {name}"
