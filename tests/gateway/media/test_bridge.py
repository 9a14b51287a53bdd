"""The media bridge on a virtual clock: two bridges joined by a simulated network (seeded loss,
reordering and delay), each with a simulated line that speaks a source and records what it hears.

Covered: transcoding paths (A-law line <-> mu-law wire by table, mu-law passthrough, a linear
line, G.729 on the wire), ptime 30/40 re-cutting, hold directions, early media, re-negotiation,
loss and reordering with concealment and without clicks, latching, media timeout, statistics,
tracing, peer garbage, and DTMF interworking (RFC 4733 relay both ways, in-band passthrough,
digits from signalling, hook flash).
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from array import array
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError
from gateway.line import LineCodec
from gateway.media import g711
from gateway.media.audio import (
    FRAME_SAMPLES,
    AudioSource,
    ConcatSource,
    SilenceSource,
    dbm0_to_peak,
)
from gateway.media.bridge import (
    BridgeConfig,
    BridgeEvent,
    DigitReceived,
    MediaBridge,
    session_config_for,
)
from gateway.media.bridge_paths import line_format
from gateway.media.codecs import G729
from gateway.media.dtmf_events import TelephoneEvent
from gateway.media.dtmf_inband import DtmfGenerator, detect_digits
from gateway.media.rtp import RtpPacket
from gateway.media.rtp_session import MediaTimeout, RemoteLatched, RtpSessionConfig
from gateway.media.tones import ToneDetector, ToneGenerator
from gateway.sdp.description import Direction
from gateway.sdp.offer_answer import NegotiatedStream
from gateway.sdp.payload import PayloadFormat
from gateway.trace import Address, TraceRecorder

PCMU = PayloadFormat(0, "PCMU", 8000)
PCMA = PayloadFormat(8, "PCMA", 8000)
G729_FORMAT = PayloadFormat(18, "G729", 8000, fmtp="annexb=no")
EVENTS = PayloadFormat(101, "telephone-event", 8000, fmtp="0-15")
A_RTP: Address = ("192.0.2.1", 4000)
B_RTP: Address = ("192.0.2.2", 5000)
# A large session bandwidth with the reduced minimum gives RTCP every ~0.5 s (RFC 3550 §6.2).
FAST_RTCP = RtpSessionConfig(session_bandwidth=720_000.0, rtcp_reduced_minimum=True)
TONE_LEVEL = -10.0
TONE_PEAK = dbm0_to_peak(TONE_LEVEL)


def negotiated(
    remote: Address | None,
    fmt: PayloadFormat = PCMU,
    *,
    events: bool = True,
    ptime: int = 20,
    direction: Direction = "sendrecv",
    receive: tuple[PayloadFormat, ...] | None = None,
) -> NegotiatedStream:
    te = EVENTS if events else None
    return NegotiatedStream(
        index=0,
        media="audio",
        accepted=True,
        direction=direction,
        local_port=4000,
        remote_rtp=remote,
        remote_rtcp=None,
        send_format=fmt,
        receive_formats=receive or (fmt,),
        send_telephone_event=te,
        receive_telephone_event=te,
        ptime=ptime,
    )


def tone(ms: int, frequency: int = 1000) -> ToneGenerator:
    return ToneGenerator([(frequency, TONE_LEVEL)], duration_ms=ms)


class Line:
    """One bridge's line: answers every frame the bridge writes with one of its own (TDM)."""

    def __init__(self, codec: LineCodec, source: AudioSource | None = None) -> None:
        self.format = line_format(codec)
        self.source = source
        self.bridge: MediaBridge | None = None
        self.now = 0.0
        self.heard_raw: list[bytes] = []  # line codec, as written by the bridge
        self.spoken_raw: list[bytes] = []

    def write(self, frame: bytes) -> None:
        self.heard_raw.append(frame)
        pcm = self.source.read_frame() if self.source is not None else None
        spoken = self.format.from_linear(pcm if pcm is not None else bytes(2 * FRAME_SAMPLES))
        self.spoken_raw.append(spoken)
        assert self.bridge is not None
        self.bridge.receive_line_frame(spoken, self.now)

    @property
    def heard(self) -> list[bytes]:
        return [self.format.to_linear(frame) for frame in self.heard_raw]


@dataclass
class Tap:
    time: float
    source: Address
    destination: Address
    data: bytes


