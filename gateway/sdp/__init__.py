"""SDP for gwemu: the session description model (RFC 8866) and offer/answer (RFC 3264).

* :mod:`gateway.sdp.description` -- :class:`SessionDescription` / :class:`MediaDescription`,
  parsed from and serialized to bytes exactly;
* :mod:`gateway.sdp.fields` -- typed values of the ``o= c= b= t= r= z= m= a=`` fields;
* :mod:`gateway.sdp.payload` -- rtpmap/fmtp, RFC 3551 static payload types, RFC 4733 events;
* :mod:`gateway.sdp.offer_answer` -- :func:`create_offer`, :func:`create_answer`,
  :func:`process_answer` and the :class:`NegotiatedStream` the media layer consumes.
"""

from gateway.sdp.description import (
    Direction,
    InvalidSdpLine,
    MediaDescription,
    SdpLine,
    SessionDescription,
    TimeDescription,
)
from gateway.sdp.fields import Attribute, Bandwidth, Connection, MediaField, Origin, Timing
from gateway.sdp.offer_answer import (
    Answer,
    Capabilities,
    Codec,
    MediaNotAcceptable,
    NegotiatedMedia,
    NegotiatedStream,
    capabilities_of,
    create_answer,
    create_offer,
    process_answer,
)
from gateway.sdp.payload import PayloadFormat

__all__ = [
    "Answer",
    "Attribute",
    "Bandwidth",
    "Capabilities",
    "Codec",
    "Connection",
    "Direction",
    "InvalidSdpLine",
    "MediaDescription",
    "MediaField",
    "MediaNotAcceptable",
    "NegotiatedMedia",
    "NegotiatedStream",
    "Origin",
    "PayloadFormat",
    "SdpLine",
    "SessionDescription",
    "TimeDescription",
    "Timing",
    "capabilities_of",
    "create_answer",
    "create_offer",
    "process_answer",
]
