"""The asyncio side of media: UDP sockets for one call's RTP/RTCP, pumping a MediaBridge.

:class:`RtpTransport` binds an even RTP port and the next one for RTCP (RFC 3550 §11), or one
port with rtcp-mux (RFC 5761), on a numeric address (127.0.0.1, ::1 or a configured one), from
a :class:`PortRange` or from the kernel's ephemeral ports.  It is bound before SDP is written (the
port goes into the offer or answer) and started with a :class:`~gateway.media.bridge.MediaBridge`
once negotiation is done.  Then it only pumps, as ARCHITECTURE.md says an adapter should:

* a datagram in -> ``bridge.receive_datagram(data, addr, now=loop.time())``;
* after every input or timer: send what ``datagrams_to_send`` holds, hand the bridge's events to
  ``on_event``, and re-arm its deadline at ``bridge.get_timer()`` (the bridge folds its line and
  send clocks, the RTP session's RTCP and media-timeout deadlines and the RFC 4733 end timeout
  into that one deadline) -- no task, no sleep, nothing per packet but the call itself;
* the line side is a :class:`~gateway.line.LineAudio`: the bridge writes it every 20 ms, its
  frames go to ``bridge.receive_line_frame``.

:class:`LocalLine` is a LineAudio that lives in this process: what the bridge writes is decoded
into an :class:`~gateway.media.audio.AudioSink` (a recorder), and every frame written is answered
with the next frame of an :class:`~gateway.media.audio.AudioSource` (a WAV file, tones, digits),
the way a TDM timeslot exchanges one frame each way per tick.  :func:`start_bridge` builds the RTP
session and bridge for a negotiated stream and starts them on a transport: the tests, the PBX
simulator's phones and the scenario runner use it to put real voice on a call.

Deadlines.  Every call has a deadline each 20 ms, at its own phase.  A ``loop.call_at`` per call
and deadline (handle allocation, timer insertion, cancel, a callback of its own) costs 2-3 µs
here, 100-150 µs per call-second.  So the transports of one event loop share a :class:`_Ticker`:
a heap of deadlines and one ``call_at`` for the earliest.  When it fires it runs every transport
whose deadline has come, each with its own deadline as ``now`` (a loop timer fires on the loop's
millisecond grid, so it may come a fraction of a millisecond early; the calls due at that
instant are the ones it serves), and arms itself again for the next.  Calls keep their own
phases: the ticker does not round deadlines, so packets leave when they would with a timer each,
and each bridge is still driven through ``get_timer``/``handle_timer`` alone.

Compiled.  Every packet passes through this module, so it is built by mypyc with the media core
(see ``setup.py``): a datagram goes from the loop's callback to the bridge, and a deadline from
the ticker to the bridge and out to ``sendto``, in native calls.  Nothing here depends on it.
"""

from __future__ import annotations

import asyncio
import errno
import heapq
import itertools
import random
import socket
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Final, cast

from gateway.errors import LocalProtocolError
from gateway.line import LineAudio, LineCodec
from gateway.media.audio import FRAME_SAMPLES, AudioSink, AudioSource
from gateway.media.bridge import BridgeConfig, BridgeEvent, MediaBridge
from gateway.media.bridge_paths import line_format
from gateway.media.rtp_session import RtpSessionConfig
from gateway.sdp.offer_answer import NegotiatedStream
from gateway.trace import Address, TraceSink, discard

__all__ = [
    "LocalLine",
    "PortRange",
    "RtpTransport",
    "limit_read_size",
    "start_bridge",
]

_EPHEMERAL_ATTEMPTS: Final = 64
_ADDRESS_IN_USE: Final = (errno.EADDRINUSE, errno.EACCES)
# The largest UDP payload is 65507 octets (IPv4): a read buffer of 64 KiB holds any datagram.
_READ_SIZE: Final = 65536


@dataclass(slots=True)
class PortRange:
    """Even RTP ports ``first``..``last`` handed out round robin (a freed port is not reused at
    once, so a late packet of the last call does not land in the next one)."""

    first: int = 16384
    last: int = 32767
    _cursor: int = 0

    def __post_init__(self) -> None:
        if not 1024 <= self.first < self.last <= 65535:
            raise LocalProtocolError(f"RTP port range {self.first}-{self.last} is not usable")
        self.first += self.first % 2  # RTP takes the even port (RFC 3550 §11)
        self._cursor = self.first

    def candidates(self) -> Iterator[int]:
        """Every even port of the range once, starting after the last one handed out."""
        count = (self.last - self.first) // 2 + 1
        for _ in range(count):
            port = self._cursor
            self._cursor = port + 2 if port + 2 < self.last else self.first
            yield port