@dataclass
class Net:
    """Delivers datagrams after ``delay`` (+ up to ``spread``), losing ``loss`` of the RTP ones
    (RTCP always arrives, so loss figures stay exact); records everything sent in ``wire``."""

    seed: int = 0
    loss: float = 0.0
    delay: float = 0.010
    spread: float = 0.0
    wire: list[Tap] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.queue: list[tuple[float, int, Address, Address, bytes]] = []
        self.order = itertools.count()

    def send(self, now: float, source: Address, destination: Address, data: bytes) -> None:
        self.wire.append(Tap(now, source, destination, data))
        rtcp = 200 <= data[1] <= 204 if len(data) > 1 else False
        if not rtcp and self.rng.random() < self.loss:
            return
        when = now + self.delay + self.rng.random() * self.spread
        heapq.heappush(self.queue, (when, next(self.order), source, destination, data))

    def rtp_from(self, source: Address, payload_type: int | None = None) -> list[RtpPacket]:
        packets = []
        for tap in self.wire:
            if tap.source != source or 200 <= tap.data[1] <= 204:
                continue
            packet = RtpPacket.parse(tap.data)
            if payload_type is None or packet.payload_type == payload_type:
                packets.append(packet)
        return packets

    def rtcp_from(self, rtp: Address) -> int:
        """RTCP compounds sent from the RTCP port that goes with ``rtp``."""
        source = (rtp[0], rtp[1] + 1)
        return sum(1 for tap in self.wire if tap.source == source and 200 <= tap.data[1] <= 204)


@dataclass
class Side:
    bridge: MediaBridge
    line: Line
    rtp: Address
    events: list[BridgeEvent] = field(default_factory=list)

    @property
    def rtcp(self) -> Address:
        return (self.rtp[0], self.rtp[1] + 1)


class Call:
    """Two bridges, their lines and the network between them, on one virtual clock."""

    def __init__(
        self,
        a_stream: NegotiatedStream,
        b_stream: NegotiatedStream,
        *,
        a_line: Line,
        b_line: Line,
        a_config: BridgeConfig | None = None,
        b_config: BridgeConfig | None = None,
        net: Net | None = None,
        a_rtp: RtpSessionConfig | None = None,
        trace: TraceRecorder | None = None,
    ) -> None:
        self.net = net or Net()
        self.now = 0.0
        a_config = replace(a_config or BridgeConfig(), line_codec=a_line.format.codec)
        b_config = replace(b_config or BridgeConfig(), line_codec=b_line.format.codec)
        recorder = trace or TraceRecorder()
        self.a = self._side(a_stream, a_line, a_config, A_RTP, 1, a_rtp, recorder)
        self.b = self._side(b_stream, b_line, b_config, B_RTP, 2, None, TraceRecorder())
        self.by_address: dict[Address, Side] = {}
        for side in (self.a, self.b):
            self.bind(side, side.rtp)

    def _side(
        self,
        stream: NegotiatedStream,
        line: Line,
        config: BridgeConfig,
        address: Address,
        seed: int,
        rtp: RtpSessionConfig | None,
        trace: TraceRecorder,
    ) -> Side:
        rtp = replace(rtp or FAST_RTCP, local_rtp=address)
        bridge = MediaBridge(
            stream, 0.0, random.Random(seed), config, rtp=rtp, line_writer=line.write, trace=trace
        )
        line.bridge = bridge
        return Side(bridge, line, address)

    def bind(self, side: Side, address: Address) -> None:
        side.rtp = address
        self.by_address[address] = side
        self.by_address[(address[0], address[1] + 1)] = side

    def run(self, seconds: float) -> None:
        until = self.now + seconds
        while True:
            timers = [t for s in (self.a, self.b) if (t := s.bridge.get_timer()) is not None]
            queue = self.net.queue
            next_time = min(timers, default=math.inf)
            if queue and queue[0][0] <= next_time:
                when, _, source, destination, data = heapq.heappop(queue)
                if when > until:
                    heapq.heappush(queue, (when, -1, source, destination, data))
                    break
                self.now = when
                side = self.by_address.get(destination)
                if side is not None:
                    if destination == side.rtp:
                        side.bridge.receive_datagram(data, source, when)
                    else:
                        side.bridge.receive_rtcp_datagram(data, source, when)
            else:
                if next_time > until:
                    break
                self.now = next_time
                for side in (self.a, self.b):
                    side.line.now = next_time
                    side.bridge.handle_timer(next_time)
            self._flush()
        self.now = until

    def _flush(self) -> None:
        for side in (self.a, self.b):
            for datagram in side.bridge.datagrams_to_send(self.now):
                source = side.rtp if datagram.channel == "rtp" else side.rtcp
                self.net.send(self.now, source, datagram.address, datagram.data)
            while (event := side.bridge.next_event()) is not None:
                side.events.append(event)


