"""The Q.850 cause values call control itself chooses (ITU-T Q.850 table 1).

Causes that come from elsewhere -- the line's own, a received Reason header, the cause map's
translation of a SIP status -- pass through as numbers; these are the ones the core decides on.
"""

from __future__ import annotations

from typing import Final

UNALLOCATED_NUMBER: Final = 1  # no dial-peer for the number
NO_ROUTE: Final = 3  # a peer's session target cannot be resolved, a port is no line
NORMAL_CLEARING: Final = 16
USER_BUSY: Final = 17
NO_ANSWER: Final = 19  # ring-no-answer timer
CALL_REJECTED: Final = 21  # toll-fraud refusal, a translation reject rule
INVALID_NUMBER_FORMAT: Final = 28  # digits that cannot form a number, an unusable URI
NO_CIRCUIT: Final = 34  # every channel of the line is busy
NETWORK_OUT_OF_ORDER: Final = 38  # the line went out of service
TEMPORARY_FAILURE: Final = 41  # an internal error cleared the call
RESOURCE_UNAVAILABLE: Final = 47  # no RTP port, media failed
BEARER_NOT_IMPLEMENTED: Final = 65  # no common codec, an unusable SDP answer
SERVICE_NOT_IMPLEMENTED: Final = 79  # an offer refused for other than media reasons
INVALID_CALL_REFERENCE: Final = 81  # a line event for a call we do not know
TIMER_EXPIRY: Final = 102  # INVITE expiry, no CONNECT ACK, no ACK, no RTP
PROTOCOL_ERROR: Final = 111  # SIP that breaks the protocol (no SDP answer, bad bodies)
