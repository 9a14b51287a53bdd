"""Flow-1 test bench for the call control core, entirely sans-IO on a virtual clock.

Two :class:`~gateway.calls.core.GatewayCore` (GW-A 10.0.0.1, GW-B 10.0.0.2), each with a real
:class:`~gateway.sip.endpoint.SipEndpoint`, joined by an in-memory UDP link (optionally lossy,
duplicating and reordering with a fixed seed), a registrar node, and scripted line sides that
play the PBX (Q.931 trunk) or the phone (station) behind each line: they feed LineEvents, record
LineCommands as a Q.931-style ladder and react like a PBX would (CALL PROCEEDING, ALERTING,
CONNECT after a delay, RELEASE after DISCONNECT...).
"""

from __future__ import annotations

import heapq
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from gateway.calls.commands import MediaCommand, Notice
from gateway.calls.core import GatewayCore
from gateway.calls.dialpeer import (
    DialPeer,
    DialPlan,
    DtmfRelay,
    IosCodec,
    NumberPattern,
    PotsDialPeer,
    SessionTarget,
    VoipDialPeer,
)
from gateway.calls.plan import (
    CallTimers,
    GatewayPlan,
    MediaSettings,
)
from gateway.calls.sip_messages import GATEWAY_CAPABILITIES
from gateway.calls.translation import TranslationTables
from gateway.line import (
    AcknowledgeAnswer,
    AnswerCall,
    ClearCall,
    DigitsDialled,
    IndicateProgress,
    LineAnswerAcknowledged,
    LineAnswered,
    LineCleared,
    LineCommand,
    LineEvent,
    LineInfo,
    LineKind,
    LineProgress,
    LineReleased,
    LineSeized,
    OfferCall,
    ProceedCall,
    SendDigit,
)
from gateway.roles.registrar import Registrar
from gateway.sip.endpoint import EndpointConfig, SipEndpoint
from gateway.sip.events import EndpointEvent, RequestReceived
from gateway.sip.message import Request
from gateway.sip.parser import parse_datagram
from gateway.sip.uas_checks import UasCapabilities
from gateway.trace import TraceEvent, TraceRecorder

GW_A = ("10.0.0.1", 5060)
GW_B = ("10.0.0.2", 5060)
GW_C = ("10.0.0.3", 5060)  # a gateway that is configured but never answers
REGISTRAR = ("10.0.0.9", 5060)
INTRUDER = ("192.0.2.66", 5060)


def pattern(text: str) -> NumberPattern:
    return NumberPattern.parse(text)


# ----------------------------------------------------------------------------- the world


class World:
    """A virtual clock, an action queue and the nodes, run from event to event."""

    def __init__(self) -> None:
        self.now = 0.0
        self._actions: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = 0
        self.nodes: dict[tuple[str, int], Node] = {}
        self.link = Link(self)
        # Everything that crossed a line or the network, in causal order: (who, direction,
        # label) with who = a node name ("gw-a": SIP) or a line name ("pbx-a": Q.931 ladder).
        self.journal: list[tuple[str, str, str]] = []

    def position(self, who: str, direction: str, label: str, nth: int = 0) -> int:
        hits = [i for i, entry in enumerate(self.journal) if entry == (who, direction, label)]
        assert len(hits) > nth, f"{(who, direction, label)} never happened"
        return hits[nth]

    def at(self, delay: float, action: Callable[[], None]) -> None:
        self._sequence += 1
        heapq.heappush(self._actions, (self.now + delay, self._sequence, action))

    def deliver(self, data: bytes, source: tuple[str, int], destination: tuple[str, int]) -> None:
        node = self.nodes.get(destination)
        if node is not None:
            node.endpoint.receive_datagram(data, source, self.now, local=destination)
            node.after_input(self.now)

    def _pump(self) -> None:
        for _ in range(1000):
            moved = False
            for node in list(self.nodes.values()):
                moved |= node.pump(self.now)
            if not moved:
                return
        raise AssertionError("the nodes keep producing output at one instant")

    def _next_time(self) -> float | None:
        times = [self._actions[0][0]] if self._actions else []
        for node in self.nodes.values():
            deadline = node.get_timer()
            if deadline is not None:
                times.append(deadline)
        return min(times) if times else None

    def run(self, duration: float) -> None:
        """Advance the clock by ``duration``, handling everything due on the way."""
        self.run_until(lambda: False, duration, must=False)

    def run_until(self, condition: Callable[[], bool], limit: float, *, must: bool = True) -> None:
        end = self.now + limit
        for _ in range(500_000):
            self._pump()
            if condition():
                return
            due = self._next_time()
            if due is None or due > end:
                self.now = end
                if must:
                    raise AssertionError(f"condition not met by t={end}")
                return
            self.now = max(self.now, due)
            while self._actions and self._actions[0][0] <= self.now:
                _, _, action = heapq.heappop(self._actions)
                action()
            for node in list(self.nodes.values()):
                node.fire_timers(self.now)
        raise AssertionError("too many steps: something loops")