class _Ticker:
    """The deadlines of all transports on one event loop, behind one loop timer (see the module
    docstring).

    The heap holds ``(deadline, token)`` and ``_waiting`` maps each live token to its transport.
    A transport that re-arms withdraws its old token, so the heap entry left behind is stale and
    skipped.  (Pairs of numbers rather than tuples holding the transport: the garbage collector
    stops tracking those at its first pass, so the thousands in flight never reach the older
    generations that every full collection walks.)
    """

    __slots__ = ("_armed", "_handle", "_heap", "_loop", "_running", "_tokens", "_waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # A weak reference: the registry maps loops to tickers weakly, and a ticker that held its
        # loop would keep both alive for good.  The loop holds the ticker through its timer.
        self._loop = weakref.ref(loop)
        self._heap: list[tuple[float, int]] = []
        self._waiting: dict[int, RtpTransport] = {}
        self._tokens = itertools.count()
        self._handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self._armed: float | None = None
        self._running = False

    def schedule(self, transport: RtpTransport, deadline: float) -> int:
        """Run ``transport._fire(deadline)`` at ``deadline``; returns the token to withdraw."""
        token = next(self._tokens)
        self._waiting[token] = transport
        heapq.heappush(self._heap, (deadline, token))
        if not self._running and (self._armed is None or deadline < self._armed):
            self._arm(deadline)
        return token

    def withdraw(self, token: int) -> None:
        self._waiting.pop(token, None)

    def _arm(self, deadline: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._armed = None
        loop = self._loop()
        if loop is not None and not loop.is_closed():
            self._armed = deadline
            self._handle = loop.call_at(deadline, self._run)

    def _run(self) -> None:
        loop = self._loop()
        armed = self._armed
        self._handle = None
        self._armed = None
        if loop is None:
            return
        now = loop.time()
        # Fired early on the loop's clock grid: what was due at the armed instant is due now.
        horizon = armed if armed is not None and armed > now else now
        heap = self._heap
        waiting = self._waiting
        pop = heapq.heappop
        self._running = True
        try:
            while heap and heap[0][0] <= horizon:
                deadline, token = pop(heap)
                transport = waiting.pop(token, None)
                if transport is None:
                    continue  # re-armed or closed since
                try:
                    transport._fire(deadline)
                except Exception as exc:  # one call's bug must not stall every other call
                    loop.call_exception_handler(
                        {"message": "RTP transport timer failed", "exception": exc}
                    )
        finally:
            self._running = False
            if heap:
                self._arm(heap[0][0])


_tickers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Ticker] = (
    weakref.WeakKeyDictionary()
)


def _ticker_for(loop: asyncio.AbstractEventLoop) -> _Ticker:
    ticker = _tickers.get(loop)
    if ticker is None:
        ticker = _tickers[loop] = _Ticker(loop)
    return ticker


class _Socket:
    """The asyncio datagram protocol of one socket: hands each datagram to its transport.

    The loops take any object with the protocol's methods; not deriving from
    ``asyncio.DatagramProtocol`` lets mypyc compile this class, so a datagram reaches the
    transport's handler in one native call.
    """

    def __init__(self, *, rtcp: bool = False) -> None:
        self._rtcp = rtcp
        self._owner: RtpTransport | None = None
        self.errors = 0

    def attach(self, owner: RtpTransport) -> None:
        """From now on every datagram goes to ``owner`` (before, there is no call to run them)."""
        self._owner = owner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        pass

    def connection_lost(self, exc: Exception | None) -> None:
        pass

    def datagram_received(self, data: bytes, addr: Any) -> None:
        owner = self._owner
        if owner is None:
            return
        if self._rtcp:
            owner._rtcp_in(data, addr)
        else:
            owner._rtp_in(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable for what we sent: the peer is not listening (yet); RTP goes on.
        self.errors += 1


class RtpTransport:
    """One call's RTP (and RTCP) sockets, pumping one :class:`MediaBridge`."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        rtp: asyncio.DatagramTransport,
        rtp_protocol: _Socket,
        rtcp: asyncio.DatagramTransport | None,
        rtcp_protocol: _Socket | None,
    ) -> None:
        self._loop = loop
        self._loop_time = loop.time
        self._last_now = loop.time()
        self._rtp = rtp
        self._rtp_protocol = rtp_protocol
        self._rtcp = rtcp
        self._rtcp_protocol = rtcp_protocol
        self.local_rtp: Address = _sockname(rtp)
        self.local_rtcp: Address | None = None if rtcp is None else _sockname(rtcp)
        self._bridge: MediaBridge | None = None
        self._line: LineAudio | None = None
        self._on_event: Callable[[BridgeEvent], None] | None = None
        self._ticker = _ticker_for(loop)
        self._armed: float | None = None
        self._token: int | None = None  # of the ticker entry for _armed
        self._closed = False
        self.dropped_before_start = 0

    # ------------------------------------------------------------------ binding

    @classmethod
    async def open(
        cls, host: str = "127.0.0.1", *, ports: PortRange | None = None, rtcp_mux: bool = False
    ) -> RtpTransport:
        """Bind the sockets on ``host`` (a numeric address): an even RTP port and RTP+1 for
        RTCP, or one port with ``rtcp_mux``.  ``ports=None`` takes the kernel's ephemeral ports."""
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        candidates: Iterator[int] = (
            ports.candidates() if ports is not None else iter([0] * _EPHEMERAL_ATTEMPTS)
        )
        for port in candidates:
            transport = await cls._try_bind(loop, family, host, port, rtcp_mux)
            if transport is not None:
                return transport
        where = "the ephemeral ports" if ports is None else f"{ports.first}-{ports.last}"
        raise OSError(errno.EADDRINUSE, f"no free RTP port pair on {host} in {where}")

    @classmethod
    async def _try_bind(
        cls,
        loop: asyncio.AbstractEventLoop,
        family: int,
        host: str,
        port: int,
        rtcp_mux: bool,
    ) -> RtpTransport | None:
        rtp = await _bind(loop, family, host, port)
        if rtp is None:
            return None
        rtp_transport, rtp_protocol = rtp
        actual = _sockname(rtp_transport)[1]
        if actual % 2:
            rtp_transport.close()
            return None
        if rtcp_mux:
            bound = cls(loop, rtp_transport, rtp_protocol, None, None)
        else:
            try:
                rtcp = await _bind(loop, family, host, actual + 1, rtcp=True)
            except BaseException:
                # Cancelled (the call ended while its port was being bound) or failed: the RTP
                # socket must not outlive us, or its port stays taken for every later call.
                rtp_transport.close()
                raise
            if rtcp is None:
                rtp_transport.close()
                return None
            bound = cls(loop, rtp_transport, rtp_protocol, *rtcp)
        rtp_protocol.attach(bound)
        if bound._rtcp_protocol is not None:
            bound._rtcp_protocol.attach(bound)
        return bound

    # ------------------------------------------------------------------ properties

    @property
    def rtcp_mux(self) -> bool:
        return self._rtcp is None

    @property
    def bridge(self) -> MediaBridge | None:
        return self._bridge

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def send_errors(self) -> int:
        """ICMP errors the sockets reported (the peer's port was closed)."""
        rtcp = 0 if self._rtcp_protocol is None else self._rtcp_protocol.errors
        return self._rtp_protocol.errors + rtcp

    def now(self) -> float:
        """The loop's clock: the ``now`` every bridge call from outside should use."""
        return self._time()

    def _time(self) -> float:
        # Never backwards: a timer may run the bridge at its deadline slightly ahead of the
        # loop's clock (see _on_timer), and the next datagram must not arrive "before" that.
        now = self._loop_time()
        if now < self._last_now:
            return self._last_now
        self._last_now = now
        return now

    # ------------------------------------------------------------------ running

    def start(
        self,
        bridge: MediaBridge,
        *,
        line: LineAudio | None = None,
        on_event: Callable[[BridgeEvent], None] | None = None,
    ) -> None:
        """Pump ``bridge`` from now on; ``line`` is its line side, ``on_event`` gets its events
        (digits, media timeout, latching) on the loop."""
        if self._closed:
            raise LocalProtocolError("the RTP transport is closed")
        if self._bridge is not None:
            raise LocalProtocolError("the RTP transport already runs a bridge")
        if line is not None and line.codec != bridge.config.line_codec:
            raise LocalProtocolError(
                f"the line speaks {line.codec}, the bridge expects {bridge.config.line_codec}"
            )
        self._bridge = bridge
        self._on_event = on_event
        if line is not None:
            self._line = line
            bridge.set_line_writer(line.write)
            line.set_receiver(self._line_in)
        self._service(self._time())

    def wake(self) -> None:
        """Call after driving the bridge from outside (a digit to send, a re-negotiation, a
        voice-path change): sends what is queued and re-arms the timer."""
        if self._bridge is not None and not self._closed:
            self._service(self._time())

    def close(self, reason: str | None = None) -> None:
        """Leave the session (RTCP BYE), detach the line and close the sockets."""
        if self._closed:
            return
        bridge = self._bridge
        if bridge is not None:
            now = self._time()
            bridge.close(now, reason)
            self._service(now)
        if self._line is not None:
            self._line.set_receiver(None)
            self._line = None
        if self._token is not None:
            self._ticker.withdraw(self._token)
            self._token = None
        self._armed = None
        self._closed = True
        self._rtp.close()
        if self._rtcp is not None:
            self._rtcp.close()

    # ------------------------------------------------------------------ the pump

    def _rtp_in(self, data: bytes, addr: Address) -> None:
        bridge = self._bridge
        if bridge is None or self._closed:
            self.dropped_before_start += 1
            return
        now = self._loop_time()
        if now < self._last_now:
            now = self._last_now
        else:
            self._last_now = now
        bridge.receive_datagram(data, addr, now)
        self._service(now)

    def _rtcp_in(self, data: bytes, addr: Address) -> None:
        bridge = self._bridge
        if bridge is None or self._closed:
            self.dropped_before_start += 1
            return
        now = self._time()
        bridge.receive_rtcp_datagram(data, addr, now)
        self._service(now)

    def _line_in(self, frame: bytes) -> None:
        bridge = self._bridge
        if bridge is not None and not self._closed:
            now = self._loop_time()
            if now < self._last_now:
                now = self._last_now
            else:
                self._last_now = now
            bridge.receive_line_frame(frame, now)

    def _fire(self, deadline: float) -> None:
        """Our deadline came (called by the ticker)."""
        self._token = None
        self._armed = None
        bridge = self._bridge
        if bridge is None or self._closed:
            return
        now = self._time()
        if deadline > now:
            # The loop runs timers on its own clock grid (uvloop: whole milliseconds): when the
            # ticker calls us, the deadline has come.  Re-arming for the rest would spin.
            now = self._last_now = deadline
        bridge.handle_timer(now)
        self._service(now)

    def _service(self, now: float) -> None:
        bridge = self._bridge
        if bridge is None:
            return
        datagrams = bridge.datagrams_to_send(now)
        if datagrams:
            rtp, rtcp = self._rtp, self._rtcp
            for datagram in datagrams:
                if datagram.channel == "rtp" or rtcp is None:
                    rtp.sendto(datagram.data, datagram.address)
                else:
                    rtcp.sendto(datagram.data, datagram.address)
        event = bridge.next_event()
        while event is not None:
            if self._on_event is not None:
                self._on_event(event)
            event = bridge.next_event()
        deadline = bridge.get_timer()
        if deadline != self._armed:
            ticker = self._ticker
            if self._token is not None:
                ticker.withdraw(self._token)
            self._armed = deadline
            self._token = (
                None if deadline is None or self._closed else ticker.schedule(self, deadline)
            )


async def _bind(
    loop: asyncio.AbstractEventLoop, family: int, host: str, port: int, *, rtcp: bool = False
) -> tuple[asyncio.DatagramTransport, _Socket] | None:
    protocol = _Socket6(rtcp=rtcp) if family == socket.AF_INET6 else _Socket(rtcp=rtcp)
    try:
        # Typed as asyncio's protocol class, which _Socket has the methods of (see _Socket).
        transport, _ = await loop.create_datagram_endpoint(
            lambda: cast(asyncio.DatagramProtocol, protocol), local_addr=(host, port), family=family
        )
    except OSError as exc:
        # uvloop wraps the system error (errno in __cause__); the stdlib loop raises it as is.
        cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
        if cause.errno in _ADDRESS_IN_USE:
            return None
        raise
    limit_read_size(transport)
    return transport, protocol


def limit_read_size(transport: asyncio.BaseTransport) -> None:
    """Read datagrams into a 64 KiB buffer instead of the stdlib selector loop's 256 KiB.

    That loop receives every datagram into a fresh buffer of ``max_size`` bytes and shrinks it
    to the datagram; glibc serves 256 KiB with mmap and hands it back with munmap, which costs
    ~9 µs per packet here against ~0.6 µs for 64 KiB, more than all the media work of a packet.
    uvloop reads into one preallocated buffer and has no such attribute: nothing to do there.
    """
    if getattr(transport, "max_size", 0) > _READ_SIZE:
        transport.max_size = _READ_SIZE  # type: ignore[attr-defined]


class _Socket6(_Socket):
    """IPv6: the socket address loses flowinfo and scope id, to compare with SDP's."""

    def datagram_received(self, data: bytes, addr: Any) -> None:
        super().datagram_received(data, (addr[0], addr[1]))


def _sockname(transport: asyncio.DatagramTransport) -> Address:
    name = transport.get_extra_info("sockname")
    return (name[0], name[1])


# --------------------------------------------------------------------------- in-process line


class LocalLine:
    """A :class:`~gateway.line.LineAudio` in this process (see the module docstring).

    ``sink`` receives linear PCM frames (what the phone hears); ``source`` provides them (what
    the phone says) and is replaced with :meth:`play`; silence when there is none or it ended.
    """

    def __init__(
        self,
        codec: LineCodec = "pcmu",
        *,
        source: AudioSource | None = None,
        sink: AudioSink | None = None,
    ) -> None:
        self.codec: LineCodec = codec
        self._format = line_format(codec)
        self._silence = self._format.silence(FRAME_SAMPLES)
        self._source = source
        self._sink = sink
        self._receiver: Callable[[bytes], None] | None = None
        self._played = asyncio.Event()
        if source is None:
            self._played.set()
        self.frames_written = 0

    def write(self, frame: bytes) -> None:
        self.frames_written += 1
        if self._sink is not None:
            self._sink.write_frame(self._format.to_linear(frame))
        receiver = self._receiver
        if receiver is None:
            return
        answer = self._silence
        source = self._source
        if source is not None:
            pcm = source.read_frame()
            if pcm is None:
                self._source = None
                self._played.set()
            else:
                answer = self._format.from_linear(pcm)
        receiver(answer)

    def set_receiver(self, receiver: Callable[[bytes], None] | None) -> None:
        self._receiver = receiver

    def play(self, source: AudioSource | None) -> None:
        """Speak ``source`` from the next frame on (``None``: silence)."""
        self._source = source
        if source is None:
            self._played.set()
        else:
            self._played.clear()

    async def played(self) -> None:
        """Wait until the current source has been played to its end."""
        await self._played.wait()


def start_bridge(
    transport: RtpTransport,
    stream: NegotiatedStream,
    line: LineAudio,
    *,
    rng: random.Random,
    config: BridgeConfig | None = None,
    rtp: RtpSessionConfig | None = None,
    trace: TraceSink = discard,
    on_event: Callable[[BridgeEvent], None] | None = None,
) -> MediaBridge:
    """Create the RTP session and bridge for ``stream`` on ``transport`` and start pumping.

    ``config.line_codec`` is taken from ``line``; ``rtp`` supplies what SDP does not say (CNAME,
    ``trace_packets``, node and call id for the trace, bandwidth); local addresses and the wall
    clock offset for RTCP SR timestamps come from the transport and the loop.
    """
    now = transport.now()
    bridge_config = replace(config or BridgeConfig(), line_codec=line.codec)
    rtp_config = replace(
        rtp or RtpSessionConfig(),
        local_rtp=transport.local_rtp,
        local_rtcp=transport.local_rtcp,
        rtcp_mux=transport.rtcp_mux,
        wallclock_offset=time.time() - now,
    )
    bridge = MediaBridge(stream, now, rng, bridge_config, rtp=rtp_config, trace=trace)
    transport.start(bridge, line=line, on_event=on_event)
    return bridge