def simple_call(
    a_codec: LineCodec = "pcma",
    b_codec: LineCodec = "pcmu",
    fmt: PayloadFormat = PCMU,
    *,
    a_source: AudioSource | None = None,
    b_source: AudioSource | None = None,
    ptime: int = 20,
    net: Net | None = None,
    **options: object,
) -> Call:
    return Call(
        negotiated(B_RTP, fmt, ptime=ptime),
        negotiated(A_RTP, fmt, ptime=ptime),
        a_line=Line(a_codec, a_source),
        b_line=Line(b_codec, b_source),
        net=net,
        **options,  # type: ignore[arg-type]
    )


def tone_frames(frames: list[bytes], frequency: int = 1000) -> int:
    detector = ToneDetector(frequency)
    return sum(detector.feed(frame) for frame in frames)


def max_step(pcm: bytes) -> int:
    samples = array("h", pcm)
    return max((abs(b - a) for a, b in itertools.pairwise(samples)), default=0)


# The largest sample-to-sample step of a 1 kHz sine of TONE_PEAK, plus G.711 quantisation room:
# anything above is a discontinuity (a click).
SMOOTH_LIMIT = 2 * TONE_PEAK * math.sin(math.pi * 1000 / 8000) * 1.12


# --------------------------------------------------------------------------- transcoding


def test_alaw_line_to_ulaw_wire_is_one_table_translation_and_a_ulaw_line_gets_the_bytes() -> None:
    call = simple_call("pcma", "pcmu", a_source=tone(600))
    call.run(1.0)
    spoken = call.a.line.spoken_raw
    payloads = [p.payload for p in call.net.rtp_from(A_RTP, 0)]
    assert len(payloads) >= 45
    # Frame i spoken at line tick i leaves in packet i, converted by G.711 Table 4 alone.
    assert payloads == [g711.alaw_to_ulaw(frame) for frame in spoken[: len(payloads)]]
    # B's line is mu-law too: it hears the very bytes of the wire, in order (after the delay).
    heard = call.b.line.heard_raw
    start = heard.index(payloads[0])
    assert heard[start : start + 30] == payloads[:30]
    assert tone_frames(call.b.line.heard) == 30


def test_ulaw_line_to_alaw_line_both_ways_keeps_the_tone() -> None:
    call = simple_call("pcmu", "pcma", a_source=tone(400), b_source=tone(400, 1633))
    call.run(0.8)
    assert tone_frames(call.b.line.heard) == 20
    assert tone_frames(call.a.line.heard, 1633) == 20
    assert tone_frames(call.a.line.heard, 1000) == 0


def test_linear_line_encodes_and_decodes_through_the_registry() -> None:
    call = simple_call("l16", "l16", a_source=tone(400))
    call.run(0.8)
    spoken = call.a.line.spoken_raw
    payloads = [p.payload for p in call.net.rtp_from(A_RTP, 0)]
    assert payloads[:20] == [g711.ulaw_encode(frame) for frame in spoken[:20]]
    heard = call.b.line.heard_raw
    decoded = [g711.ulaw_decode(p) for p in payloads]
    start = heard.index(decoded[0])
    assert heard[start : start + 20] == decoded[:20]


def test_g729_on_the_wire_between_alaw_lines() -> None:
    assert G729.available, "libbcg729 is part of the test setup (apt-get install libbcg729-0)"
    call = simple_call("pcma", "pcma", G729_FORMAT, a_source=tone(600, 800))
    call.run(1.0)
    packets = call.net.rtp_from(A_RTP, 18)
    assert packets and all(len(p.payload) == 20 for p in packets)  # two 10-byte frames
    assert {b.timestamp - a.timestamp for a, b in itertools.pairwise(packets)} == {160}
    heard = call.b.line.heard
    assert tone_frames(heard, 800) >= 25
    assert call.b.bridge.statistics().receive_codec == "G729"


