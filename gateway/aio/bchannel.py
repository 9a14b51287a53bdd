"""Trunk B-channels as RTP: the voice convention between the PBX simulator and a gateway.

A Q.931 trunk signals on TCP/TPKT; its B-channels carry 8 kHz G.711 as RTP over UDP, one stream
per channel, at addresses both ends know from configuration -- no SDP (docs/pbx-trunk.md):

* channel N (the number in the Channel identification IE) uses UDP port ``base + 2*(N-1)`` at
  each end (RTCP, optional, on the next port), ``base`` being each end's configured base port;
* the payload is G.711 A-law (PT 8) on E1-style trunks, mu-law (PT 0) on T1-style trunks,
  20 ms per packet (160 samples); DTMF stays in-band as on a TDM channel;
* each end binds its port when a call takes the channel and closes it when the call reference
  is released; it sends a packet every 20 ms meanwhile (silence when it has nothing to say) and
  plays what it receives only while its side of the call has the voice path through.

:class:`BChannel` is one such channel: an :class:`~gateway.aio.rtp.RtpTransport` and a
:class:`~gateway.media.bridge.MediaBridge` run without a line clock, so the owner of the
timeslot drives it: :meth:`BChannel.exchange` puts one 20 ms frame toward the trunk and returns
the frame that came from it (the PBX simulator's 20 ms clock does this).  As a
:class:`~gateway.line.LineAudio` (``write`` / ``set_receiver``) each frame written is answered
with the frame received, so a gateway's SIP-side bridge can drive it with its own clock.
"""

from __future__ import annotations

import asyncio
import errno
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from gateway.aio.rtp import PortRange, RtpTransport, start_bridge
from gateway.errors import LocalProtocolError
from gateway.line import LineCodec
from gateway.media.audio import FRAME_SAMPLES
from gateway.media.bridge import BridgeConfig, BridgeStatistics, MediaBridge
from gateway.media.bridge_paths import line_format
from gateway.media.rtp_session import RtpSessionConfig
from gateway.sdp.offer_answer import NegotiatedStream
from gateway.sdp.payload import PayloadFormat
from gateway.trace import Address, TraceSink, discard

__all__ = ["PAYLOAD_FORMATS", "PTIME_MS", "BChannel", "BChannelPlan", "TrunkCodec"]

TrunkCodec = Literal["pcma", "pcmu"]
PTIME_MS: Final = 20
# RFC 3551 s6, Table 4: the static payload types of G.711.
PAYLOAD_FORMATS: Final[dict[str, PayloadFormat]] = {
    "pcmu": PayloadFormat(0, "PCMU", 8000),
    "pcma": PayloadFormat(8, "PCMA", 8000),
}
# The previous call's sockets close one loop iteration after close(); a new call on the same
# channel may need to wait that long for the port.
_BIND_ATTEMPTS: Final = 25
_BIND_RETRY: Final = 0.02


@dataclass(frozen=True, slots=True)
class BChannelPlan:
    """One trunk's B-channel addressing: each end's host and base port, and the G.711 law."""

    local: Address
    remote: Address
    codec: TrunkCodec

    def __post_init__(self) -> None:
        if self.codec not in PAYLOAD_FORMATS:
            raise LocalProtocolError(f"a trunk codec is pcma or pcmu, not {self.codec!r}")
        for host, port in (self.local, self.remote):
            if port < 1024 or port % 2:
                raise LocalProtocolError(f"B-channel base port {port} of {host} must be even "
                                         "and at least 1024")

    def local_rtp(self, channel: int) -> Address:
        return (self.local[0], _port(self.local[1], channel))

    def remote_rtp(self, channel: int) -> Address:
        return (self.remote[0], _port(self.remote[1], channel))

    def stream(self, channel: int) -> NegotiatedStream:
        """What SDP would have negotiated for this channel (the bridge wants it that way)."""
        host, port = self.remote_rtp(channel)
        fmt = PAYLOAD_FORMATS[self.codec]
        return NegotiatedStream(
            index=0,
            media="audio",
            accepted=True,
            direction="sendrecv",
            local_port=self.local_rtp(channel)[1],
            remote_rtp=(host, port),
            remote_rtcp=(host, port + 1),
            send_format=fmt,
            receive_formats=(fmt,),
            ptime=PTIME_MS,
        )


