"""The PBX simulator's sans-IO test bench: simulators and hand-driven Q.931 peers joined by
in-memory byte streams, on a virtual clock that jumps from timer to timer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

import pytest

from gateway.trace import TraceRecorder
from pbx_sim.config import ExtensionConfig, HostPort, PbxConfig, RouteConfig, TrunkConfig
from pbx_sim.events import PhoneEvent
from pbx_sim.pbx import Pbx
from pbx_sim.q931 import Message, Q931Event, Q931Link, TpktDecoder, tpkt_frame

A_ADDR = ("127.0.0.1", 40001)
B_ADDR = ("127.0.0.1", 40002)


class Clocked(Protocol):
    def get_timer(self) -> float | None: ...

    def handle_timer(self, now: float) -> None: ...


class RawPeer:
    """The far end of a PBX trunk as a bare Q.931 link the test drives by hand."""

    def __init__(self, bench: Bench, link: Q931Link) -> None:
        self.bench = bench
        self.link = link
        self.sent: list[Message] = []  # every message the PBX sent us, parsed
        self._decoder = TpktDecoder()

    def events(self) -> list[Q931Event]:
        out = []
        while (event := self.link.next_event()) is not None:
            out.append(event)
        return out

    def record(self, data: bytes) -> None:
        for packet in self._decoder.feed(data):
            self.sent.append(Message.parse(packet[4:], lenient=True))

    def names(self) -> list[str]:
        return [m.name for m in self.sent]


class Bench:
    def __init__(self) -> None:
        self.now = 0.0
        self.trace = TraceRecorder()
        self._pipes: list[tuple[Callable[[], bytes], Callable[[bytes], None]]] = []
        self._nodes: list[Clocked] = []

    def add(self, node: Any) -> Any:
        self._nodes.append(node)
        return node

    def join(self, a: Pbx, a_trunk: str, b: Pbx, b_trunk: str) -> None:
        a.trunk_connected(a_trunk, self.now, local=A_ADDR, remote=B_ADDR)
        b.trunk_connected(b_trunk, self.now, local=B_ADDR, remote=A_ADDR)
        self._pipes.append((lambda: a.trunk_data_to_send(a_trunk, self.now),
                            lambda data: b.trunk_receive(b_trunk, data, self.now)))
        self._pipes.append((lambda: b.trunk_data_to_send(b_trunk, self.now),
                            lambda data: a.trunk_receive(a_trunk, data, self.now)))

    def attach(self, pbx: Pbx, trunk: str) -> RawPeer:
        side = pbx.trunks[trunk].config.side
        link = Q931Link("user" if side == "network" else "network", trace=self.trace,
                        node="peer", local=B_ADDR, remote=A_ADDR,
                        config=pbx.trunks[trunk].q931)
        peer = RawPeer(self, link)
        self._nodes.append(link)
        pbx.trunk_connected(trunk, self.now, local=A_ADDR, remote=B_ADDR)

        def to_peer(data: bytes) -> None:
            peer.record(data)
            link.receive_data(data, self.now)

        self._pipes.append((lambda: pbx.trunk_data_to_send(trunk, self.now), to_peer))
        self._pipes.append((lambda: link.data_to_send(self.now),
                            lambda data: pbx.trunk_receive(trunk, data, self.now)))
        return peer

    def send_raw(self, pbx: Pbx, trunk: str, data: bytes) -> None:
        pbx.trunk_receive(trunk, data, self.now)
        self.pump()

    def send(self, pbx: Pbx, trunk: str, message: Message) -> None:
        self.send_raw(pbx, trunk, tpkt_frame(bytes(message)))

    def pump(self) -> None:
        for _ in range(50):
            moved = False
            for source, sink in self._pipes:
                data = source()
                if data:
                    moved = True
                    sink(data)
            if not moved:
                return
        raise AssertionError("the streams never settle")

    def advance(self, seconds: float) -> None:
        """Run every timer due in the next ``seconds``, pumping after each."""
        until = self.now + seconds
        self.pump()
        while True:
            deadlines = [d for d in (n.get_timer() for n in self._nodes) if d is not None]
            deadline = min(deadlines, default=None)
            if deadline is None or deadline > until:
                break
            self.now = max(self.now, deadline)
            for node in self._nodes:
                due = node.get_timer()
                if due is not None and due <= self.now:
                    node.handle_timer(self.now)
            self.pump()
        self.now = until


def kinds(events: list[PhoneEvent], *wanted: str) -> list[tuple[str, str]]:
    return [(e.kind, e.value) for e in events if not wanted or e.kind in wanted]


class Configs:
    """Small PBX configurations: A (user side, extension 1000, routes 2XXX to its trunk) and
    B (network side, extensions 2000 answering, 2001 busy, 2002 never answering)."""

    def a(self, **trunk: Any) -> PbxConfig:
        return PbxConfig(
            name="PBX-A",
            tone_plan="etsi",
            ring_cadence=(500, 500),
            extension=(ExtensionConfig(number="1000", name="Alice"),
                       ExtensionConfig(number="1001", answer_after_rings=1)),
            trunk=(TrunkConfig(**{"name": "gw", "address": HostPort.parse("127.0.0.1:4000"),
                                  "mode": "connect", "side": "user", "interface": "e1",
                                  "channels": 4, **trunk}),),
            route=(RouteConfig(pattern="2XXX", trunk="gw"),
                   RouteConfig(pattern="9T", trunk="gw", strip=1)),
        )

    def b(self, **trunk: Any) -> PbxConfig:
        return PbxConfig(
            name="PBX-B",
            tone_plan="etsi",
            ring_cadence=(500, 500),
            ring_timeout=4.0,
            extension=(ExtensionConfig(number="2000", answer_after_rings=1),
                       ExtensionConfig(number="2001", busy=True),
                       ExtensionConfig(number="2002"),
                       ExtensionConfig(number="2003", reject_cause=21)),
            trunk=(TrunkConfig(**{"name": "gw", "address": HostPort.parse("127.0.0.1:4000"),
                                  "side": "network", "interface": "e1", "channels": 4,
                                  **trunk}),),
        )

    @staticmethod
    def with_extension(config: PbxConfig, number: str, **settings: Any) -> PbxConfig:
        extensions = tuple(
            replace(e, **settings) if e.number == number else e for e in config.extension
        )
        return replace(config, extension=extensions)


@pytest.fixture
def bench() -> Bench:
    return Bench()


@pytest.fixture
def bench_type() -> type[Bench]:
    return Bench


@pytest.fixture
def configs() -> Configs:
    return Configs()


@pytest.fixture
def phone_kinds() -> Callable[..., list[tuple[str, str]]]:
    return kinds
