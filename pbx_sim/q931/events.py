"""What a :class:`~pbx_sim.q931.link.Q931Link` reports to call control, as frozen values.

Events about a received message carry the whole :class:`Message` (everything the peer sent is
there) plus properties for what call control usually wants.  ``call`` is the :class:`CallKey`
of the call; it stays valid until :class:`CallReleased`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pbx_sim.q931.ie import (
    BearerCapability,
    CallingPartyNumber,
    ChannelIdentification,
    ProgressIndicator,
)
from pbx_sim.q931.message import Message


@dataclass(frozen=True, slots=True, order=True)
class CallKey:
    """Names one call on a link: the call reference value and who allocated it.

    ``ours`` is True for calls we originated (we sent SETUP and allocated the reference, so we
    send it with flag 0) and False for calls the peer offered us.  Both sides may use the same
    value at once for different calls; the flag tells them apart (Q.931 s4.3).
    """

    value: int
    ours: bool

    def __str__(self) -> str:
        return f"0x{self.value:04X}/{'ours' if self.ours else 'theirs'}"


def _inband(progress: tuple[ProgressIndicator, ...]) -> bool:
    return any(indicator.inband for indicator in progress)


@dataclass(frozen=True, slots=True)
class CallOffered:
    """A SETUP arrived: a new call (answer with setup_ack/proceeding/alerting/connect/reject)."""

    call: CallKey
    message: Message

    @property
    def called(self) -> str:
        number = self.message.called
        return number.digits if number else ""

    @property
    def complete(self) -> bool:
        """True when the SETUP carried Sending complete (en-bloc)."""
        return self.message.sending_complete

    @property
    def calling(self) -> CallingPartyNumber | None:
        return self.message.calling

    @property
    def display(self) -> str | None:
        return self.message.display

    @property
    def bearer(self) -> BearerCapability | None:
        return self.message.bearer

    @property
    def channel(self) -> ChannelIdentification | None:
        return self.message.channel


@dataclass(frozen=True, slots=True)
class SetupAcknowledged:
    """SETUP ACKNOWLEDGE: the peer wants more digits (overlap sending, send information())."""

    call: CallKey
    message: Message

    @property
    def channel(self) -> ChannelIdentification | None:
        return self.message.channel


@dataclass(frozen=True, slots=True)
class CallProceeding:
    call: CallKey
    message: Message

    @property
    def channel(self) -> ChannelIdentification | None:
        return self.message.channel


@dataclass(frozen=True, slots=True)
class CallAlerting:
    call: CallKey
    message: Message

    @property
    def channel(self) -> ChannelIdentification | None:
        return self.message.channel

    @property
    def progress(self) -> tuple[ProgressIndicator, ...]:
        return self.message.progress

    @property
    def inband(self) -> bool:
        """Ringback is played in-band on the B-channel (progress indicator 1 or 8)."""
        return _inband(self.message.progress)


@dataclass(frozen=True, slots=True)
class ProgressReceived:
    """PROGRESS (interworking, in-band announcements before answer)."""

    call: CallKey
    message: Message

    @property
    def progress(self) -> tuple[ProgressIndicator, ...]:
        return self.message.progress

    @property
    def inband(self) -> bool:
        return _inband(self.message.progress)


@dataclass(frozen=True, slots=True)
class CallConnected:
    """CONNECT: the far end answered.  Acknowledge with connect_ack() when call control is ready."""

    call: CallKey
    message: Message

    @property
    def channel(self) -> ChannelIdentification | None:
        return self.message.channel


@dataclass(frozen=True, slots=True)
class ConnectAcknowledged:
    call: CallKey
    message: Message


@dataclass(frozen=True, slots=True)
class InformationReceived:
    """INFORMATION: more called digits (overlap), keypad digits, or Sending complete."""

    call: CallKey
    message: Message

    @property
    def digits(self) -> str:
        number = self.message.called
        return number.digits if number else ""

    @property
    def keypad(self) -> str:
        return self.message.keypad or ""

    @property
    def complete(self) -> bool:
        return self.message.sending_complete


@dataclass(frozen=True, slots=True)
class DisconnectIndication:
    """DISCONNECT: the peer clears the call; answer with release() (cause 31 if none was sent)."""

    call: CallKey
    message: Message
    cause: int

    @property
    def inband(self) -> bool:
        """Tones/announcements are on the B-channel (progress indicator 8): play them first."""
        return _inband(self.message.progress)


@dataclass(frozen=True, slots=True)
class NotifyReceived:
    call: CallKey
    message: Message


@dataclass(frozen=True, slots=True)
class StatusReceived:
    """STATUS from the peer (``call`` is None on the global call reference)."""

    call: CallKey | None
    message: Message

    @property
    def cause(self) -> int | None:
        cause = self.message.cause
        return cause.value if cause else None

    @property
    def peer_state(self) -> int | None:
        state = self.message.call_state
        return state.state if state else None


@dataclass(frozen=True, slots=True)
class CallClearing:
    """The link itself started clearing the call (timer expiry, incompatible state, ...).

    ``cause`` is what call control should report toward the other leg of the call; the call is
    released later (:class:`CallReleased`).
    """

    call: CallKey
    cause: int
    reason: str


@dataclass(frozen=True, slots=True)
class CallReleased:
    """The call reference is free again; the call is over.

    ``message`` is the RELEASE / RELEASE COMPLETE that ended it, if any.  ``maintenance`` is set
    when T308 expired twice: Q.931 wants the B-channel taken out of service until restarted.
    """

    call: CallKey
    cause: int
    reason: str
    message: Message | None = None
    maintenance: bool = False


@dataclass(frozen=True, slots=True)
class TimerExpired:
    """A Q.931 timer expired (``expiry`` 1 or 2); ``cause`` is the cause to report, if any."""

    call: CallKey | None
    timer: str
    expiry: int
    cause: int | None


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """The peer broke the protocol; ``answer`` says what we sent back (or "ignored")."""

    call: CallKey | None
    cause: int
    reason: str
    answer: str


@dataclass(frozen=True, slots=True)
class RestartReceived:
    """The peer restarted channels (or the interface): the calls on them were released."""

    message: Message

    @property
    def channel(self) -> ChannelIdentification | None:
        return self.message.channel


@dataclass(frozen=True, slots=True)
class RestartAcknowledged:
    message: Message


@dataclass(frozen=True, slots=True)
class LinkClosed:
    """The link is down (peer closed, framing lost, or close() called); calls were released.

    ``error`` is True when the link failed (garbage on the stream): the transport must close
    the connection.
    """

    reason: str
    error: bool


Q931Event = (
    CallOffered
    | SetupAcknowledged
    | CallProceeding
    | CallAlerting
    | ProgressReceived
    | CallConnected
    | ConnectAcknowledged
    | InformationReceived
    | DisconnectIndication
    | NotifyReceived
    | StatusReceived
    | CallClearing
    | CallReleased
    | TimerExpired
    | ProtocolViolation
    | RestartReceived
    | RestartAcknowledged
    | LinkClosed
)