@pytest.mark.parametrize("ptime", [30, 40])
def test_ptime_other_than_20_is_recut_both_ways_without_clicks(ptime: int) -> None:
    call = simple_call("pcma", "pcmu", ptime=ptime, a_source=tone(900), b_source=tone(900, 1000))
    call.run(1.4)
    packets = call.net.rtp_from(A_RTP, 0)
    samples = ptime * 8
    assert {len(p.payload) for p in packets} == {samples}
    steps = {b.timestamp - a.timestamp for a, b in itertools.pairwise(packets)}
    assert steps == {samples}
    for side in (call.a, call.b):
        heard = side.line.heard
        on = [i for i, frame in enumerate(heard) if tone_frames([frame])]
        # 900 ms of tone = 45 frames; the partial first/last frames may fall either way.
        assert 43 <= len(on) <= 46
        assert on == list(range(on[0], on[0] + len(on)))  # no gap inside the tone
        assert max_step(b"".join(heard)) < SMOOTH_LIMIT
    # The payload sizes changed, the RTP clock did not: 50 line frames = 50 * 160 samples.
    assert call.b.bridge.statistics().jitter_buffer.frames_lost == 0


def test_a_ptime_that_g729_cannot_frame_is_refused() -> None:
    with pytest.raises(LocalProtocolError, match="multiple"):
        MediaBridge(negotiated(B_RTP, G729_FORMAT, ptime=25), 0.0, random.Random(1))


def test_an_unimplemented_codec_is_a_clear_local_error() -> None:
    g722 = PayloadFormat(9, "G722", 8000)
    with pytest.raises(LocalProtocolError, match="G722"):
        MediaBridge(negotiated(B_RTP, g722), 0.0, random.Random(1))


# --------------------------------------------------------------------------- voice path


def rtp_audio(call: Call, source: Address) -> list[RtpPacket]:
    return call.net.rtp_from(source, 0)


@pytest.mark.parametrize(
    ("a_direction", "b_direction", "a_sends", "b_sends"),
    [
        ("sendonly", "recvonly", True, False),
        ("recvonly", "sendonly", False, True),
        ("inactive", "inactive", False, False),
    ],
)
def test_hold_directions_stop_sending_but_rtcp_goes_on(
    a_direction: Direction, b_direction: Direction, a_sends: bool, b_sends: bool
) -> None:
    call = Call(
        negotiated(B_RTP, direction=a_direction),
        negotiated(A_RTP, direction=b_direction),
        a_line=Line("pcmu", tone(2000)),
        b_line=Line("pcmu", tone(2000)),
    )
    call.run(2.0)
    assert bool(rtp_audio(call, A_RTP)) is a_sends
    assert bool(rtp_audio(call, B_RTP)) is b_sends
    assert call.net.rtcp_from(A_RTP) >= 1 and call.net.rtcp_from(B_RTP) >= 1
    assert (tone_frames(call.b.line.heard) > 50) is a_sends
    assert (tone_frames(call.a.line.heard) > 50) is b_sends
    stats = call.a.bridge.statistics()
    assert (stats.sending, stats.receiving) == (a_sends, b_sends)
    assert stats.rtp.rtcp_received >= 1


def test_rtp_that_arrives_while_we_do_not_receive_is_counted_not_played() -> None:
    # A put the call on hold (sendonly) but B keeps sending: A's line stays silent.
    call = Call(
        negotiated(B_RTP, direction="sendonly"),
        negotiated(A_RTP),
        a_line=Line("pcmu"),
        b_line=Line("pcmu", tone(1000)),
        a_config=BridgeConfig(media_timeout=0.3),
    )
    call.run(1.0)
    assert rtp_audio(call, B_RTP)
    assert tone_frames(call.a.line.heard) == 0
    stats = call.a.bridge.statistics()
    assert stats.rtp.packets_received >= 40  # latched and counted all the same
    assert stats.jitter_buffer.packets_in == 0
    call.run(1.0)  # B went quiet; no media timeout while we do not receive
    assert not [e for e in call.a.events if isinstance(e, MediaTimeout)]


