"""Media execution for the gateway: call control's MediaCommands carried out on real sockets.

One :class:`CallMedia` per call key holds what the core asked for -- the voice path flags, the
negotiated stream, a tone for the line -- and, once its port is bound, the
:class:`~gateway.aio.rtp.RtpTransport` and :class:`~gateway.media.bridge.MediaBridge` joining the
line call's :class:`~gateway.line.LineAudio` to RTP.  Binding is asynchronous, so commands that
arrive meanwhile only update the wanted state, which the bridge starts with.

Tones for station lines (:class:`~gateway.calls.commands.PlayToLine`) play through the bridge's
``set_line_source`` when the call has one, otherwise through a :class:`LinePlayer` that writes
20 ms frames to the line audio on its own clock (dial tone before any SDP exists).

Bridge events go back to the core as :data:`~gateway.calls.commands.MediaEvent` values: a digit
(:class:`DigitFromMedia`; on ``sip-info`` calls the line's in-band digits are caught before the
bridge by :class:`~gateway.runtime.line_digits.DigitCatchingLine`), RTP silence
(:class:`MediaTimedOut`), a port that cannot be bound or a line without audio
(:class:`MediaFailed`).
"""

from __future__ import annotations

import asyncio
import errno
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from gateway.aio.rtp import LocalLine, PortRange, RtpTransport, start_bridge
from gateway.calls.commands import (
    DigitFromMedia,
    JoinLines,
    MediaCommand,
    MediaEvent,
    MediaFailed,
    MediaTimedOut,
    PlayToLine,
    SendDigit,
    SetVoicePath,
    StartMedia,
    StopMedia,
    UpdateMedia,
)
from gateway.errors import LocalProtocolError
from gateway.line import LineAudio
from gateway.media.audio import AudioSource
from gateway.media.bridge import (
    BridgeConfig,
    BridgeEvent,
    BridgeStatistics,
    DigitReceived,
    MediaBridge,
)
from gateway.media.bridge_paths import line_format
from gateway.media.codecs import CodecUnavailableError
from gateway.media.rtp_session import MediaTimeout, RtpSessionConfig
from gateway.media.tones import Tone, ToneGenerator
from gateway.runtime.line_digits import DigitCatchingLine
from gateway.runtime.line_join import LineJoin
from gateway.sdp.offer_answer import NegotiatedStream
from gateway.trace import TraceSink, discard

__all__ = ["CallMedia", "LinePlayer", "MediaManager", "MediaOptions"]

FRAME_PERIOD: Final = 0.020
_BIND_ATTEMPTS: Final = 10  # a port freed by the previous call closes one loop turn later
_BIND_RETRY: Final = 0.02

AudioLookup = Callable[[str, str], LineAudio | None]
EventSink = Callable[[str, MediaEvent], None]


@dataclass(frozen=True, slots=True)
class MediaOptions:
    """Runtime media settings the core does not decide."""

    enabled: bool = True
    media_timeout: float | None = None
    trace_packets: bool = False
    node: str = "gwemu"


