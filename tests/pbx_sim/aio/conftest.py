"""Real sockets on 127.0.0.1 for the simulator tests: free RTP port blocks and config builders."""

from __future__ import annotations

import random
import socket
from collections.abc import Callable
from typing import Any

import pytest

from pbx_sim.config import ExtensionConfig, HostPort, PbxConfig, RouteConfig, TrunkConfig


def free_udp_base(channels: int, rng: random.Random) -> int:
    """An even base port whose next 2*channels UDP ports are free right now."""
    for _ in range(200):
        base = rng.randrange(20000, 60000) & ~1
        sockets = []
        try:
            for port in range(base, base + 2 * channels):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no free UDP port block")


class Pair:
    """PBX-A (user side, connects) and PBX-B (network side, listens) configurations."""

    def __init__(self, rng: random.Random, channels: int = 4) -> None:
        self.channels = channels
        self.a_rtp = free_udp_base(channels, rng)
        self.b_rtp = free_udp_base(channels, rng)

    def b(self, *, media: bool = True, **trunk: Any) -> PbxConfig:
        rtp = {"rtp_local": HostPort("127.0.0.1", self.b_rtp),
               "rtp_remote": HostPort("127.0.0.1", self.a_rtp)} if media else {}
        return PbxConfig(
            name="PBX-B",
            tone_plan="us",
            ring_cadence=(300, 300),
            ring_timeout=1.5,
            extension=(
                ExtensionConfig(number="2000", answer_after_rings=1, play="tone:697",
                                detect=(1004,), dial_mode="dtmf"),
                ExtensionConfig(number="2001", busy=True),
                ExtensionConfig(number="2002"),
            ),
            trunk=(TrunkConfig(**{"name": "gw", "address": HostPort("127.0.0.1", 0),
                                  "side": "network", "interface": "e1",
                                  "channels": self.channels, **rtp, **trunk}),),
        )

    def a(self, port: int, *, media: bool = True, **trunk: Any) -> PbxConfig:
        rtp = {"rtp_local": HostPort("127.0.0.1", self.a_rtp),
               "rtp_remote": HostPort("127.0.0.1", self.b_rtp)} if media else {}
        return PbxConfig(
            name="PBX-A",
            tone_plan="us",
            ring_cadence=(300, 300),
            extension=(ExtensionConfig(number="1000", name="Alice", play="tone:1004",
                                       detect=(697,), dial_mode="dtmf" if media else "keypad",
                                       dial_delay=0.1,
                                       # long enough to hear a whole burst of busy tone
                                       hangup_on_clear=1.0),),
            trunk=(TrunkConfig(**{"name": "gw", "address": HostPort("127.0.0.1", port),
                                  "mode": "connect", "side": "user", "interface": "e1",
                                  "channels": self.channels, "reconnect": 0.05, **rtp,
                                  **trunk}),),
            route=(RouteConfig(pattern="2XXX", trunk="gw"),),
        )


@pytest.fixture
def pbx_pair() -> Callable[..., Pair]:
    return lambda seed=5, channels=4: Pair(random.Random(seed), channels)