def test_early_media_cuts_the_voice_through_before_answer() -> None:
    closed = BridgeConfig(to_line=False, to_rtp=False)
    call = simple_call(
        "pcmu", "pcmu", a_source=tone(3000), b_source=tone(3000, 1633), a_config=closed
    )
    call.run(0.5)
    assert not rtp_audio(call, A_RTP)  # nothing before cut-through ...
    assert call.net.rtcp_from(A_RTP) >= 1  # ... but RTCP
    assert tone_frames(call.a.line.heard, 1633) == 0  # B's ringback is not heard yet
    call.a.bridge.set_voice_path(call.now, to_line=True, to_rtp=False)  # 183: backward only
    call.run(0.5)
    assert not rtp_audio(call, A_RTP)
    assert tone_frames(call.a.line.heard[-20:], 1633) >= 15
    call.a.bridge.set_voice_path(call.now, to_line=True, to_rtp=True)  # answered
    call.run(0.5)
    packets = rtp_audio(call, A_RTP)
    assert len(packets) >= 20 and packets[0].marker  # a talk-spurt starts
    assert tone_frames(call.b.line.heard[-15:]) >= 10


def test_renegotiation_moves_address_codec_and_ptime_mid_call() -> None:
    call = simple_call("pcma", "pcmu", a_source=tone(3000), b_source=tone(3000, 1633))
    call.run(0.6)
    moved: Address = ("192.0.2.3", 6000)
    # B re-INVITEs from a new address, offering PCMA at 30 ms, and switches at once; A takes
    # the offer a signalling round trip later (B's packets from the old address have landed).
    call.bind(call.b, moved)
    call.b.bridge.renegotiate(negotiated(A_RTP, PCMA, ptime=30), call.now)
    call.run(0.05)
    before = len(call.net.wire)
    call.a.bridge.renegotiate(negotiated(moved, PCMA, ptime=30), call.now)
    call.run(0.9)
    after = [tap for tap in call.net.wire[before:] if tap.source == A_RTP]
    rtp = [RtpPacket.parse(t.data) for t in after if not 200 <= t.data[1] <= 204]
    assert rtp and {t.destination for t in after} <= {moved, (moved[0], moved[1] + 1)}
    assert {p.payload_type for p in rtp} == {8}
    assert {len(p.payload) for p in rtp} == {240}
    assert tone_frames(call.b.line.heard[-25:]) >= 20
    assert tone_frames(call.a.line.heard[-25:], 1633) >= 20  # B's new address latched
    stats = call.a.bridge.statistics()
    assert (stats.send_codec, stats.receive_codec, stats.ptime_ms) == ("PCMA", "PCMA", 30)


def test_packets_in_flight_from_the_old_address_do_not_steal_the_latch() -> None:
    call = simple_call("pcmu", "pcmu", a_source=tone(3000), b_source=tone(3000, 1633))
    call.run(0.6)
    moved: Address = ("192.0.2.3", 6000)
    call.bind(call.b, moved)
    # Both sides switch at once: B's last packets from 192.0.2.2 are still on the wire.
    call.a.bridge.renegotiate(negotiated(moved), call.now)
    call.b.bridge.renegotiate(negotiated(A_RTP), call.now)
    call.run(0.6)
    assert call.a.bridge.session.remote_rtp == moved
    assert tone_frames(call.a.line.heard[-20:], 1633) == 20


# --------------------------------------------------------------------------- a hostile network


@pytest.mark.parametrize("seed", [3, 11])
def test_loss_and_reordering_are_concealed_without_clicks(seed: int) -> None:
    net = Net(seed=seed, loss=0.05, delay=0.020, spread=0.035)
    call = simple_call("pcma", "pcmu", net=net, a_source=tone(3000), b_source=tone(3000))
    call.run(3.3)
    for side in (call.a, call.b):
        stats = side.bridge.statistics()
        heard = side.line.heard
        assert stats.rtp.packets_lost > 0 and stats.rtp.out_of_order > 0
        concealed = stats.jitter_buffer.frames_lost + stats.jitter_buffer.underruns
        assert concealed > 0
        # Concealment keeps the tone going: almost every frame of the call carries it.
        assert tone_frames(heard[10:145]) >= 125
        assert max_step(b"".join(heard)) < SMOOTH_LIMIT