class Link:
    """UDP between nodes: a fixed delay, or seeded loss, duplication and random delay."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.delay = 0.005
        self.loss = 0.0
        self.duplicate = 0.0
        self.jitter = 0.0
        self.rng = random.Random(0)
        self.sent = 0
        self.lost = 0

    def hostile(self, seed: int, *, loss: float, duplicate: float, jitter: float) -> None:
        self.rng = random.Random(seed)
        self.loss, self.duplicate, self.jitter = loss, duplicate, jitter

    def send(self, data: bytes, source: tuple[str, int], destination: tuple[str, int]) -> None:
        copies = 2 if self.rng.random() < self.duplicate else 1
        for _ in range(copies):
            self.sent += 1
            if self.rng.random() < self.loss:
                self.lost += 1
                continue
            delay = self.delay + self.rng.random() * self.jitter
            self.world.at(
                delay,
                lambda data=data, source=source, destination=destination: self.world.deliver(
                    data, source, destination
                ),
            )


class Node:
    """A SIP node: an endpoint on the link, with a trace of what it sent and received."""

    capabilities: UasCapabilities | None = None

    def __init__(self, world: World, address: tuple[str, int], name: str) -> None:
        self.world = world
        self.address = address
        self.name = name
        self.trace = TraceRecorder()
        config = EndpointConfig(node=name)
        if self.capabilities is not None:
            config = replace(config, capabilities=self.capabilities)
        self.endpoint = SipEndpoint(
            config,
            rng=random.Random(zlib.crc32(name.encode())),
            trace=self._record,
        )
        self.endpoint.add_listener("udp", address)
        world.nodes[address] = self

    def _record(self, event: TraceEvent) -> None:
        self.trace(event)
        if event.direction in ("in", "out") and event.raw:
            self.world.journal.append((self.name, event.direction, _label(event.raw)))

    def after_input(self, now: float) -> None:
        self.handle_events(now)

    def handle_events(self, now: float) -> None:
        while (event := self.endpoint.next_event()) is not None:
            self.on_event(event, now)

    def on_event(self, event: EndpointEvent, now: float) -> None:
        """Nodes that are not gateways answer nothing by default."""

    def pump(self, now: float) -> bool:
        out = self.endpoint.datagrams_to_send(now)
        for transmit in out:
            self.world.link.send(transmit.data, self.address, transmit.destination)
        return bool(out)

    def get_timer(self) -> float | None:
        return self.endpoint.get_timer()

    def fire_timers(self, now: float) -> None:
        deadline = self.endpoint.get_timer()
        if deadline is not None and deadline <= now:
            self.endpoint.handle_timer(now)
            self.after_input(now)

    def sip(self) -> list[tuple[str, str]]:
        """Every SIP message in and out as (direction, label): INVITE, 180/INVITE, ..."""
        ladder = []
        for event in self.trace.events:
            if event.protocol != "sip" or event.direction not in ("in", "out") or not event.raw:
                continue
            ladder.append((event.direction, _label(event.raw)))
        return ladder

    def messages(self, direction: str, label: str) -> list[Any]:
        """The parsed messages of one kind (``"out"``, ``"INVITE"`` / ``"488/INVITE"``)."""
        found = []
        for event in self.trace.events:
            if event.protocol != "sip" or event.direction != direction or not event.raw:
                continue
            if _label(event.raw) == label:
                found.append(parse_datagram(event.raw))
        return found


def _label(raw: bytes) -> str:
    message = parse_datagram(raw)
    if isinstance(message, Request):
        return message.method
    return f"{message.status}/{message.cseq.method}"


class Gateway(Node):
    """A GatewayCore with its endpoint and the scripted sides of its lines."""

    capabilities = GATEWAY_CAPABILITIES

    def __init__(self, world: World, address: tuple[str, int], plan: GatewayPlan) -> None:
        super().__init__(world, address, plan.node)
        self.core = GatewayCore(plan, self.endpoint, rng=random.Random(7), node=plan.node)
        self.lines: dict[str, LineSide] = {}
        self.media: list[MediaCommand] = []
        self.notices: list[str] = []
        self.stray: list[LineCommand] = []  # commands for lines no side plays
        for info in plan.lines:
            self.lines[info.name] = LineSide(self, info)

    def after_input(self, now: float) -> None:
        self.core.poll(now)

    def pump(self, now: float) -> bool:
        moved = False
        while (command := self.core.next_command()) is not None:
            moved = True
            if isinstance(command, Notice):
                self.notices.append(command.text)
            elif isinstance(command, LineCommand):
                side = self.lines.get(command.line)
                if side is None:
                    self.stray.append(command)
                else:
                    side.command(command)
            else:
                self.media.append(command)
        return super().pump(now) or moved

    def get_timer(self) -> float | None:
        times = [t for t in (self.endpoint.get_timer(), self.core.get_timer()) if t is not None]
        return min(times) if times else None

    def fire_timers(self, now: float) -> None:
        super().fire_timers(now)
        deadline = self.core.get_timer()
        if deadline is not None and deadline <= now:
            self.core.handle_timer(now)

    def line_event(self, event: LineEvent) -> None:
        self.core.line_event(event, self.world.now)


class RegistrarNode(Node):
    capabilities = UasCapabilities.of(methods=("REGISTER", "OPTIONS", "ACK", "CANCEL"))

    def __init__(self, world: World, registrar: Registrar) -> None:
        super().__init__(world, REGISTRAR, "registrar")
        self.registrar = registrar

    def on_event(self, event: EndpointEvent, now: float) -> None:
        if isinstance(event, RequestReceived):
            self.registrar.respond(self.endpoint, event, now)


class RawPeer(Node):
    """A SIP endpoint the test drives by hand (an intruder, a peer that misbehaves)."""

    def __init__(self, world: World, address: tuple[str, int], name: str) -> None:
        super().__init__(world, address, name)
        self.events: list[EndpointEvent] = []

    def on_event(self, event: EndpointEvent, now: float) -> None:
        self.events.append(event)


# ----------------------------------------------------------------------------- line sides


@dataclass
class Behaviour:
    """How the PBX (or phone) behind a line reacts to calls the gateway offers it."""

    proceed: bool = True
    alert_after: float | None = 0.02
    inband: bool = False
    answer_after: float | None = 0.5
    busy: bool = False
    ack_connect: bool = True
    release_after: float | None = 0.01


@dataclass
class LineCall:
    ref: str
    started_by_line: bool
    line_cleared: bool = False
    gateway_cleared: bool = False
    released: bool = False


@dataclass
class LineSide:
    """The PBX (trunk) or phone (station) behind one line; ``ladder`` is its view of the call
    as (direction, message) with ``>`` for line -> gateway and ``<`` for gateway -> line."""

    gateway: Gateway
    info: LineInfo
    behaviour: Behaviour = field(default_factory=Behaviour)
    ladder: list[tuple[str, str, str]] = field(default_factory=list)
    commands: list[LineCommand] = field(default_factory=list)
    calls: dict[str, LineCall] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def kind(self) -> LineKind:
        return self.info.kind

    def view(self, ref: str | None = None) -> list[tuple[str, str]]:
        return [(d, m) for (d, m, r) in self.ladder if ref is None or r == ref]

    # -- the line sends ---------------------------------------------------------------------

    def send(self, event: LineEvent, delay: float = 0.0) -> None:
        world = self.gateway.world

        def go() -> None:
            self._log_event(event)
            self.gateway.line_event(event)

        if delay:
            world.at(delay, go)
        else:
            go()

    def seize(self, ref: str, called: str = "", calling: str = "1000", **kw: Any) -> None:
        complete = kw.pop("complete", self.kind != "station")
        self.calls[ref] = LineCall(ref, True)
        self.send(LineSeized(self.name, ref, called, calling, complete=complete, **kw))

    def dial(self, ref: str, digits: str, *, gap: float = 0.3) -> None:
        for index, digit in enumerate(digits):
            self.send(DigitsDialled(self.name, ref, digit), delay=gap * index)

    def hang_up(self, ref: str, cause: int = 16) -> None:
        call = self.calls.get(ref)
        if call is not None:
            call.line_cleared = True
        self.send(LineCleared(self.name, ref, cause))
        if self.kind == "station":  # an FXS port reports both at once (hardware fxs_line)
            self.send(LineReleased(self.name, ref))
            if call is not None:
                call.released = True

    def answer(self, ref: str) -> None:
        self.send(LineAnswered(self.name, ref))

    # -- the gateway sends ------------------------------------------------------------------

    def command(self, command: LineCommand) -> None:
        self.commands.append(command)
        ref = command.ref
        call = self.calls.get(ref)
        name = _command_name(command, call)
        self.ladder.append(("<", name, ref))
        self.gateway.world.journal.append((self.name, "<", name))
        behaviour = self.behaviour
        if isinstance(command, OfferCall):
            self.calls[ref] = LineCall(ref, False)
            self._offered(command, behaviour)
        elif isinstance(command, AnswerCall) and call is not None:
            if self.kind == "trunk" and behaviour.ack_connect:
                self.send(LineAnswerAcknowledged(self.name, ref), delay=0.005)
        elif isinstance(command, ClearCall) and call is not None and not call.released:
            call.gateway_cleared = True
            if behaviour.release_after is not None:
                call.released = True
                self.send(LineReleased(self.name, ref), delay=behaviour.release_after)

    def _offered(self, command: OfferCall, behaviour: Behaviour) -> None:
        ref = command.ref
        if behaviour.busy:
            self.calls[ref].line_cleared = True
            self.send(LineCleared(self.name, ref, 17), delay=0.01)
            if self.kind == "station":
                self.calls[ref].released = True
                self.send(LineReleased(self.name, ref), delay=0.01)
            return
        if behaviour.proceed and self.kind == "trunk":
            self.send(LineProgress(self.name, ref, "proceeding"), delay=0.005)
        if behaviour.alert_after is not None:
            stage = "alerting"
            self.send(LineProgress(self.name, ref, stage, behaviour.inband), behaviour.alert_after)
        if behaviour.answer_after is not None:
            self.send(LineAnswered(self.name, ref), delay=behaviour.answer_after)

    def _log_event(self, event: LineEvent) -> None:
        ref = getattr(event, "ref", "")
        call = self.calls.get(ref)
        name = _event_name(event, call)
        self.ladder.append((">", name, ref))
        self.gateway.world.journal.append((self.name, ">", name))


def _command_name(command: LineCommand, call: LineCall | None) -> str:
    if isinstance(command, OfferCall):
        return "SETUP"
    if isinstance(command, ProceedCall):
        return "CALL PROCEEDING"
    if isinstance(command, IndicateProgress):
        name = "ALERTING" if command.stage == "alerting" else "PROGRESS"
        return f"{name} PI" if command.inband else name
    if isinstance(command, AnswerCall):
        return "CONNECT"
    if isinstance(command, AcknowledgeAnswer):
        return "CONNECT ACK"
    if isinstance(command, ClearCall):
        started = call is not None and call.line_cleared
        return f"{'RELEASE' if started else 'DISCONNECT'} {command.cause}"
    if isinstance(command, SendDigit):
        return f"KEYPAD {command.digit}"
    return type(command).__name__


def _event_name(event: LineEvent, call: LineCall | None) -> str:
    if isinstance(event, LineSeized):
        return "SETUP"
    if isinstance(event, DigitsDialled):
        return f"INFO {event.digits}"
    if isinstance(event, LineProgress):
        names = {"proceeding": "CALL PROCEEDING", "alerting": "ALERTING", "progress": "PROGRESS"}
        name = names[event.stage]
        return f"{name} PI" if event.inband else name
    if isinstance(event, LineAnswered):
        return "CONNECT"
    if isinstance(event, LineAnswerAcknowledged):
        return "CONNECT ACK"
    if isinstance(event, LineCleared):
        return f"DISCONNECT {event.cause}"
    if isinstance(event, LineReleased):
        started = call is not None and call.line_cleared
        return "RELEASE COMPLETE" if started else "RELEASE"
    return type(event).__name__


# ----------------------------------------------------------------------------- plans


def voip(tag: int, dest: str, target: str, **kw: Any) -> VoipDialPeer:
    return VoipDialPeer(
        tag,
        destination_pattern=pattern(dest),
        session_target=SessionTarget.parse(target),
        **kw,
    )


def pots(tag: int, dest: str, port: str, **kw: Any) -> PotsDialPeer:
    return PotsDialPeer(tag, destination_pattern=pattern(dest), port=port, **kw)


TRANSLATIONS = TranslationTables.parse_config(
    r"""