class LinePlayer:
    """Plays an audio source toward a line with no bridge (yet): one frame every 20 ms."""

    __slots__ = ("_audio", "_format", "_handle", "_loop", "_next", "_source")

    def __init__(self, loop: asyncio.AbstractEventLoop, audio: LineAudio,
                 source: AudioSource) -> None:
        self._loop = loop
        self._audio = audio
        self._format = line_format(audio.codec)
        self._source: AudioSource | None = source
        self._next = loop.time()
        self._handle: asyncio.TimerHandle | None = None
        self._tick()

    @property
    def source(self) -> AudioSource | None:
        return self._source

    def _tick(self) -> None:
        source = self._source
        if source is None:
            return
        pcm = source.read_frame()
        if pcm is None:
            self._source = None
            return
        self._audio.write(self._format.from_linear(pcm))
        self._next += FRAME_PERIOD
        now = self._loop.time()
        if self._next < now - 5 * FRAME_PERIOD:  # far behind (a stalled loop): slip
            self._next = now
        self._handle = self._loop.call_at(self._next, self._tick)

    def stop(self) -> AudioSource | None:
        """Stop playing; returns the source so a bridge can carry on with it."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        source, self._source = self._source, None
        return source


class CallMedia:
    """The media of one call: the wanted state and, once bound, transport and bridge."""

    __slots__ = (
        "call",
        "line",
        "local_port",
        "player",
        "ref",
        "start",
        "starting",
        "stream",
        "to_line",
        "to_rtp",
        "tone",
        "transport",
    )

    def __init__(self, call: str, line: str, ref: str) -> None:
        self.call = call
        self.line = line
        self.ref = ref
        self.start: StartMedia | None = None
        self.stream: NegotiatedStream | None = None
        self.to_line = False
        self.to_rtp = False
        self.tone: AudioSource | None = None
        self.player: LinePlayer | None = None
        self.transport: RtpTransport | None = None
        self.starting: asyncio.Task[None] | None = None
        self.local_port: int | None = None

    def statistics(self) -> BridgeStatistics | None:
        transport = self.transport
        bridge = transport.bridge if transport is not None else None
        return bridge.statistics() if bridge is not None else None


class MediaManager:
    """Carries out :data:`MediaCommand` values (see the module docstring)."""

    def __init__(
        self,
        *,
        audio: AudioLookup,
        report: EventSink,
        tones: Mapping[str, Tone],
        options: MediaOptions,
        rng: random.Random,
        trace: TraceSink = discard,
    ) -> None:
        self._audio = audio
        self._report = report
        self._tones = tones
        self._options = options
        self._rng = rng
        self._trace = trace
        self._calls: dict[str, CallMedia] = {}
        self._joins: dict[str, LineJoin] = {}  # hairpin calls: line to line, no RTP
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def calls(self) -> Mapping[str, CallMedia]:
        return self._calls

    def execute(self, command: MediaCommand) -> None:
        if isinstance(command, StartMedia):
            self._start(command)
        elif isinstance(command, PlayToLine):
            self._play(command)
        elif isinstance(command, StopMedia):
            self._stop(command.call)
            return
        elif isinstance(command, JoinLines):
            self._join(command)
            return
        media = self._calls.get(command.call)
        if media is None:
            return  # a call whose media already ended: nothing to steer
        if isinstance(command, UpdateMedia):
            media.stream = command.stream
            bridge = self._bridge(media)
            if bridge is not None and media.transport is not None:
                bridge.renegotiate(command.stream, media.transport.now())
                media.transport.wake()
        elif isinstance(command, SetVoicePath):
            media.to_line, media.to_rtp = command.to_line, command.to_rtp
            bridge = self._bridge(media)
            if bridge is not None and media.transport is not None:
                bridge.set_voice_path(media.transport.now(), to_line=command.to_line,
                                      to_rtp=command.to_rtp)
                media.transport.wake()
        elif isinstance(command, SendDigit):
            bridge = self._bridge(media)
            if bridge is not None and media.transport is not None:
                now = media.transport.now()
                if command.toward == "rtp":
                    bridge.send_digit_to_rtp(command.digit, now, command.duration_ms)
                else:
                    bridge.send_digit_to_line(command.digit, now, command.duration_ms)
                media.transport.wake()

    async def close(self) -> None:
        for call in [*self._calls, *self._joins]:
            self._stop(call)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ commands

    def _start(self, command: StartMedia) -> None:
        media = self._calls.get(command.call)
        if media is None:
            media = self._calls[command.call] = CallMedia(command.call, command.line, command.ref)
        if media.start is not None:
            return  # one bridge per call; a second StartMedia repeats the first
        media.start = command
        media.stream = command.stream
        media.to_line, media.to_rtp = command.to_line, command.to_rtp
        media.local_port = command.local_port
        if not self._options.enabled:
            return  # signalling only: the port is advertised, never bound
        task = asyncio.get_running_loop().create_task(self._bind(media, command))
        media.starting = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _bind(self, media: CallMedia, command: StartMedia) -> None:
        ports = PortRange(command.local_port, command.local_port + 1)
        transport: RtpTransport | None = None
        try:
            for attempt in range(_BIND_ATTEMPTS):
                try:
                    transport = await RtpTransport.open(command.local_address, ports=ports)
                    break
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE or attempt == _BIND_ATTEMPTS - 1:
                        raise
                    await asyncio.sleep(_BIND_RETRY)
        except OSError as exc:
            media.starting = None
            reason = f"RTP port {command.local_port} on {command.local_address}: {exc}"
            self._report(media.call, MediaFailed(reason))
            return
        media.starting = None
        assert transport is not None
        if self._calls.get(media.call) is not media:
            transport.close("call ended")
            return
        line = self._audio(media.line, media.ref)
        if line is None:
            # A line without voice (a signalling-only trunk): RTP still flows, with silence.
            line = LocalLine(command.line_codec)
        if command.dtmf_mode == "sip-info":
            call = media.call
            line = DigitCatchingLine(line, lambda digit, duration: self._report(
                call, DigitFromMedia(digit, "line", "inband", duration)))
        tone = media.player.stop() if media.player is not None else media.tone
        media.player = None
        stream = media.stream or command.stream
        config = BridgeConfig(
            line_codec=line.codec,
            # sip-info digits never pass through the bridge: call control sends them as INFO.
            dtmf_mode="inband" if command.dtmf_mode == "sip-info" else command.dtmf_mode,
            digits_to_line=command.digits_to_line,
            to_line=media.to_line,
            to_rtp=media.to_rtp,
            media_timeout=self._options.media_timeout,
        )
        rtp = RtpSessionConfig(node=self._options.node, call_id=media.call,
                               trace_packets=self._options.trace_packets,
                               cname=f"{self._options.node}-{media.call}@gwemu")
        try:
            bridge = start_bridge(transport, stream, line, rng=self._rng, config=config, rtp=rtp,
                                  trace=self._trace,
                                  on_event=lambda event: self._on_bridge(media, event))
        except (LocalProtocolError, CodecUnavailableError) as exc:  # G.729 without bcg729 ...
            transport.close("media failed")
            self._report(media.call, MediaFailed(f"media bridge: {exc}"))
            return
        media.transport = transport
        if tone is not None:
            bridge.set_line_source(tone)
            transport.wake()

    def _play(self, command: PlayToLine) -> None:
        media = self._calls.get(command.call)
        if media is None:
            media = self._calls[command.call] = CallMedia(command.call, command.line, command.ref)
        source = None
        if command.tone is not None:
            tone = self._tones.get(command.tone)
            source = ToneGenerator.for_tone(tone) if tone is not None else None
        media.tone = source
        if media.player is not None:
            media.player.stop()
            media.player = None
        bridge = self._bridge(media)
        if bridge is not None and media.transport is not None:
            bridge.set_line_source(source)
            media.transport.wake()
            return
        if source is None or not self._options.enabled or media.starting is not None:
            return  # the bridge being started picks the tone up
        audio = self._audio(command.line, command.ref)
        if audio is not None:
            media.player = LinePlayer(asyncio.get_running_loop(), audio, source)

    def _join(self, command: JoinLines) -> None:
        if command.call in self._joins or not self._options.enabled:
            return
        line = self._audio(command.line, command.ref)
        far = self._audio(command.far_line, command.far_ref)
        if line is not None and far is not None:  # signalling-only lines carry no audio
            self._joins[command.call] = LineJoin(line, far)

    def _stop(self, call: str) -> None:
        join = self._joins.pop(call, None)
        if join is not None:
            join.close()
        media = self._calls.pop(call, None)
        if media is None:
            return
        if media.starting is not None:
            media.starting.cancel()
        if media.player is not None:
            media.player.stop()
        if media.transport is not None:
            media.transport.close("call ended")

    # ------------------------------------------------------------------ bridge events

    def _on_bridge(self, media: CallMedia, event: BridgeEvent) -> None:
        if isinstance(event, DigitReceived):
            self._report(media.call, DigitFromMedia(event.digit, event.origin, event.method,
                                                    event.duration_ms))
        elif isinstance(event, MediaTimeout):
            self._report(media.call, MediaTimedOut())
        # Latching, SSRC changes and RTCP BYE are in the media trace; call control needs none.

    @staticmethod
    def _bridge(media: CallMedia) -> MediaBridge | None:
        transport = media.transport
        return transport.bridge if transport is not None else None

