"""The flow-1 world in one event loop: PBX-A simulator, GW-A, GW-B, PBX-B simulator.

Real TCP (Q.931/TPKT), UDP (SIP) and, with media, RTP on 127.0.0.1.  Signalling-only worlds run
on the virtual-time loop, so timer scenarios (no answer, transaction timeout) take milliseconds.
Gateways are configured from TOML text through the real loader; the PBXs from their dataclasses.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from gateway.config.gateway_schema import load_gateway_text
from gateway.line import LineAdapter
from gateway.runtime import GatewayNode
from gateway.trace import TraceEvent
from pbx_sim.aio import PbxSimulator
from pbx_sim.config import (
    ExtensionConfig,
    FxsPhoneConfig,
    HostPort,
    PbxConfig,
    RouteConfig,
    TrunkConfig,
)
from pbx_sim.events import PbxEvent, PhoneEvent, SimEvent

GW_A = """
name = "GW-A"
tone-plan = "etsi"

[sip]
listen = "127.0.0.1:{a_sip}"
transports = ["udp", "tcp"]
{a_sip_extra}

[media]
ports = "{a_rtp}-{a_rtp_last}"
enabled = {media}
{a_media}

[[trunk]]
name = "pbx-a"
address = "127.0.0.1:{pbx_a_port}"
mode = "connect"
side = "user"
interface = "e1"
channels = {channels}
reconnect = "50ms"
numbers = ["5551000", "5551001"]
{a_bchannels}

[[dial-peer.pots]]
tag = 1
destination-pattern = "55510.."
port = "pbx-a"
forward-digits = 4

[[dial-peer.voip]]
tag = 100
destination-pattern = "555...."
incoming-called-number = "55510.."
session-target = "{b_scheme}:{b_target}"
codecs = {a_codecs}
dtmf-relay = {a_dtmf}

[timers]
ring-no-answer = "{ring}"
{a_extra}
"""

GW_B = """
name = "GW-B"

[sip]
listen = "127.0.0.1:{b_sip}"
transports = ["udp", "tcp"]

[media]
ports = "{b_rtp}-{b_rtp_last}"
enabled = {media}
{b_media}

[[trunk]]
name = "pbx-b"
address = "127.0.0.1:0"
mode = "listen"
side = "network"
interface = "{b_interface}"
channels = {channels}
numbers = ["5551234", "5552000"]
{b_bchannels}

[[dial-peer.pots]]
tag = 1
destination-pattern = "555...."
port = "pbx-b"
forward-digits = "all"

[[dial-peer.voip]]
tag = 200
destination-pattern = "55510.."
incoming-called-number = "555...."
session-target = "ipv4:127.0.0.1:{a_sip}"
codecs = {b_codecs}
dtmf-relay = {b_dtmf}
{b_extra}
"""


def free_port(rng: random.Random) -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now (even, so RTP can use it)."""
    for _ in range(500):
        port = rng.randrange(20000, 60000) & ~1
        sockets = []
        try:
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM, socket.SOCK_DGRAM):
                sock = socket.socket(socket.AF_INET, kind)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port if len(sockets) < 3 else port + 1))
            return port
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free port")


def free_block(rng: random.Random, size: int) -> int:
    """An even base whose next ``size`` UDP ports are free."""
    for _ in range(500):
        base = rng.randrange(20000, 60000) & ~1
        sockets = []
        try:
            for port in range(base, base + size):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free port block")


def extension(number: str, **settings: Any) -> ExtensionConfig:
    values: dict[str, Any] = {"dial_delay": 0.05, "hangup_on_clear": 0.5}
    values.update(settings)
    return ExtensionConfig(number=number, **values)


