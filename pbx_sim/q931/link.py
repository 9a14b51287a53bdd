"""One Q.931 signalling link over a TCP/TPKT byte stream, user side or network side (sans-IO).

The link owns the call references and call states of every call on one D-channel equivalent;
call control drives it with primitives (``setup``, ``alerting``, ``connect``, ``disconnect``...)
and reads :mod:`~pbx_sim.q931.events`.  Protocol rules live in data: the state tables of
:mod:`~pbx_sim.q931.states`, the timer rules of :mod:`~pbx_sim.q931.timers`, the mandatory
elements of :mod:`~pbx_sim.q931.validation`.  This module applies them and answers errors the
way Q.931 s5.8 says.  B-channel allocation is the caller's: the Channel identification elements
pass through (and ``channel(call)`` remembers the last one seen).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.errors import LocalProtocolError
from gateway.trace import Address, Direction, TraceEvent, TraceSink, discard
from pbx_sim.q931.constants import (
    IE,
    IMPLEMENTED_MESSAGES,
    CallState,
    CauseValue,
    GlobalState,
    Location,
    MessageType,
    ProgressDescription,
    RestartClass,
    Role,
    message_name,
    state_label,
)
from pbx_sim.q931.describe import summarize
from pbx_sim.q931.errors import Q931Error
from pbx_sim.q931.events import (
    CallAlerting,
    CallClearing,
    CallConnected,
    CallKey,
    CallOffered,
    CallProceeding,
    CallReleased,
    ConnectAcknowledged,
    DisconnectIndication,
    InformationReceived,
    LinkClosed,
    NotifyReceived,
    ProgressReceived,
    ProtocolViolation,
    Q931Event,
    RestartAcknowledged,
    RestartReceived,
    SetupAcknowledged,
    StatusReceived,
    TimerExpired,
)
from pbx_sim.q931.ie import (
    BearerCapability,
    CalledPartyNumber,
    CallingPartyNumber,
    CallStateIE,
    Cause,
    ChannelIdentification,
    Display,
    InformationElement,
    KeypadFacility,
    ProgressIndicator,
    RestartIndicator,
    SendingComplete,
)
from pbx_sim.q931.message import CallReference, Message
from pbx_sim.q931.states import (
    ALL,
    CALLER_OVERLAP_STATE,
    CLEARING,
    DISCONNECT_RECEIVED_STATE,
    INCOMPATIBLE_PEER_STATES,
    OFFERED_STATE,
    PRIMITIVES,
    RECEIVE,
    Primitive,
    Rx,
    Step,
)
from pbx_sim.q931.timers import TIMER_RULES, OnExpiry, Q931Timers
from pbx_sim.q931.tpkt import DEFAULT_MAX_LENGTH, HEADER_LENGTH, TpktDecoder, tpkt_frame
from pbx_sim.q931.validation import Defect, find_defects

M = MessageType
S = CallState
CLEARING_MESSAGES = frozenset({M.DISCONNECT, M.RELEASE, M.RELEASE_COMPLETE})
SPEECH_A_LAW = BearerCapability.speech()
_ROLES: frozenset[str] = frozenset({"user", "network"})


@dataclass(frozen=True, slots=True)
class Q931Config:
    """Link settings.

    ``timers`` default to the side's Table 9-1/9-2 values.  ``call_ref_length`` is the length of
    the call references we allocate (2 on a primary-rate interface, 1 on basic rate); longer
    ones from the peer are ignored (s5.8.3.1).  ``cause_location`` goes into the causes we send
    (default: user on the user side, private network serving the local user on the network
    side, as a PBX is).  ``report_unrecognized_ies`` sends the optional STATUS cause 99 of
    s5.8.7.1 for unknown non-mandatory elements.  ``bearer`` is the Bearer capability of our
    SETUPs unless ``setup()`` names one (speech/G.711 A-law; use µ-law on a T1-style trunk).
    """

    timers: Q931Timers | None = None
    bearer: BearerCapability = SPEECH_A_LAW
    call_ref_length: int = 2
    max_frame_length: int = DEFAULT_MAX_LENGTH
    cause_location: int | None = None
    report_unrecognized_ies: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.call_ref_length <= 4:
            raise LocalProtocolError("call references are 1 to 4 octets long here")


class _Timer:
    __slots__ = ("deadline", "expiries", "resend")

    def __init__(self, deadline: float, resend: Message | None) -> None:
        self.deadline = deadline
        self.expiries = 0
        self.resend = resend


class _Call:
    """Mutable per-call bookkeeping (never leaves the link)."""

    __slots__ = (
        "called_format",
        "cause",
        "channel",
        "connect_ack_due",
        "error_cause",
        "key",
        "peer_connect_ack_due",
        "ref",
        "state",
        "timers",
    )

    def __init__(self, key: CallKey, ref: CallReference, state: CallState) -> None:
        self.key = key
        self.ref = ref  # as we send it (flag already set for our side)
        self.state = state
        self.timers: dict[str, _Timer] = {}
        self.channel: ChannelIdentification | None = None
        self.cause: int | None = None  # first clearing cause, either direction
        # Cause (and diagnostics) our next RELEASE / RELEASE COMPLETE must carry after the peer
        # sent a defective clearing message (s5.8.6.1, 5.8.6.2, 5.8.7.1).
        self.error_cause: tuple[int, bytes] | None = None
        self.connect_ack_due = False  # user side: CONNECT received, connect_ack() not yet called
        self.peer_connect_ack_due = False  # network side: we sent CONNECT as the answerer
        self.called_format: tuple[int, int] | None = None


class Q931Link:
    """A Q.931 link (``role`` "user" or "network") speaking TPKT-framed Q.931 on a stream."""

    def __init__(
        self,
        role: Role,
        *,
        config: Q931Config | None = None,
        trace: TraceSink = discard,
        node: str = "",
        local: Address | None = None,
        remote: Address | None = None,
    ) -> None:
        if role not in _ROLES:
            raise LocalProtocolError(f"role must be 'user' or 'network', not {role!r}")
        self.role: Role = role
        self.config = config or Q931Config()
        self.timers = self.config.timers or Q931Timers.defaults(role)
        self.node = node
        self.local = local
        self.remote = remote
        self._trace_sink = trace
        self._location = (
            self.config.cause_location
            if self.config.cause_location is not None
            else (Location.USER if role == "user" else Location.PRIVATE_NETWORK_LOCAL)
        )
        self._receive = RECEIVE[role]
        self._primitives = PRIMITIVES[role]
        self._decoder = TpktDecoder(self.config.max_frame_length)
        self._calls: dict[CallKey, _Call] = {}
        self._events: deque[Q931Event] = deque()
        self._out = bytearray()
        self._next_value = 1
        self._restart: _Timer | None = None  # T316, running while our RESTART is unanswered
        self._closed: str | None = None

    # ------------------------------------------------------------------------ inspection

    @property
    def closed(self) -> bool:
        return self._closed is not None

    def calls(self) -> tuple[CallKey, ...]:
        return tuple(self._calls)

    def state(self, call: CallKey) -> CallState:
        """The call's state (Null once released or when unknown)."""
        record = self._calls.get(call)
        return record.state if record else S.NULL

    def channel(self, call: CallKey) -> ChannelIdentification | None:
        """The last Channel identification sent or received for the call."""
        record = self._calls.get(call)
        return record.channel if record else None

    def running_timers(self, call: CallKey) -> tuple[str, ...]:
        record = self._calls.get(call)
        return tuple(sorted(record.timers)) if record else ()

    # --------------------------------------------------------------------- sans-IO contract

    def receive_data(self, data: bytes, now: float) -> None:
        """Feed bytes from the stream; ``b""`` means the peer closed the connection."""
        if self._closed is not None:
            if data:
                self._trace("drop", f"{len(data)} octets after the link closed", data, now)
            return
        if not data:
            pending = self._decoder.buffered
            tail = f" ({pending} octets of an incomplete TPKT lost)" if pending else ""
            self._link_down(f"peer closed the connection{tail}", now, error=False)
            return
        packets = self._decoder.feed(data)
        for packet in packets:
            self._on_packet(packet, now)
        failure = self._decoder.failure
        if failure is not None:
            self._trace("drop", failure.reason, data, now)  # the chunk that broke the stream
            self._link_down(failure.reason, now, error=True)

    def data_to_send(self, now: float) -> bytes:
        """Bytes to write to the stream (everything queued so far)."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def next_event(self) -> Q931Event | None:
        return self._events.popleft() if self._events else None

    def get_timer(self) -> float | None:
        deadlines = [t.deadline for call in self._calls.values() for t in call.timers.values()]
        if self._restart is not None:
            deadlines.append(self._restart.deadline)
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now`` (in deadline order)."""
        while self._closed is None:
            earliest = now
            due: tuple[_Call | None, str] | None = None
            for record in self._calls.values():
                for name, timer in record.timers.items():
                    if timer.deadline <= earliest:
                        earliest, due = timer.deadline, (record, name)
            if self._restart is not None and self._restart.deadline <= earliest:
                due = (None, "T316")
            if due is None:
                return
            owner, name = due
            if owner is None:
                self._restart_expired(now)
            else:
                self._call_timer_expired(owner, name, now)

    def close(self, now: float, reason: str = "closed locally") -> None:
        """Take the link down from our side (the transport is closing): every call is released."""
        if self._closed is None:
            self._link_down(reason, now, error=False)

    # ------------------------------------------------------------------------ primitives

    def setup(
        self,
        now: float,
        *,
        called: str | CalledPartyNumber = "",
        calling: str | CallingPartyNumber | None = None,
        bearer: BearerCapability | None = None,
        channel: ChannelIdentification | None = None,
        sending_complete: bool = True,
        display: str | None = None,
        progress: Sequence[ProgressIndicator] = (),
        call_ref: int | None = None,
        extra: Sequence[InformationElement] = (),
    ) -> CallKey:
        """Start a call: SETUP (en-bloc with ``sending_complete``, else overlap may follow).

        A string ``calling`` becomes a number with "presentation allowed, user-provided not
        screened" (octet 3a).  The network side must name a channel (Table 3-16).
        """
        self._check_open()
        if self.role == "network" and channel is None:
            raise LocalProtocolError("a network-side SETUP must carry Channel identification")
        value = self._allocate() if call_ref is None else call_ref
        if value <= 0:
            raise LocalProtocolError("call reference value 0 is the global call reference")
        key = CallKey(value, ours=True)
        if key in self._calls:
            raise LocalProtocolError(f"call reference {value} is already in use")
        ref = CallReference(value, flag=False, length=self.config.call_ref_length)
        called_ie = CalledPartyNumber(called) if isinstance(called, str) else called
        calling_ie = (
            CallingPartyNumber(calling, presentation=0, screening=0)
            if isinstance(calling, str)
            else calling
        )
        message = Message.build(
            M.SETUP,
            ref,
            SendingComplete() if sending_complete else None,
            bearer or self.config.bearer,
            channel,
            *progress,
            Display(display) if display else None,
            calling_ie,
            called_ie if called_ie.digits else None,
            *extra,
        )
        call = _Call(key, ref, S.NULL)
        call.channel = channel
        call.called_format = (called_ie.number_type, called_ie.numbering_plan)
        step = self._primitives[(S.NULL, Primitive.SETUP)]
        self._calls[key] = call
        self._perform(call, step, message, now)
        return key

    def setup_ack(
        self,
        call: CallKey,
        now: float,
        *,
        channel: ChannelIdentification | None = None,
        extra: Sequence[InformationElement] = (),
    ) -> None:
        """SETUP ACKNOWLEDGE: ask for more digits (overlap receiving); starts T302."""
        record, step = self._request(call, Primitive.SETUP_ACKNOWLEDGE)
        self._answer(record, step, M.SETUP_ACKNOWLEDGE, channel, (), extra, now)

    def proceeding(
        self,
        call: CallKey,
        now: float,
        *,
        channel: ChannelIdentification | None = None,
        progress: Sequence[ProgressIndicator] = (),
        extra: Sequence[InformationElement] = (),
    ) -> None:
        record, step = self._request(call, Primitive.PROCEEDING)
        self._answer(record, step, M.CALL_PROCEEDING, channel, progress, extra, now)

    def alerting(
        self,
        call: CallKey,
        now: float,
        *,
        channel: ChannelIdentification | None = None,
        progress: Sequence[ProgressIndicator] = (),
        extra: Sequence[InformationElement] = (),
    ) -> None:
        record, step = self._request(call, Primitive.ALERTING)
        self._answer(record, step, M.ALERTING, channel, progress, extra, now)

    def progress(
        self,
        call: CallKey,
        now: float,
        *,
        progress: Sequence[ProgressIndicator] = (),
        extra: Sequence[InformationElement] = (),
    ) -> None:
        """PROGRESS; without indicators it says "in-band information is now available" (8)."""
        record, step = self._request(call, Primitive.PROGRESS)
        indicators = progress or (
            ProgressIndicator(ProgressDescription.INBAND_AVAILABLE, self._location),
        )
        self._answer(record, step, M.PROGRESS, None, indicators, extra, now)

    def connect(
        self,
        call: CallKey,
        now: float,
        *,
        channel: ChannelIdentification | None = None,
        progress: Sequence[ProgressIndicator] = (),
        extra: Sequence[InformationElement] = (),
    ) -> None:
        """Answer: CONNECT (user side waits for CONNECT ACKNOWLEDGE under T313)."""
        record, step = self._request(call, Primitive.CONNECT)
        record.peer_connect_ack_due = self.role == "network"
        self._answer(record, step, M.CONNECT, channel, progress, extra, now)

    def connect_ack(self, call: CallKey, now: float) -> None:
        """CONNECT ACKNOWLEDGE for the CONNECT the peer sent (call control decides when)."""
        record, step = self._request(call, Primitive.CONNECT_ACKNOWLEDGE)
        if self.role == "user":
            if not record.connect_ack_due:
                raise LocalProtocolError(f"call {call}: no CONNECT waits for acknowledgement")
            record.connect_ack_due = False
        self._perform(record, step, self._build(record, M.CONNECT_ACKNOWLEDGE), now)

    def information(
        self,
        call: CallKey,
        now: float,
        *,
        digits: str = "",
        keypad: str = "",
        sending_complete: bool = False,
        extra: Sequence[InformationElement] = (),
    ) -> None:
        """INFORMATION: more called digits (overlap sending only), keypad digits, or both."""
        if not (digits or keypad or sending_complete or extra):
            raise LocalProtocolError("information() needs digits, keypad, sending_complete or IEs")
        record, step = self._request(call, Primitive.INFORMATION)
        if digits and record.state != CALLER_OVERLAP_STATE[self.role]:
            raise LocalProtocolError(
                f"called digits go in INFORMATION only in overlap sending, not in "
                f"{state_label(self.role, record.state)}"
            )
        number_type, plan = record.called_format or (0, 1)
        message = self._build(
            record,
            M.INFORMATION,
            SendingComplete() if sending_complete else None,
            KeypadFacility(keypad) if keypad else None,
            CalledPartyNumber(digits, number_type, plan) if digits else None,
            *extra,
        )
        self._perform(record, step, message, now)

    def disconnect(
        self,
        call: CallKey,
        now: float,
        *,
        cause: int = CauseValue.NORMAL_CALL_CLEARING,
        progress: Sequence[ProgressIndicator] = (),
        extra: Sequence[InformationElement] = (),
    ) -> None:
        """Start clearing: DISCONNECT with ``cause``, T305 runs until the peer releases."""
        record, step = self._request(call, Primitive.DISCONNECT)
        self._send_disconnect(record, step, cause, progress, extra, now)

    def release(self, call: CallKey, now: float, *, cause: int | None = None) -> None:
        """RELEASE: the answer to DISCONNECT, or (with a cause) an abrupt first clearing."""
        record, step = self._request(call, Primitive.RELEASE)
        if cause is None and record.state not in CLEARING:
            cause = CauseValue.NORMAL_CALL_CLEARING  # a first clearing message needs a Cause
        self._send_release(record, step, cause, now)

    def reject(
        self, call: CallKey, now: float, *, cause: int = CauseValue.CALL_REJECTED
    ) -> None:
        """Refuse an offered call (RELEASE COMPLETE with ``cause``, e.g. 17 busy)."""
        record, step = self._request(call, Primitive.REJECT)
        message = self._build(record, M.RELEASE_COMPLETE, self._cause(cause))
        self._perform(record, step, message, now)
        self._release(record, cause, "call rejected")

    def status_enquiry(self, call: CallKey, now: float) -> None:
        """STATUS ENQUIRY: ask the peer for its call state (T322; s5.8.10)."""
        record, step = self._request(call, Primitive.STATUS_ENQUIRY)
        self._perform(record, step, self._build(record, M.STATUS_ENQUIRY), now)

    def clear(
        self, call: CallKey, now: float, *, cause: int = CauseValue.NORMAL_CALL_CLEARING
    ) -> None:
        """Whatever clearing the state calls for: reject an offered call, release after the
        peer's DISCONNECT, otherwise DISCONNECT; nothing when clearing is already under way."""
        state = self.state(call)
        if state == S.NULL:
            raise LocalProtocolError(f"no call {call} on this link")
        if state == OFFERED_STATE[self.role]:
            self.reject(call, now, cause=cause)
        elif state == DISCONNECT_RECEIVED_STATE[self.role]:
            self.release(call, now)
        elif state not in CLEARING:
            self.disconnect(call, now, cause=cause)

    def restart(
        self,
        now: float,
        *,
        channel: ChannelIdentification | None = None,
        restart_class: int | None = None,
    ) -> None:
        """RESTART on the global call reference (s5.5): the named channel, or the interface.

        Calls on the restarted channels are released locally (cause 41) at once.
        """
        self._check_open()
        if self._restart is not None:
            raise LocalProtocolError("a RESTART is already waiting for its acknowledgement")
        if restart_class is None:
            restart_class = (
                RestartClass.INDICATED_CHANNELS if channel else RestartClass.ALL_INTERFACES
            )
        if (restart_class == RestartClass.INDICATED_CHANNELS) != (channel is not None):
            raise LocalProtocolError("restart class 0 needs a channel; the other classes don't")
        ref = CallReference.global_ref(length=self.config.call_ref_length)
        message = Message.build(M.RESTART, ref, channel, RestartIndicator(restart_class))
        self._restart_calls(channel, "local RESTART")
        self._send(message, now, None)
        self._restart = _Timer(now + self.timers.duration("T316"), message)

    # ----------------------------------------------------------------- primitive helpers

    def _check_open(self) -> None:
        if self._closed is not None:
            raise LocalProtocolError(f"the link is closed ({self._closed})")

    def _allocate(self) -> int:
        limit = (1 << (8 * self.config.call_ref_length - 1)) - 1
        for _ in range(limit):
            value = self._next_value
            self._next_value = value % limit + 1
            if CallKey(value, ours=True) not in self._calls:
                return value
        raise LocalProtocolError("every call reference value is in use")

    def _request(self, call: CallKey, primitive: Primitive) -> tuple[_Call, Step]:
        self._check_open()
        record = self._calls.get(call)
        if record is None:
            raise LocalProtocolError(f"no call {call} on this link")
        step = self._primitives.get((record.state, primitive))
        if step is None:
            raise LocalProtocolError(
                f"{primitive.value}() is not allowed in {state_label(self.role, record.state)}"
            )
        return record, step

    def _answer(
        self,
        record: _Call,
        step: Step,
        message_type: MessageType,
        channel: ChannelIdentification | None,
        progress: Sequence[ProgressIndicator],
        extra: Sequence[InformationElement],
        now: float,
    ) -> None:
        if channel is not None:
            record.channel = channel
        message = self._build(record, message_type, channel, *progress, *extra)
        self._perform(record, step, message, now)

    def _send_disconnect(
        self,
        record: _Call,
        step: Step,
        cause: int,
        progress: Sequence[ProgressIndicator],
        extra: Sequence[InformationElement],
        now: float,
    ) -> None:
        record.cause = cause
        message = self._build(record, M.DISCONNECT, self._cause(cause), *progress, *extra)
        self._perform(record, step, message, now)

    def _send_release(self, record: _Call, step: Step, cause: int | None, now: float) -> None:
        if record.error_cause is not None:
            cause_ie: Cause | None = self._cause(*record.error_cause)
        else:
            cause_ie = self._cause(cause) if cause is not None else None
        if record.cause is None and cause_ie is not None:
            record.cause = cause_ie.value
        self._perform(record, step, self._build(record, M.RELEASE, cause_ie), now)

    def _perform(self, record: _Call, step: Step, message: Message, now: float) -> None:
        """Apply a table step for a message we send: timers, state, then the message itself."""
        self._stop(record, step.stop)
        if step.to is not None:
            record.state = step.to
        self._send(message, now, record.key)
        if step.start is not None:
            self._start(record, step.start, now, message)

    def _build(self, record: _Call, message_type: int, *ies: InformationElement | None) -> Message:
        return Message.build(message_type, record.ref, *ies)

    def _cause(self, value: int, diagnostics: bytes = b"") -> Cause:
        return Cause(value, self._location, diagnostics=diagnostics)

    # -------------------------------------------------------------------------- timers

    def _start(self, record: _Call, name: str, now: float, resend: Message | None) -> None:
        record.timers[name] = _Timer(now + self.timers.duration(name), resend)

    def _stop(self, record: _Call, names: Sequence[str]) -> None:
        if ALL in names:
            record.timers.clear()
            return
        for name in names:
            record.timers.pop(name, None)

    def _call_timer_expired(self, record: _Call, name: str, now: float) -> None:
        timer = record.timers[name]
        timer.expiries += 1
        rule = TIMER_RULES[name]
        action = rule.first if timer.expiries == 1 else (rule.second or OnExpiry.REPORT)
        report = rule.report_cause(self.role)
        final = action is not OnExpiry.RETRANSMIT
        reported = int(report) if final and report is not None else None
        expired = TimerExpired(record.key, name, timer.expiries, reported)
        self._events.append(expired)
        self._trace("note", f"{name} expired ({timer.expiries}) cr={record.ref}", b"", now,
                    record.key)
        if action is OnExpiry.RETRANSMIT:
            # Only timers started by the message to repeat have this rule (T303, T308, T322).
            assert timer.resend is not None
            timer.deadline = now + self.timers.duration(name)
            self._send(timer.resend, now, record.key)
            return
        del record.timers[name]
        reason = f"{name} expired" + (" twice" if timer.expiries > 1 else "")
        if action is OnExpiry.CLEAR:
            wire = rule.wire_cause or CauseValue.RECOVERY_ON_TIMER_EXPIRY
            self._send(self._build(record, M.RELEASE_COMPLETE, self._cause(wire)), now, record.key)
            self._release(record, report or wire, reason)
        elif action is OnExpiry.DISCONNECT:
            step = self._primitives[(record.state, Primitive.DISCONNECT)]
            wire = rule.wire_cause or CauseValue.RECOVERY_ON_TIMER_EXPIRY
            self._send_disconnect(record, step, wire, (), (), now)
            self._events.append(CallClearing(record.key, int(report or wire), reason))
        elif action is OnExpiry.RELEASE and record.state != S.RELEASE_REQUEST:
            step = self._primitives[(record.state, Primitive.RELEASE)]
            self._send_release(record, step, rule.wire_cause or record.cause, now)
            if report is not None:
                self._events.append(CallClearing(record.key, int(report), reason))
        elif action is OnExpiry.RELEASE_REFERENCE:
            self._release(record, report or CauseValue.RECOVERY_ON_TIMER_EXPIRY,
                          f"{reason}: B-channel to maintenance", maintenance=True)

    def _restart_expired(self, now: float) -> None:
        timer = self._restart
        assert timer is not None
        timer.expiries += 1
        final = timer.expiries > 1
        self._events.append(TimerExpired(None, "T316", timer.expiries, None))
        self._trace("note", f"T316 expired ({timer.expiries})", b"", now)
        if final:
            self._restart = None
            return
        timer.deadline = now + self.timers.duration("T316")
        if timer.resend is not None:
            self._send(timer.resend, now, None)

    # ---------------------------------------------------------------------- reception

    def _on_packet(self, packet: bytes, now: float) -> None:
        try:
            message = Message.parse(packet[HEADER_LENGTH:], lenient=True)
        except Q931Error as error:
            self._on_undecodable(packet, error, now)
            return
        self._dispatch(message, packet, None, now)

    def _on_undecodable(self, packet: bytes, error: Q931Error, now: float) -> None:
        ref, kind = error.call_ref, error.message_type
        if (
            ref is None
            or kind is None
            or ref.is_dummy
            or ref.length > self.config.call_ref_length
        ):
            # s5.8.1-5.8.3.1: wrong discriminator, too short, unreadable call reference: ignore.
            self._trace("drop", f"ignored: {error.reason}", packet, now)
            cause = error.cause or CauseValue.INVALID_MESSAGE
            self._violation(None, cause, error.reason, "ignored")
            return
        shell = Message(kind, ref)
        defect = Defect(error.cause or CauseValue.INVALID_MESSAGE, error.reason,
                        error.ie_identifier)
        self._dispatch(shell, packet, defect, now)

    def _dispatch(self, message: Message, packet: bytes, forced: Defect | None, now: float) -> None:
        ref = message.call_ref
        summary = summarize(message) + (f" [invalid: {forced.reason}]" if forced else "")
        if ref.length > self.config.call_ref_length or ref.is_dummy:
            # s5.8.3.1; the dummy reference only serves supplementary services we lack.
            self._trace("drop", f"{summary} ignored: unsupported call reference", packet, now)
            return
        if ref.is_global:
            self._trace("in", summary, packet, now)
            self._on_global(message, forced, now)
            return
        key = CallKey(ref.value, ours=ref.flag)
        record = self._calls.get(key)
        ignore = None
        if record is None and message.message_type == M.SETUP and key.ours:
            ignore = "SETUP with the call reference flag set (s5.8.3.2 d)"
        elif record is not None:
            step = self._receive.get((record.state, message.message_type))
            if step is not None and step.action is Rx.IGNORE:
                ignore = f"not for {state_label(self.role, record.state)}"
        if ignore is not None:
            self._trace("drop", f"{summary} ignored: {ignore}", packet, now, key)
            return
        self._trace("in", summary, packet, now, key)
        if record is None:
            self._on_unknown_reference(message, key, forced, now)
        else:
            self._on_call_message(record, message, forced, now)

    def _on_unknown_reference(
        self, message: Message, key: CallKey, forced: Defect | None, now: float
    ) -> None:
        """s5.8.3.2: a message for a call reference we do not know (we are in the Null state)."""
        kind = message.message_type
        reply = message.call_ref.reply()
        if kind == M.SETUP:
            self._on_setup(message, key, forced, now)
        elif kind == M.RELEASE_COMPLETE:
            return  # c) no action
        elif kind == M.STATUS_ENQUIRY:
            self._send_status(reply, CauseValue.RESPONSE_TO_STATUS_ENQUIRY, b"", S.NULL, now)
        elif kind == M.STATUS:
            # g) -> s5.8.11 a): the peer thinks a call exists; we have none.
            state = message.call_state
            if state is not None and state.state != S.NULL:
                self._send_release_complete(reply, CauseValue.MESSAGE_NOT_COMPATIBLE_WITH_STATE,
                                            b"", now)
                self._violation(None, CauseValue.MESSAGE_NOT_COMPATIBLE_WITH_STATE,
                                f"STATUS reports state {state.state} for unknown cr={reply}",
                                "RELEASE COMPLETE")
        else:
            # a) and b): RELEASE COMPLETE with cause 81 (a) allows it instead of RELEASE).
            self._send_release_complete(reply, CauseValue.INVALID_CALL_REFERENCE, b"", now)
            self._violation(None, CauseValue.INVALID_CALL_REFERENCE,
                            f"{message.name} for unknown cr={message.call_ref}",
                            "RELEASE COMPLETE")

    def _on_setup(self, message: Message, key: CallKey, forced: Defect | None, now: float) -> None:
        defects = ([forced] if forced else []) + find_defects(message, self.role)
        fatal = next((d for d in defects if d.fatal), None)
        reply = message.call_ref.reply()
        if fatal is not None:
            # s5.8.6.1 / 5.8.6.2: a SETUP we cannot act on is refused with RELEASE COMPLETE.
            self._send_release_complete(reply, fatal.cause, _diagnostic(fatal), now)
            self._violation(None, fatal.cause, fatal.reason, "RELEASE COMPLETE")
            return
        record = _Call(key, reply, OFFERED_STATE[self.role])
        record.channel = message.channel
        called = message.called
        if called is not None:
            record.called_format = (called.number_type, called.numbering_plan)
        self._calls[key] = record
        self._events.append(CallOffered(key, message))
        self._report_minor(record, defects, now)

    def _on_call_message(
        self, record: _Call, message: Message, forced: Defect | None, now: float
    ) -> None:
        kind = message.message_type
        step = self._receive.get((record.state, kind))
        if (
            step is not None
            and step.action is Rx.CONNECT_ACKNOWLEDGE
            and self.role == "network"
            and not record.peer_connect_ack_due
        ):
            step = None  # the network only expects CONNECT ACKNOWLEDGE after its own CONNECT
        if step is None:
            # s5.8.4: unexpected (101) or unknown (97) message: STATUS, no state change.
            cause = (
                CauseValue.MESSAGE_NOT_COMPATIBLE_WITH_STATE
                if kind in IMPLEMENTED_MESSAGES
                else CauseValue.MESSAGE_TYPE_NOT_IMPLEMENTED
            )
            self._send_status(record.ref, cause, bytes((kind,)), record.state, now, record.key)
            self._violation(record.key, cause,
                            f"{message_name(kind)} in {state_label(self.role, record.state)}",
                            "STATUS")
            return
        first_clearing = kind == M.RELEASE and record.state not in CLEARING
        defects = ([forced] if forced else []) + find_defects(
            message, self.role, first_clearing=first_clearing
        )
        fatal = next((d for d in defects if d.fatal), None)
        peer_cause = message.cause
        cause_in = peer_cause.value if peer_cause and fatal is None else None
        if fatal is not None:
            if kind not in CLEARING_MESSAGES:
                # s5.8.6: no action on the message; STATUS reports the error.
                self._send_status(record.ref, fatal.cause, _diagnostic(fatal), record.state, now,
                                  record.key)
                self._violation(record.key, fatal.cause, fatal.reason, "STATUS")
                return
            # A defective DISCONNECT/RELEASE still clears, as with cause 31; our RELEASE or
            # RELEASE COMPLETE carries the error cause (s5.8.6.1/5.8.6.2).
            record.error_cause = (fatal.cause, _diagnostic(fatal))
            cause_in = CauseValue.NORMAL_UNSPECIFIED
            self._violation(record.key, fatal.cause, fatal.reason, "clearing continues")
        elif kind in (M.DISCONNECT, M.RELEASE):
            unknown = [d for d in defects if d.cause == CauseValue.IE_NOT_IMPLEMENTED]
            if unknown:
                # s5.8.7.1 a)/b): report unrecognized elements in our RELEASE / REL COMPLETE.
                record.error_cause = (unknown[0].cause, _diagnostics(unknown))
        self._apply(record, message, step, cause_in, now)
        if kind not in CLEARING_MESSAGES and record.key in self._calls:
            self._report_minor(record, defects, now)

    def _apply(
        self, record: _Call, message: Message, step: Step, cause_in: int | None, now: float
    ) -> None:
        """Carry out a reception table step."""
        self._stop(record, step.stop)
        if step.to is not None:
            record.state = step.to
        if message.channel is not None and message.message_type != M.STATUS:
            record.channel = message.channel
        if cause_in is not None and record.cause is None:
            record.cause = cause_in
        key = record.key
        start = step.start
        resend: Message | None = None
        match step.action:
            case Rx.SETUP_ACKNOWLEDGE:
                self._events.append(SetupAcknowledged(key, message))
            case Rx.PROCEEDING:
                self._events.append(CallProceeding(key, message))
            case Rx.ALERTING:
                self._events.append(CallAlerting(key, message))
            case Rx.PROGRESS:
                self._events.append(ProgressReceived(key, message))
            case Rx.CONNECT:
                record.connect_ack_due = self.role == "user"
                self._events.append(CallConnected(key, message))
            case Rx.CONNECT_ACKNOWLEDGE:
                record.peer_connect_ack_due = False
                self._events.append(ConnectAcknowledged(key, message))
            case Rx.INFORMATION:
                if message.sending_complete:
                    start = None  # the number is complete: T302 stays stopped
                self._events.append(InformationReceived(key, message))
            case Rx.NOTIFY:
                self._events.append(NotifyReceived(key, message))
            case Rx.DISCONNECT:
                cause = cause_in if cause_in is not None else CauseValue.NORMAL_UNSPECIFIED
                self._events.append(DisconnectIndication(key, message, int(cause)))
            case Rx.DISCONNECT_COLLISION:
                # s5.3.5: DISCONNECT crossed ours; release at once.
                cause_ie = self._cause(*record.error_cause) if record.error_cause else None
                resend = self._build(record, M.RELEASE, cause_ie)
                self._send(resend, now, key)
            case Rx.RELEASE:
                cause_ie = self._cause(*record.error_cause) if record.error_cause else None
                self._send(self._build(record, M.RELEASE_COMPLETE, cause_ie), now, key)
                self._release(record, self._final_cause(record, cause_in), "peer released",
                              message)
            case Rx.RELEASE_COLLISION | Rx.RELEASE_COMPLETE:
                self._release(record, self._final_cause(record, cause_in), "peer released",
                              message)
            case Rx.STATUS:
                self._on_status(record, message, now)
            case Rx.STATUS_ENQUIRY:
                self._send_status(record.ref, CauseValue.RESPONSE_TO_STATUS_ENQUIRY, b"",
                                  record.state, now, key)
            case Rx.IGNORE:
                pass
        if start is not None and key in self._calls:
            self._start(record, start, now, resend)

    def _on_status(self, record: _Call, message: Message, now: float) -> None:
        """s5.8.11: compare the peer's state with ours."""
        self._events.append(StatusReceived(record.key, message))
        state_ie = message.call_state
        assert state_ie is not None  # mandatory: a STATUS without it never gets here
        peer = state_ie.state
        if peer == S.NULL:
            # c): the peer has no call: release all resources.
            self._release(record, CauseValue.TEMPORARY_FAILURE, "peer reports the Null state",
                          message)
        elif record.state == S.RELEASE_REQUEST:
            return  # b): no action
        elif peer in INCOMPATIBLE_PEER_STATES.get(record.state, frozenset()):
            # a): clear with cause 101.
            ours = state_label(self.role, record.state)
            reason = f"peer in state {peer}, incompatible with {ours}"
            step = self._primitives[(record.state, Primitive.RELEASE)]
            cause = CauseValue.MESSAGE_NOT_COMPATIBLE_WITH_STATE
            self._send_release(record, step, cause, now)
            self._events.append(CallClearing(record.key, int(cause), reason))

    def _on_global(self, message: Message, forced: Defect | None, now: float) -> None:
        """Messages on the global call reference: RESTART, RESTART ACKNOWLEDGE, STATUS (s5.5)."""
        kind = message.message_type
        reply = message.call_ref.reply()
        global_state = (
            GlobalState.REST1_RESTART_REQUEST if self._restart else GlobalState.REST0_NULL
        )
        if kind == M.STATUS:
            self._events.append(StatusReceived(None, message))
            return
        if kind not in (M.RESTART, M.RESTART_ACKNOWLEDGE):
            # s5.8.3.2 f)
            self._send_status(reply, CauseValue.INVALID_CALL_REFERENCE, b"", global_state, now)
            self._violation(None, CauseValue.INVALID_CALL_REFERENCE,
                            f"{message.name} on the global call reference", "STATUS")
            return
        defects = ([forced] if forced else []) + find_defects(message, self.role)
        fatal = next((d for d in defects if d.fatal), None)
        indicator = message.restart_indicator
        if (
            fatal is None
            and indicator is not None
            and (indicator.restart_class == RestartClass.INDICATED_CHANNELS)
            != (message.channel is not None)
        ):
            fatal = Defect(CauseValue.MANDATORY_IE_MISSING,
                           "restart class 0 goes with, and only with, Channel identification",
                           int(IE.CHANNEL_IDENTIFICATION))
        if fatal is not None:
            self._send_status(reply, fatal.cause, _diagnostic(fatal), global_state, now)
            self._violation(None, fatal.cause, fatal.reason, "STATUS")
            return
        if kind == M.RESTART_ACKNOWLEDGE:
            if self._restart is not None:
                self._restart = None
                self._events.append(RestartAcknowledged(message))
            return
        self._restart_calls(message.channel, "peer RESTART")
        ack = Message.build(M.RESTART_ACKNOWLEDGE, reply, message.channel, indicator)
        self._send(ack, now, None)
        self._events.append(RestartReceived(message))

    def _restart_calls(self, channel: ChannelIdentification | None, reason: str) -> None:
        """Release (locally, cause 41) the calls on ``channel``, or all of them."""
        wanted = _channel_numbers(channel) if channel is not None else None
        for record in list(self._calls.values()):
            if wanted is None or (
                record.channel is not None and _channel_numbers(record.channel) & wanted
            ):
                self._release(record, CauseValue.TEMPORARY_FAILURE, reason)

    def _report_minor(self, record: _Call, defects: list[Defect], now: float) -> None:
        """s5.8.7: the optional STATUS after acting on a message with minor defects."""
        invalid = [d for d in defects if d.cause == CauseValue.INVALID_IE_CONTENTS]
        unknown = [d for d in defects if d.cause == CauseValue.IE_NOT_IMPLEMENTED]
        if invalid:
            self._send_status(record.ref, CauseValue.INVALID_IE_CONTENTS,
                              _diagnostics(invalid), record.state, now, record.key)
            self._violation(record.key, CauseValue.INVALID_IE_CONTENTS, invalid[0].reason,
                            "STATUS")
        elif unknown and self.config.report_unrecognized_ies:
            self._send_status(record.ref, CauseValue.IE_NOT_IMPLEMENTED,
                              _diagnostics(unknown), record.state, now, record.key)
            self._violation(record.key, CauseValue.IE_NOT_IMPLEMENTED, unknown[0].reason,
                            "STATUS")

    # ----------------------------------------------------------------------- plumbing

    def _final_cause(self, record: _Call, cause_in: int | None) -> int:
        if cause_in is not None:
            return cause_in
        return record.cause if record.cause is not None else CauseValue.NORMAL_UNSPECIFIED

    def _release(
        self,
        record: _Call,
        cause: int,
        reason: str,
        message: Message | None = None,
        *,
        maintenance: bool = False,
    ) -> None:
        record.timers.clear()
        record.state = S.NULL
        del self._calls[record.key]
        self._events.append(CallReleased(record.key, int(cause), reason, message, maintenance))

    def _link_down(self, reason: str, now: float, *, error: bool) -> None:
        """s5.8.9 without T309 (a closed TCP connection does not come back by itself):
        active calls are cleared with cause 27, calls being set up or cleared with 41."""
        self._closed = reason
        self._restart = None
        for record in list(self._calls.values()):
            cause = (
                CauseValue.DESTINATION_OUT_OF_ORDER
                if record.state == S.ACTIVE
                else CauseValue.TEMPORARY_FAILURE
            )
            self._release(record, cause, f"link down: {reason}")
        self._trace("note", f"link down: {reason}", b"", now)
        self._events.append(LinkClosed(reason, error))

    def _send(self, message: Message, now: float, key: CallKey | None) -> None:
        frame = tpkt_frame(bytes(message))
        self._out += frame
        self._trace("out", summarize(message), frame, now, key)

    def _send_status(
        self,
        ref: CallReference,
        cause: int,
        diagnostics: bytes,
        state: int,
        now: float,
        key: CallKey | None = None,
    ) -> None:
        message = Message.build(M.STATUS, ref, self._cause(cause, diagnostics), CallStateIE(state))
        self._send(message, now, key)

    def _send_release_complete(
        self, ref: CallReference, cause: int, diagnostics: bytes, now: float
    ) -> None:
        message = Message.build(M.RELEASE_COMPLETE, ref, self._cause(cause, diagnostics))
        self._send(message, now, None)

    def _violation(self, key: CallKey | None, cause: int, reason: str, answer: str) -> None:
        self._events.append(ProtocolViolation(key, int(cause), reason, answer))

    def _trace(
        self,
        direction: Direction,
        summary: str,
        raw: bytes,
        now: float,
        key: CallKey | None = None,
    ) -> None:
        self._trace_sink(
            TraceEvent(
                time=now,
                node=self.node,
                protocol="q931",
                direction=direction,
                summary=summary,
                raw=raw,
                local=self.local,
                remote=self.remote,
                transport="tcp",
                call_id=str(key) if key is not None else None,
            )
        )


def _diagnostic(defect: Defect) -> bytes:
    return bytes((defect.identifier,)) if defect.identifier is not None else b""


def _diagnostics(defects: Sequence[Defect]) -> bytes:
    return bytes(d.identifier for d in defects if d.identifier is not None)


def _channel_numbers(channel: ChannelIdentification) -> set[int]:
    if channel.primary_rate:
        return set(channel.channel_numbers)
    return {channel.selection} if channel.selection in (1, 2) else set()