def test_symmetric_rtp_latches_to_where_the_peer_really_sends_from() -> None:
    # A was told B is at 198.51.100.9 (a private address behind NAT); B sends from B_RTP.
    call = Call(
        negotiated(("198.51.100.9", 7000)),
        negotiated(A_RTP),
        a_line=Line("pcmu", tone(1000)),
        b_line=Line("pcmu", tone(1000, 1633)),
    )
    call.run(1.0)
    assert RemoteLatched("rtp", B_RTP) in call.a.events
    assert tone_frames(call.b.line.heard[-20:]) >= 15


def test_media_timeout_is_an_event() -> None:
    call = simple_call("pcmu", "pcmu", a_config=BridgeConfig(media_timeout=0.5))
    call.run(0.5)
    call.b.bridge.close(call.now)
    call.run(1.0)
    timeouts = [e for e in call.a.events if isinstance(e, MediaTimeout)]
    assert len(timeouts) == 1
    assert timeouts[0].last_rtp is not None
    assert timeouts[0].time - timeouts[0].last_rtp == pytest.approx(0.5, abs=0.001)


# --------------------------------------------------------------------------- figures and trace


def test_statistics_for_the_call_table() -> None:
    call = simple_call("pcma", "pcmu", a_source=tone(1000))
    call.run(0.99)  # line ticks and send slots at 0, 20, ..., 980 ms
    a, b = call.a.bridge.statistics(), call.b.bridge.statistics()
    assert (a.send_codec, a.receive_codec, a.line_codec, a.ptime_ms) == ("PCMU", "PCMU", "pcma", 20)
    assert a.direction == "sendrecv" and a.sending and a.receiving
    assert a.rtp.packets_sent == a.frames_from_line == a.frames_to_line == 50
    assert b.rtp.packets_received == 50  # 10 ms on the wire
    assert b.rtp.octets_received == 160 * b.rtp.packets_received
    assert b.rtp.packets_lost == 0 and b.rtp.jitter_ms == pytest.approx(0.0, abs=0.01)
    assert b.jitter_buffer.frames_played >= 45 and b.unknown_payload == 0


def test_packets_are_traced_only_when_asked() -> None:
    quiet = TraceRecorder()
    simple_call(trace=quiet).run(0.5)
    assert not [e for e in quiet.events if e.protocol == "rtp" and e.direction in ("in", "out")]
    loud = TraceRecorder()
    simple_call(trace=loud, a_rtp=replace(FAST_RTCP, trace_packets=True, node="gw-a")).run(0.49)
    out = [e for e in loud.events if e.protocol == "rtp" and e.direction == "out"]
    assert len(out) == 25 and all(e.node == "gw-a" and e.local == A_RTP for e in out)


def test_unknown_payload_types_are_counted_and_dropped() -> None:
    call = simple_call("pcmu", "pcmu")
    bridge = call.a.bridge
    for seq in range(5):
        data = bytes(RtpPacket(96, seq, seq * 160, 0x42, bytes(160)))
        bridge.receive_datagram(data, B_RTP, 0.001 * seq)
    assert bridge.statistics().unknown_payload >= 3  # after the two probation packets


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=12))
def test_peer_garbage_never_raises(datagrams: list[bytes]) -> None:
    bridge = MediaBridge(negotiated(B_RTP), 0.0, random.Random(1))
    now = 0.0
    for data in datagrams:
        now += 0.01
        bridge.receive_datagram(data, B_RTP, now)
        bridge.receive_rtcp_datagram(data, B_RTP, now)
        bridge.handle_timer(now)
        bridge.datagrams_to_send(now)
    while bridge.next_event() is not None:
        pass


def test_session_config_carries_what_sdp_said() -> None:
    stream = negotiated(B_RTP, PCMA, ptime=30)
    config = session_config_for(stream, RtpSessionConfig(cname="x@y", node="n"))
    assert (config.payload_type, config.event_payload_type, config.ptime) == (8, 101, 0.03)
    assert (config.remote_rtp, config.cname, config.node) == (B_RTP, "x@y", "n")


def test_a_frame_of_the_wrong_size_is_the_callers_mistake() -> None:
    bridge = MediaBridge(negotiated(B_RTP), 0.0, random.Random(1), BridgeConfig(line_codec="l16"))
    with pytest.raises(LocalProtocolError, match="320 bytes"):
        bridge.receive_line_frame(bytes(160), 0.0)