def _port(base: int, channel: int) -> int:
    if channel < 1:
        raise LocalProtocolError(f"B-channel numbers start at 1, not {channel}")
    port = base + 2 * (channel - 1)
    if port > 65534:
        raise LocalProtocolError(f"B-channel {channel} would need port {port}")
    return port


class _TimeslotSide:
    """The line side the RTP transport sees: it never writes (no line clock), it only keeps the
    callable that feeds frames from the line into the bridge."""

    __slots__ = ("codec", "feed")

    def __init__(self, codec: LineCodec) -> None:
        self.codec: LineCodec = codec
        self.feed: Callable[[bytes], None] | None = None

    def write(self, frame: bytes) -> None:  # the bridge runs without a line clock
        pass

    def set_receiver(self, receiver: Callable[[bytes], None] | None) -> None:
        self.feed = receiver


class BChannel:
    """One B-channel's voice over RTP (see the module docstring)."""

    def __init__(self, plan: BChannelPlan, channel: int, transport: RtpTransport,
                 bridge: MediaBridge, side: _TimeslotSide) -> None:
        self.plan = plan
        self.channel = channel
        self.codec: LineCodec = side.codec
        self._transport = transport
        self._bridge = bridge
        self._side = side
        self._silence = line_format(side.codec).silence(FRAME_SAMPLES)
        self._receiver: Callable[[bytes], None] | None = None

    @classmethod
    async def open(
        cls,
        plan: BChannelPlan,
        channel: int,
        *,
        line_codec: LineCodec = "l16",
        rng: random.Random | None = None,
        trace: TraceSink = discard,
        node: str = "gwemu",
        call_id: str | None = None,
        trace_packets: bool = False,
    ) -> BChannel:
        """Bind the channel's port and start its RTP stream toward the far end's port."""
        host, port = plan.local_rtp(channel)
        ports = PortRange(port, port + 1)
        transport: RtpTransport | None = None
        for attempt in range(_BIND_ATTEMPTS):
            try:
                transport = await RtpTransport.open(host, ports=ports)
                break
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or attempt == _BIND_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(_BIND_RETRY)
        assert transport is not None
        side = _TimeslotSide(line_codec)
        bridge = start_bridge(
            transport,
            plan.stream(channel),
            side,
            rng=rng or random.Random(),
            config=BridgeConfig(line_clock=False, dtmf_mode="inband"),
            rtp=RtpSessionConfig(node=node, call_id=call_id, trace_packets=trace_packets,
                                 cname=f"{node}-b{channel}@gwemu"),
            trace=trace,
        )
        return cls(plan, channel, transport, bridge, side)

    @property
    def local(self) -> Address:
        return self._transport.local_rtp

    @property
    def closed(self) -> bool:
        return self._transport.closed

    def exchange(self, frame: bytes, now: float | None = None) -> bytes:
        """One 20 ms timeslot: ``frame`` (line codec) toward the trunk, the frame from it back.

        ``now`` is accepted for the PBX's media contract; the bridge runs on the loop's clock.
        """
        if self._transport.closed:
            return self._silence
        feed = self._side.feed
        if feed is not None:
            feed(frame)
        return self._bridge.line_frame_due(self._transport.now())

    # LineAudio: every frame written toward the trunk is answered with one from it.

    def write(self, frame: bytes) -> None:
        answer = self.exchange(frame)
        receiver = self._receiver
        if receiver is not None:
            receiver(answer)

    def set_receiver(self, receiver: Callable[[bytes], None] | None) -> None:
        self._receiver = receiver

    def statistics(self) -> BridgeStatistics:
        return self._bridge.statistics()

    def close(self, reason: str | None = None) -> None:
        self._transport.close(reason)
