"""RTP port pool, SDP capabilities per dial-peer, DTMF mode."""

from __future__ import annotations

import pytest

from gateway.calls.dialpeer import DtmfRelay, IosCodec, VoipDialPeer
from gateway.calls.media_plan import PortPool, capabilities_for, dtmf_mode_for
from gateway.errors import LocalProtocolError
from gateway.sdp.offer_answer import create_answer, create_offer


def test_port_pool_hands_out_even_ports_round_robin():
    pool = PortPool(16385, 16392)
    assert pool.capacity == 3  # 16386, 16388, 16390 (16392 has no RTCP port in range)
    ports = [pool.allocate() for _ in range(3)]
    assert ports == [16386, 16388, 16390]
    assert pool.allocate() is None
    pool.release(16388)
    assert pool.allocate() == 16388
    pool.release(16386)
    pool.release(16390)
    # Round robin: the pool goes on from where it stopped, not back to the lowest free port.
    assert pool.allocate() == 16390
    assert pool.in_use == 2
    with pytest.raises(LocalProtocolError):
        PortPool(20001, 20001)


def test_capabilities_follow_the_peer():
    peer = VoipDialPeer(
        1,
        codecs=(IosCodec.G729R8, IosCodec.G729BR8, IosCodec.G711ULAW),
        dtmf_relay=(DtmfRelay.RTP_NTE,),
    )
    caps = capabilities_for(peer, "10.0.0.1", 20000, 20, "gw")
    assert [c.encoding_name for c in caps.codecs] == ["G729", "PCMU"]
    assert caps.telephone_event is not None
    offer = create_offer(caps, session_id=1)
    text = bytes(offer).decode()
    assert "m=audio 20000 RTP/AVP 18 0 101" in text
    assert "a=fmtp:18 annexb=no" in text
    plain = VoipDialPeer(2, codecs=(IosCodec.G711ULAW,))
    answer = create_answer(
        offer, capabilities_for(plain, "10.0.0.2", 30000, 20, "gw"), session_id=2
    )
    stream = answer.negotiated.audio
    assert stream is not None and stream.send_format.encoding_name == "PCMU"
    assert dtmf_mode_for(plain, stream) == "inband"
    answer_nte = create_answer(
        offer, capabilities_for(peer, "10.0.0.2", 30000, 20, "gw"), session_id=3
    )
    assert dtmf_mode_for(peer, answer_nte.negotiated.audio) == "rfc4733"
