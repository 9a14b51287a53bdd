"""Cause/status tables as data: Q.850 cause names, RFC 3398, RFC 4497 and Cisco IOS defaults.

The tables ship with the package (nothing is read at run time).  Each mapping holds only the rows
its source lists; what a source leaves unlisted falls to that profile's default in
:mod:`gateway.calls.causes`.  The tests compare every row with the RFC tables in
``corpora/rfc3398-isup-sip-mapping``.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

# ITU-T Q.850 (05/1998 with amendments) Table 1: cause values and their standard names.
Q850_CAUSE_NAMES: Final = MappingProxyType(
    {
        1: "Unallocated (unassigned) number",
        2: "No route to specified transit network",
        3: "No route to destination",
        4: "Send special information tone",
        5: "Misdialled trunk prefix",
        6: "Channel unacceptable",
        7: "Call awarded and being delivered in an established channel",
        8: "Preemption",
        9: "Preemption - circuit reserved for reuse",
        14: "QoR: ported number",
        16: "Normal call clearing",
        17: "User busy",
        18: "No user responding",
        19: "No answer from user (user alerted)",
        20: "Subscriber absent",
        21: "Call rejected",
        22: "Number changed",
        23: "Redirection to new destination",
        24: "Call rejected due to feature at the destination",
        25: "Exchange routing error",
        26: "Non-selected user clearing",
        27: "Destination out of order",
        28: "Invalid number format (address incomplete)",
        29: "Facility rejected",
        30: "Response to STATUS ENQUIRY",
        31: "Normal, unspecified",
        34: "No circuit/channel available",
        38: "Network out of order",
        39: "Permanent frame mode connection out of service",
        40: "Permanent frame mode connection operational",
        41: "Temporary failure",
        42: "Switching equipment congestion",
        43: "Access information discarded",
        44: "Requested circuit/channel not available",
        46: "Precedence call blocked",
        47: "Resource unavailable, unspecified",
        49: "Quality of service not available",
        50: "Requested facility not subscribed",
        53: "Outgoing calls barred within CUG",
        55: "Incoming calls barred within CUG",
        57: "Bearer capability not authorized",
        58: "Bearer capability not presently available",
        62: "Inconsistency in designated outgoing access information and subscriber class",
        63: "Service or option not available, unspecified",
        65: "Bearer capability not implemented",
        66: "Channel type not implemented",
        69: "Requested facility not implemented",
        70: "Only restricted digital information bearer capability is available",
        79: "Service or option not implemented, unspecified",
        81: "Invalid call reference value",
        82: "Identified channel does not exist",
        83: "A suspended call exists, but this call identity does not",
        84: "Call identity in use",
        85: "No call suspended",
        86: "Call having the requested call identity has been cleared",
        87: "User not member of CUG",
        88: "Incompatible destination",
        90: "Non-existent CUG",
        91: "Invalid transit network selection",
        95: "Invalid message, unspecified",
        96: "Mandatory information element is missing",
        97: "Message type non-existent or not implemented",
        98: (
            "Message not compatible with call state or message type non-existent or not implemented"
        ),
        99: "Information element / parameter non-existent or not implemented",
        100: "Invalid information element contents",
        101: "Message not compatible with call state",
        102: "Recovery on timer expiry",
        103: "Parameter non-existent or not implemented, passed on",
        110: "Message with unrecognized parameter, discarded",
        111: "Protocol error, unspecified",
        127: "Interworking, unspecified",
    }
)

# --- RFC 3398 (ISUP <-> SIP) --------------------------------------------------------------------

# s7.2.4.1: ISDN cause -> SIP status.  Cause 16 has no row (BYE/CANCEL), cause 44 must produce no
# status at all (the switch re-selects a circuit); cause 22 uses its w/o-diagnostic row here and
# RFC3398_NUMBER_CHANGED_WITH_DIAGNOSTIC when a new number is known.
RFC3398_CAUSE_TO_STATUS: Final = MappingProxyType(
    {
        1: 404, 2: 404, 3: 404, 17: 486, 18: 408, 19: 480, 20: 480, 21: 403, 22: 410, 23: 410,
        26: 404, 27: 502, 28: 484, 29: 501, 31: 480,
        34: 503, 38: 503, 41: 503, 42: 503, 47: 503,
        55: 403, 57: 403, 58: 503, 65: 488, 70: 488, 79: 501,
        87: 403, 88: 503, 102: 504, 111: 500, 127: 500,
    }
)  # fmt: skip
RFC3398_NUMBER_CHANGED_WITH_DIAGNOSTIC: Final = 301
RFC3398_DEFAULT_STATUS: Final = 500

# s8.2.6.1: SIP status -> ISDN cause.  The RFC prints "504 Version Not Supported" for 505 (a typo);
# 487 has no mapping; 488 and 606 are decided by the Warning header (RFC3398_BY_WARNING).
RFC3398_STATUS_TO_CAUSE: Final = MappingProxyType(
    {
        400: 41, 401: 21, 402: 21, 403: 21, 404: 1, 405: 63, 406: 79, 407: 21, 408: 102, 410: 22,
        413: 127, 414: 127, 415: 79, 416: 127, 420: 127, 421: 127, 423: 127,
        480: 18, 481: 41, 482: 25, 483: 25, 484: 28, 485: 1, 486: 17,
        500: 41, 501: 79, 502: 38, 503: 41, 504: 102, 505: 127, 513: 127,
        600: 17, 603: 21, 604: 1,
    }
)  # fmt: skip
RFC3398_BY_WARNING: Final = frozenset({488, 606})
RFC3398_DEFAULT_CAUSE: Final = 31

# --- RFC 4497 (QSIG <-> SIP) --------------------------------------------------------------------

# Table 1 (s8.4.1): identical to RFC 3398 except: no 26, 111 or 127 rows (500 is the default
# anyway), 69 -> 501 added, 21 -> 603 when the cause location is 'user'.
RFC4497_CAUSE_TO_STATUS: Final = MappingProxyType(
    {
        1: 404, 2: 404, 3: 404, 17: 486, 18: 408, 19: 480, 20: 480, 21: 403, 22: 410, 23: 410,
        27: 502, 28: 484, 29: 501, 31: 480,
        34: 503, 38: 503, 41: 503, 42: 503, 47: 503,
        55: 403, 57: 403, 58: 503, 65: 488, 69: 501, 70: 488, 79: 501,
        87: 403, 88: 503, 102: 504,
    }
)  # fmt: skip
# Table 2 (s8.4.2): the RFC 3398 table with 488/606 listed as "65 or 31 (NOTE 8)".
RFC4497_STATUS_TO_CAUSE: Final = RFC3398_STATUS_TO_CAUSE
RFC4497_BY_WARNING: Final = RFC3398_BY_WARNING

# Both RFCs: 6xx responses (and a cause location of 'user') mean the user decided.
CALL_REJECTED_BY_USER_STATUS: Final = 603

# --- Cisco IOS sip-ua defaults ------------------------------------------------------------------

# "SIP - Configurable PSTN Cause Code Mapping", default PSTN cause -> SIP event table.
# Unlisted causes map to 500.  gateway.calls.causes documents how this differs from RFC 3398.
CISCO_CAUSE_TO_STATUS: Final = MappingProxyType(
    {
        1: 404, 2: 404, 3: 404, 17: 486, 18: 480, 19: 480, 20: 480, 21: 403, 22: 410,
        26: 404, 27: 404, 28: 484, 29: 501, 31: 404,
        34: 503, 38: 503, 41: 503, 42: 503, 47: 503,
        55: 403, 57: 403, 58: 501, 65: 501, 79: 501,
        87: 503, 88: 400, 95: 400, 102: 408, 111: 400,
    }
)  # fmt: skip
CISCO_DEFAULT_STATUS: Final = 500

# Same document, default SIP event -> PSTN cause table.
CISCO_STATUS_TO_CAUSE: Final = MappingProxyType(
    {
        400: 127, 401: 57, 402: 21, 403: 57, 404: 1, 405: 127, 406: 127, 407: 21, 408: 102,
        409: 41, 410: 1, 411: 127, 413: 127, 414: 127, 415: 79, 420: 127,
        480: 18, 481: 127, 482: 127, 483: 127, 484: 28, 485: 1, 486: 17, 487: 127, 488: 127,
        500: 41, 501: 79, 502: 38, 503: 63, 504: 102, 505: 127, 580: 47,
        600: 17, 603: 21, 604: 1, 606: 58,
    }
)  # fmt: skip
# Cisco documents no default for unlisted SIP statuses; gwemu assumes 127 (interworking,
# unspecified), the value Cisco's table gives every status it does not treat specially.
CISCO_DEFAULT_CAUSE: Final = 127
