"""The SIP message layer: a sans-IO core trusted byte for byte.

Parse with :func:`parse_datagram` (UDP) or :class:`StreamParser` (TCP); read typed, cached
fields from :class:`Request` / :class:`Response`; build with ``Request.build`` and
``Response.for_request``; serialize with ``bytes(message)``.  RFC 3261 section 8.2 acceptance
checks live in :mod:`gateway.sip.uas_checks`, the grammar helpers in :mod:`gateway.sip.grammar`.
"""

from gateway.sip.address import Address
from gateway.sip.fields import ContentType, CSeq, MediaRange
from gateway.sip.grammar import Params, SipSyntaxError
from gateway.sip.headers import Headers
from gateway.sip.message import SIP_VERSION, Message, Request, Response
from gateway.sip.parser import error_response, is_keepalive, parse_datagram
from gateway.sip.status import reason_phrase
from gateway.sip.stream import ConnectionClosed, Ping, Pong, RejectedMessage, StreamParser
from gateway.sip.uas_checks import Rejection, UasCapabilities, check_request
from gateway.sip.uri import AbsoluteUri, SipUri, TelUri, Uri, parse_uri
from gateway.sip.validate import validate
from gateway.sip.via import Via

__all__ = [
    "SIP_VERSION",
    "AbsoluteUri",
    "Address",
    "CSeq",
    "ConnectionClosed",
    "ContentType",
    "Headers",
    "MediaRange",
    "Message",
    "Params",
    "Ping",
    "Pong",
    "RejectedMessage",
    "Rejection",
    "Request",
    "Response",
    "SipSyntaxError",
    "SipUri",
    "StreamParser",
    "TelUri",
    "UasCapabilities",
    "Uri",
    "Via",
    "check_request",
    "error_response",
    "is_keepalive",
    "parse_datagram",
    "parse_uri",
    "reason_phrase",
    "validate",
]
