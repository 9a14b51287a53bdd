"""Helpers for the Q.931 tests: the tshark-verified fixture messages, a raw wire to poke a link
with hand-built messages, and a back-to-back pair of links over a chunking in-memory stream."""

from __future__ import annotations

import importlib.util
import random
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.trace import TraceRecorder
from pbx_sim.q931 import Message, Q931Config, Q931Event, Q931Link, TpktDecoder, tpkt_frame


@pytest.fixture(scope="session")
def fixture_messages(corpora: Path) -> dict[str, bytes]:
    """name -> Q.931 message bytes, as hand-encoded in tshark-checks/q931_tpkt_send.py."""
    path = corpora / "tshark-checks" / "q931_tpkt_send.py"
    spec = importlib.util.spec_from_file_location("q931_tpkt_send", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # The script only sends when run as __main__; at import it reads an optional port argument.
    argv, sys.argv = sys.argv, [str(path)]
    try:
        spec.loader.exec_module(module)
    finally:
        sys.argv = argv
    return dict(module.MSGS)


def drain(link: Q931Link) -> list[Q931Event]:
    events = []
    while (event := link.next_event()) is not None:
        events.append(event)
    return events


class Wire:
    """The far end of one link, driven by hand: send raw messages, read what the link sent."""

    def __init__(self, link: Q931Link) -> None:
        self.link = link
        self.decoder = TpktDecoder()

    def send(self, message: Message | bytes, now: float = 0.0) -> None:
        payload = bytes(message)
        self.link.receive_data(tpkt_frame(payload), now)

    def read(self, now: float = 0.0) -> list[Message]:
        packets = self.decoder.feed(self.link.data_to_send(now))
        assert self.decoder.failure is None
        return [Message.parse(packet[4:]) for packet in packets]

    def events(self) -> list[Q931Event]:
        return drain(self.link)


class Pair:
    """A user-side and a network-side link joined by an in-memory stream that splits every
    write into random chunks (fixed seed), so framing is exercised on every exchange."""

    def __init__(self, seed: int = 7, config: Q931Config | None = None) -> None:
        self.trace = TraceRecorder()
        self.user = Q931Link("user", config=config, trace=self.trace, node="user")
        self.network = Q931Link("network", config=config, trace=self.trace, node="network")
        self.random = random.Random(seed)
        self.now = 0.0

    def _deliver(self, data: bytes, to: Q931Link) -> None:
        index = 0
        while index < len(data):
            size = self.random.randint(1, 7)
            to.receive_data(data[index : index + size], self.now)
            index += size

    def pump(self) -> None:
        """Carry bytes both ways until both links are quiet."""
        for _ in range(50):
            up = self.user.data_to_send(self.now)
            down = self.network.data_to_send(self.now)
            if not up and not down:
                return
            self._deliver(up, self.network)
            self._deliver(down, self.user)
        raise AssertionError("the links never went quiet")

    def advance_to_next_timer(self) -> float:
        deadlines = [t for t in (self.user.get_timer(), self.network.get_timer()) if t is not None]
        assert deadlines, "no timer is running"
        self.now = min(deadlines)
        self.user.handle_timer(self.now)
        self.network.handle_timer(self.now)
        return self.now

    @staticmethod
    def events(link: Q931Link) -> list[Q931Event]:
        return drain(link)

    def wire_log(self) -> list[tuple[str, str]]:
        return [(e.node, e.summary.split(" cr=")[0]) for e in self.trace.events
                if e.direction == "out"]


@pytest.fixture
def wire() -> Callable[[Q931Link], Wire]:
    return Wire


@pytest.fixture
def pair() -> Callable[..., Pair]:
    return Pair