def test_a_line_source_replaces_the_rtp_audio_toward_the_line() -> None:
    call = simple_call("pcmu", "pcmu", b_source=tone(2000, 1633))
    call.run(0.31)
    mark = len(call.a.line.heard_raw)
    call.a.bridge.set_line_source(ConcatSource([tone(400, 450), SilenceSource(0)]))
    call.run(0.4)
    played = call.a.line.heard[mark:]
    assert len(played) == 20
    assert tone_frames(played, 450) == 20 and tone_frames(played, 1633) == 0
    call.run(0.4)
    assert tone_frames(call.a.line.heard[-15:], 1633) == 15  # the source ended: RTP again


# --------------------------------------------------------------------------- DTMF


def digits_source(digits: str = "159#") -> AudioSource:
    return ConcatSource(
        [SilenceSource(200), DtmfGenerator(digits, tone_ms=100, pause_ms=100), SilenceSource(400)]
    )


def received_digits(side: Side, origin: str) -> str:
    return "".join(
        e.digit for e in side.events if isinstance(e, DigitReceived) and e.origin == origin
    )


def wire_audio(call: Call, source: Address, payload_type: int = 0) -> bytes:
    """The audio a sender put on the wire, decoded, in media-clock order, gaps filled with
    silence (what an ideal receiver would play)."""
    packets = sorted(call.net.rtp_from(source, payload_type), key=lambda p: p.timestamp)
    pcm = bytearray()
    clock = packets[0].timestamp
    for packet in packets:
        pcm += bytes(2 * (packet.timestamp - clock))
        pcm += g711.ulaw_decode(packet.payload)
        clock = packet.timestamp + len(packet.payload)
    return bytes(pcm)


def event_packets(call: Call, source: Address) -> list[tuple[RtpPacket, TelephoneEvent]]:
    return [(p, TelephoneEvent.parse(p.payload)) for p in call.net.rtp_from(source, 101)]


def test_rfc4733_relay_carries_digits_heard_on_line_a_to_line_b_in_band() -> None:
    call = simple_call("pcma", "pcmu", a_source=digits_source())
    call.run(1.6)
    # Line A's in-band digits were heard and relayed ...
    assert received_digits(call.a, "line") == "159#"
    events = event_packets(call, A_RTP)
    by_timestamp: dict[int, list[tuple[RtpPacket, TelephoneEvent]]] = {}
    for packet, event in events:
        by_timestamp.setdefault(packet.timestamp, []).append((packet, event))
    assert "".join(group[0][1].digit or "" for group in by_timestamp.values()) == "159#"
    for group in by_timestamp.values():
        packets = [p for p, _ in group]
        assert packets[0].marker and not any(p.marker for p in packets[1:])
        ends = [e for _, e in group if e.end]
        assert len(ends) == 3 and len({e.duration for e in ends}) == 1  # RFC 4733 §2.5.1.4
        assert 700 <= ends[0].duration <= 1200  # ~100 ms of tone, heard with ~40 ms latency
        durations = [e.duration for _, e in group]
        assert durations == sorted(durations)
    # ... the tone itself was cut from the RTP audio (no digit can be heard there) ...
    assert detect_digits(wire_audio(call, A_RTP)) == ""
    # ... and B regenerated it toward its line, where a Goertzel detector hears every digit.
    assert detect_digits(b"".join(call.b.line.heard)) == "159#"
    got = [e for e in call.b.events if isinstance(e, DigitReceived)]
    assert [(e.digit, e.origin, e.method) for e in got] == [(d, "rtp", "rfc4733") for d in "159#"]
    assert all(80 <= e.duration_ms <= 150 for e in got)
    stats = call.b.bridge.statistics()
    assert (stats.digits_from_rtp, call.a.bridge.statistics().digits_to_rtp) == (4, 4)


def test_rfc4733_digits_survive_a_lossy_network() -> None:
    net = Net(seed=5, loss=0.10, delay=0.02, spread=0.02)
    call = simple_call("pcmu", "pcma", net=net, a_source=digits_source("2580"))
    call.run(1.6)
    assert received_digits(call.b, "rtp") == "2580"
    assert detect_digits(b"".join(call.b.line.heard)) == "2580"


