"""Running a scenario: every node in this process, one asyncio loop, real sockets on loopback.

:func:`run_scenario` loads the node configs with relocated ports (:mod:`gateway.scenario.nodes`),
starts the nodes, waits until their links are up, plays the timeline, waits until every call
has cleared (plus ``settle``), records each node's end state, stops the nodes and evaluates the
expectations over the trace (:mod:`gateway.scenario.expect`).

Real mode runs on the ordinary event loop, in real time, with media when the scenario asks for
it.  Fast mode runs signalling-only scenarios on :class:`~gateway.aio.virtual_time.
VirtualTimeEventLoop`: the same code, the same sockets, but idle time is skipped, so a 30 s ring
timer costs nothing.  A media scenario always runs in real time (its tones, DTMF and RTP need the
audio clock).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final, Protocol, TextIO

from gateway.aio.virtual_time import VirtualTimeEventLoop
from gateway.config.gateway_schema import GatewayConfig, SocketAddress
from gateway.errors import GwemuError
from gateway.scenario.expect import NodeState, RunRecord, RunView, evaluate, step_matches
from gateway.scenario.ladder import LadderBuilder
from gateway.scenario.ladder_text import Charset, LiveLadder
from gateway.scenario.nodes import (
    NodeConfig,
    choose_port_offset,
    document_ports,
    load_node_configs,
    node_documents,
)
from gateway.scenario.patterns import Trigger
from gateway.scenario.relay import LinkRelay
from gateway.scenario.report import ScenarioReport
from gateway.scenario.schema import (
    Action,
    DialAction,
    DigitsAction,
    LinkDownAction,
    PhoneAction,
    PlayAction,
    Scenario,
    WaitAction,
)
from gateway.trace import Address, TraceEvent
from pbx_sim.aio import PbxSimulator
from pbx_sim.config import HostPort, PbxConfig
from pbx_sim.events import PbxEvent, PhoneEvent, SimEvent

__all__ = ["RunOptions", "check_scenario", "run_scenario"]

_STARTUP: Final = 10.0  # scenario seconds for every link to come up
_POLL: Final = 0.05  # how often end-state conditions are re-checked
_RECONNECT: Final = 0.05  # trunk reconnect interval during a run (the nodes start together)
_RESOLUTION: Final = 1e-6


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How to run: ``fast`` (virtual time, when the scenario allows), where to print the live
    ladder, the seed of every random choice, a fixed port offset (None: pick free ports)."""

    fast: bool = False
    live: TextIO | None = None
    charset: Charset = "unicode"
    seed: int | None = None
    port_offset: int | None = None
    repeat: int = 1


class _Node(Protocol):
    name: str
    kind: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def ready(self) -> str | None:
        """None when its links are up, else what it still waits for."""

    def idle(self) -> bool: ...

    def state(self) -> NodeState: ...


class _PbxNode:
    """A PBX simulator node."""

    kind = "pbx"

    def __init__(self, name: str, config: PbxConfig, *, media: bool,
                 trace: Callable[[TraceEvent], None], observer: Callable[[SimEvent], None],
                 rng: random.Random) -> None:
        self.name = name
        trunks = tuple(replace(t, reconnect=min(t.reconnect, _RECONNECT)) for t in config.trunk)
        config = replace(config, control=None, trunk=trunks)
        self.sim = PbxSimulator(config, media=media, trace=trace, observer=observer, rng=rng,
                                trace_rtp=media)

    async def start(self) -> None:
        await self.sim.start()

    async def stop(self) -> None:
        await self.sim.stop()

    def ready(self) -> str | None:
        for trunk in self.sim.config.trunk:
            if not self.sim.trunk_connected(trunk.name):
                return f"{self.name}: trunk {trunk.name} ({trunk.mode} {trunk.address})"
        return None

    def _off_hook(self) -> tuple[str, ...]:
        phones = [s.phone for s in self.sim.pbx.stations.values()]
        phones += [b.phone for b in self.sim.boards.values()]
        return tuple(p.name for p in phones if p.off_hook)

    def idle(self) -> bool:
        return not self.sim.pbx.calls and not self._off_hook()

    def state(self) -> NodeState:
        return NodeState(self.name, "pbx", len(self.sim.pbx.calls), self._off_hook())


class _RunProblem(Exception):
    """The run cannot go on as written (a timeout, an action that cannot be done)."""


