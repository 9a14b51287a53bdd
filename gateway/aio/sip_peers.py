"""What ``gwemu sip uas`` and ``gwemu sip uac`` share: call records, SDP, media ports.

The peers themselves are :class:`~gateway.aio.sip_uas_peer.UasPeer` and
:class:`~gateway.aio.sip_uac_peer.UacPeer`: :class:`~gateway.aio.sip_transport.SipApplication`
objects -- events in, endpoint calls out, their own deadlines in a
:class:`~gateway.sip.timers.TimerQueue` -- so they run unchanged on the real loop, uvloop or the
virtual-time loop.  They send real SDP (RFC 3264 offer/answer with PCMU, PCMA and
telephone-event) but no RTP: the media ports they advertise are not bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.sdp import (
    Capabilities,
    SessionDescription,
    create_answer,
)
from gateway.sdp.offer_answer import DTMF_EVENTS, PCMA, PCMU

__all__ = ["SDP_TYPE", "Answerer", "CallRecord", "MediaPorts", "capabilities"]

SDP_TYPE = "application/sdp"


class MediaPorts:
    """Even RTP port numbers handed out round robin (advertised only, never bound)."""

    def __init__(self, first: int = 16384, last: int = 32766) -> None:
        self._first = first + first % 2
        self._last = last
        self._next = self._first

    def take(self) -> int:
        port = self._next
        self._next = port + 2 if port + 2 <= self._last else self._first
        return port


def capabilities(address: str, port: int) -> Capabilities:
    """What the peers offer and accept: PCMU, PCMA and RFC 4733 telephone-event."""
    return Capabilities(address, port, codecs=(PCMU, PCMA), telephone_event=DTMF_EVENTS)


class Answerer:
    """SDP answers, computed once per distinct offer.

    A load test sends the same offer call after call; the answer differs only in its ``o=``
    session id and ``m=`` port, which are put into the answer negotiated for the first call.
    """

    _PORT = 9  # placeholder port in cached answers (the discard port: never ours)

    def __init__(self, address: str) -> None:
        self._address = address
        self._cache: dict[bytes, bytes] = {}

    def answer(self, offer: bytes, port: int, session_id: int) -> bytes:
        """Our answer to ``offer``; MediaNotAcceptable / RemoteProtocolError (488) when none."""
        template = self._cache.get(offer)
        if template is None:
            description = SessionDescription.parse(offer)
            answer = create_answer(
                description, capabilities(self._address, self._PORT), session_id=0
            )
            template = bytes(answer.description)
            if len(self._cache) < 64:
                self._cache[offer] = template
        return template.replace(b"o=gwemu 0 0 ", f"o=gwemu {session_id} 0 ".encode(), 1).replace(
            f"m=audio {self._PORT} ".encode(), f"m=audio {port} ".encode(), 1
        )


@dataclass(slots=True)
class CallRecord:
    """One call as ``gwemu sip uas``/``uac`` report it."""

    number: int
    call_id: str
    peer: str
    started: float
    status: int | None = None  # the final status of the INVITE
    answered: float | None = None
    ended: float | None = None
    outcome: str = ""

    def line(self) -> str:
        status = "-" if self.status is None else str(self.status)
        held = (
            f" held {self.ended - self.answered:.3f} s"
            if self.ended is not None and self.answered is not None
            else ""
        )
        return (
            f"call {self.number} {self.peer} {status} {self.outcome}{held} Call-ID={self.call_id}"
        )
