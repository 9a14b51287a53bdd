"""The simulated PBX, sans-IO: extensions with phones, Q.931 trunks, a dial plan, call logic.

It plays the PBX of REFERENCE_FLOWS flow 1 toward each gateway:

* an extension dials a trunk number: SETUP (speech bearer in the trunk's G.711 law, calling and
  called numbers with type and plan, Channel identification, Sending complete -- or overlap:
  SETUP without it, then INFORMATION), then CALL PROCEEDING / ALERTING / CONNECT come back and
  CONNECT ACKNOWLEDGE goes out; the phone hears ringback (local, or in-band from the trunk when
  the progress indicator says so) and then the far end;
* a SETUP from a trunk rings the extension: CALL PROCEEDING (with the chosen channel), ALERTING
  when the phone rings (progress indicator 8 when the PBX plays ringback in-band), CONNECT when
  it answers; refusals are RELEASE COMPLETE with the cause (busy 17, unallocated 1, channel 44/34);
* clearing works from both sides (DISCONNECT, RELEASE, RELEASE COMPLETE) and the other party is
  told the cause (busy or congestion tone on a phone); extension-to-extension calls never touch
  a trunk.

Inputs: trunk bytes (:meth:`Pbx.trunk_receive`), phone actions (through the API methods or a
phone's own behaviour), timers (:meth:`Pbx.handle_timer`) and, with media, the 20 ms audio
clock (:meth:`Pbx.audio_tick`).  Outputs: trunk bytes (:meth:`Pbx.trunk_data_to_send`), B-channel
media requests (:meth:`Pbx.next_media_request`), events (:attr:`Pbx.events`, phone events) and
Q.931 trace events through the ``trace`` sink.  Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from itertools import count

from gateway.errors import LocalProtocolError
from gateway.media.audio import SILENCE_FRAME
from gateway.media.dtmf_inband import DigitEnded, DigitStarted, DtmfDetector
from gateway.media.tones import ToneGenerator, tone_plan
from gateway.trace import Address, TraceSink, discard
from pbx_sim.config import PbxConfig
from pbx_sim.dialplan import Classification, DialPlan
from pbx_sim.events import PbxEvent, PbxEventKind, PhoneEvent, SimEvent
from pbx_sim.phone import HookFlash, KeyPress, OffHook, OnHook, Phone, PhoneAction
from pbx_sim.ports import (
    Call,
    ChannelMedia,
    ChannelPort,
    CloseChannel,
    Leg,
    MediaRequest,
    OpenChannel,
    Station,
    StationLeg,
    Trunk,
    TrunkLeg,
)
from pbx_sim.q931 import (
    CallAlerting,
    CallClearing,
    CallConnected,
    CalledPartyNumber,
    CallingPartyNumber,
    CallKey,
    CallOffered,
    CallProceeding,
    CallReleased,
    CallState,
    CauseValue,
    ChannelIdentification,
    ConnectAcknowledged,
    DisconnectIndication,
    InformationReceived,
    LinkClosed,
    Location,
    ProgressDescription,
    ProgressIndicator,
    ProgressReceived,
    ProtocolViolation,
    Q931Event,
    Q931Link,
    RestartAcknowledged,
    RestartReceived,
    SetupAcknowledged,
    StatusReceived,
    TimerExpired,
    TransferCapability,
)

# Longest the last in-band key of a number keeps the caller off the trunk (Station.digit_tail).
DIGIT_TAIL_LIMIT = 0.5
# Causes after which a phone hears busy tone; after the others, congestion (reorder) tone.
BUSY_TONE_CAUSES = frozenset({CauseValue.NORMAL_CALL_CLEARING, CauseValue.USER_BUSY,
                              CauseValue.NORMAL_UNSPECIFIED})
SPEECH_BEARERS = frozenset({TransferCapability.SPEECH, TransferCapability.AUDIO_3_1_KHZ})
INBAND = ProgressIndicator(ProgressDescription.INBAND_AVAILABLE, Location.PRIVATE_NETWORK_LOCAL)
CLEARING_STATES = frozenset({CallState.DISCONNECT_REQUEST, CallState.DISCONNECT_INDICATION,
                             CallState.RELEASE_REQUEST})


class Pbx:
    """See the module docstring.  ``media=False`` runs signalling only (tones are signalled to
    the phones instead of played): the mode for virtual-time runs."""

    def __init__(
        self,
        config: PbxConfig,
        *,
        media: bool = True,
        trace: TraceSink = discard,
        observer: Callable[[SimEvent], None] | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.media = media
        self._trace = trace
        self._observer = observer
        self.plan = tone_plan(config.tone_plan)
        self.dial_plan = DialPlan.build((e.number for e in config.extension), config.route)
        self.events: list[PbxEvent] = []
        self.stations: dict[str, Station] = {}
        for extension in config.extension:
            phone = Phone(extension.number, extension, plan=self.plan,
                          observer=self._phone_event)
            self.stations[extension.number] = Station(extension, phone)
        self.trunks: dict[str, Trunk] = {t.name: Trunk(t) for t in config.trunk}
        self.calls: dict[int, Call] = {}
        self._call_ids = count(1)
        self._media_requests: deque[MediaRequest] = deque()
        self._cadence = tuple(step / 1000 for step in config.ring_cadence)

    # ------------------------------------------------------------------------ public API

    def start(self, now: float) -> None:
        """Run the phones' configured scripts."""
        for station in self.stations.values():
            if station.config.script:
                station.phone.run_script(station.config.script, now)
        self._drain(now)

    def phone(self, number: str) -> Phone:
        try:
            return self.stations[number].phone
        except KeyError:
            raise LocalProtocolError(f"no extension {number!r}") from None

    def phones(self) -> dict[str, Phone]:
        return {number: station.phone for number, station in self.stations.items()}

    def dial(self, extension: str, number: str, now: float) -> None:
        """The phone at ``extension`` goes off hook and dials ``number``."""
        self.phone(extension).dial(number, now)
        self._drain(now)

    def answer(self, extension: str, now: float) -> None:
        phone = self.phone(extension)
        if not phone.alerted:
            raise LocalProtocolError(f"extension {extension} is not ringing")
        phone.answer(now)
        self._drain(now)

    def hang_up(self, extension: str, now: float) -> None:
        self.phone(extension).hang_up(now)
        self._drain(now)

    def lift(self, extension: str, now: float) -> None:
        self.phone(extension).lift(now)
        self._drain(now)

    def play(self, extension: str, spec: str, now: float) -> None:
        self.phone(extension).play(spec, now)
        self._drain(now)

    def send_digits(self, extension: str, digits: str, now: float) -> None:
        self.phone(extension).send_digits(digits, now)
        self._drain(now)

    def run_script(self, extension: str, script: str, now: float) -> None:
        self.phone(extension).run_script(script, now)
        self._drain(now)

    def poll(self, now: float) -> None:
        """Act on whatever a phone was told to do directly (through :meth:`phone`)."""
        self._drain(now)

    # ------------------------------------------------------------------------ trunks

    def trunk_connected(
        self, name: str, now: float, *, local: Address | None = None,
        remote: Address | None = None,
    ) -> None:
        """A TCP connection for trunk ``name`` is up: a fresh Q.931 link starts on it."""
        trunk = self._trunk(name)
        if trunk.up:
            assert trunk.link is not None
            trunk.link.close(now, "replaced by a new connection")
            self._link_events(trunk, now)
        trunk.new_link(self._trace, self.name, local, remote)
        self._note(now, "link-up", f"{trunk.config.side} side, {local} <-> {remote}",
                   trunk=name)

    def trunk_receive(self, name: str, data: bytes, now: float) -> None:
        """Bytes from the trunk's connection; ``b""`` when the peer closed it."""
        trunk = self._trunk(name)
        if trunk.link is None:
            return
        trunk.link.receive_data(data, now)
        self._link_events(trunk, now)
        self._drain(now)

    def trunk_closed(self, name: str, now: float, reason: str = "connection closed") -> None:
        """The adapter lost or closed the connection."""
        trunk = self._trunk(name)
        if trunk.link is not None and not trunk.link.closed:
            trunk.link.close(now, reason)
            self._link_events(trunk, now)
            self._drain(now)

    def trunk_data_to_send(self, name: str, now: float) -> bytes:
        link = self._trunk(name).link
        return link.data_to_send(now) if link is not None else b""

    def trunk_up(self, name: str) -> bool:
        return self._trunk(name).up

    def trunk_failed(self, name: str) -> bool:
        """The link gave up on the stream (framing lost or closed): close the connection."""
        link = self._trunk(name).link
        return link is not None and link.closed

    # ------------------------------------------------------------------------ media

    def next_media_request(self) -> MediaRequest | None:
        return self._media_requests.popleft() if self._media_requests else None

    def attach_channel_media(self, trunk: str, channel: int, media: ChannelMedia) -> bool:
        """Give a B-channel its voice path; False when the channel is no longer in use."""
        port = self._trunk(trunk).ports.get(channel)
        if port is None:
            return False
        port.media = media
        return True

    def audio_tick(self, now: float) -> None:
        """One 20 ms timeslot: every phone speaks and hears, every B-channel exchanges."""
        mouths: dict[Station, bytes] = {}
        for station in self.stations.values():
            phone = station.phone
            if not phone.off_hook:
                continue
            frame = phone.speak(now)
            mouths[station] = frame
            detector = station.dtmf
            if detector is not None:
                for event in detector.feed(frame):
                    if isinstance(event, DigitStarted):
                        self._station_digit(station, event.digit, now)
            tail = station.digit_tail
            if tail is not None and tail[0] is not detector:  # not fed this frame already
                tail_detector, until = tail
                ended = any(isinstance(e, DigitEnded) for e in tail_detector.feed(frame))
                if ended or now >= until:
                    station.digit_tail = None
                else:
                    mouths[station] = SILENCE_FRAME
        for trunk in self.trunks.values():
            for port in trunk.ports.values():
                media = port.media
                if media is None:
                    continue
                out = SILENCE_FRAME
                if port.tone_source is not None:
                    out = port.tone_source.read_frame() or SILENCE_FRAME
                elif port.talker is not None:
                    out = mouths.get(port.talker, SILENCE_FRAME)
                port.heard = media.exchange(out, now)
        for station in mouths:
            frame = SILENCE_FRAME
            ear = station.ear
            if station.tone_source is not None:
                frame = station.tone_source.read_frame() or SILENCE_FRAME
            elif isinstance(ear, Station):
                frame = mouths.get(ear, SILENCE_FRAME)
            elif ear is not None and ear.heard:
                frame = ear.heard
            station.phone.hear(frame, now)
        self._drain(now)

    # ------------------------------------------------------------------------ timers

    def get_timer(self) -> float | None:
        deadlines: list[float] = []
        for station in self.stations.values():
            for deadline in (station.phone.get_timer(), station.digit_deadline,
                             station.ring_deadline):
                if deadline is not None:
                    deadlines.append(deadline)
        for call in self.calls.values():
            if call.no_answer_at is not None:
                deadlines.append(call.no_answer_at)
        for trunk in self.trunks.values():
            if trunk.link is not None:
                deadline = trunk.link.get_timer()
                if deadline is not None:
                    deadlines.append(deadline)
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> None:
        for trunk in self.trunks.values():
            link = trunk.link
            if link is not None:
                deadline = link.get_timer()
                if deadline is not None and deadline <= now:
                    link.handle_timer(now)
                    self._link_events(trunk, now)
        for station in self.stations.values():
            if station.ring_deadline is not None and station.ring_deadline <= now:
                self._ring_edge(station, now)
            if station.digit_deadline is not None and station.digit_deadline <= now:
                station.digit_deadline = None
                self._digit_timeout(station, now)
            phone_deadline = station.phone.get_timer()
            if phone_deadline is not None and phone_deadline <= now:
                station.phone.handle_timer(now)
        for call in list(self.calls.values()):
            if call.no_answer_at is not None and call.no_answer_at <= now:
                call.no_answer_at = None
                self._no_answer(call, now)
        self._drain(now)

    # ------------------------------------------------------------------------ status

    def status(self) -> dict[str, object]:
        """A JSON-friendly snapshot: extensions, trunks and calls."""
        return {
            "name": self.name,
            "media": self.media,
            "extensions": [
                {"number": s.number, "state": s.state, "off_hook": s.phone.off_hook,
                 "tone": s.tone, "ringing": s.phone.alerted}
                for s in self.stations.values()
            ],
            "trunks": [
                {"name": t.name, "up": t.up, "side": t.config.side,
                 "busy_channels": sorted(t.pool.busy), "calls": len(t.legs)}
                for t in self.trunks.values()
            ],
            "calls": [
                {"id": c.id, "state": c.state, "from": _describe(c.a), "to": _describe(c.b),
                 "dialled": c.dialled}
                for c in self.calls.values()
            ],
        }

    # ------------------------------------------------------------------------ phone actions

    def _drain(self, now: float) -> None:
        """Act on every pending phone action and link event (acting may cause more)."""
        busy = True
        while busy:
            busy = False
            for station in self.stations.values():
                action = station.phone.next_action()
                while action is not None:
                    busy = True
                    self._on_phone_action(station, action, now)
                    action = station.phone.next_action()
            for trunk in self.trunks.values():
                busy = self._link_events(trunk, now) or busy

    def _on_phone_action(self, station: Station, action: PhoneAction, now: float) -> None:
        if isinstance(action, OffHook):
            if station.state == "ringing":
                self._station_answered(station, now)
            elif station.state == "idle":
                self._start_dialing(station, now)
        elif isinstance(action, OnHook):
            self._station_on_hook(station, now)
        elif isinstance(action, KeyPress):
            self._station_digit(station, action.digit, now)
        elif isinstance(action, HookFlash):
            # No supplementary services here (transfer, hold): the flash is only reported.
            self._note(now, "flash", f"extension {station.number}")

    def _start_dialing(self, station: Station, now: float) -> None:
        call = self._new_call()
        leg = StationLeg(call, station)
        call.a = leg
        call.calling = station.number
        call.calling_name = station.config.name
        station.leg = leg
        station.state = "dialing"
        station.ear = None
        if self.media:
            station.dtmf = DtmfDetector()
        self._set_tone(station, "dial", now)
        station.digit_deadline = now + self.config.first_digit_timeout
        self._note(now, "call", f"extension {station.number} off hook", call=call.id)

    def _station_on_hook(self, station: Station, now: float) -> None:
        leg = station.leg
        self._station_idle(station, now)
        if leg is not None and leg.call is not None:
            self._leg_gone(leg, CauseValue.NORMAL_CALL_CLEARING, now)

    def _hold_digit_tail(self, station: Station, now: float) -> None:
        """The number is complete: stop collecting, but mute the phone until its last key
        ends (at most :data:`DIGIT_TAIL_LIMIT`)."""
        detector = station.dtmf
        if detector is not None and detector.digit is not None:  # a key still sounds
            station.digit_tail = (detector, now + DIGIT_TAIL_LIMIT)
        station.dtmf = None

    def _station_idle(self, station: Station, now: float) -> None:
        station.phone.alerting_ended(now)  # first: a phone told "ring off" might answer
        self._stop_ringing(station, now)
        station.state = "idle"
        station.leg = None
        station.ear = None
        station.dtmf = None
        station.digit_tail = None
        station.digit_deadline = None
        self._set_tone(station, None, now)

    def _station_digit(self, station: Station, digit: str, now: float) -> None:
        leg = station.leg
        call = leg.call if leg is not None else None
        if leg is None or call is None:
            return
        if station.state == "dialing" or (station.state == "calling" and self._overlapping(call)):
            call.dialled += digit
            self._set_tone(station, None, now)
            if station.state == "dialing":
                self._route_digits(call, now)
            else:
                self._overlap_digits(call, now)
            return
        if station.state == "talking":
            peer = call.other(leg)
            if isinstance(peer, StationLeg):
                peer.station.phone.signal_digit(digit, now)
            elif isinstance(peer, TrunkLeg) and peer.trunk.link is not None:
                self._try(peer, lambda link: link.information(peer.key, now, keypad=digit), now)

    def _digit_timeout(self, station: Station, now: float) -> None:
        leg = station.leg
        call = leg.call if leg is not None else None
        if call is None:
            return
        if not call.dialled:
            self._fail(call, CauseValue.RECOVERY_ON_TIMER_EXPIRY, now, "no digit dialled")
        elif station.state == "dialing":
            self._route_digits(call, now, final=True)
        elif station.state == "calling":
            self._overlap_digits(call, now, final=True)

    # ------------------------------------------------------------------------ routing

    def _route_digits(self, call: Call, now: float, *, final: bool = False) -> None:
        """Decide what the digits of an extension's call so far mean."""
        verdict = self.dial_plan.classify(call.dialled, final=final)
        station = call.a.station if isinstance(call.a, StationLeg) else None
        if verdict.verdict == "invalid":
            self._fail(call, self._invalid_cause(call.dialled, final), now,
                       f"{call.dialled!r} matches no route")
            return
        destination = verdict.destination
        if verdict.verdict == "complete" or (
            destination is not None
            and destination.kind == "trunk"
            and self.trunks[destination.target].config.overlap
        ):
            self._route(call, verdict, now, complete=verdict.verdict == "complete")
            return
        if station is not None:
            station.digit_deadline = now + self.config.interdigit_timeout

    def _invalid_cause(self, dialled: str, final: bool) -> int:
        """1 for a number no route has; 28 for one that stopped short of a route."""
        if final and dialled and self.dial_plan.classify(dialled).verdict == "incomplete":
            return CauseValue.INVALID_NUMBER_FORMAT
        return CauseValue.UNALLOCATED_NUMBER

    def _route(self, call: Call, verdict: Classification, now: float, *, complete: bool) -> None:
        destination = verdict.destination
        assert destination is not None
        a = call.a
        if isinstance(a, StationLeg):
            a.station.state = "calling"
            if complete:
                a.station.digit_deadline = None
                self._hold_digit_tail(a.station, now)
            else:
                a.station.digit_deadline = now + self.config.interdigit_timeout
        call.state = "routing"
        self._note(now, "route", f"{call.dialled} -> {destination.kind} {destination.target} "
                   f"number {destination.number}", call=call.id)
        if destination.kind == "extension":
            self._offer_to_station(call, self.stations[destination.target], now)
        else:
            self._offer_to_trunk(call, self.trunks[destination.target], destination.number,
                                 complete, now)

    def _offer_to_station(self, call: Call, target: Station, now: float) -> None:
        a = call.a
        if (isinstance(a, StationLeg) and a.station is target) or target.state != "idle":
            self._fail(call, CauseValue.USER_BUSY, now, f"extension {target.number} is busy")
            return
        cause = target.phone.refusal(now)
        if cause is not None:
            self._fail(call, cause, now, f"extension {target.number} refuses the call")
            return
        leg = StationLeg(call, target)
        call.b = leg
        target.leg = leg
        target.state = "ringing"
        call.state = "alerting"
        call.no_answer_at = now + self.config.ring_timeout
        if isinstance(a, TrunkLeg):
            # Flow 1: CALL PROCEEDING first, ALERTING once the phone rings.
            self._proceed(a, now)
        target.phone.caller_id(call.calling, call.calling_name, now)
        target.ring_index = 0
        target.ring_deadline = now + self._cadence[0]
        target.phone.ring(True, now)
        self._note(now, "alerting", f"extension {target.number} rings", call=call.id)
        self._progress_to_caller(call, "alerting", inband=False, now=now)

    def _offer_to_trunk(self, call: Call, trunk: Trunk, number: str, complete: bool,
                        now: float) -> None:
        if isinstance(call.a, TrunkLeg):
            self._fail(call, CauseValue.NO_ROUTE_TO_DESTINATION, now,
                       "the simulator does not switch trunk to trunk")
            return
        link = trunk.link
        if link is None or link.closed:
            self._fail(call, CauseValue.NETWORK_OUT_OF_ORDER, now, f"trunk {trunk.name} is down")
            return
        channel = trunk.pool.hunt()
        if channel is None:
            self._fail(call, CauseValue.NO_CIRCUIT_AVAILABLE, now,
                       f"no free channel on trunk {trunk.name}")
            return
        config = trunk.config
        preference = config.preference
        if preference == "any" and config.side == "network":
            preference = "preferred"  # the network must name a channel (Table 3-16)
        if preference == "any":
            identification = ChannelIdentification.any_channel(
                primary_rate=trunk.pool.primary_rate)
        else:
            identification = trunk.pool.identification(channel,
                                                       exclusive=preference == "exclusive")
        called_type, called_plan = trunk.number_format("called")
        calling_type, calling_plan = trunk.number_format("calling")
        calling = config.calling_prefix + call.calling
        key = link.setup(
            now,
            called=CalledPartyNumber(number, called_type, called_plan),
            calling=CallingPartyNumber(calling, calling_type, calling_plan, presentation=0,
                                       screening=0) if calling else None,
            channel=identification,
            sending_complete=complete,
            display=call.calling_name if config.send_display and call.calling_name else None,
        )
        trunk.pool.take(channel)
        leg = TrunkLeg(call, trunk, key, channel, "setup")
        leg.exclusive = preference == "exclusive"
        leg.sent = len(number)
        trunk.legs[key] = leg
        call.b = leg
        self._open_port(trunk, channel)
        self._link_events(trunk, now)
        self._note(now, "setup", f"to {number or '(overlap)'} on channel {channel}"
                   f"{'' if complete else ', overlap'}", call=call.id, trunk=trunk.name)

    def _overlapping(self, call: Call) -> bool:
        """The extension is still dialling into an overlap trunk call."""
        b = call.b
        return (isinstance(b, TrunkLeg) and b.state in ("setup", "overlap")
                and not b.complete and b.trunk.config.overlap)

    def _overlap_digits(self, call: Call, now: float, *, final: bool = False) -> None:
        """More digits of an overlap-sent number (or the end of it)."""
        b = call.b
        a = call.a
        if not isinstance(b, TrunkLeg) or not isinstance(a, StationLeg):
            return
        verdict = self.dial_plan.classify(call.dialled, final=final)
        if verdict.verdict == "invalid" or verdict.destination is None:
            cause = self._invalid_cause(call.dialled, final)
            self._note(now, "failed", f"{call.dialled!r} matches no route", call=call.id,
                       cause=cause)
            self._leg_gone(a, cause, now)
            self._station_ended(a.station, cause, now)
            return
        number = verdict.destination.number
        b.pending += number[b.sent :]
        b.sent = max(b.sent, len(number))
        b.complete = verdict.verdict == "complete"
        station = a.station
        if b.complete:
            station.digit_deadline = None
            self._hold_digit_tail(station, now)
        else:
            station.digit_deadline = now + self.config.interdigit_timeout
        self._send_overlap(b, now)

    def _send_overlap(self, leg: TrunkLeg, now: float) -> None:
        """INFORMATION with the digits dialled since, once SETUP ACKNOWLEDGE allows it."""
        if leg.state != "overlap" or leg.complete_sent or not (leg.pending or leg.complete):
            return
        digits, leg.pending = leg.pending, ""
        complete = leg.complete
        if self._try(leg, lambda link: link.information(leg.key, now, digits=digits,
                                                        sending_complete=complete), now):
            leg.complete_sent = complete

    # ------------------------------------------------------------------------ progress

    def _progress_to_caller(self, call: Call, stage: str, *, inband: bool, now: float) -> None:
        """Tell the calling party the call progresses (``alerting`` / ``progress``)."""
        a = call.a
        if isinstance(a, StationLeg):
            station = a.station
            b = call.b
            port = self._voice_port(b)
            if inband and port is not None:
                self._set_tone(station, None, now)
                station.ear = port
            elif inband and not self.media and stage == "alerting":
                station.phone.signal_tone("ringback", now)
            elif stage == "alerting":
                self._set_tone(station, "ringback", now)
        elif isinstance(a, TrunkLeg) and stage == "alerting":
            ringback = a.trunk.config.inband_ringback
            self._try(a, lambda link: link.alerting(a.key, now,
                                                    progress=[INBAND] if ringback else ()), now)
            a.state = "alerting"
            port = self._voice_port(a)
            if ringback and port is not None:
                port.tone_source = ToneGenerator.for_tone(self.plan["ringback"])

    def _connect(self, call: Call, now: float) -> None:
        """Both parties are through: voice both ways, phones told."""
        call.state = "connected"
        call.no_answer_at = None
        a, b = call.a, call.b
        for leg, peer in ((a, b), (b, a)):
            if isinstance(leg, StationLeg):
                station = leg.station
                station.state = "talking"
                station.dtmf = None
                station.digit_deadline = None
                self._set_tone(station, None, now)
                station.ear = peer.station if isinstance(peer, StationLeg) else \
                    self._port_of(peer)
            else:
                port = self._port_of(leg)
                if port is not None:
                    port.tone_source = None
                    port.talker = peer.station if isinstance(peer, StationLeg) else None
        for leg in (a, b):
            if isinstance(leg, StationLeg):
                leg.station.phone.connected(now, far_end_answered=leg is a)
        self._note(now, "connected", f"{_describe(a)} <-> {_describe(b)}", call=call.id)

    def _station_answered(self, station: Station, now: float) -> None:
        leg = station.leg
        call = leg.call if leg is not None else None
        if call is None:
            return
        self._stop_ringing(station, now)
        a = call.a
        if isinstance(a, TrunkLeg):
            port = self._port_of(a)
            if not self._try(a, lambda link: link.connect(a.key, now), now):
                return
            a.state = "connected"
            if port is not None:
                port.tone_source = None
        self._connect(call, now)

    # ------------------------------------------------------------------------ clearing

    def _fail(self, call: Call, cause: int, now: float, reason: str) -> None:
        """The call cannot be completed: tell the caller ``cause``."""
        self._note(now, "failed", reason, call=call.id, cause=cause)
        a = call.a
        if a is not None and a.call is call:
            self._hang_up_leg(a, cause, now)
        self._finish(call)

    def _leg_gone(self, leg: Leg, cause: int, now: float) -> None:
        """``leg`` left the call (hang-up, DISCONNECT, release): clear the other party."""
        call = leg.call
        if call is None:
            return
        leg.call = None
        peer = call.other(leg)
        if peer is not None and peer.call is call:
            self._hang_up_leg(peer, cause, now)
        self._note(now, "disconnect", f"by {_describe(leg)}", call=call.id, cause=cause)
        self._finish(call)

    def _hang_up_leg(self, leg: Leg, cause: int, now: float) -> None:
        """The PBX ends ``leg``'s part in its call, telling its party ``cause``."""
        leg.call = None
        if isinstance(leg, StationLeg):
            self._station_ended(leg.station, cause, now)
            return
        link = leg.trunk.link
        if link is None or link.closed:
            return
        state = link.state(leg.key)
        if state != CallState.NULL and state not in CLEARING_STATES:
            leg.state = "clearing"
            self._try(leg, lambda link: link.clear(leg.key, now, cause=cause), now)
        port = self._port_of(leg)
        if port is not None:
            port.talker = None
            port.tone_source = None

    def _station_ended(self, station: Station, cause: int, now: float) -> None:
        """The station's call is over: stop ringing, or tell the phone and give it a tone."""
        if station.state == "ringing" or not station.phone.off_hook:
            self._station_idle(station, now)
            return
        station.state = "lockout"
        station.leg = None
        station.ear = None
        station.dtmf = None
        station.digit_deadline = None
        self._set_tone(station, "busy" if cause in BUSY_TONE_CAUSES else "congestion", now)
        station.phone.cleared(cause, now)

    def _finish(self, call: Call) -> None:
        if all(leg is None or leg.call is not call for leg in (call.a, call.b)):
            call.state = "ended"
            call.no_answer_at = None
            self.calls.pop(call.id, None)

    def _no_answer(self, call: Call, now: float) -> None:
        b = call.b
        if isinstance(b, StationLeg) and b.call is call:
            self._note(now, "failed", f"extension {b.station.number} does not answer",
                       call=call.id, cause=CauseValue.NO_ANSWER)
            self._leg_gone(b, CauseValue.NO_ANSWER, now)
            self._station_idle(b.station, now)

    # ------------------------------------------------------------------------ Q.931 events

    def _link_events(self, trunk: Trunk, now: float) -> bool:
        """Handle what the trunk's link reported; True when there was anything."""
        link = trunk.link
        if link is None:
            return False
        event = link.next_event()
        handled = event is not None
        while event is not None:
            self._on_link_event(trunk, event, now)
            event = link.next_event()
        return handled

    def _on_link_event(self, trunk: Trunk, event: Q931Event, now: float) -> None:
        name = trunk.name
        if isinstance(event, CallOffered):
            self._on_offer(trunk, event, now)
            return
        if isinstance(event, LinkClosed):
            self._note(now, "link-down", event.reason, trunk=name)
            return
        if isinstance(event, ProtocolViolation):
            self._note(now, "protocol-error", f"{event.reason} -> {event.answer}", trunk=name,
                       cause=event.cause, call=self._call_id(trunk, event.call))
            return
        if isinstance(event, StatusReceived):
            self._note(now, "status", f"peer state {event.peer_state}", trunk=name,
                       cause=event.cause, call=self._call_id(trunk, event.call))
            return
        if isinstance(event, TimerExpired):
            self._note(now, "timer", f"{event.timer} expired ({event.expiry})", trunk=name,
                       cause=event.cause, call=self._call_id(trunk, event.call))
            if event.timer == "T302" and event.call is not None:
                self._overlap_receive_timeout(trunk, event.call, now)
            return
        if isinstance(event, (RestartReceived, RestartAcknowledged)):
            self._note(now, "restart", type(event).__name__, trunk=name)
            return
        leg = trunk.legs.get(event.call)
        if leg is None:
            return
        if isinstance(event, CallReleased):
            self._on_released(trunk, leg, event, now)
        elif isinstance(event, DisconnectIndication):
            self._try(leg, lambda link: link.release(leg.key, now), now)
            leg.state = "clearing"
            self._leg_gone(leg, event.cause, now)
        elif isinstance(event, CallClearing):
            leg.state = "clearing"
            self._leg_gone(leg, event.cause, now)
        elif isinstance(event, SetupAcknowledged):
            if self._adopt_channel(leg, event.channel, now):
                leg.state = "overlap"
                self._send_overlap(leg, now)
        elif isinstance(event, CallProceeding):
            if self._adopt_channel(leg, event.channel, now):
                leg.state = "proceeding"
                self._note(now, "proceeding", "", call=self._call_id(trunk, leg.key), trunk=name)
        elif isinstance(event, CallAlerting):
            if self._adopt_channel(leg, event.channel, now):
                leg.state = "alerting"
                call = leg.call
                if call is not None:
                    call.state = "alerting"
                    self._note(now, "alerting", "in-band" if event.inband else "",
                               call=call.id, trunk=name)
                    self._progress_to_caller(call, "alerting", inband=event.inband, now=now)
        elif isinstance(event, ProgressReceived):
            call = leg.call
            if call is not None:
                self._note(now, "progress", "in-band" if event.inband else "", call=call.id,
                           trunk=name)
                if event.inband:
                    self._progress_to_caller(call, "progress", inband=True, now=now)
        elif isinstance(event, CallConnected):
            if self._adopt_channel(leg, event.channel, now):
                self._try(leg, lambda link: link.connect_ack(leg.key, now), now)
                leg.state = "connected"
                if leg.call is not None:
                    self._connect(leg.call, now)
        elif isinstance(event, ConnectAcknowledged):
            self._note(now, "connected", "CONNECT acknowledged",
                       call=self._call_id(trunk, leg.key), trunk=name)
        elif isinstance(event, InformationReceived):
            self._on_information(leg, event, now)

    def _on_offer(self, trunk: Trunk, event: CallOffered, now: float) -> None:
        link = trunk.link
        assert link is not None
        key = event.call
        bearer = event.bearer
        if bearer is not None and bearer.transfer_capability not in SPEECH_BEARERS:
            self._reject(trunk, key, CauseValue.BEARER_CAPABILITY_NOT_IMPLEMENTED, now,
                         "not a speech call")
            return
        selected = trunk.pool.select(event.channel)
        if not isinstance(selected, int):
            self._reject(trunk, key, selected.cause, now, selected.reason)
            return
        trunk.pool.take(selected)
        call = self._new_call()
        leg = TrunkLeg(call, trunk, key, selected, "offered")
        call.a = leg
        trunk.legs[key] = leg
        calling = event.calling
        call.calling = calling.digits if calling is not None else ""
        call.calling_name = event.display or ""
        config = trunk.config
        call.dialled = config.incoming_prepend + event.called[config.incoming_strip :]
        self._open_port(trunk, selected)
        self._note(now, "call", f"from {call.calling or 'unknown'} to {event.called} "
                   f"on channel {selected}", call=call.id, trunk=trunk.name)
        self._route_incoming(leg, now, final=event.complete)

    def _route_incoming(self, leg: TrunkLeg, now: float, *, final: bool) -> None:
        call = leg.call
        if call is None:
            return
        overlap = leg.trunk.config.overlap
        verdict = self.dial_plan.classify(call.dialled, final=final or not overlap)
        if verdict.verdict == "incomplete":
            if leg.state == "offered":
                channel = leg.trunk.pool.identification(leg.channel or 0, exclusive=True)
                if self._try(leg, lambda link: link.setup_ack(leg.key, now, channel=channel),
                             now):
                    leg.state = "overlap-receiving"
            return
        if verdict.verdict == "invalid":
            self._fail(call, self._invalid_cause(call.dialled, final or not overlap), now,
                       f"{call.dialled!r} matches no route")
            return
        self._route(call, verdict, now, complete=True)

    def _on_information(self, leg: TrunkLeg, event: InformationReceived, now: float) -> None:
        call = leg.call
        if call is None:
            return
        if leg.state == "overlap-receiving" and (event.digits or event.complete):
            call.dialled += event.digits
            self._note(now, "digits", f"{event.digits} (now {call.dialled})", call=call.id,
                       trunk=leg.trunk.name)
            self._route_incoming(leg, now, final=event.complete)
        elif event.keypad and call.state == "connected":
            peer = call.other(leg)
            if isinstance(peer, StationLeg):
                for digit in event.keypad:
                    peer.station.phone.signal_digit(digit, now)

    def _overlap_receive_timeout(self, trunk: Trunk, key: CallKey, now: float) -> None:
        leg = trunk.legs.get(key)
        if leg is not None and leg.state == "overlap-receiving":
            self._route_incoming(leg, now, final=True)

    def _on_released(self, trunk: Trunk, leg: TrunkLeg, event: CallReleased,
                     now: float) -> None:
        del trunk.legs[leg.key]
        if leg.channel is not None:
            self._close_port(trunk, leg.channel)
            trunk.pool.release(leg.channel)
        call_id = self._call_of(leg)
        self._note(now, "released", event.reason, call=call_id, trunk=trunk.name,
                   cause=event.cause)
        self._leg_gone(leg, event.cause, now)

    def _reject(self, trunk: Trunk, key: CallKey, cause: int, now: float, reason: str) -> None:
        link = trunk.link
        assert link is not None
        link.reject(key, now, cause=cause)
        self._note(now, "failed", f"incoming call refused: {reason}", trunk=trunk.name,
                   cause=cause)
        self._link_events(trunk, now)

    def _proceed(self, leg: TrunkLeg, now: float) -> None:
        """CALL PROCEEDING (with the channel) for an offered call, once."""
        if leg.state not in ("offered", "overlap-receiving"):
            return
        channel = leg.trunk.pool.identification(leg.channel, exclusive=True) \
            if leg.channel is not None else None
        if not self._try(leg, lambda link: link.proceeding(leg.key, now, channel=channel), now):
            return
        leg.state = "proceeding"
        if leg.trunk.config.early_progress:
            # In-band information from here on (announcements, ringback): PROGRESS, PI 8.
            self._try(leg, lambda link: link.progress(leg.key, now, progress=[INBAND]), now)

    def _adopt_channel(self, leg: TrunkLeg, offered: ChannelIdentification | None,
                       now: float) -> bool:
        """The peer names the channel of our call (s5.1.2): take it, or clear the call."""
        trunk = leg.trunk
        if offered is None:
            return True
        number, _exclusive = trunk.pool.requested(offered)
        if number is None or number == leg.channel:
            return True
        problem: int | None = None
        if leg.exclusive:
            problem = CauseValue.CHANNEL_UNACCEPTABLE
        elif number not in trunk.pool.numbers or number in trunk.pool.busy:
            problem = CauseValue.REQUESTED_CHANNEL_NOT_AVAILABLE
        if problem is not None:
            self._note(now, "failed", f"peer chose channel {number}, unusable",
                       call=self._call_of(leg), trunk=trunk.name, cause=problem)
            self._try(leg, lambda link: link.clear(leg.key, now, cause=problem), now)
            self._leg_gone(leg, problem, now)
            return False
        if leg.channel is not None:
            self._close_port(trunk, leg.channel)
            trunk.pool.release(leg.channel)
        trunk.pool.take(number)
        leg.channel = number
        self._open_port(trunk, number)
        return True

    def _try(self, leg: TrunkLeg, primitive: Callable[[Q931Link], None], now: float) -> bool:
        """Run a Q.931 primitive; a call the link already released is not an error of ours."""
        link = leg.trunk.link
        if link is None or link.closed:
            return False
        try:
            primitive(link)
        except LocalProtocolError as exc:
            self._note(now, "protocol-error", f"not sent: {exc}", trunk=leg.trunk.name,
                       call=self._call_of(leg))
            return False
        return True

    # ------------------------------------------------------------------------ helpers

    def _new_call(self) -> Call:
        call = Call(next(self._call_ids))
        self.calls[call.id] = call
        return call

    def _trunk(self, name: str) -> Trunk:
        try:
            return self.trunks[name]
        except KeyError:
            raise LocalProtocolError(f"no trunk named {name!r}") from None

    def _call_id(self, trunk: Trunk, key: CallKey | None) -> int | None:
        leg = trunk.legs.get(key) if key is not None else None
        return self._call_of(leg) if leg is not None else None

    @staticmethod
    def _call_of(leg: Leg) -> int | None:
        return leg.call.id if leg.call is not None else None

    def _port_of(self, leg: Leg | None) -> ChannelPort | None:
        if isinstance(leg, TrunkLeg) and leg.channel is not None:
            return leg.trunk.ports.get(leg.channel)
        return None

    def _voice_port(self, leg: Leg | None) -> ChannelPort | None:
        """The leg's B-channel when it carries voice here (media on, RTP configured)."""
        if not self.media or not isinstance(leg, TrunkLeg) or leg.trunk.config.rtp_local is None:
            return None
        return self._port_of(leg)

    def _open_port(self, trunk: Trunk, channel: int) -> None:
        trunk.ports[channel] = ChannelPort(trunk.name, channel)
        if self.media and trunk.config.rtp_local is not None:
            self._media_requests.append(OpenChannel(trunk.name, channel, trunk.config.line_codec))

    def _close_port(self, trunk: Trunk, channel: int) -> None:
        port = trunk.ports.pop(channel, None)
        if port is None:
            return
        for station in self.stations.values():
            if station.ear is port:
                station.ear = None
        if self.media and trunk.config.rtp_local is not None:
            self._media_requests.append(CloseChannel(trunk.name, channel))

    def _set_tone(self, station: Station, tone: str | None, now: float) -> None:
        if station.tone == tone:
            return
        station.tone = tone
        if self.media:
            station.tone_source = (ToneGenerator.for_tone(self.plan[tone])
                                   if tone is not None else None)
        elif tone is not None:
            station.phone.signal_tone(tone, now)

    def _ring_edge(self, station: Station, now: float) -> None:
        station.ring_index += 1
        cadence = self._cadence
        on = station.ring_index % 2 == 0
        station.ring_deadline = now + cadence[station.ring_index % len(cadence)]
        station.phone.ring(on, now)

    def _stop_ringing(self, station: Station, now: float) -> None:
        if station.ring_deadline is not None:
            station.ring_deadline = None
            station.phone.ring(False, now)

    def _note(
        self,
        now: float,
        kind: PbxEventKind,
        detail: str = "",
        *,
        call: int | None = None,
        trunk: str | None = None,
        cause: int | None = None,
    ) -> None:
        event = PbxEvent(now, self.name, kind, detail, call, trunk, cause)
        self.events.append(event)
        if self._observer is not None:
            self._observer(event)

    def _phone_event(self, event: PhoneEvent) -> None:
        if self._observer is not None:
            self._observer(event)


def _describe(leg: Leg | None) -> str:
    if leg is None:
        return "-"
    return leg.describe()

