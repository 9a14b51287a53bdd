"""How many bridged calls one gwemu process carries, beside a bare UDP relay on the same loop.

Usage::

    .venv/bin/python scripts/bench_media.py                 # uvloop (when importable) and stdlib
    .venv/bin/python scripts/bench_media.py --loops stdlib --dtmf rfc4733 --seconds 3

Method
------
Two processes.  This one (the *measured* process) only runs media work on one event loop; a
*load generator* (a ``multiprocessing`` child started before any loop exists) produces and checks
the traffic with plain sockets.  With ``--pin`` (default) the two are pinned to different CPUs.

For each event loop (uvloop when importable, then the stdlib loop), two kinds of load are stepped
up in the same run (x1.5 per step until a step fails, then bisection to 25), each step on a fresh
set of sockets:

* ``relay`` -- N UDP sockets whose protocol sends every datagram straight back (receive a
  datagram, send it on, no work): what the loop itself costs per packet.  Its sockets read with
  the same 64 KiB buffer as RtpTransport's (:func:`gateway.aio.rtp.limit_read_size`; the stdlib
  loop's default of 256 KiB costs an mmap/munmap pair per datagram, ~9 µs here, which would make
  the relay a baseline of the allocator rather than of the loop; uvloop is unaffected);
* ``bridge`` -- N bridged calls, each a :class:`gateway.aio.rtp.RtpTransport` pumping a
  :class:`gateway.media.bridge.MediaBridge`: µ-law on the wire, an A-law line (so every packet is
  transcoded each way), the RTP session's latching, sequence checks, statistics and RTCP, the
  jitter buffer and the line clock.  The line side is an in-process loopback: each frame the
  bridge writes toward the line comes back as the line's next frame, so RTP flows both ways at
  50 packets/s per direction.  Bridges start at staggered phases across the 20 ms period, as
  real calls do.  ``--dtmf rfc4733`` also runs the in-band DTMF detector on every line frame.

The generator sends one 20 ms RTP stream (a 1 kHz tone in µ-law, 50 packets/s) to every relay
socket or bridge, spread evenly across the period, and reads back what comes out, with kernel
receive timestamps (``SO_TIMESTAMPNS``, CLOCK_REALTIME; its drift against the monotonic clock
the bridges pace on was measured at ~2 µs over 5 s here) so that its own scheduling does not
count.

A step passes when, over the measurement window (after a warm-up), nothing was lost and the p99
added latency stays under 1 ms:

* loss -- relay: echoes missing for packets sent in the window; bridge: gaps in each stream the
  bridges send, plus what the bridges count as lost on receive, plus frames the jitter buffer had
  to conceal at the line (a packet that came too late to play is a loss to the listener);
* added latency -- relay: the echo's round trip (kernel timestamp of the echo minus the time
  just before ``sendto``); bridge: each packet's lateness against its stream's ideal 20 ms
  schedule (the stream's least-late packet defines the schedule), i.e. how late timers fire and
  how long packets wait behind other work.  Both loops wake timers on a 1 ms grid (epoll's and
  libuv's timeout unit), so a timer-driven send is up to 1 ms late by construction: the bridge
  gets that 1 ms of allowance (p99 lateness < 2 ms), the relay none (p99 round trip < 1 ms).
  The p99 judged is the median of the p99s of the window's four slices ("typical"): one stall
  of a shared machine spoils one slice, an overloaded loop all of them; the overall p99 is
  printed beside it.

A failing step is run once more before the search stops (the machine may be shared: one burst
of outside load should not decide the figure); the better run counts.

CPU per call is this process's CPU time (user + system) over the window divided by the streams
or calls carried.  The ratio printed is bridged calls / relay streams at the highest passing steps
(an upper bound when the relay passed ``--max``: it may carry more).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import random
import select
import socket
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway._compiled import compiled_modules, stale_compiled_modules
from gateway.aio.rtp import RtpTransport, limit_read_size
from gateway.line import LineCodec
from gateway.media import g711
from gateway.media.bridge import BridgeConfig, MediaBridge
from gateway.media.rtp_session import RtpSessionConfig
from gateway.media.tones import ToneGenerator
from gateway.sdp.offer_answer import NegotiatedStream
from gateway.sdp.payload import PayloadFormat

HOST = "127.0.0.1"
PTIME = 0.020
SAMPLES = 160
# Linux: SO_TIMESTAMPNS (= SCM_TIMESTAMPNS) delivers a struct timespec of CLOCK_REALTIME.
SO_TIMESTAMPNS = 35
TIMESPEC = struct.Struct("@qq")
RTP_HEADER = struct.Struct("!BBHII")
SEND_GROUPS = 20  # the generator spreads each period's packets over 20 sends of 1 ms
LATENCY_LIMIT_MS = 1.0
# Both loops wake timers on a whole-millisecond grid (epoll_wait's and libuv's timeout unit):
# a timer-driven send is up to 1 ms late by construction, which the bridge criterion allows for.
TIMER_GRANULARITY_MS = 1.0
SLICES = 4  # the window is judged in slices of window/4


# =========================================================================== load generator


def generator_main(conn: Connection, cpu: int | None) -> None:
    """The child process: one UDP socket for every stream; serves one step per command."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.bind((HOST, 0))
    sock.setblocking(False)
    conn.send(sock.getsockname())
    while (command := conn.recv()) is not None:
        conn.send(run_load(sock, **command))


