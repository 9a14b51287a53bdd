"""The asyncio RTP transport on real UDP sockets (127.0.0.1 and ::1).

The loopback call of issue 4: two bridges, SDP negotiated by the real offer/answer code, a 1 kHz
tone and the digits "159#" spoken into line A (A-law) arrive at line B (mu-law) through mu-law on
the wire, the digits relayed as RFC 4733 events.  The same call, traced, becomes a pcap that
tshark must read as two clean RTP streams.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from gateway.aio.rtp import LocalLine, PortRange, RtpTransport, start_bridge
from gateway.aio.virtual_time import run_virtual
from gateway.errors import LocalProtocolError
from gateway.media.audio import ConcatSource, FrameCollector, SilenceSource
from gateway.media.bridge import BridgeConfig, BridgeEvent, DigitReceived, MediaBridge
from gateway.media.dtmf_inband import DtmfGenerator, detect_digits
from gateway.media.rtp import RtpPacket
from gateway.media.rtp_session import ByeReceived, RtpSessionConfig, SourceValidated
from gateway.media.tones import ToneDetector, ToneGenerator
from gateway.pcap import PcapWriter, read_pcap, udp_datagrams
from gateway.sdp.offer_answer import (
    PCMU,
    Capabilities,
    NegotiatedStream,
    create_answer,
    create_offer,
    process_answer,
)
from gateway.trace import TraceRecorder

# RTCP every ~0.5 s (RFC 3550 §6.2 reduced minimum with a large session bandwidth).
FAST_RTCP = RtpSessionConfig(session_bandwidth=720_000.0, rtcp_reduced_minimum=True)


def negotiate(a: RtpTransport, b: RtpTransport, host: str) -> tuple[NegotiatedStream, ...]:
    """A offers its codecs, B answers with mu-law only: the wire is PCMU both ways."""
    offer = create_offer(Capabilities(host, a.local_rtp[1]), session_id=1)
    answer = create_answer(offer, Capabilities(host, b.local_rtp[1], codecs=(PCMU,)), session_id=2)
    a_stream = process_answer(offer, answer.description).audio
    b_stream = answer.negotiated.audio
    assert a_stream is not None and b_stream is not None
    return a_stream, b_stream


@dataclass
class LoopbackCall:
    a: MediaBridge
    b: MediaBridge
    a_events: list[BridgeEvent]
    b_events: list[BridgeEvent]
    heard_at_b: FrameCollector
    trace: TraceRecorder
    ports: tuple[int, int, int, int]  # a rtp, a rtcp, b rtp, b rtcp
    wall_seconds: float


async def loopback_call() -> LoopbackCall:
    ta = await RtpTransport.open("127.0.0.1")
    tb = await RtpTransport.open("127.0.0.1")
    a_stream, b_stream = negotiate(ta, tb, "127.0.0.1")
    speech = ConcatSource(
        [
            ToneGenerator([(1000, -10.0)], duration_ms=600),
            SilenceSource(200),
            DtmfGenerator("159#", tone_ms=100, pause_ms=100),
            SilenceSource(300),
        ]
    )
    line_a = LocalLine("pcma", source=speech)
    heard = FrameCollector()
    line_b = LocalLine("pcmu", sink=heard)
    trace = TraceRecorder()
    a_events: list[BridgeEvent] = []
    b_events: list[BridgeEvent] = []
    started = time.monotonic()
    a = start_bridge(
        ta,
        a_stream,
        line_a,
        rng=random.Random(1),
        rtp=replace(FAST_RTCP, trace_packets=True, node="gw-a"),
        trace=trace,
        on_event=a_events.append,
    )
    b = start_bridge(
        tb,
        b_stream,
        line_b,
        rng=random.Random(2),
        rtp=replace(FAST_RTCP, trace_packets=True, node="gw-b"),
        trace=trace,
        on_event=b_events.append,
    )
    await asyncio.wait_for(line_a.played(), 5.0)
    await asyncio.sleep(0.3)  # the last digit's tone plays out at B
    ta.close("done")
    await asyncio.sleep(0.05)  # B hears A's BYE before leaving itself
    tb.close("done")
    assert ta.local_rtcp is not None and tb.local_rtcp is not None
    ports = (ta.local_rtp[1], ta.local_rtcp[1], tb.local_rtp[1], tb.local_rtcp[1])
    return LoopbackCall(a, b, a_events, b_events, heard, trace, ports, time.monotonic() - started)


@pytest.fixture(scope="module")
def call() -> LoopbackCall:
    return asyncio.run(loopback_call())


def test_tone_and_digits_cross_from_an_alaw_line_to_a_ulaw_line(call: LoopbackCall) -> None:
    assert call.wall_seconds < 4.0
    frames = call.heard_at_b.frames
    right = ToneDetector(1000)
    hits = [right.feed(frame) for frame in frames]
    assert 28 <= sum(hits) <= 31  # 600 ms of tone, give or take a partial frame
    # The right frequency, not just energy: a detector 150 Hz off hears nothing.
    assert not any(ToneDetector(850).feed(frame) for frame in frames)
    assert not any(ToneDetector(1150).feed(frame) for frame in frames)
    assert detect_digits(call.heard_at_b.pcm()) == "159#"
    relayed = [e for e in call.b_events if isinstance(e, DigitReceived)]
    assert "".join(e.digit for e in relayed) == "159#"
    assert {(e.origin, e.method) for e in relayed} == {("rtp", "rfc4733")}
    assert any(isinstance(e, SourceValidated) for e in call.a_events)
    assert any(isinstance(e, ByeReceived) for e in call.b_events)


def test_the_wire_was_ulaw_and_nothing_was_lost(call: LoopbackCall) -> None:
    a, b = call.a.statistics(), call.b.statistics()
    assert (a.send_codec, a.line_codec, b.receive_codec, b.line_codec) == (
        "PCMU",
        "pcma",
        "PCMU",
        "pcmu",
    )
    assert b.rtp.packets_received >= 80 and b.rtp.packets_lost == 0
    assert a.rtp.packets_lost == 0
    assert b.rtp.rtcp_received >= 1 and a.rtp.rtcp_received >= 1


def write_pcap(call: LoopbackCall, path: Path, *, before_digits: bool = False) -> None:
    """B's trace as a capture at B: A's stream as received, B's stream as sent.

    ``before_digits`` cuts the capture at the first RFC 4733 packet: an event keeps its start
    timestamp over 20 ms packets, which tshark's jitter figure counts as jitter.
    """
    events = [event for event in call.trace.events if event.node == "gw-b"]
    if before_digits:
        first_event = next(
            i
            for i, event in enumerate(events)
            if event.protocol == "rtp"
            and event.raw
            and RtpPacket.parse(event.raw).payload_type == 101
        )
        events = events[:first_event]
    with path.open("wb") as stream:
        PcapWriter(stream, epoch=time.time() - time.monotonic()).write_events(events)


def stream_rows(report: str, call: LoopbackCall) -> list[re.Match[str]]:
    rows = []
    for line in report.splitlines():
        upper = line.upper()
        if f"0X{call.a.session.ssrc:08X}" in upper or f"0X{call.b.session.ssrc:08X}" in upper:
            match = re.search(
                r"(?P<pkts>\d+)\s+(?P<lost>-?\d+) \((?P<pct>[-\d.]+)%\)\s+"
                r"(?P<dmin>[\d.]+)\s+(?P<dmean>[\d.]+)\s+(?P<dmax>[\d.]+)\s+"
                r"(?P<jmin>[\d.]+)\s+(?P<jmean>[\d.]+)\s+(?P<jmax>[\d.]+)",
                line,
            )
            assert match, line
            rows.append(match)
    return rows


def tshark(tool: Callable[[str], str], path: Path, ports: tuple[int, ...], *args: str) -> str:
    a_rtp, a_rtcp, b_rtp, b_rtcp = ports
    decode = []
    for port, protocol in ((a_rtp, "rtp"), (b_rtp, "rtp"), (a_rtcp, "rtcp"), (b_rtcp, "rtcp")):
        decode += ["-d", f"udp.port=={port},{protocol}"]
    command = [tool("tshark"), "-r", str(path), *decode, "-o", "rtp.heuristic_rtp:FALSE", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def test_tshark_reads_both_streams_clean(
    call: LoopbackCall, tmp_path: Path, require_tool: Callable[[str], str]
) -> None:
    path = tmp_path / "loopback.pcap"
    write_pcap(call, path)
    datagrams = list(udp_datagrams(read_pcap(path.read_bytes())))
    a_rtp, _a_rtcp, b_rtp, _b_rtcp = call.ports
    toward_b = [d for d in datagrams if d.destination[1] == b_rtp]
    toward_a = [d for d in datagrams if d.destination[1] == a_rtp]
    assert len(toward_b) == call.a.statistics().rtp.packets_sent  # RFC 4733 packets included
    assert len(toward_a) == call.b.statistics().rtp.packets_sent
    report = tshark(require_tool, path, call.ports, "-q", "-z", "rtp,streams")
    rows = stream_rows(report, call)
    assert len(rows) == 2, report
    for row in rows:
        assert int(row["pkts"]) >= 100 and int(row["lost"]) == 0, row[0]
        assert float(row["dmean"]) == pytest.approx(20.0, abs=0.5), row[0]
    # Jitter, judged on the audio: the capture up to the first digit.
    audio_only = tmp_path / "audio.pcap"
    write_pcap(call, audio_only, before_digits=True)
    report = tshark(require_tool, audio_only, call.ports, "-q", "-z", "rtp,streams")
    rows = stream_rows(report, call)
    assert len(rows) == 2, report
    for row in rows:
        assert int(row["pkts"]) >= 40 and int(row["lost"]) == 0, row[0]
        assert float(row["jmax"]) < 5.0, row[0]
    flagged = tshark(
        require_tool, path, call.ports, "-Y", '_ws.malformed || _ws.expert.severity >= "warning"'
    )
    assert flagged == ""
    events = tshark(
        require_tool,
        path,
        call.ports,
        "-Y",
        f"rtpevent && udp.srcport == {call.ports[0]}",
        "-T",
        "fields",
        "-e",
        "rtpevent.event_id",
        "-e",
        "rtpevent.end_of_event",
    )
    rows_seen = [line.split("\t") for line in events.splitlines()]
    assert rows_seen, "tshark decoded no RFC 4733 event"
    digits: list[str] = []
    for event_id, _end in rows_seen:
        digit = "0123456789*#"[int(event_id)]
        if not digits or digits[-1] != digit:
            digits.append(digit)
    assert "".join(digits) == "159#"


# --------------------------------------------------------------------------- transport details


def test_rtcp_mux_on_ipv6_on_both_event_loops() -> None:
    import uvloop  # part of the test setup: the runtime and bench_media.py use it

    async def exchange() -> tuple[tuple[str, int], MediaBridge, list[BridgeEvent]]:
        ta = await RtpTransport.open("::1", rtcp_mux=True)
        tb = await RtpTransport.open("::1", rtcp_mux=True)
        assert ta.rtcp_mux and ta.local_rtcp is None and ta.local_rtp[0] == "::1"
        offer = create_offer(Capabilities("::1", ta.local_rtp[1]), session_id=1)
        answer = create_answer(offer, Capabilities("::1", tb.local_rtp[1]), session_id=2)
        a_stream = process_answer(offer, answer.description).audio
        b_stream = answer.negotiated.audio
        assert a_stream is not None and b_stream is not None
        events: list[BridgeEvent] = []
        heard = FrameCollector()
        a = start_bridge(
            ta,
            a_stream,
            LocalLine("l16", source=ToneGenerator([(1000, -10.0)])),
            rng=random.Random(3),
            rtp=FAST_RTCP,
        )
        b = start_bridge(
            tb,
            b_stream,
            LocalLine("pcmu", sink=heard),
            rng=random.Random(4),
            rtp=FAST_RTCP,
            on_event=events.append,
        )
        await asyncio.sleep(0.8)
        ta.close()
        tb.close()
        assert sum(ToneDetector(1000).feed(f) for f in heard.frames) >= 25
        assert a.statistics().rtp.packets_sent >= 35
        return ta.local_rtp, b, events

    for run in (asyncio.run, uvloop.run):
        a_address, b, events = run(exchange())
        stats = b.statistics().rtp
        assert stats.packets_received >= 35 and stats.packets_lost == 0
        assert stats.rtcp_received >= 1  # multiplexed on the RTP port (RFC 5761)
        validated = [e for e in events if isinstance(e, SourceValidated)]
        # The address as SDP writes it: flowinfo and scope id of the IPv6 socket address are gone.
        assert validated and validated[0].address == a_address


def test_a_port_range_gives_even_rtp_ports_and_skips_busy_ones() -> None:
    async def bind() -> list[tuple[int, int | None]]:
        first = random.Random().randrange(20000, 60000, 2)
        busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            busy.bind(("127.0.0.1", first))
        except OSError:
            pytest.skip(f"port {first} is in use on this machine")
        ports = PortRange(first, first + 5)
        got = []
        transports = []
        try:
            for _ in range(2):
                transport = await RtpTransport.open("127.0.0.1", ports=ports)
                transports.append(transport)
                rtcp = transport.local_rtcp
                got.append((transport.local_rtp[1], None if rtcp is None else rtcp[1]))
            with pytest.raises(OSError, match="no free RTP port pair"):
                await RtpTransport.open("127.0.0.1", ports=ports)
        finally:
            busy.close()
            for transport in transports:
                transport.close()
        return got

    got = asyncio.run(bind())
    assert [rtp % 2 for rtp, _ in got] == [0, 0]
    assert all(rtcp == rtp + 1 for rtp, rtcp in got)
    assert len({rtp for rtp, _ in got}) == 2


def test_cancelling_an_open_at_any_step_leaves_no_port_bound(
    free_ports: Callable[[int], int],
) -> None:
    """Found by fuzzing the gateway: a call released while its B-channel port was being bound
    cancelled the open between the RTP and the RTCP bind, and the RTP socket stayed open for
    good -- every later call on that channel had no voice."""

    def both_free(port: int) -> bool:
        for candidate in (port, port + 1):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind(("127.0.0.1", candidate))
                except OSError:
                    return False
        return True

    async def main() -> int:
        port = free_ports(2)
        cancelled = 0
        for steps in range(12):
            task = asyncio.create_task(
                RtpTransport.open("127.0.0.1", ports=PortRange(port, port + 1))
            )
            for _ in range(steps):
                await asyncio.sleep(0)
            if task.done():
                task.result().close()
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                cancelled += 1
            await asyncio.sleep(0)  # closing transports release their sockets on the next turn
            assert both_free(port), f"port {port} still bound after cancelling at step {steps}"
        return cancelled

    assert asyncio.run(main()) >= 2  # the cancel landed inside open() more than once


def test_a_bad_port_range_and_a_codec_mismatch_are_local_errors() -> None:
    with pytest.raises(LocalProtocolError):
        PortRange(60000, 1000)

    async def mismatch() -> None:
        transport = await RtpTransport.open("127.0.0.1")
        try:
            stream = negotiate(transport, transport, "127.0.0.1")[0]
            bridge = MediaBridge(stream, transport.now(), random.Random(1), BridgeConfig())
            with pytest.raises(LocalProtocolError, match="pcma"):
                transport.start(bridge, line=LocalLine("pcma"))
        finally:
            transport.close()

    asyncio.run(mismatch())


def test_the_transport_runs_on_the_virtual_time_loop() -> None:
    """Scenario fast mode: 10 s of call on real sockets in much less wall time, nothing lost."""

    async def call() -> tuple[MediaBridge, float]:
        ta = await RtpTransport.open("127.0.0.1")
        tb = await RtpTransport.open("127.0.0.1")
        a_stream, b_stream = negotiate(ta, tb, "127.0.0.1")
        a = start_bridge(
            ta,
            a_stream,
            LocalLine("pcma", source=ToneGenerator([(1000, -10.0)])),
            rng=random.Random(5),
        )
        b = start_bridge(tb, b_stream, LocalLine("pcmu"), rng=random.Random(6))
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(10.0)
        ta.close()
        tb.close()
        assert a.statistics().rtp.packets_sent >= 495
        return b, loop.time() - start

    wall = time.monotonic()
    b, virtual = run_virtual(call())
    assert virtual >= 10.0
    assert time.monotonic() - wall < 6.0
    stats = b.statistics()
    assert stats.rtp.packets_received >= 495 and stats.rtp.packets_lost == 0
    assert stats.jitter_buffer.frames_lost == 0


def test_rtp_from_a_stranger_before_start_is_dropped() -> None:
    async def early() -> int:
        transport = await RtpTransport.open("127.0.0.1")
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.sendto(bytes(RtpPacket(0, 1, 160, 7, bytes(160))), transport.local_rtp)
        await asyncio.sleep(0.05)
        sender.close()
        transport.close()
        return transport.dropped_before_start

    assert asyncio.run(early()) == 1
