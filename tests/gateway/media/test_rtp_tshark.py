"""Real UDP on 127.0.0.1: two RTP sessions talk, the receiver's trace becomes a pcap, and tshark
(an independent decoder) must agree: every packet there, sane jitter, nothing malformed."""

from __future__ import annotations

import random
import re
import select
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.media.rtp import RtpPacket
from gateway.media.rtp_session import (
    FrameDue,
    RtpReceived,
    RtpSession,
    RtpSessionConfig,
)
from gateway.pcap import PcapWriter, read_pcap, udp_datagrams
from gateway.trace import Address, TraceRecorder

pytestmark = pytest.mark.interop

HOST = "127.0.0.1"
SECONDS = 2.0


def bind_pair() -> tuple[socket.socket, socket.socket]:
    """An RTP socket on an even port and its RTCP socket on the next one (RFC 3550 §11)."""
    for _ in range(50):
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((HOST, 0))
        port = rtp.getsockname()[1]
        if port % 2 == 0:
            rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                rtcp.bind((HOST, port + 1))
            except OSError:
                rtcp.close()
            else:
                return rtp, rtcp
        rtp.close()
    raise RuntimeError("no free even/odd UDP port pair on 127.0.0.1")


def tone_frame(n: int) -> bytes:
    # Any plausible µ-law bytes will do; tshark only checks RTP framing.
    return bytes((0x80 + (n + i) % 64) for i in range(160))


def run_call(trace_b: TraceRecorder) -> tuple[RtpSession, RtpSession, list[int], dict[str, int]]:
    a_rtp, a_rtcp = bind_pair()
    b_rtp, b_rtcp = bind_pair()
    ports = {
        "a_rtp": a_rtp.getsockname()[1],
        "a_rtcp": a_rtcp.getsockname()[1],
        "b_rtp": b_rtp.getsockname()[1],
        "b_rtcp": b_rtcp.getsockname()[1],
    }
    a_addr: Address = (HOST, ports["a_rtp"])
    b_addr: Address = (HOST, ports["b_rtp"])
    origin = time.monotonic()

    def clock() -> float:
        return time.monotonic() - origin

    wallclock = time.time() - time.monotonic() + origin

    def config(remote: Address, local: Address, local_rtcp: Address) -> RtpSessionConfig:
        return RtpSessionConfig(
            remote_rtp=remote,
            local_rtp=local,
            local_rtcp=local_rtcp,
            # A large session bandwidth with the reduced minimum gives RTCP every ~0.5 s.
            session_bandwidth=720_000.0,
            rtcp_reduced_minimum=True,
            trace_packets=True,
            wallclock_offset=wallclock,
        )

    a = RtpSession(config(b_addr, a_addr, (HOST, ports["a_rtcp"])), random.Random(1), clock())
    b = RtpSession(
        config(a_addr, b_addr, (HOST, ports["b_rtcp"])), random.Random(2), clock(), trace_b
    )
    sockets = {a_rtp: (a, "rtp"), a_rtcp: (a, "rtcp"), b_rtp: (b, "rtp"), b_rtcp: (b, "rtcp")}
    out_socket = {(id(a), "rtp"): a_rtp, (id(a), "rtcp"): a_rtcp}
    out_socket |= {(id(b), "rtp"): b_rtp, (id(b), "rtcp"): b_rtcp}
    for sock in sockets:
        sock.setblocking(False)
    received: list[int] = []
    frame = 0
    a.start_pacing(clock())

    def flush(now: float) -> None:
        for session in (a, b):
            for datagram in session.datagrams_to_send(now):
                out_socket[(id(session), datagram.channel)].sendto(datagram.data, datagram.address)

    def pump(until: float) -> None:
        nonlocal frame
        while (now := clock()) < until:
            flush(now)
            timers = [t for t in (a.get_timer(), b.get_timer()) if t is not None]
            wait = max(0.0, min([*timers, until]) - now)
            readable, _, _ = select.select(list(sockets), [], [], wait)
            now = clock()
            for sock in readable:
                data, addr = sock.recvfrom(4096)
                session, kind = sockets[sock]
                if kind == "rtp":
                    session.receive_datagram(data, addr, now)
                else:
                    session.receive_rtcp_datagram(data, addr, now)
            for session in (a, b):
                timer = session.get_timer()
                if timer is not None and timer <= now:
                    session.handle_timer(now)
            while (event := a.next_event()) is not None:
                if isinstance(event, FrameDue):
                    a.send_frame(tone_frame(frame), now)
                    frame += 1
            while (event := b.next_event()) is not None:
                if isinstance(event, RtpReceived):
                    received.append(event.packet.sequence)
            flush(now)

    try:
        pump(SECONDS)
        a.stop_pacing()
        pump(SECONDS + 0.1)
        a.close(clock(), "done")
        pump(SECONDS + 0.15)
        b.close(clock(), "done")
        pump(SECONDS + 0.2)
    finally:
        for sock in sockets:
            sock.close()
    return a, b, received, ports