@dataclass
class WorldOptions:
    media: bool = False
    channels: int = 4
    ring: str = "60s"
    a_codecs: Sequence[str] = ("g711ulaw", "g711alaw")
    b_codecs: Sequence[str] = ("g711ulaw", "g711alaw")
    a_dtmf: Sequence[str] = ("rtp-nte",)  # dtmf-relay of GW-A's voip peer
    b_dtmf: Sequence[str] = ("rtp-nte",)
    b_media: str = ""  # more [media] keys of GW-B
    b_interface: str = "t1"
    a_extra: str = ""
    a_media: str = ""  # more [media] keys of GW-A
    a_sip: str = ""  # more [sip] keys of GW-A
    b_extra: str = ""
    b_target: str | None = None  # GW-A's session target for GW-B (default: GW-B itself)
    b_scheme: str = "ipv4"  # ... and its scheme (dns: names are looked up at call time)
    pbx_a_trunk: dict[str, Any] = field(default_factory=dict)
    pbx_b_trunk: dict[str, Any] = field(default_factory=dict)
    a_extensions: Sequence[ExtensionConfig] = ()
    b_extensions: Sequence[ExtensionConfig] = ()
    a_fxs: Sequence[FxsPhoneConfig] = ()
    b_fxs: Sequence[FxsPhoneConfig] = ()
    a_lines: Sequence[LineAdapter] = ()
    a_trunk_port: int | None = None  # GW-A's trunk connects here instead of to PBX-A
    a_control: str | None = None  # GW-A's control channel
    a_tone_plan: str = "etsi"  # PBX-A's (what its phones recognise)
    seed: int = 11


class World:
    """The four nodes of flow 1 and what they recorded."""

    def __init__(self, pbx_a: PbxSimulator, gw_a: GatewayNode, gw_b: GatewayNode,
                 pbx_b: PbxSimulator, console: list[str], *, pbx_a_used: bool = True) -> None:
        self.pbx_a = pbx_a
        self.pbx_a_used = pbx_a_used
        self.gw_a = gw_a
        self.gw_b = gw_b
        self.pbx_b = pbx_b
        self.console = console

    # --- waiting ------------------------------------------------------------------------------

    async def until(self, condition: Callable[[], bool], timeout: float = 20.0,
                    what: str = "condition") -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)

    async def connected(self) -> None:
        await self.until(lambda: (self.pbx_a.trunk_connected("gw-a") or not self.pbx_a_used)
                         and self.pbx_b.trunk_connected("gw-b")
                         and all(self.gw_a.in_service.values())
                         and all(self.gw_b.in_service.values()), what="the trunks")

    async def idle(self, timeout: float = 30.0) -> None:
        """Every call gone everywhere: gateways, trunks, PBXs."""
        await self.until(lambda: self.gw_a.live_calls == 0 and self.gw_b.live_calls == 0
                         and not self.pbx_a.pbx.calls and not self.pbx_b.pbx.calls
                         and all(t.live_calls == 0 for t in self.gw_a.trunks.values())
                         and all(t.live_calls == 0 for t in self.gw_b.trunks.values()),
                         timeout, "every call to end")

    async def phone(self, sim: PbxSimulator, phone: str, kind: str, value: str | None = None,
                    *, since: int = 0, timeout: float = 20.0) -> PhoneEvent:
        return await sim.wait_phone(phone, kind, value, since=since, timeout=timeout)

    # --- reading traces -----------------------------------------------------------------------

    @staticmethod
    def sip(node: GatewayNode, since: int = 0) -> list[tuple[str, str]]:
        """(direction, label) of the SIP messages a gateway sent and received: ``INVITE``,
        ``180 (INVITE)`` ..."""
        return [(e.direction, sip_label(e)) for e in recorded(node)[since:]
                if e.protocol == "sip" and e.direction in ("in", "out")]

    @staticmethod
    def q931(node: GatewayNode, since: int = 0) -> list[tuple[str, str]]:
        return [(e.direction, e.summary.split(" cr=")[0]) for e in recorded(node)[since:]
                if e.protocol == "q931" and e.direction in ("in", "out")]

    @staticmethod
    def messages(node: GatewayNode, protocol: str, label: str,
                 since: int = 0) -> list[TraceEvent]:
        found = []
        for event in recorded(node)[since:]:
            if event.protocol != protocol or event.direction not in ("in", "out"):
                continue
            name = sip_label(event) if protocol == "sip" else event.summary.split(" cr=")[0]
            if name == label:
                found.append(event)
        return found

    def marks(self) -> tuple[int, int]:
        return len(recorded(self.gw_a)), len(recorded(self.gw_b))

    @staticmethod
    def cleared(sim: PbxSimulator, phone: str, since: int = 0) -> list[int | None]:
        return [e.cause for e in sim.events[since:]
                if isinstance(e, PhoneEvent) and e.phone == phone and e.kind == "cleared"]

    @staticmethod
    def pbx_events(sim: PbxSimulator, kind: str, since: int = 0) -> list[PbxEvent]:
        return [e for e in sim.events[since:] if isinstance(e, PbxEvent) and e.kind == kind]


