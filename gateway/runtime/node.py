"""GatewayNode: one gateway process -- SIP endpoint, line adapters, call control, media, control.

Composition only; every decision is elsewhere:

* :class:`~gateway.sip.endpoint.SipEndpoint` on :class:`~gateway.aio.sip_transport.SipTransport`
  sockets (UDP and/or TCP), whose one timer also carries call control's deadlines;
* one :class:`~gateway.aio.q931_trunk.Q931Trunk` per ``[[trunk]]`` and one
  :class:`~hardware.drivers.fxs_board.FxsBoardAdapter` per ``[[station]]``, one
  :class:`~hardware.drivers.voice_modem.VoiceModemAdapter` per ``[[modem]]`` (plus any adapters
  a test passes in), each a :class:`~gateway.line.LineAdapter`;
* :class:`~gateway.calls.core.GatewayCore`, the sans-IO call control, fed with line events,
  SIP events, media events and its timer; its commands are routed to the adapter of their line
  (:data:`~gateway.line.LineCommand`), to the :class:`~gateway.runtime.media.MediaManager`
  (:data:`~gateway.calls.commands.MediaCommand`) or to the console (:class:`Notice`);
* a :class:`~gateway.runtime.trace_hub.TraceHub` every core writes into, the console printer
  and the control channel's show commands (:mod:`gateway.runtime.show`).

Input of any kind ends in :meth:`GatewayNode._kick`, which drains the core's commands once
(re-entrant input during the drain only feeds the core: the running loop picks up what it
produced) and asks the SIP transport to flush and re-arm within the same loop iteration.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Final

from gateway.aio.control import ControlAddress, ControlServer, Handler
from gateway.aio.q931_trunk import Q931Trunk, TrunkNote
from gateway.aio.sip_transport import SipTransport
from gateway.calls import q850
from gateway.calls.commands import (
    GatewayCommand,
    JoinLines,
    MediaEvent,
    Notice,
    PlayToLine,
    ResolveHost,
    SendDigit,
    SetVoicePath,
    StartMedia,
    StopMedia,
    UpdateMedia,
)
from gateway.calls.core import GatewayCore
from gateway.calls.sip_messages import GATEWAY_CAPABILITIES
from gateway.config.gateway_schema import GatewayConfig
from gateway.errors import LocalProtocolError
from gateway.line import (
    LineAdapter,
    LineAudio,
    LineCleared,
    LineEvent,
    LineInfo,
    LineReleased,
    LineStatus,
    OfferCall,
)
from gateway.media.tones import tone_plan
from gateway.runtime.media import MediaManager, MediaOptions
from gateway.runtime.names import NameLookups
from gateway.runtime.show import (
    call_record,
    dial_peer_records,
    registration_record,
    trace_record,
)
from gateway.runtime.trace_hub import TraceHub
from gateway.sip.endpoint import EndpointConfig, SipEndpoint
from gateway.sip.events import EndpointEvent
from gateway.trace import TraceEvent, TraceSink
from hardware.drivers.fxs_board import FxsBoardAdapter
from hardware.drivers.voice_modem import VoiceModemAdapter

__all__ = ["GatewayNode"]

_MEDIA_COMMANDS: Final = (StartMedia, UpdateMedia, SetVoicePath, PlayToLine, SendDigit, StopMedia,
                          JoinLines)
_ARROWS: Final = {"in": "<-", "out": "->", "drop": "xx"}
# The signalling of both sides: SIP, and Q.931 trunks or FXS boards (their commands and reports;
# a board's bare "OK" acknowledgements are left out).
_CONSOLE_PROTOCOLS: Final = frozenset({"sip", "q931", "fxs"})


class _SipSide:
    """The SIP transport's application: endpoint events and the shared timer go to the node."""

    __slots__ = ("_node",)

    def __init__(self, node: GatewayNode) -> None:
        self._node = node

    def handle_event(self, event: EndpointEvent, now: float) -> None:
        self._node.sip_event(event, now)

    def get_timer(self) -> float | None:
        core = self._node.core
        return core.get_timer() if core is not None else None

    def handle_timer(self, now: float) -> None:
        self._node.core_timer(now)


