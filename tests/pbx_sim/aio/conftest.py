"""Real sockets on 127.0.0.1 for the simulator tests: free RTP port blocks and config builders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pbx_sim.config import ExtensionConfig, HostPort, PbxConfig, RouteConfig, TrunkConfig


class Pair:
    """PBX-A (user side, connects) and PBX-B (network side, listens) configurations."""

    def __init__(self, free_ports: Callable[[int], int], channels: int = 4) -> None:
        self.channels = channels
        self.a_rtp = free_ports(2 * channels)
        self.b_rtp = free_ports(2 * channels)

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
def pbx_pair(free_ports: Callable[[int], int]) -> Callable[..., Pair]:
    return lambda channels=4: Pair(free_ports, channels)