class _Run:
    """One run of one scenario inside a running loop."""

    def __init__(self, scenario: Scenario, configs: dict[str, NodeConfig], *, media: bool,
                 options: RunOptions) -> None:
        self.scenario = scenario
        self.configs = dict(configs)
        self.media = media
        self.options = options
        self.rng = random.Random(options.seed)
        self.trace: list[TraceEvent] = []
        self.ports: dict[int, int] = {}  # relay port -> the port it stands for
        self.builder = LadderBuilder(ports=self.ports)
        self.live = (LiveLadder(list(scenario.nodes), options.live, charset=options.charset,
                                ports=self.ports)
                     if options.live is not None else None)
        self.problems: list[str] = []
        self.changed = asyncio.Event()
        self.nodes: dict[str, _Node] = {}
        self.pbxs: dict[str, _PbxNode] = {}
        self.relays: dict[tuple[str, str], LinkRelay] = {}
        self.loop = asyncio.get_running_loop()
        self.start: float | None = None
        self.final: dict[str, NodeState] = {}

    async def _build(self) -> None:
        """Put a relay into every trunk a ``link-down`` breaks, then create the nodes."""
        for action in self.scenario.action:
            if isinstance(action, LinkDownAction):
                key = (action.node, action.trunk)
                if key not in self.relays:
                    self.relays[key] = await self._relay(action.node, action.trunk)
        for name, config in self.configs.items():
            rng = random.Random(self.rng.random())
            if isinstance(config, PbxConfig):
                node = _PbxNode(name, config, media=self.media, trace=self._on_trace,
                                observer=self._on_event, rng=rng)
                self.pbxs[name] = node
                self.nodes[name] = node
            else:
                self.nodes[name] = _GatewayNode(name, config, media=self.media,
                                                trace=self._on_trace, rng=rng)

    async def _relay(self, node: str, trunk_name: str) -> LinkRelay:
        pbx = self.configs[node]
        assert isinstance(pbx, PbxConfig)
        trunk = next((t for t in pbx.trunk if t.name == trunk_name), None)
        if trunk is None:
            raise _RunProblem(f"link-down: {node} has no trunk {trunk_name!r}")
        target = trunk.address.address
        relay = LinkRelay(target, self.ports.__setitem__)
        await relay.start()
        via = relay.address
        if trunk.mode == "connect":
            moved = tuple(replace(t, address=HostPort(*via)) if t is trunk else t
                          for t in pbx.trunk)
            self.configs[node] = replace(pbx, trunk=moved)
            return relay
        for name, config in self.configs.items():
            changed = _redirect(config, target, via)
            if name != node and changed is not None:
                self.configs[name] = changed
                return relay
        await relay.close()
        raise _RunProblem(f"link-down: no node connects to {node}'s trunk {trunk_name} "
                          f"({trunk.address})")

    # ------------------------------------------------------------------------ feeds

    def _on_trace(self, event: TraceEvent) -> None:
        self.trace.append(event)
        self.builder.feed(event)
        if self.live is not None:
            self.live.feed(event)
        self.changed.set()

    def _on_event(self, _event: SimEvent) -> None:
        self.changed.set()

    # ------------------------------------------------------------------------ waiting

    def now(self) -> float:
        return self.loop.time()

    async def _wait_until(self, condition: Callable[[], bool], deadline: float,
                          what: Callable[[], str]) -> None:
        while not condition():
            remaining = deadline - self.now()
            # A wait shorter than the loop's clock resolution would return at once without
            # the (virtual) clock moving: treat it as the deadline reached.
            if remaining <= _RESOLUTION:
                raise _RunProblem(f"timed out waiting for {what()}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(remaining, _POLL))
            except TimeoutError:
                pass

    def _happened(self, trigger: Trigger, marks: dict[str, int]) -> bool:
        if trigger.step is not None:
            step = trigger.step
            return any(step_matches(step, arrow)
                       for arrow in self.builder.arrows[marks["arrows"]:])
        sim = self.pbxs[trigger.node].sim
        for event in sim.events[marks[trigger.node]:]:
            if trigger.event is not None:
                if isinstance(event, PhoneEvent) and event.phone == trigger.phone and (
                    trigger.event.matches(event.kind, event.value, event.via, event.cause)
                ):
                    return True
            elif isinstance(event, PbxEvent):
                assert trigger.pbx_event is not None
                if trigger.pbx_event.matches(event.kind, event.detail):
                    return True
        return False

    async def _wait_for(self, trigger: Trigger, marks: dict[str, int], deadline: float,
                        key: str) -> None:
        await self._wait_until(lambda: self._happened(trigger, marks), deadline,
                               lambda: f"'{trigger}' ({key}.on)")

    def _marks(self) -> dict[str, int]:
        marks = {name: len(node.sim.events) for name, node in self.pbxs.items()}
        marks["arrows"] = len(self.builder.arrows)
        return marks

    # ------------------------------------------------------------------------ the run

    async def run(self) -> tuple[float, float]:
        """Start, play, stop: (start, end) of the scenario on the loop's clock."""
        deadline_startup = self.now() + _STARTUP
        started: list[_Node] = []
        try:
            await self._build()
            for node in self.nodes.values():
                await node.start()
                started.append(node)
            await self._wait_until(
                lambda: all(node.ready() is None for node in self.nodes.values()),
                deadline_startup,
                lambda: "links to come up: " + ", ".join(
                    str(node.ready()) for node in self.nodes.values() if node.ready()))
            start = self.start = self.now()
            if self.live is not None:
                self.live.begin(start)
            deadline = start + self.scenario.timeout
            await self._timeline(start, deadline)
            await self._wait_until(self._idle, deadline, self._busy_text)
            await asyncio.sleep(self.scenario.settle)
        except _RunProblem as exc:
            self.problems.append(str(exc))
        except (OSError, GwemuError) as exc:
            self.problems.append(f"a node failed: {exc}")
        end = self.now()
        if self.start is None:  # it never got going
            self.start = end
        self.final = {name: node.state() for name, node in self.nodes.items()}
        if self.live is not None:
            self.live.finish()
            self.live = None  # what stopping the nodes traces is not part of the scenario
        for node in reversed(started):
            try:
                await node.stop()
            except (OSError, GwemuError) as exc:
                self.problems.append(f"{node.name} did not stop cleanly: {exc}")
        for relay in self.relays.values():
            await relay.close()
        return self.start, end

    def _idle(self) -> bool:
        return all(node.idle() for node in self.nodes.values())

    def _busy_text(self) -> str:
        busy = [state for state in (n.state() for n in self.nodes.values())
                if state.live_calls or state.off_hook]
        parts = [f"{s.node} ({s.live_calls} calls, off hook: {', '.join(s.off_hook) or '-'})"
                 for s in busy]
        return "every call to clear: " + ("; ".join(parts) or "?")

    async def _timeline(self, start: float, deadline: float) -> None:
        for index, action in enumerate(self.scenario.action):
            marks = self._marks()
            if action.at is not None:
                due = start + action.at
                if due > deadline:
                    raise _RunProblem(f"action[{index}] is due at {action.at:g} s, after the "
                                      f"timeout ({self.scenario.timeout:g} s)")
                await asyncio.sleep(max(0.0, due - self.now()))
            elif action.on is not None:
                await self._wait_for(action.on, marks, deadline, f"action[{index}]")
            if action.delay:
                if self.now() + action.delay > deadline:
                    raise _RunProblem(f"action[{index}]: its delay ends after the timeout "
                                      f"({self.scenario.timeout:g} s)")
                await asyncio.sleep(action.delay)
            try:
                self._act(action)
            except GwemuError as exc:
                raise _RunProblem(f"action[{index}] ({action.do}): {exc}") from None

    def _act(self, action: Action) -> None:
        if isinstance(action, WaitAction):
            return
        if isinstance(action, LinkDownAction):
            relay = self.relays[(action.node, action.trunk)]
            relay.cut()
            if action.restore_after is not None:
                self.loop.call_later(action.restore_after, relay.restore)
            return
        sim = self.pbxs[action.phone.node].sim
        phone = action.phone.phone
        if isinstance(action, DialAction):
            sim.dial(phone, action.number)
        elif isinstance(action, DigitsAction):
            sim.send_digits(phone, action.digits)
        elif isinstance(action, PlayAction):
            sim.play(phone, action.source)
        else:
            assert isinstance(action, PhoneAction)
            {
                "answer": sim.answer,
                "hang-up": sim.hang_up,
                "off-hook": sim.lift,
                "flash": sim.flash,
                "stop-playing": sim.stop_playing,
            }[action.do](phone)

    def record(self, start: float, end: float) -> RunRecord:
        events = tuple(e for e in self.trace if start <= e.time <= end)
        sim_events = {name: tuple(e for e in node.sim.events if start <= e.time <= end)
                      for name, node in self.pbxs.items()}
        return RunRecord(self.scenario.name, start, end, events, sim_events, self.final,
                         problems=tuple(self.problems), ports=dict(self.ports))


def _redirect(config: NodeConfig, target: Address, via: Address) -> NodeConfig | None:
    """``config`` with its connecting trunk to ``target`` sent to ``via``; None if it has none."""
    if isinstance(config, PbxConfig):
        pbx_trunks = tuple(replace(t, address=HostPort(*via))
                           if t.mode == "connect" and t.address.address == target else t
                           for t in config.trunk)
        return None if pbx_trunks == config.trunk else replace(config, trunk=pbx_trunks)
    gateway_trunks = tuple(replace(t, address=SocketAddress(*via))
                           if t.mode == "connect" and t.address.address == target else t
                           for t in config.trunk)
    return None if gateway_trunks == config.trunk else replace(config, trunk=gateway_trunks)


class _GatewayNode:
    """A gateway node (gateway.runtime.GatewayNode) with its control channel off."""

    kind = "gateway"

    def __init__(self, name: str, config: GatewayConfig, *, media: bool,
                 trace: Callable[[TraceEvent], None], rng: random.Random) -> None:
        # Imported here: scenarios without gateways do not need the gateway stack loaded.
        from gateway.runtime import GatewayNode

        self.name = name
        trunks = tuple(replace(t, reconnect=min(t.reconnect, _RECONNECT)) for t in config.trunk)
        config = replace(config, control=None, trunk=trunks)
        self.node = GatewayNode(config, media=media, trace_rtp=media, rng=rng, trace=trace)

    async def start(self) -> None:
        await self.node.start()

    async def stop(self) -> None:
        await self.node.stop()

    def ready(self) -> str | None:
        down = [line for line, up in self.node.in_service.items() if not up]
        return f"{self.name}: line(s) {', '.join(down)} in service" if down else None

    def idle(self) -> bool:
        return self.node.live_calls == 0

    def state(self) -> NodeState:
        core = self.node.core
        registrations: tuple[tuple[str, str], ...] = ()
        if core is not None:
            registrations = tuple((r.number, r.state) for r in core.registrations())
        return NodeState(self.name, "gateway", self.node.live_calls, (), registrations)


def check_scenario(scenario: Scenario) -> dict[str, NodeConfig]:
    """Load every node config as written (no relocation): ConfigErrors when one is wrong."""
    return load_node_configs(scenario, node_documents(scenario))


def run_scenario(scenario: Scenario, options: RunOptions = RunOptions()) -> ScenarioReport:
    """Run one scenario to the end and evaluate it (a ConfigErrors when a node config is bad)."""
    documents = node_documents(scenario)
    rng = random.Random(options.seed)
    offset = options.port_offset
    if offset is None:
        ports = [port for document in documents.values() for port in document_ports(document)]
        offset = choose_port_offset(ports, rng)
    configs = load_node_configs(scenario, documents, offset)
    fast = options.fast and not scenario.media
    began = time.monotonic()

    async def main() -> tuple[_Run, float, float, float]:
        run = _Run(scenario, configs, media=scenario.media, options=options)
        epoch = time.time() - asyncio.get_running_loop().time()
        start, end = await run.run()
        return run, start, end, epoch

    if fast:
        loop: asyncio.AbstractEventLoop = VirtualTimeEventLoop()
    else:
        loop = asyncio.new_event_loop()
    try:
        run, start, end, epoch = loop.run_until_complete(main())
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
    record = run.record(start, end)
    view = RunView(record)
    results = evaluate(record, scenario.expect, view)
    return ScenarioReport(
        name=scenario.name, title=scenario.title, source=scenario.source,
        mode="fast" if fast else "real", columns=tuple(scenario.nodes), record=record,
        view=view, results=results, epoch=epoch, wall_seconds=time.monotonic() - began,
        repeat=options.repeat, description=scenario.description,
        extra={"port_offset": offset})

