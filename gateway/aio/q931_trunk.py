"""A Q.931 trunk as a :class:`~gateway.line.LineAdapter`: the PBX side of REFERENCE_FLOWS flow 1.

One :class:`Q931Trunk` owns one TCP connection to a PBX (it listens or connects, retrying every
``reconnect`` seconds; docs/pbx-trunk.md section 1), a fresh :class:`~pbx_sim.q931.Q931Link` on
each connection (user or network side), the trunk's B-channels and one
:class:`~gateway.aio.bchannel.BChannel` per call carrying the voice (section 2).  It translates
in both directions, nothing more -- call control decides:

======================================  ===================================================
Q.931 from the PBX                      line event
======================================  ===================================================
SETUP                                   :class:`LineSeized` (channel chosen, or RELEASE
                                        COMPLETE 44/82/34 without bothering call control)
INFORMATION (overlap digits / keypad)   :class:`DigitsDialled` / :class:`LineDigit`
CALL PROCEEDING, ALERTING, PROGRESS     :class:`LineProgress` (``inband`` for PI 1/8)
CONNECT                                 :class:`LineAnswered`
CONNECT ACKNOWLEDGE                     :class:`LineAnswerAcknowledged` (flow 1: ACK now)
DISCONNECT, link-initiated clearing     :class:`LineCleared` with the cause
RELEASE / RELEASE COMPLETE (released)   :class:`LineCleared` (if not yet) + :class:`LineReleased`
connection up / down                    :class:`LineStatus`
======================================  ===================================================

======================================  ===================================================
line command                            Q.931 to the PBX
======================================  ===================================================
:class:`OfferCall`                      SETUP (en-bloc, channel from the pool)
:class:`ProceedCall`                    CALL PROCEEDING naming the channel
:class:`IndicateProgress`               ALERTING / PROGRESS (PI 8 when ``inband``)
:class:`AnswerCall`                     CONNECT
:class:`AcknowledgeAnswer`              CONNECT ACKNOWLEDGE
:class:`ClearCall`                      DISCONNECT, RELEASE after the PBX's DISCONNECT, or
                                        RELEASE COMPLETE for a call not yet answered
:class:`SendDigit`                      INFORMATION with a Keypad facility element
======================================  ===================================================

Malformed or unexpected Q.931 is the link's business (STATUS, RELEASE COMPLETE 81, ... per
Q.931 s5.8); a TPKT stream that loses its framing takes the link down, which releases every call
(cause 27 if active, 41 otherwise) and closes the connection.  The adapter pumps like every gwemu
adapter: input in, events out, bytes written, one timer re-armed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from itertools import count
from typing import Any, Final, Literal, cast

from gateway.aio.bchannel import BChannel, BChannelPlan, TrunkCodec
from gateway.aio.deadline import DeadlineTimer
from gateway.aio.q931_parties import CALLED_DIGITS_MAX, display_text, party_number
from gateway.errors import LocalProtocolError
from gateway.line import (
    AcknowledgeAnswer,
    AnswerCall,
    ClearCall,
    DigitsDialled,
    IndicateProgress,
    LineAnswerAcknowledged,
    LineAnswered,
    LineCleared,
    LineCodec,
    LineCommand,
    LineDigit,
    LineEvent,
    LineInfo,
    LineProgress,
    LineReleased,
    LineSeized,
    LineStatus,
    OfferCall,
    ProceedCall,
    SendDigit,
)
from gateway.media.audio import FRAME_SAMPLES
from gateway.media.bridge import BridgeStatistics
from gateway.media.bridge_paths import line_format
from gateway.trace import Address, TraceSink, discard
from pbx_sim.q931 import (
    BearerCapability,
    CallAlerting,
    CallClearing,
    CallConnected,
    CalledPartyNumber,
    CallingPartyNumber,
    CallKey,
    CallOffered,
    CallProceeding,
    CallReleased,
    CauseValue,
    ChannelIdentification,
    ConnectAcknowledged,
    DisconnectIndication,
    InformationReceived,
    Layer1Protocol,
    LinkClosed,
    Location,
    NumberingPlan,
    NumberType,
    ProgressDescription,
    ProgressIndicator,
    ProgressReceived,
    ProtocolViolation,
    Q931Config,
    Q931Event,
    Q931Link,
    Q931Timers,
    Role,
    SetupAcknowledged,
    TimerExpired,
    TransferCapability,
    state_label,
)
from pbx_sim.q931.channels import INTERFACE_CHANNELS, ChannelOrder, ChannelPool, Interface

__all__ = ["Q931Trunk", "Q931TrunkSettings", "TrunkAudio", "TrunkNote"]

TrunkMode = Literal["listen", "connect"]
ChannelPreference = Literal["exclusive", "preferred"]
_log = logging.getLogger(__name__)
_SPEECH: Final = frozenset({TransferCapability.SPEECH, TransferCapability.AUDIO_3_1_KHZ})
_DEFAULT_CODEC: Final[dict[str, TrunkCodec]] = {"e1": "pcma", "t1": "pcmu", "bri": "pcma"}
_KEYPAD: Final = frozenset("0123456789*#ABCD")


@dataclass(frozen=True, slots=True)
class Q931TrunkSettings:
    """One trunk as the gateway sees it (the PBX's mirror image, docs/pbx-trunk.md).

    ``side`` is the Q.931 side the *gateway* plays.  ``channels`` limits the interface to its
    first N B-channels (None: all).  ``media`` holds the B-channel RTP bases (``local`` ours,
    ``remote`` the PBX's); None runs signalling only.  ``numbers`` are the E.164 numbers
    reachable behind the trunk (for registration and the line table).  ``overlap`` accepts a
    SETUP without Sending complete (SETUP ACKNOWLEDGE, then digits in INFORMATION).
    """

    name: str
    address: Address
    mode: TrunkMode = "connect"
    side: Role = "user"
    interface: Interface = "e1"
    channels: int | None = None
    codec: TrunkCodec | None = None
    media: BChannelPlan | None = None
    numbers: tuple[str, ...] = ()
    reconnect: float = 1.0
    timers: Q931Timers | None = None
    channel_preference: ChannelPreference | None = None
    channel_order: ChannelOrder | None = None
    called_type: int = NumberType.UNKNOWN
    called_plan: int = NumberingPlan.E164
    calling_type: int = NumberType.UNKNOWN
    calling_plan: int = NumberingPlan.E164
    overlap: bool = False

    def __post_init__(self) -> None:
        available = len(INTERFACE_CHANNELS[self.interface])
        if self.channels is not None and not 1 <= self.channels <= available:
            raise LocalProtocolError(
                f"a {self.interface.upper()} interface has 1 to {available} B-channels")
        if self.reconnect <= 0:
            raise LocalProtocolError("the reconnect interval must be positive")
        if self.media is not None and self.media.codec != self.line_codec:
            raise LocalProtocolError("the B-channel plan and the trunk disagree on the codec")

    @property
    def line_codec(self) -> TrunkCodec:
        return self.codec or _DEFAULT_CODEC[self.interface]

    def b_channels(self) -> tuple[int, ...]:
        numbers = INTERFACE_CHANNELS[self.interface]
        return numbers if self.channels is None else numbers[: self.channels]

    @property
    def preference(self) -> ChannelPreference:
        # The network always names the channel it offers (Q.931 s5.2.3.1); a user proposes one.
        if self.channel_preference is not None:
            return self.channel_preference
        return "exclusive" if self.side == "network" else "preferred"

    @property
    def order(self) -> ChannelOrder:
        if self.channel_order is not None:
            return self.channel_order
        return "ascending" if self.side == "network" else "descending"

    def q931_config(self) -> Q931Config:
        layer1 = Layer1Protocol.G711_ALAW if self.line_codec == "pcma" else \
            Layer1Protocol.G711_ULAW
        return Q931Config(
            timers=self.timers or Q931Timers.defaults(self.side),
            bearer=BearerCapability.speech(layer1),
            call_ref_length=1 if self.interface == "bri" else 2,
            # Causes the gateway sends arose beyond its interworking point or at the gateway
            # itself, which sits in the private network of the PBX it serves (Q.850 Table 1).
            cause_location=Location.PRIVATE_NETWORK_LOCAL,
        )


@dataclass(frozen=True, slots=True)
class TrunkNote:
    """Something worth a console line that is no line event (link up/down, protocol errors)."""

    trunk: str
    text: str


class TrunkAudio:
    """The :class:`~gateway.line.LineAudio` of one trunk call: its B-channel, once open.

    The call's bridge writes a frame every 20 ms; each is exchanged on the B-channel and the
    frame from the PBX is handed to the receiver.  Before the channel's port is bound (or when
    the peer moved the call to another channel) silence answers.
    """

    __slots__ = ("_channel", "_receiver", "_silence", "codec")

    def __init__(self, codec: TrunkCodec) -> None:
        self.codec: LineCodec = codec
        self._silence = line_format(codec).silence(FRAME_SAMPLES)
        self._channel: BChannel | None = None
        self._receiver: Callable[[bytes], None] | None = None

    @property
    def channel(self) -> BChannel | None:
        return self._channel

    def attach(self, channel: BChannel | None) -> None:
        self._channel = channel

    def write(self, frame: bytes) -> None:
        channel = self._channel
        answer = channel.exchange(frame) if channel is not None else self._silence
        receiver = self._receiver
        if receiver is not None:
            receiver(answer)

    def set_receiver(self, receiver: Callable[[bytes], None] | None) -> None:
        self._receiver = receiver


class _TrunkCall:
    __slots__ = ("audio", "channel", "cleared", "exclusive", "key", "opening", "ref")

    def __init__(self, ref: str, key: CallKey, channel: int | None,
                 audio: TrunkAudio | None) -> None:
        self.ref = ref
        self.key = key
        self.channel = channel
        self.exclusive = False
        self.cleared = False  # LineCleared reported (either side started clearing)
        self.audio = audio
        self.opening: asyncio.Task[None] | None = None


class _Stream(asyncio.Protocol):
    """The trunk's TCP connection: bytes in and out, nothing else."""

    def __init__(self, trunk: Q931Trunk) -> None:
        self._trunk = trunk
        self.transport: asyncio.Transport | None = None
        self.accepted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.accepted = self._trunk.connection_up(self)
        if not self.accepted:
            self.transport.close()  # one connection per trunk (docs/pbx-trunk.md s1)

    def data_received(self, data: bytes) -> None:
        if self.accepted:
            self._trunk.connection_data(self, data)

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.accepted:
            self.accepted = False
            self._trunk.connection_down(self, f"connection lost: {exc}" if exc else
                                        "peer closed the connection")

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def address(self, which: str) -> Address | None:
        if self.transport is None:
            return None
        name = self.transport.get_extra_info(which)
        return (str(name[0]), int(name[1])) if isinstance(name, tuple) else None


class Q931Trunk:
    """One Q.931 trunk line (see the module docstring)."""

    def __init__(
        self,
        settings: Q931TrunkSettings,
        *,
        node: str = "gwemu",
        trace: TraceSink = discard,
        on_note: Callable[[TrunkNote], None] | None = None,
        rng: random.Random | None = None,
        trace_rtp: bool = False,
    ) -> None:
        self.settings = settings
        self.name = settings.name
        self._node = node
        self._trace = trace
        self._on_note = on_note
        self._rng = rng or random.Random()
        self._trace_rtp = trace_rtp
        self._handler: Callable[[LineEvent], None] | None = None
        self._pool = ChannelPool(settings.b_channels(), settings.order,
                                 primary_rate=settings.interface != "bri")
        self._q931 = settings.q931_config()
        self._link: Q931Link | None = None
        self._stream: _Stream | None = None
        self._by_ref: dict[str, _TrunkCall] = {}
        self._by_key: dict[CallKey, _TrunkCall] = {}
        self._refs = count(1)
        self._outbox: list[LineEvent] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._timer = DeadlineTimer(self._on_timer)
        self._last_now = 0.0
        self._in_service = False
        self._running = False
        self.listening: Address | None = None

    # ------------------------------------------------------------------ LineAdapter

    def lines(self) -> Sequence[LineInfo]:
        return (LineInfo(self.name, "trunk", self.settings.numbers,
                         len(self.settings.b_channels())),)

    def set_event_handler(self, handler: Callable[[LineEvent], None]) -> None:
        self._handler = handler

    def audio(self, line: str, ref: str) -> TrunkAudio | None:
        call = self._by_ref.get(ref) if line == self.name else None
        return call.audio if call is not None else None

    async def start(self) -> None:
        if self._running:
            raise LocalProtocolError(f"trunk {self.name} is already running")
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._last_now = loop.time()
        self._running = True
        host, port = self.settings.address
        if self.settings.mode == "listen":
            self._server = await loop.create_server(lambda: _Stream(self), host, port,
                                                    reuse_address=True)
            name = self._server.sockets[0].getsockname()
            self.listening = (name[0], name[1])
        else:
            self._spawn(self._connect_forever())

    async def stop(self) -> None:
        """Close the connection (calls still up are released locally) and every B-channel."""
        if self._loop is None:
            return
        self._running = False
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            self._server.close()
        link = self._link
        if link is not None and not link.closed:
            link.close(self.now(), "gateway stopping")
            self._service()
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        for call in list(self._by_ref.values()):
            self._forget(call)
        self._timer.cancel()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._loop = None

    def send(self, command: LineCommand) -> None:
        """Carry out a line command; a call the PBX already released is no error."""
        call = self._by_ref.get(command.ref)
        if isinstance(command, OfferCall):
            self._offer(command)
        elif call is None:
            if not isinstance(command, ClearCall):  # clearing crossed the PBX's release
                self._note(f"{type(command).__name__} for unknown call {command.ref}: ignored")
        else:
            self._on_command(call, command)
        self._service()

    # ------------------------------------------------------------------ inspection

    @property
    def connected(self) -> bool:
        return self._link is not None and not self._link.closed

    @property
    def live_calls(self) -> int:
        return len(self._by_ref)

    @property
    def busy_channels(self) -> frozenset[int]:
        return self._pool.busy

    def call_info(self, ref: str) -> dict[str, object] | None:
        """Channel, Q.931 state and B-channel RTP figures of one call (for ``show calls``)."""
        call = self._by_ref.get(ref)
        if call is None:
            return None
        link = self._link
        info: dict[str, object] = {
            "channel": call.channel,
            "call_ref": str(call.key),
            "state": state_label(self.settings.side, link.state(call.key)) if link is not None
            else "down",
        }
        channel = call.audio.channel if call.audio is not None else None
        if channel is not None:
            info["b_channel"] = _channel_figures(channel.statistics())
        return info

    def now(self) -> float:
        loop = self._loop
        if loop is None:
            return self._last_now
        now = loop.time()
        if now > self._last_now:
            self._last_now = now
        return self._last_now

    # ------------------------------------------------------------------ commands

    def _offer(self, command: OfferCall) -> None:
        link = self._link
        if command.ref in self._by_ref:
            raise LocalProtocolError(f"trunk {self.name}: call {command.ref} exists already")
        if link is None or link.closed:
            self._refuse(command.ref, CauseValue.NETWORK_OUT_OF_ORDER,
                         f"trunk {self.name} is down")
            return
        channel = self._pool.hunt()
        if channel is None:
            self._refuse(command.ref, CauseValue.NO_CIRCUIT_AVAILABLE,
                         f"no free B-channel on trunk {self.name}")
            return
        settings = self.settings
        exclusive = settings.preference == "exclusive"
        called = party_number(command.called, settings.called_type, settings.called_plan,
                              longest=CALLED_DIGITS_MAX)
        if called is None:
            self._refuse(command.ref, CauseValue.INVALID_NUMBER_FORMAT,
                         f"called number {command.called!r} cannot be sent in a SETUP")
            return
        calling = None
        if command.calling:
            number = party_number(command.calling, settings.calling_type, settings.calling_plan)
            if number is None:
                self._note(f"call {command.ref}: calling number {command.calling!r} cannot be "
                           f"sent in a SETUP: sent without one")
            else:
                calling = CallingPartyNumber(
                    *number, presentation=0 if command.presentation_allowed else 1, screening=0)
        try:
            key = link.setup(
                self.now(),
                called=CalledPartyNumber(*called),
                calling=calling,
                channel=self._pool.identification(channel, exclusive=exclusive),
                sending_complete=True,
                display=display_text(command.calling_name if command.presentation_allowed
                                     else None),
            )
        except LocalProtocolError as exc:  # whatever else the SETUP cannot carry: never stuck
            self._refuse(command.ref, CauseValue.INVALID_IE_CONTENTS, f"SETUP not built: {exc}")
            return
        self._pool.take(channel)
        call = _TrunkCall(command.ref, key, channel, self._new_audio())
        call.exclusive = exclusive
        self._track(call)
        self._open_channel(call)

    def _refuse(self, ref: str, cause: int, reason: str) -> None:
        """An outgoing call that never reached the wire: cleared and released at once."""
        self._note(f"call {ref} not offered: {reason} (cause {cause})")
        self._outbox.append(LineCleared(self.name, ref, cause))
        self._outbox.append(LineReleased(self.name, ref))

    def _on_command(self, call: _TrunkCall, command: LineCommand) -> None:
        link = self._link
        if link is None or link.closed:
            return  # the link went down: the release events are on their way
        now = self.now()
        key = call.key
        try:
            if isinstance(command, ProceedCall):
                link.proceeding(key, now, channel=self._channel_ie(call))
            elif isinstance(command, IndicateProgress):
                self._progress(link, call, command, now)
            elif isinstance(command, AnswerCall):
                link.connect(key, now)
            elif isinstance(command, AcknowledgeAnswer):
                link.connect_ack(key, now)
            elif isinstance(command, ClearCall):
                call.cleared = True  # our clearing: only LineReleased reports its end
                link.clear(key, now, cause=command.cause)
            elif isinstance(command, SendDigit) and command.digit in _KEYPAD:
                link.information(key, now, keypad=command.digit)
        except LocalProtocolError as exc:
            # Call control and the PBX crossed (e.g. the PBX cleared meanwhile): not fatal.
            self._note(f"call {call.ref}: {type(command).__name__} not sent: {exc}")

    def _progress(self, link: Q931Link, call: _TrunkCall, command: IndicateProgress,
                  now: float) -> None:
        indicators = [ProgressIndicator(ProgressDescription.INBAND_AVAILABLE,
                                        Location.PRIVATE_NETWORK_LOCAL)] if command.inband else []
        if command.stage == "alerting":
            link.alerting(call.key, now, progress=indicators)
        elif command.stage == "progress":
            link.progress(call.key, now, progress=indicators)
        else:
            link.proceeding(call.key, now, channel=self._channel_ie(call), progress=indicators)

    def _channel_ie(self, call: _TrunkCall) -> ChannelIdentification | None:
        if call.channel is None:
            return None
        return self._pool.identification(call.channel, exclusive=True)

    # ------------------------------------------------------------------ Q.931 events

    def _on_link_event(self, event: Q931Event) -> None:
        if isinstance(event, CallOffered):
            self._on_offered(event)
            return
        if isinstance(event, LinkClosed):
            self._note(f"link down: {event.reason}")
            self._outbox.append(LineStatus(self.name, False, event.reason))
            return
        if isinstance(event, ProtocolViolation):
            self._note(f"protocol error from the PBX: {event.reason} (cause {event.cause}) -> "
                       f"{event.answer}")
            return
        if isinstance(event, TimerExpired):
            if event.timer == "T302" and event.call is not None:
                call = self._by_key.get(event.call)
                if call is not None:  # overlap receiving stalled: what we have is the number
                    self._outbox.append(DigitsDialled(self.name, call.ref, "", complete=True))
            return
        key = getattr(event, "call", None)
        call = self._by_key.get(key) if isinstance(key, CallKey) else None
        if call is None:
            return
        ref = call.ref
        if isinstance(event, CallReleased):
            if not call.cleared:
                self._outbox.append(LineCleared(self.name, ref, event.cause))
            self._forget(call)
            self._outbox.append(LineReleased(self.name, ref))
        elif isinstance(event, DisconnectIndication | CallClearing):
            if not call.cleared:
                call.cleared = True
                self._outbox.append(LineCleared(self.name, ref, event.cause))
        elif isinstance(event, CallProceeding | SetupAcknowledged):
            if self._adopt_channel(call, event.channel):
                self._outbox.append(LineProgress(self.name, ref, "proceeding"))
        elif isinstance(event, CallAlerting):
            if self._adopt_channel(call, event.channel):
                self._outbox.append(LineProgress(self.name, ref, "alerting", event.inband))
        elif isinstance(event, ProgressReceived):
            self._outbox.append(LineProgress(self.name, ref, "progress", event.inband))
        elif isinstance(event, CallConnected):
            if self._adopt_channel(call, event.channel):
                self._outbox.append(LineAnswered(self.name, ref))
        elif isinstance(event, ConnectAcknowledged):
            self._outbox.append(LineAnswerAcknowledged(self.name, ref))
        elif isinstance(event, InformationReceived):
            if event.digits or (event.complete and not event.keypad):
                self._outbox.append(DigitsDialled(self.name, ref, event.digits, event.complete))
            for digit in event.keypad:
                self._outbox.append(LineDigit(self.name, ref, digit))

    def _on_offered(self, event: CallOffered) -> None:
        link = self._link
        assert link is not None
        now = self.now()
        bearer = event.bearer
        if bearer is not None and bearer.transfer_capability not in _SPEECH:
            link.reject(event.call, now, cause=CauseValue.BEARER_CAPABILITY_NOT_IMPLEMENTED)
            self._note("SETUP refused: not a speech call (cause 65)")
            return
        selected = self._pool.select(event.channel)
        if not isinstance(selected, int):
            link.reject(event.call, now, cause=selected.cause)
            self._note(f"SETUP refused: {selected.reason} (cause {selected.cause})")
            return
        self._pool.take(selected)
        call = _TrunkCall(f"in-{next(self._refs)}", event.call, selected, self._new_audio())
        self._track(call)
        self._open_channel(call)
        calling = event.calling
        complete = event.complete or not self.settings.overlap
        if not complete:
            # Overlap receiving (Q.931 s5.2.4): ask for the rest of the number.
            link.setup_ack(event.call, now, channel=self._channel_ie(call))
        self._outbox.append(LineSeized(
            self.name,
            call.ref,
            called=event.called,
            calling=calling.digits if calling is not None and calling.digits else None,
            calling_name=event.display,
            presentation_allowed=calling.presentation_allowed if calling is not None else True,
            complete=complete,
            channel=selected,
            codec=self.settings.line_codec,
        ))

    def _adopt_channel(self, call: _TrunkCall, offered: ChannelIdentification | None) -> bool:
        """The PBX names the channel of our call (s5.1.2): move to it, or clear the call."""
        link = self._link
        number, _exclusive = self._pool.requested(offered)
        if number is None or number == call.channel or link is None:
            return True
        cause: int | None = None
        if call.exclusive:
            cause = CauseValue.CHANNEL_UNACCEPTABLE
        elif number not in self._pool.numbers or number in self._pool.busy:
            cause = CauseValue.REQUESTED_CHANNEL_NOT_AVAILABLE
        if cause is not None:
            self._note(f"call {call.ref}: the PBX chose channel {number}, unusable "
                       f"(cause {cause})")
            with contextlib.suppress(LocalProtocolError):
                link.clear(call.key, self.now(), cause=cause)
            call.cleared = True
            self._outbox.append(LineCleared(self.name, call.ref, cause))
            return False
        if call.channel is not None:
            self._close_channel(call)
            self._pool.release(call.channel)
        self._pool.take(number)
        call.channel = number
        self._open_channel(call)
        return True

    # ------------------------------------------------------------------ calls and channels

    def _new_audio(self) -> TrunkAudio | None:
        return TrunkAudio(self.settings.line_codec) if self.settings.media is not None else None

    def _track(self, call: _TrunkCall) -> None:
        self._by_ref[call.ref] = call
        self._by_key[call.key] = call

    def _forget(self, call: _TrunkCall) -> None:
        self._by_ref.pop(call.ref, None)
        if self._by_key.get(call.key) is call:
            del self._by_key[call.key]
        self._close_channel(call)
        if call.channel is not None:
            self._pool.release(call.channel)
            call.channel = None

    def _open_channel(self, call: _TrunkCall) -> None:
        """Bind the call's B-channel port (docs/pbx-trunk.md s2: from SETUP to release)."""
        plan = self.settings.media
        if plan is None or call.channel is None or self._loop is None:
            return
        call.opening = self._spawn(self._start_channel(call, plan, call.channel))

    async def _start_channel(self, call: _TrunkCall, plan: BChannelPlan, number: int) -> None:
        try:
            channel = await BChannel.open(
                plan, number, line_codec=self.settings.line_codec, rng=self._rng,
                trace=self._trace, node=self._node, call_id=f"{self.name}/B{number}",
                trace_packets=self._trace_rtp)
        except OSError as exc:
            self._note(f"call {call.ref}: no voice on B-channel {number}: {exc}")
            return
        finally:
            if call.opening is asyncio.current_task():
                call.opening = None
        if self._by_ref.get(call.ref) is not call or call.channel != number or \
                call.audio is None:
            channel.close("no longer needed")
            return
        call.audio.attach(channel)

    def _close_channel(self, call: _TrunkCall) -> None:
        if call.opening is not None:
            call.opening.cancel()
            call.opening = None
        audio = call.audio
        if audio is not None and audio.channel is not None:
            audio.channel.close("call released")
            audio.attach(None)

    # ------------------------------------------------------------------ connection

    async def _connect_forever(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self.settings.address
        while self._running:
            if self._stream is None:
                with contextlib.suppress(OSError):
                    await loop.create_connection(lambda: _Stream(self), host, port)
            await asyncio.sleep(self.settings.reconnect)

    def connection_up(self, stream: _Stream) -> bool:
        if not self._running or self._stream is not None:
            return False
        self._stream = stream
        local, remote = stream.address("sockname"), stream.address("peername")
        self._link = Q931Link(self.settings.side, config=self._q931, trace=self._trace,
                              node=self._node, local=local, remote=remote)
        self._note(f"link up ({self.settings.side} side) {_show(local)} <-> {_show(remote)}")
        self._outbox.append(LineStatus(self.name, True, f"connected to {_show(remote)}"))
        self._service()
        return True

    def connection_data(self, stream: _Stream, data: bytes) -> None:
        if stream is self._stream and self._link is not None:
            self._link.receive_data(data, self.now())
            self._service()

    def connection_down(self, stream: _Stream, reason: str) -> None:
        if stream is not self._stream:
            return
        self._stream = None
        link = self._link
        if link is not None and not link.closed:
            link.receive_data(b"", self.now())
        self._service()

    # ------------------------------------------------------------------ the pump

    def _service(self) -> None:
        """Link events to line events to call control, bytes to the PBX, the timer re-armed."""
        if self._in_service:
            return  # a command issued while events are delivered: the outer loop goes on
        self._in_service = True
        try:
            while True:
                link = self._link
                if link is not None:
                    while (event := link.next_event()) is not None:
                        self._on_link_event(event)
                if not self._outbox:
                    break
                events, self._outbox = self._outbox, []
                for line_event in events:
                    if self._handler is not None:
                        self._handler(line_event)
            self._flush()
        finally:
            self._in_service = False
        self._arm()

    def _flush(self) -> None:
        link = self._link
        stream = self._stream
        if link is None:
            return
        data = link.data_to_send(self.now())
        if data and stream is not None:
            stream.write(data)
        if link.closed and stream is not None:
            # The link gave up on the stream (framing lost, or stopping): hang up TCP too.
            self._stream = None
            stream.accepted = False
            stream.close()

    def _arm(self) -> None:
        link = self._link
        deadline = link.get_timer() if link is not None and self._running else None
        self._timer.arm(deadline, self._loop)

    def _on_timer(self, deadline: float) -> None:
        now = self.now()
        if deadline > now:
            now = self._last_now = deadline  # the loop's clock grid: the time has come
        if self._link is not None:
            self._link.handle_timer(now)
        self._service()

    def _note(self, text: str) -> None:
        if self._on_note is not None:
            self._on_note(TrunkNote(self.name, text))
        else:
            _log.info("trunk %s: %s", self.name, text)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _show(address: Address | None) -> str:
    if address is None:
        return "?"
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _channel_figures(stats: BridgeStatistics) -> dict[str, object]:
    rtp = stats.rtp
    return {
        "codec": stats.send_codec,
        "packets_sent": rtp.packets_sent,
        "packets_received": rtp.packets_received,
    }