@dataclass(frozen=True)
class Call:
    a: RtpSession
    b: RtpSession
    received: list[int]
    ports: dict[str, int]
    pcap: Path


@pytest.fixture(scope="module")
def call(tmp_path_factory: pytest.TempPathFactory) -> Call:
    trace = TraceRecorder()
    a, b, received, ports = run_call(trace)
    path = tmp_path_factory.mktemp("rtp") / "b-side.pcap"
    with path.open("wb") as stream:
        writer = PcapWriter(stream, epoch=time.time() - time.monotonic())
        writer.write_events(trace.events)
    return Call(a, b, received, ports, path)


def tshark(tool: Callable[[str], str], path: Path, ports: dict[str, int], *args: str) -> str:
    command = [
        tool("tshark"),
        "-r",
        str(path),
        "-d",
        f"udp.port=={ports['a_rtp']},rtp",
        "-d",
        f"udp.port=={ports['a_rtcp']},rtcp",
        "-o",
        "udp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    return done.stdout


def test_the_session_delivers_everything_over_real_udp(call: Call) -> None:
    a, b, received = call.a, call.b, call.received
    sent = a.statistics().packets_sent
    assert sent >= 0.9 * SECONDS / 0.02
    assert len(received) == sent
    stats = b.statistics()
    assert (stats.packets_lost, stats.duplicates, stats.packets_received) == (0, 0, sent)
    assert stats.rtcp_received >= 2 and a.statistics().rtcp_received >= 2


def test_pcap_of_the_trace_holds_every_packet(call: Call) -> None:
    a, ports, path = call.a, call.ports, call.pcap
    datagrams = list(udp_datagrams(read_pcap(path.read_bytes())))
    rtp = [d for d in datagrams if d.destination[1] == ports["b_rtp"]]
    assert len(rtp) == a.statistics().packets_sent
    assert {d.source for d in rtp} == {(HOST, ports["a_rtp"])}
    sequences = [RtpPacket.parse(d.payload).sequence for d in rtp]
    assert len(set(sequences)) == len(sequences)
    rtcp_ports = {(d.source[1], d.destination[1]) for d in datagrams if d not in rtp}
    assert rtcp_ports == {(ports["a_rtcp"], ports["b_rtcp"]), (ports["b_rtcp"], ports["a_rtcp"])}


def test_tshark_sees_one_stream_without_loss_and_with_sane_jitter(
    call: Call, require_tool: Callable[[str], str]
) -> None:
    a, b, ports, path = call.a, call.b, call.ports, call.pcap
    report = tshark(require_tool, path, ports, "-q", "-z", "rtp,streams")
    rows = [line for line in report.splitlines() if f"0X{a.ssrc:08X}" in line.upper()]
    assert len(rows) == 1, report
    row = rows[0]
    match = re.search(
        r"(?P<pkts>\d+)\s+(?P<lost>-?\d+) \((?P<pct>[-\d.]+)%\)\s+"
        r"(?P<dmin>[\d.]+)\s+(?P<dmean>[\d.]+)\s+(?P<dmax>[\d.]+)\s+"
        r"(?P<jmin>[\d.]+)\s+(?P<jmean>[\d.]+)\s+(?P<jmax>[\d.]+)",
        row,
    )
    assert match, row
    assert int(match["pkts"]) == a.statistics().packets_sent
    assert int(match["lost"]) == 0
    assert float(match["dmean"]) == pytest.approx(20.0, abs=1.0)
    assert float(match["jmax"]) < 20.0
    # Our receiver computes the same RFC 3550 jitter; its final value lies in tshark's range.
    ours = b.statistics().jitter_ms
    assert float(match["jmin"]) - 0.01 <= ours <= float(match["jmax"]) + 0.01


def test_tshark_finds_nothing_malformed(call: Call, require_tool: Callable[[str], str]) -> None:
    ports, path = call.ports, call.pcap
    flagged = tshark(
        require_tool, path, ports, "-Y", '_ws.malformed || _ws.expert.severity >= "warning"'
    )
    assert flagged == ""
    protocols = tshark(require_tool, path, ports, "-T", "fields", "-e", "frame.protocols")
    kinds = set(protocols.split())
    assert "eth:ethertype:ip:udp:rtp" not in kinds  # LINKTYPE_RAW, no Ethernet
    assert "raw:ip:udp:rtp" in kinds
    assert any(kind.startswith("raw:ip:udp:rtcp") for kind in kinds)
    byes = tshark(
        require_tool, path, ports, "-Y", "rtcp.pt == 203", "-T", "fields", "-e", "rtcp.pt"
    )
    assert len(byes.split()) == 2  # each side said goodbye