voice translation-rule 1
 rule 1 /^\(1...\)$/ /+1408555\1/
voice translation-profile CALLING-E164
 translate calling 1
"""
)

FAST = CallTimers(ring_no_answer=20.0, invite_expiry=60.0, bye_answer=4.0, connect=5.0)


def plan_a(**changes: Any) -> GatewayPlan:
    peers: list[DialPeer] = [
        pots(1, "1...", "pbx-a"),
        pots(2, "2001", "phone-a", forward_digits="all"),
        voip(
            10,
            "555....",
            "ipv4:10.0.0.2:5060",
            codecs=(IosCodec.G711ULAW, IosCodec.G711ALAW),
            dtmf_relay=(DtmfRelay.RTP_NTE,),
            translation_outgoing="CALLING-E164",
        ),
        voip(11, "777....", "ipv4:10.0.0.3:5060", preference=0),
        voip(12, "777....", "ipv4:10.0.0.2:5060", preference=1),
        voip(13, "888....", "ipv4:10.0.0.2:5060", codecs=(IosCodec.G729R8,)),
        voip(14, "999....", "dns:gw-b.example.net"),
        voip(15, "666....", "ipv4:10.0.0.2:5060"),
        voip(16, "444....", "dns:nowhere.example.net"),
    ]
    lines = (
        LineInfo("pbx-a", "trunk", ("1000", "1001"), 30),
        LineInfo("phone-a", "station", ("2001",), 1),
    )
    values: dict[str, Any] = {
        "node": "gw-a",
        "dial_plan": DialPlan(peers, TRANSLATIONS),
        "lines": lines,
        "timers": FAST,
        "media": MediaSettings(address="10.0.0.1", port_min=20000, port_max=20199),
        "resolver": {"gw-b.example.net": "10.0.0.2"}.get,
    }
    values.update(changes)
    return GatewayPlan(**values)


def plan_b(**changes: Any) -> GatewayPlan:
    peers: list[DialPeer] = [
        pots(20, "555....", "pbx-b", forward_digits="all"),
        pots(21, "5550100", "phone-b", forward_digits="all", huntstop=True),
        pots(22, "777....", "pbx-b", forward_digits="all"),
        pots(23, "999....", "pbx-b", forward_digits="all"),
        VoipDialPeer(
            30,
            incoming_called_number=pattern("."),
            codecs=(IosCodec.G711ULAW, IosCodec.G711ALAW),
            dtmf_relay=(DtmfRelay.RTP_NTE,),
        ),
        voip(31, "1...", "ipv4:10.0.0.1:5060"),
        voip(32, "2...", "ipv4:10.0.0.1:5060"),
    ]
    lines = (
        LineInfo("pbx-b", "trunk", ("5551234", "5555678"), 30),
        LineInfo("phone-b", "station", ("5550100",), 1),
    )
    values: dict[str, Any] = {
        "node": "gw-b",
        "dial_plan": DialPlan(peers),
        "lines": lines,
        "timers": FAST,
        "media": MediaSettings(address="10.0.0.2", port_min=30000, port_max=30199),
    }
    values.update(changes)
    return GatewayPlan(**values)


@dataclass
class Bench:
    world: World
    a: Gateway
    b: Gateway

    @property
    def pbx_a(self) -> LineSide:
        return self.a.lines["pbx-a"]

    @property
    def pbx_b(self) -> LineSide:
        return self.b.lines["pbx-b"]

    def run(self, duration: float) -> None:
        self.world.run(duration)

    def settle(self, limit: float = 120.0) -> None:
        """Run until both gateways have no call left (and fail if that never happens)."""
        self.world.run_until(lambda: self.a.core.live_calls == 0 == self.b.core.live_calls, limit)


@pytest.fixture
def bench() -> Callable[..., Bench]:
    def make(
        plan_a_changes: dict[str, Any] | None = None, plan_b_changes: dict[str, Any] | None = None
    ) -> Bench:
        world = World()
        a = Gateway(world, GW_A, plan_a(**(plan_a_changes or {})))
        b = Gateway(world, GW_B, plan_b(**(plan_b_changes or {})))
        return Bench(world, a, b)

    return make


@dataclass(frozen=True)
class Kit:
    """The bench's parts, for tests that build their own worlds."""

    World: type[World] = World
    Gateway: type[Gateway] = Gateway
    RawPeer: type[RawPeer] = RawPeer
    RegistrarNode: type[RegistrarNode] = RegistrarNode
    Behaviour: type[Behaviour] = Behaviour
    plan_a: Callable[..., GatewayPlan] = plan_a
    plan_b: Callable[..., GatewayPlan] = plan_b
    voip: Callable[..., VoipDialPeer] = voip
    pots: Callable[..., PotsDialPeer] = pots
    GW_A: tuple[str, int] = GW_A
    GW_B: tuple[str, int] = GW_B
    GW_C: tuple[str, int] = GW_C
    REGISTRAR: tuple[str, int] = REGISTRAR
    INTRUDER: tuple[str, int] = INTRUDER


@pytest.fixture
def kit() -> Kit:
    return Kit()
