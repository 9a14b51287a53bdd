"""Media decisions of call control: RTP ports, SDP capabilities per dial-peer, DTMF mode.

* :class:`PortPool` hands out even RTP ports round robin (RTCP takes the odd port above,
  RFC 3550 s11), so a port freed by one call is not reused at once by the next one -- late
  packets of the old call must not land in the new one;
* :func:`capabilities_for` turns a voip dial-peer's codec list and DTMF relay setting into the
  SDP :class:`~gateway.sdp.offer_answer.Capabilities` of our offer or answer: codecs in the
  peer's preference order, telephone-event only with ``dtmf-relay rtp-nte``;
* :func:`dtmf_mode_for` -- RFC 4733 relay when the peer wants it and the far end accepted
  telephone-event, else SIP INFO (``application/dtmf-relay``) when the peer lists ``sip-info``,
  in-band otherwise (``sip-notify`` is not sent by gwemu: such peers fall back to in-band).
"""

from __future__ import annotations

from typing import Final

from gateway.calls.commands import DtmfMode
from gateway.calls.dialpeer import DtmfRelay, IosCodec, VoipDialPeer
from gateway.errors import LocalProtocolError
from gateway.sdp.offer_answer import (
    DTMF_EVENTS,
    Capabilities,
    Codec,
    NegotiatedStream,
)

__all__ = ["PortPool", "capabilities_for", "dtmf_mode_for", "sdp_codec"]

_SDP_CODECS: Final = {
    IosCodec.G711ULAW: Codec("PCMU"),
    IosCodec.G711ALAW: Codec("PCMA"),
    IosCodec.G729R8: Codec("G729", fmtp="annexb=no"),
    IosCodec.G729BR8: Codec("G729", fmtp="annexb=yes"),
}


def sdp_codec(codec: IosCodec) -> Codec:
    return _SDP_CODECS[codec]


def capabilities_for(
    peer: VoipDialPeer, address: str, port: int, ptime: int, session_name: str
) -> Capabilities:
    """Our side of the SDP for a call over ``peer``; G.729 and G.729B share one SDP codec, so
    a list naming both offers it once (the first wins)."""
    codecs: list[Codec] = []
    for codec in peer.codecs:
        sdp = _SDP_CODECS[codec]
        if all(existing.encoding_name != sdp.encoding_name for existing in codecs):
            codecs.append(sdp)
    return Capabilities(
        address=address,
        port=port,
        codecs=tuple(codecs),
        telephone_event=DTMF_EVENTS if DtmfRelay.RTP_NTE in peer.dtmf_relay else None,
        ptime=ptime,
        # IOS gateways answer with the single best common codec, in their own preference.
        prefer_own_order=True,
        single_codec=True,
        username="gwemu",
        session_name=session_name,
    )


def dtmf_mode_for(peer: VoipDialPeer, stream: NegotiatedStream) -> DtmfMode:
    if DtmfRelay.RTP_NTE in peer.dtmf_relay and (
        stream.send_telephone_event is not None or stream.receive_telephone_event is not None
    ):
        return "rfc4733"
    if DtmfRelay.SIP_INFO in peer.dtmf_relay:
        return "sip-info"
    return "inband"


class PortPool:
    """Even RTP ports of ``low``..``high``, handed out round robin, never two calls at once."""

    __slots__ = ("_high", "_in_use", "_low", "_next")

    def __init__(self, low: int, high: int) -> None:
        first = low + (low % 2)
        last = high - 1  # the last even port whose RTCP port (+1) is still in the range
        last -= last % 2
        if last < first:
            raise LocalProtocolError(f"RTP port range {low}-{high} holds no even/odd port pair")
        self._low = first
        self._high = last
        self._next = first
        self._in_use: set[int] = set()

    @property
    def capacity(self) -> int:
        return (self._high - self._low) // 2 + 1

    @property
    def in_use(self) -> int:
        return len(self._in_use)

    def allocate(self) -> int | None:
        """A free even port, or None when every port is taken."""
        if len(self._in_use) >= self.capacity:
            return None
        port = self._next
        while port in self._in_use:
            port = self._advance(port)
        self._in_use.add(port)
        self._next = self._advance(port)
        return port

    def release(self, port: int) -> None:
        self._in_use.discard(port)

    def _advance(self, port: int) -> int:
        port += 2
        return self._low if port > self._high else port