def recorded(node: GatewayNode) -> list[TraceEvent]:
    events = node.trace.recorded
    assert events is not None, "the world's gateways record their traces"
    return events


def sip_label(event: TraceEvent) -> str:
    words = event.summary.split()
    if words and words[0].isdigit():
        return f"{words[0]} {words[-1]}"  # "180 (INVITE)"
    return words[0] if words else ""


def q931_cause(event: TraceEvent) -> int | None:
    for word in event.summary.split():
        if word.startswith("cause="):
            return int(word.split("=")[1].split("(")[0])
    return None


def pbx_a_config(port: int, options: WorldOptions, rtp: tuple[int, int] | None) -> PbxConfig:
    media = {} if rtp is None else {"rtp_local": HostPort("127.0.0.1", rtp[0]),
                                    "rtp_remote": HostPort("127.0.0.1", rtp[1])}
    extensions = tuple(options.a_extensions) or (
        extension("1000", name="Alice", play="tone:1004", detect=(697,),
                  dial_mode="dtmf" if options.media else "keypad"),
        extension("1001", name="Bob"),
    )
    trunk: dict[str, Any] = {"name": "gw-a", "address": HostPort("127.0.0.1", port),
                             "mode": "listen", "side": "network", "interface": "e1",
                             "channels": options.channels, "calling_prefix": "555", **media}
    trunk.update(options.pbx_a_trunk)
    return PbxConfig(
        name="PBX-A", tone_plan=options.a_tone_plan, ring_cadence=(300, 300),
        ring_timeout=120.0,
        extension=extensions,
        trunk=(TrunkConfig(**trunk),),
        route=(RouteConfig(pattern="555XXXX", trunk="gw-a"),
               RouteConfig(pattern="9T", trunk="gw-a", strip=1)),
        fxs_phone=tuple(options.a_fxs),
    )


def pbx_b_config(port: int, options: WorldOptions, rtp: tuple[int, int] | None) -> PbxConfig:
    media = {} if rtp is None else {"rtp_local": HostPort("127.0.0.1", rtp[0]),
                                    "rtp_remote": HostPort("127.0.0.1", rtp[1])}
    extensions = tuple(options.b_extensions) or (
        extension("1234", name="Erin", answer_after_rings=1, play="tone:697", detect=(1004,)),
        extension("2000", answer_after_rings=1),
        extension("2001", busy=True),
        extension("2002"),  # never answers by itself
        extension("2003", reject_cause=21),
    )
    trunk: dict[str, Any] = {"name": "gw-b", "address": HostPort("127.0.0.1", port),
                             "mode": "connect", "side": "user", "interface": options.b_interface,
                             "channels": options.channels, "reconnect": 0.05,
                             "incoming_strip": 3, **media}
    trunk.update(options.pbx_b_trunk)
    return PbxConfig(
        name="PBX-B", tone_plan="us", ring_cadence=(300, 300), ring_timeout=120.0,
        extension=extensions, trunk=(TrunkConfig(**trunk),),
        route=(RouteConfig(pattern="9T", trunk="gw-b", strip=1),),
        fxs_phone=tuple(options.b_fxs),
    )