class GatewayNode:
    """One running gateway (see the module docstring).

    ``media`` / ``trace_rtp`` / ``control`` override the file's settings when not None.
    ``console`` receives one human line per message and call event.  ``record`` keeps every
    trace event (for a pcap when stopping).  ``lines`` are extra line adapters (tests attach
    in-process ones); ``trace`` is an extra sink that sees every trace event.
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        media: bool | None = None,
        trace_rtp: bool | None = None,
        control: str | None = None,
        console: Callable[[str], None] | None = None,
        record: bool = False,
        rng: random.Random | None = None,
        lines: Sequence[LineAdapter] = (),
        trace: TraceSink | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self._media_on = config.media.enabled if media is None else media
        self._trace_rtp = config.media.trace_rtp if trace_rtp is None else trace_rtp
        self._control_address = control if control is not None else config.control
        self._console = console
        self._rng = rng or random.Random()
        self.trace = TraceHub(record=record)
        if trace is not None:
            self.trace.add_listener(lambda _number, event: trace(event))
        if console is not None:
            self.trace.add_listener(self._print_trace)
        self._extra_lines = tuple(lines)
        self.adapters: dict[str, LineAdapter] = {}
        self.trunks: dict[str, Q931Trunk] = {}
        self.in_service: dict[str, bool] = {}
        self.core: GatewayCore | None = None
        self.endpoint: SipEndpoint | None = None
        self.media: MediaManager | None = None
        self._names: NameLookups | None = None
        self._sip: SipTransport | None = None
        self._control: ControlServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started_at = 0.0
        self._last_now = 0.0
        self._pumping = False
        self.sip_addresses: list[tuple[str, tuple[str, int]]] = []

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        if self._loop is not None:
            raise LocalProtocolError(f"gateway {self.name} is already running")
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._started_at = self._last_now = loop.time()
        config = self.config
        try:
            self._build_lines()
            endpoint = SipEndpoint(
                EndpointConfig(node=self.name, timers=config.sip.timer_config(),
                               user_agent=config.sip.user_agent,
                               advertised_host=config.sip.advertised_host,
                               # INFO with application/dtmf-relay bodies (dtmf-relay sip-info)
                               capabilities=GATEWAY_CAPABILITIES),
                rng=self._rng, trace=self.trace)
            self.endpoint = endpoint
            lines: list[LineInfo] = [info for adapter in self.adapters.values()
                                     for info in adapter.lines()]
            # dns: session targets are looked up at call time, on this loop (NameLookups).
            plan = replace(config.plan(tuple(lines)), lookup_names=True)
            self.core = GatewayCore(plan, endpoint, rng=self._rng, trace=self.trace,
                                    node=self.name)
            self._names = NameLookups(loop, self._name_answer)
            self.media = MediaManager(
                audio=self._line_audio, report=self._media_event,
                tones=tone_plan(config.tone_plan),
                options=MediaOptions(enabled=self._media_on,
                                     media_timeout=config.media.media_timeout,
                                     trace_packets=self._trace_rtp, node=self.name),
                rng=self._rng, trace=self.trace)
            self._sip = SipTransport(endpoint, _SipSide(self), loop)
            host, port = config.sip.listen.address
            for transport in config.sip.transports:
                if transport == "udp":
                    bound = await self._sip.listen_udp(host, port)
                else:
                    bound = await self._sip.listen_tcp(host, port)
                self.sip_addresses.append((transport, bound))
            for adapter in self.adapters.values():
                await adapter.start()
            if self._control_address is not None:
                self._control = ControlServer(self._handlers(),
                                              ControlAddress.parse(self._control_address))
                await self._control.start()
        except BaseException:
            await self.stop()
            raise
        self.core.start(self.now())
        self._kick()

    async def stop(self, grace: float = 2.0) -> None:
        """Clear every call (BYE/CANCEL toward SIP, DISCONNECT toward the lines), wait up to
        ``grace`` seconds for the answers, then close adapters, media and sockets."""
        loop = self._loop
        if loop is None:
            return
        core = self.core
        if core is not None and self._sip is not None:
            # Clear the calls and take the registrations back (Expires: 0, RFC 3261 §10.2.2):
            # a registrar left holding our bindings keeps routing calls to a process that is gone.
            core.shutdown(self.now())
            self._kick()
            deadline = loop.time() + grace
            while (core.live_calls or any(r.state == "registered" for r in core.registrations())) \
                    and loop.time() < deadline:
                await asyncio.sleep(0.02)
        for adapter in self.adapters.values():
            try:
                await adapter.stop()
            except Exception as exc:  # one broken adapter must not keep the rest open
                self._say(f"line {adapter.name}: stop failed: {exc}")
        if self.media is not None:
            await self.media.close()
        if self._names is not None:
            await self._names.close()
            self._names = None
        if self._control is not None:
            await self._control.close()
            self._control = None
        if self._sip is not None:
            self._sip.pump()  # the last BYEs and RELEASE answers leave before the sockets close
            await self._sip.aclose()
            self._sip = None
        self._loop = None

    async def __aenter__(self) -> GatewayNode:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ inspection

    def now(self) -> float:
        loop = self._loop
        if loop is not None:
            now = loop.time()
            if now > self._last_now:
                self._last_now = now
        return self._last_now

    @property
    def live_calls(self) -> int:
        return self.core.live_calls if self.core is not None else 0

    @property
    def control_address(self) -> ControlAddress | None:
        return self._control.address if self._control is not None else None

    def sip_address(self, transport: str = "udp") -> tuple[str, int]:
        for kind, address in self.sip_addresses:
            if kind == transport:
                return address
        raise LocalProtocolError(f"gateway {self.name} does not listen on {transport}")

    def ready_line(self) -> str:
        parts = [f"SIP {kind} {_show(address)}" for kind, address in self.sip_addresses]
        for trunk in self.trunks.values():
            settings = trunk.settings
            if settings.mode == "listen" and trunk.listening is not None:
                parts.append(f"trunk {trunk.name} listening on {_show(trunk.listening)} "
                             f"({settings.side} side)")
            else:
                parts.append(f"trunk {trunk.name} connecting to {_show(settings.address)} "
                             f"({settings.side} side)")
        for station in self.config.station:
            parts.append(f"station {station.name} on {station.device}")
        for modem in self.config.modem:
            parts.append(f"modem {modem.name} on {modem.device}")
        if self.control_address is not None:
            parts.append(f"control {self.control_address}")
        media = "with media" if self._media_on else "signalling only"
        return f"{self.name}: ready ({media}); " + "; ".join(parts)

    # ------------------------------------------------------------------ lines

    def _build_lines(self) -> None:
        for settings in self.config.trunk_settings():
            trunk = Q931Trunk(settings, node=self.name, trace=self.trace, on_note=self._trunk_note,
                              rng=self._rng, trace_rtp=self._trace_rtp)
            self.trunks[trunk.name] = trunk
            self._add_adapter(trunk)
        for station in self.config.station:
            board = FxsBoardAdapter.open_device(
                station.line_config(), station.device, numbers=(station.number,),
                baud_rate=station.baud_rate, trace=self.trace)
            self._add_adapter(board)
        for modem in self.config.modem:
            self._add_adapter(VoiceModemAdapter.open_device(
                modem.line_config(), modem.device, baud_rate=modem.baud_rate,
                flow_control=modem.flow_control, trace=self.trace, numbers=(modem.number,)))
        for adapter in self._extra_lines:
            self._add_adapter(adapter)

    def _add_adapter(self, adapter: LineAdapter) -> None:
        for info in adapter.lines():
            if info.name in self.adapters:
                raise LocalProtocolError(f"two adapters serve line {info.name!r}")
            self.adapters[info.name] = adapter
            self.in_service[info.name] = False
        adapter.set_event_handler(self._line_event)

    def _line_audio(self, line: str, ref: str) -> LineAudio | None:
        adapter = self.adapters.get(line)
        return adapter.audio(line, ref) if adapter is not None else None

    # ------------------------------------------------------------------ input

    def _line_event(self, event: LineEvent) -> None:
        if isinstance(event, LineStatus):
            self.in_service[event.line] = event.in_service  # the core's Notice says it
        core = self.core
        if core is None:
            return
        core.line_event(event, self.now())
        self._kick()

    def sip_event(self, event: EndpointEvent, now: float) -> None:
        """An endpoint event from the SIP transport's pump."""
        core = self.core
        if core is None:
            return
        core.sip_event(event, now)
        self._kick()

    def core_timer(self, now: float) -> None:
        core = self.core
        if core is not None:
            core.handle_timer(now)
            self._kick()

    def _name_answer(self, name: str, address: str | None) -> None:
        core = self.core
        if core is not None:
            core.host_resolved(name, address, self.now())
            self._kick()

    def _media_event(self, call: str, event: MediaEvent) -> None:
        core = self.core
        if core is not None:
            core.media_event(call, event, self.now())
            self._kick()

    # ------------------------------------------------------------------ the pump

    def _kick(self) -> None:
        """Drain call control's commands, then let the SIP transport flush and re-arm."""
        core = self.core
        if core is None or self._pumping:
            return
        self._pumping = True
        try:
            while (command := core.next_command()) is not None:
                self._execute(command)
        finally:
            self._pumping = False
        if self._sip is not None:
            self._sip.schedule_pump()

    def _execute(self, command: GatewayCommand) -> None:
        if isinstance(command, Notice):
            self._say(command.text)
        elif isinstance(command, ResolveHost):
            if self._names is not None:
                self._names.resolve(command.name)
        elif isinstance(command, _MEDIA_COMMANDS):
            if self.media is not None:
                self.media.execute(command)
        else:
            adapter = self.adapters.get(command.line)
            if adapter is None:
                self._say(f"{type(command).__name__} for unknown line {command.line}")
                return
            try:
                adapter.send(command)
            except LocalProtocolError as exc:  # call control and the adapter disagree: a bug
                self._say(f"line {command.line}: {type(command).__name__} refused: {exc}")
                if isinstance(command, OfferCall) and self.core is not None:
                    # The call never reached the line: clear it rather than leave it offered
                    # for ever (cause 111, protocol error; 500 toward SIP).
                    now = self.now()
                    cleared = LineCleared(command.line, command.ref, q850.PROTOCOL_ERROR)
                    self.core.line_event(cleared, now)
                    self.core.line_event(LineReleased(command.line, command.ref), now)

    # ------------------------------------------------------------------ console

    def _say(self, text: str) -> None:
        if self._console is not None:
            self._console(f"{self.now() - self._started_at:9.3f} {self.name} {text}")

    def _trunk_note(self, note: TrunkNote) -> None:
        self._say(f"trunk {note.trunk}: {note.text}")

    def _print_trace(self, _number: int, event: TraceEvent) -> None:
        arrow = _ARROWS.get(event.direction)
        if arrow is None or event.protocol not in _CONSOLE_PROTOCOLS or event.summary == "OK":
            return
        # An FXS board's events carry its line name as node, and no address.
        where = _show(event.remote) if event.remote is not None else event.node
        self._say(f"{event.protocol.upper():<4} {arrow} {where} {event.summary}")

    # ------------------------------------------------------------------ show commands

    def _handlers(self) -> dict[str, Handler]:
        def calls() -> dict[str, Any]:
            """calls: every call with legs, states, peers, codecs and RTP counters."""
            return {"node": self.name, "calls": self.call_records()}

        def trace(since: int | str = 0, limit: int = 500, full: bool = True,
                  protocols: str = "sip,q931,fxs") -> dict[str, Any]:
            """trace [SINCE]: SIP, Q.931 and FXS messages (full text) from number SINCE on."""
            start = int(since)
            if start < 0:
                raise ValueError("since must not be negative")
            wanted = {p.strip() for p in protocols.split(",") if p.strip()}
            following, events = self.trace.since(start, max(1, min(int(limit), 5000)))
            return {"next": following,
                    "events": [trace_record(n, e, full=bool(full)) for n, e in events
                               if "all" in wanted or e.protocol in wanted]}

        def registrations() -> list[dict[str, Any]]:
            """registrations: the REGISTER state of every number."""
            core = self._need_core()
            now = self.now()
            return [registration_record(r, now) for r in core.registrations()]

        def dial_peers() -> list[dict[str, Any]]:
            """dial-peers: the pots and voip peers (show dial-peer voice summary)."""
            return dial_peer_records(self.config.dial_plan())

        def sip_ua_map() -> str:
            """sip-ua-map: the active Q.850 <-> SIP mapping (show sip-ua map)."""
            cause_map = self.config.cause_map.cause_map()
            return (f"profile {cause_map.profile.value}\n\n" + cause_map.render_pstn_sip() +
                    "\n" + cause_map.render_sip_pstn())

        def status() -> dict[str, Any]:
            """status: lines in service, SIP listeners, live calls."""
            return self.status()

        return {"calls": calls, "trace": trace, "registrations": registrations,
                "dial-peers": dial_peers, "sip-ua-map": sip_ua_map, "status": status}

    def _need_core(self) -> GatewayCore:
        if self.core is None:
            raise LocalProtocolError(f"gateway {self.name} is not running")
        return self.core

    def call_records(self) -> list[dict[str, Any]]:
        core = self._need_core()
        now = self.now()
        records = []
        for snapshot in core.calls():
            media = self.media.calls.get(snapshot.call) if self.media is not None else None
            line_info = None
            for leg in snapshot.legs:
                trunk = self.trunks.get(leg.peer) if leg.kind == "line" else None
                if trunk is not None:
                    line_info = trunk.call_info(leg.ident)
            records.append(call_record(snapshot, now,
                                       media.statistics() if media is not None else None,
                                       line_info))
        return records

    def status(self) -> dict[str, Any]:
        lines = []
        for name, adapter in self.adapters.items():
            for info in adapter.lines():
                if info.name == name:
                    lines.append({"name": name, "kind": info.kind, "channels": info.channels,
                                  "numbers": list(info.numbers),
                                  "in_service": self.in_service.get(name, False)})
        return {
            "node": self.name,
            "live_calls": self.live_calls,
            "media": self._media_on,
            "sip": [f"{kind} {_show(address)}" for kind, address in self.sip_addresses],
            "lines": lines,
            "control": None if self.control_address is None else str(self.control_address),
        }


def _show(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