def test_inband_mode_passes_the_tones_through_untouched() -> None:
    call = simple_call(
        "pcma",
        "pcmu",
        a_source=digits_source(),
        a_config=BridgeConfig(dtmf_mode="inband"),
        b_config=BridgeConfig(dtmf_mode="inband"),
    )
    call.run(1.6)
    assert not event_packets(call, A_RTP)
    assert detect_digits(wire_audio(call, A_RTP)) == "159#"
    assert detect_digits(b"".join(call.b.line.heard)) == "159#"
    assert not [e for s in (call.a, call.b) for e in s.events if isinstance(e, DigitReceived)]


def test_without_telephone_event_negotiated_rfc4733_mode_falls_back_to_inband() -> None:
    call = Call(
        negotiated(B_RTP, events=False),
        negotiated(A_RTP, events=False),
        a_line=Line("pcmu", digits_source("47")),
        b_line=Line("pcmu"),
    )
    assert not call.a.bridge.relaying_digits
    call.run(1.2)
    assert not event_packets(call, A_RTP)
    assert detect_digits(b"".join(call.b.line.heard)) == "47"


def test_digits_for_a_line_that_signals_them_are_reported_not_played() -> None:
    call = simple_call(
        "pcmu", "pcmu", a_source=digits_source(), b_config=BridgeConfig(digits_to_line="signal")
    )
    call.run(1.6)
    assert received_digits(call.b, "rtp") == "159#"
    assert detect_digits(b"".join(call.b.line.heard)) == ""


@pytest.mark.parametrize("mode", ["rfc4733", "inband"])
def test_a_digit_sent_from_signalling_reaches_the_far_line(mode: str) -> None:
    config = BridgeConfig(dtmf_mode=mode)  # type: ignore[arg-type]
    call = simple_call("pcmu", "pcma", a_config=config, b_config=config)
    call.run(0.2)
    assert call.a.bridge.send_digit_to_rtp("7", call.now, duration_ms=120)  # a SIP INFO
    assert call.a.bridge.send_digit_to_rtp("*", call.now, duration_ms=120)  # queued behind
    call.run(0.8)
    assert bool(event_packets(call, A_RTP)) is (mode == "rfc4733")
    assert detect_digits(b"".join(call.b.line.heard)) == "7*"


def test_a_digit_can_be_played_toward_the_line() -> None:
    call = simple_call("pcmu", "pcmu")
    call.run(0.1)
    call.a.bridge.send_digit_to_line("5", call.now, duration_ms=100)
    call.a.bridge.send_digit_to_line("9", call.now, duration_ms=100)
    call.run(0.6)
    assert detect_digits(b"".join(call.a.line.heard)) == "59"
    assert not event_packets(call, A_RTP)
    with pytest.raises(LocalProtocolError):
        call.a.bridge.send_digit_to_line("x", call.now)


def test_no_digit_goes_out_while_on_hold() -> None:
    call = Call(
        negotiated(B_RTP, direction="recvonly"),
        negotiated(A_RTP, direction="sendonly"),
        a_line=Line("pcmu"),
        b_line=Line("pcmu"),
    )
    assert not call.a.bridge.send_digit_to_rtp("1", 0.0)
    call.run(0.5)
    assert not event_packets(call, A_RTP)


def test_hook_flash_travels_as_event_16_only_when_configured() -> None:
    config = BridgeConfig(flash=True)
    call = simple_call("pcmu", "pcmu", a_config=config, b_config=config)
    call.run(0.1)
    call.a.bridge.send_digit_to_rtp("!", call.now, duration_ms=300)
    call.run(0.8)
    assert {e.event for _, e in event_packets(call, A_RTP)} == {16}
    assert received_digits(call.b, "rtp") == "!"
    assert detect_digits(b"".join(call.b.line.heard)) == ""  # a flash has no tone
    plain = simple_call("pcmu", "pcmu")
    with pytest.raises(LocalProtocolError, match="flash"):
        plain.a.bridge.send_digit_to_rtp("!", 0.0)


def test_a_line_with_its_own_clock_pulls_frames() -> None:
    bridge = MediaBridge(
        negotiated(B_RTP), 0.0, random.Random(1), BridgeConfig(line_codec="l16", line_clock=False)
    )
    assert bridge.get_timer() == 0.0  # the send clock only
    bridge.handle_timer(0.0)
    assert bridge.get_timer() == pytest.approx(0.02)
    frames = [bridge.line_frame_due(0.001 * n) for n in range(3)]
    assert frames == [bytes(320)] * 3  # nothing received yet: silence, in the line's format
    assert bridge.statistics().frames_to_line == 3