def run_load(
    sock: socket.socket, mode: str, ports: list[int], start: float, window: tuple[float, float]
) -> dict[str, Any]:
    """Send every stream until the window ends, read until shortly after; return figures."""
    count = len(ports)
    payload = g711.ulaw_encode(ToneGenerator([(1000, -10.0)]).read_frame() or b"")
    packets = [bytearray(RTP_HEADER.size + len(payload)) for _ in range(count)]
    for packet in packets:
        packet[RTP_HEADER.size :] = payload
    groups: list[list[int]] = [[] for _ in range(SEND_GROUPS)]
    for index in range(count):
        groups[index * SEND_GROUPS // count].append(index)
    sent_at: list[list[float]] = [[] for _ in range(count)]  # realtime before sendto, per seq
    received: list[tuple[float, int, int, int, int]] = []  # rx time, port, ssrc, seq, timestamp
    window_start, window_end = window
    # Traffic goes on a little past the window: the measured side reads its counters then.
    send_until = window_end + 0.2
    stop_reading = send_until + 0.1
    period, group, step = 0, 0, PTIME / SEND_GROUPS
    next_send = start
    recvmsg, sendto, wall = sock.recvmsg, sock.sendto, time.time
    known = set(ports)
    while True:  # leftovers of the previous step
        try:
            sock.recv(2048)
        except BlockingIOError:
            break
    monotonic, pack_into, unpack_from = time.monotonic, RTP_HEADER.pack_into, RTP_HEADER.unpack_from
    timespec = TIMESPEC.unpack
    while True:
        now = monotonic()
        while next_send <= now and next_send < send_until:
            for index in groups[group]:
                packet = packets[index]
                timestamp = (period * SAMPLES) & 0xFFFFFFFF
                pack_into(packet, 0, 0x80, 0, period & 0xFFFF, timestamp, index)
                sent_at[index].append(wall())
                sendto(packet, (HOST, ports[index]))
            group += 1
            if group == SEND_GROUPS:
                group = 0
                period += 1
            next_send = start + period * PTIME + group * step
        while True:
            try:
                data, ancillary, _flags, address = recvmsg(2048, 64)
            except BlockingIOError:
                break
            rx = wall()
            for _level, _kind, value in ancillary:
                seconds, nanoseconds = timespec(value[: TIMESPEC.size])
                rx = seconds + nanoseconds * 1e-9
            if address[1] not in known or len(data) < RTP_HEADER.size:
                continue  # RTCP, or a late packet of an earlier step
            _first, _second, sequence, timestamp, ssrc = unpack_from(data)
            received.append((rx, address[1], ssrc, sequence, timestamp))
        if now > stop_reading:
            break
        wait = (next_send if next_send < send_until else stop_reading) - monotonic()
        if wait > 0:
            select.select([sock], [], [], wait)
    # Monotonic window -> realtime window (the kernel timestamps are realtime).
    offset = time.time() - time.monotonic()
    real_window = (window_start + offset, window_end + offset)
    if mode == "relay":
        figures = relay_figures(sent_at, received, real_window)
    else:
        figures = bridge_figures(ports, received, real_window)
    samples: list[tuple[float, float]] = figures.pop("latencies")  # (when, latency)
    latencies = sorted(latency for _when, latency in samples)
    figures["p50"] = percentile(latencies, 0.50)
    figures["p99"] = percentile(latencies, 0.99)
    # The median of the per-slice p99s: one multi-millisecond stall of a shared machine spoils
    # one slice, an overloaded loop spoils all of them.
    slices: list[list[float]] = [[] for _ in range(SLICES)]
    start, end = real_window
    for when, latency in samples:
        slices[min(SLICES - 1, int((when - start) / (end - start) * SLICES))].append(latency)
    per_slice = sorted(percentile(sorted(values), 0.99) for values in slices)
    figures["p99_typical"] = per_slice[SLICES // 2]
    return figures


def relay_figures(
    sent_at: list[list[float]],
    received: list[tuple[float, int, int, int, int]],
    window: tuple[float, float],
) -> dict[str, Any]:
    start, end = window
    expected = sum(1 for times in sent_at for t in times if start <= t < end)
    latencies = []
    seen = set()
    for rx, _port, ssrc, sequence, _timestamp in received:
        sent = sent_at[ssrc][sequence]
        if start <= sent < end and (ssrc, sequence) not in seen:
            seen.add((ssrc, sequence))
            latencies.append((sent, rx - sent))
    return {"expected": expected, "lost": expected - len(latencies), "latencies": latencies}


def bridge_figures(
    ports: list[int], received: list[tuple[float, int, int, int, int]], window: tuple[float, float]
) -> dict[str, Any]:
    start, end = window
    streams: dict[int, list[tuple[float, int, int]]] = {port: [] for port in ports}
    for rx, port, _ssrc, sequence, timestamp in received:
        if start <= rx < end and port in streams:
            streams[port].append((rx, sequence, timestamp))
    lost = 0
    packets = 0
    lateness: list[tuple[float, float]] = []
    silent = 0
    for rows in streams.values():
        if not rows:
            silent += 1
            continue
        first_seq = rows[0][1]
        sequences = {(seq - first_seq) & 0xFFFF for _rx, seq, _ts in rows}
        lost += max(sequences) + 1 - len(sequences)
        packets += len(rows)
        first_ts = rows[0][2]
        relative = [rx - ((ts - first_ts) & 0xFFFFFFFF) / 8000 for rx, _seq, ts in rows]
        base = min(relative)
        lateness.extend((rx, r - base) for (rx, _seq, _ts), r in zip(rows, relative, strict=True))
    return {"packets": packets, "lost": lost, "silent": silent, "latencies": lateness}


# =========================================================================== measured process


class Echo(asyncio.DatagramProtocol):
    """The bare relay: send every datagram straight back, nothing else."""

    def __init__(self) -> None:
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(data, addr)


class LoopbackLine:
    """A line whose phone repeats what it hears: each written frame comes back as input."""

    def __init__(self) -> None:
        self.codec: LineCodec = "pcma"
        self._receiver: Callable[[bytes], None] | None = None

    def write(self, frame: bytes) -> None:
        if self._receiver is not None:
            self._receiver(frame)

    def set_receiver(self, receiver: Callable[[bytes], None] | None) -> None:
        self._receiver = receiver


@dataclass
class Step:
    mode: str
    load: int
    lost: int
    concealed: int
    p99_ms: float
    p99_typical_ms: float
    p50_ms: float
    cpu: float  # fraction of one core over the window
    detail: str = ""

    @property
    def allowance_ms(self) -> float:
        return TIMER_GRANULARITY_MS if self.mode == "bridge" else 0.0

    @property
    def passes(self) -> bool:
        added = self.p99_typical_ms - self.allowance_ms
        return self.lost == 0 and self.concealed == 0 and added < LATENCY_LIMIT_MS


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return math.inf
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def wait_readable(conn: Connection) -> Any:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def ready() -> None:
        loop.remove_reader(conn.fileno())
        # uvloop leaves the descriptor non-blocking; the message may come in several reads.
        os.set_blocking(conn.fileno(), True)
        future.set_result(conn.recv())

    loop.add_reader(conn.fileno(), ready)
    return await future


def stream_for(generator: tuple[str, int]) -> NegotiatedStream:
    pcmu = PayloadFormat(0, "PCMU", 8000)
    events = PayloadFormat(101, "telephone-event", 8000, fmtp="0-15")
    return NegotiatedStream(
        0, "audio", True, "sendrecv", 0, generator, None, pcmu, (pcmu,), events, events, 20
    )


async def run_step(
    mode: str, load: int, conn: Connection, generator: tuple[str, int], args: argparse.Namespace
) -> Step:
    loop = asyncio.get_running_loop()
    relays: list[asyncio.DatagramTransport] = []
    transports: list[RtpTransport] = []
    bridges: list[MediaBridge] = []
    if mode == "relay":
        for _ in range(load):
            relay, _protocol = await loop.create_datagram_endpoint(Echo, local_addr=(HOST, 0))
            limit_read_size(relay)
            relays.append(relay)
        ports = [t.get_extra_info("sockname")[1] for t in relays]
    else:
        config = BridgeConfig(line_codec="pcma", dtmf_mode=args.dtmf)
        stream = stream_for(generator)
        for index in range(load):
            transport = await RtpTransport.open(HOST)
            transports.append(transport)
            # Staggered phases: call i's clocks start i/N of a period later.
            origin = transport.now() + 0.01 + PTIME * index / load
            bridge = MediaBridge(
                stream,
                origin,
                random.Random(index),
                config,
                rtp=RtpSessionConfig(
                    local_rtp=transport.local_rtp, local_rtcp=transport.local_rtcp
                ),
            )
            bridges.append(bridge)
            transport.start(bridge, line=LoopbackLine())
        ports = [t.local_rtp[1] for t in transports]
    start = time.monotonic() + 0.1
    window = (start + args.warmup, start + args.warmup + args.seconds)
    counts: list[tuple[int, int]] = []
    cpu: list[float] = []

    def count() -> None:
        # Reading every bridge's statistics takes a few ms: done just outside the window (the
        # counts then cover slightly more than the window, which only makes them stricter).
        lost = concealed = 0
        for bridge in bridges:
            stats = bridge.statistics()
            jitter = stats.jitter_buffer
            lost += stats.rtp.packets_lost
            concealed += jitter.frames_lost + jitter.underruns + jitter.late_discarded
        counts.append((lost, concealed))

    loop.call_later(window[0] - 0.1 - time.monotonic(), count)
    loop.call_later(window[1] + 0.1 - time.monotonic(), count)
    for when in window:
        loop.call_later(when - time.monotonic(), lambda: cpu.append(time.process_time()))
    conn.send({"mode": mode, "ports": ports, "start": start, "window": window})
    result = await asyncio.wait_for(wait_readable(conn), args.warmup + args.seconds + 30)
    for transport in transports:
        transport.close()
    for relay in relays:
        relay.close()
    await asyncio.sleep(0.05)
    (lost0, concealed0), (lost1, concealed1) = counts
    cpu0, cpu1 = cpu
    detail = ""
    if mode == "bridge":
        detail = f"gen-gaps={result['lost']} rx-lost={lost1 - lost0} silent={result['silent']}"
    return Step(
        mode,
        load,
        result["lost"] + (lost1 - lost0),
        concealed1 - concealed0,
        result["p99"] * 1000,
        result["p99_typical"] * 1000,
        result["p50"] * 1000,
        (cpu1 - cpu0) / args.seconds,
        detail,
    )


async def search(
    mode: str, conn: Connection, generator: tuple[str, int], args: argparse.Namespace
) -> tuple[list[Step], int]:
    """Grow the load by ``--growth`` until a step fails (or ``--max``), then bisect between the
    last passing and the failing load down to ``--resolution``."""
    steps: list[Step] = []
    best = 0
    failed: int | None = None
    load = args.start
    while failed is None and load <= args.max:
        step = await confirmed_step(mode, load, conn, generator, args)
        steps.append(step)
        report(step)
        if step.passes:
            best = load
            grown = int(load * args.growth) // args.resolution * args.resolution
            load = max(load + args.resolution, grown)
            if best < args.max < load:
                load = args.max
        else:
            failed = load
    while failed is not None and failed - best > args.resolution:
        load = (best + failed) // 2 // args.resolution * args.resolution or args.resolution
        if load in (best, failed):
            break
        step = await confirmed_step(mode, load, conn, generator, args)
        steps.append(step)
        report(step)
        if step.passes:
            best = load
        else:
            failed = load
    return steps, best


async def confirmed_step(
    mode: str, load: int, conn: Connection, generator: tuple[str, int], args: argparse.Namespace
) -> Step:
    """Run a step; a failure is run once more before it counts, so that one burst of outside
    load on a shared machine does not end the search (the better of the two is kept)."""
    step = await run_step(mode, load, conn, generator, args)
    if step.passes:
        return step
    print(f"  (retry) {mode} {load}: first run lost={step.lost} p99={step.p99_typical_ms:.3f} ms")
    again = await run_step(mode, load, conn, generator, args)
    return again if again.passes else step


def report(step: Step) -> None:
    verdict = "ok  " if step.passes else "FAIL"
    per_call = step.cpu / step.load * 1e6 if step.load else 0.0
    print(
        f"  {verdict} {step.mode:6s} {step.load:5d}  lost={step.lost:<5d} "
        f"concealed={step.concealed:<4d} p50={step.p50_ms:6.3f}  p99={step.p99_ms:7.3f}  "
        f"p99(typical)={step.p99_typical_ms:6.3f} ms  cpu={100 * step.cpu:5.1f}%  "
        f"{per_call:6.1f} µs/s each  {step.detail}",
        flush=True,
    )


async def bench_loop(
    conn: Connection, generator: tuple[str, int], args: argparse.Namespace
) -> None:
    relay_steps, relay_best = await search("relay", conn, generator, args)
    bridge_steps, bridge_best = await search("bridge", conn, generator, args)

    def cpu_at(steps: list[Step], load: int) -> float:
        return next((s.cpu / s.load * 1e6 for s in steps if s.load == load), math.nan)

    def busiest(steps: list[Step]) -> float:
        """CPU per stream at the heaviest passing step (fixed costs spread the thinnest)."""
        passing = [s for s in steps if s.passes]
        return cpu_at(steps, max(s.load for s in passing)) if passing else math.nan

    ratio = bridge_best / relay_best if relay_best else math.nan
    bound = "<= " if relay_best >= args.max else ""
    relay_cpu, bridge_cpu = busiest(relay_steps), busiest(bridge_steps)
    print(
        f"  => bare relay: {relay_best} streams, {relay_cpu:.0f} µs CPU per stream-second\n"
        f"  => bridged calls: {bridge_best}, {bridge_cpu:.0f} µs CPU per call-second "
        f"({bridge_cpu / 50:.1f} µs per packet each way + line frame)\n"
        f"  => ratio bridged/relay: {bound}{ratio:.2f} (target >= 0.80); CPU per call / per "
        f"relayed stream: {bridge_cpu / relay_cpu:.1f}x",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--loops", default="uvloop,stdlib", help="comma list: uvloop, stdlib")
    parser.add_argument("--dtmf", choices=("inband", "rfc4733"), default="inband")
    parser.add_argument("--seconds", type=float, default=2.0, help="measurement window")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--start", type=int, default=50, help="first load (streams or calls)")
    parser.add_argument("--growth", type=float, default=1.5, help="load factor between steps")
    parser.add_argument("--max", type=int, default=3000)
    parser.add_argument("--resolution", type=int, default=25)
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    pin = args.pin and len(cpus) >= 2
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(
        target=generator_main, args=(theirs, cpus[1] if pin else None), daemon=True
    )
    child.start()
    if pin:
        os.sched_setaffinity(0, {cpus[0]})
    generator: tuple[str, int] = ours.recv()
    print(
        f"bench_media: python {sys.version.split()[0]}, {len(cpus)} CPUs"
        f"{' (measured and generator pinned apart)' if pin else ''}, dtmf={args.dtmf}, "
        f"window {args.seconds} s after {args.warmup} s warm-up",
        flush=True,
    )
    print(f"media hot path: {hot_path_state()}", flush=True)
    for name in args.loops.split(","):
        factory = loop_factory(name.strip())
        if factory is None:
            print(f"[{name}] not available, skipped")
            continue
        print(f"[{name} event loop]", flush=True)
        loop = factory()
        try:
            loop.run_until_complete(bench_loop(ours, generator, args))
        finally:
            loop.close()
    ours.send(None)
    child.join(5)


def hot_path_state() -> str:
    """Whether the figures are of the mypyc-compiled media modules or of the interpreted ones."""
    compiled = compiled_modules()
    if not compiled:
        return "interpreted (not compiled: installed without mypyc or a C compiler)"
    if stale := stale_compiled_modules():
        return f"interpreted (compiled modules stale: {', '.join(stale)} changed since the build)"
    return f"compiled by mypyc ({len(compiled)} modules; see setup.py)"


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if name == "stdlib":
        return asyncio.new_event_loop
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:
            return None
        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return factory
    raise SystemExit(f"unknown loop {name!r} (uvloop, stdlib)")


if __name__ == "__main__":
    main()