@contextlib.asynccontextmanager
async def flow_world(options: WorldOptions | None = None) -> AsyncIterator[World]:
    options = options or WorldOptions()
    rng = random.Random(options.seed)
    a_sip, b_sip = free_port(rng), free_port(rng)
    a_rtp, b_rtp = free_block(rng, 64), free_block(rng, 64)
    bchannels: dict[str, tuple[int, int]] = {}
    if options.media:
        size = 2 * 31
        bchannels = {name: (free_block(rng, size), 0) for name in ("pbx_a", "gw_a", "pbx_b",
                                                                   "gw_b")}
    console: list[str] = []
    pbx_a_rtp = (bchannels["pbx_a"][0], bchannels["gw_a"][0]) if options.media else None
    pbx_b_rtp = (bchannels["pbx_b"][0], bchannels["gw_b"][0]) if options.media else None
    pbx_a = PbxSimulator(pbx_a_config(0, options, pbx_a_rtp), media=options.media,
                         rng=random.Random(options.seed + 1))
    await pbx_a.start()
    gw_a = gw_b = None
    pbx_b = None
    try:
        values = {
            "a_sip": a_sip, "b_sip": b_sip, "media": str(options.media).lower(),
            "a_rtp": a_rtp, "a_rtp_last": a_rtp + 62, "b_rtp": b_rtp, "b_rtp_last": b_rtp + 62,
            "pbx_a_port": options.a_trunk_port or pbx_a.trunk_address("gw-a")[1],
            "channels": options.channels,
            "ring": options.ring, "a_codecs": _toml_list(options.a_codecs),
            "b_codecs": _toml_list(options.b_codecs), "b_interface": options.b_interface,
            "a_dtmf": _toml_list(options.a_dtmf), "b_dtmf": _toml_list(options.b_dtmf),
            "b_media": options.b_media,
            "a_extra": options.a_extra.replace("{b_sip}", str(b_sip)),
            "b_extra": options.b_extra,
            "a_media": options.a_media, "a_sip_extra": options.a_sip,
            # "{b_sip}" in these two stands for GW-B's SIP port, known only here.
            "b_target": (options.b_target or "127.0.0.1:{b_sip}").replace("{b_sip}", str(b_sip)),
            "b_scheme": options.b_scheme,
            "a_bchannels": _bchannels(pbx_a_rtp, mirror=True),
            "b_bchannels": _bchannels(pbx_b_rtp, mirror=True),
        }
        gw_a = GatewayNode(load_gateway_text(GW_A.format(**values), file="gw-a.toml"),
                           record=True, console=console.append, lines=options.a_lines,
                           rng=random.Random(options.seed + 2), control=options.a_control)
        gw_b = GatewayNode(load_gateway_text(GW_B.format(**values), file="gw-b.toml"),
                           record=True, console=console.append,
                           rng=random.Random(options.seed + 3))
        await gw_a.start()
        await gw_b.start()
        listening = gw_b.trunks["pbx-b"].listening
        assert listening is not None
        pbx_b = PbxSimulator(pbx_b_config(listening[1], options, pbx_b_rtp),
                             media=options.media, rng=random.Random(options.seed + 4))
        await pbx_b.start()
        world = World(pbx_a, gw_a, gw_b, pbx_b, console,
                      pbx_a_used=options.a_trunk_port is None)
        await world.connected()
        yield world
    finally:
        for node in (pbx_b, gw_b, gw_a):
            if node is not None:
                await node.stop()
        await pbx_a.stop()


def _toml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def _bchannels(rtp: tuple[int, int] | None, *, mirror: bool) -> str:
    if rtp is None:
        return ""
    pbx, gateway = rtp
    return f'rtp-local = "127.0.0.1:{gateway}"\nrtp-remote = "127.0.0.1:{pbx}"'


def phone_events(sim: PbxSimulator, phone: str, since: int = 0) -> list[SimEvent]:
    return [e for e in sim.events[since:] if isinstance(e, PhoneEvent) and e.phone == phone]


class Flow:
    """What the runtime tests use (test modules cannot import a conftest by name)."""

    Options = WorldOptions
    world = staticmethod(flow_world)
    extension = staticmethod(extension)
    q931_cause = staticmethod(q931_cause)
    sip_label = staticmethod(sip_label)
    recorded = staticmethod(recorded)
    phone_events = staticmethod(phone_events)
    free_port = staticmethod(free_port)
    replace = staticmethod(replace)


@pytest.fixture
def flow() -> Flow:
    return Flow()
