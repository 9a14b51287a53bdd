"""Hairpin on real lines: phone 1000 behind PBX-A (Q.931 trunk) calls the analog station on
the same gateway.  No SIP message is sent; the two line calls' audio is joined in GW-A (A-law
trunk, mu-law station): each phone hears the other's tone."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from gateway.aio.virtual_time import run_virtual
from pbx_sim.config import FxsPhoneConfig, HostPort

STATION = """
[[station]]
name = "fxs-a"
device = "socket://127.0.0.1:{port}"
number = "5551050"
ring-cadence = [300, 300]

[[dial-peer.pots]]
tag = 2
destination-pattern = "5551050"
port = "fxs-a"
forward-digits = "all"
"""


def test_a_trunk_phone_calls_a_station_of_the_same_gateway(flow: Any) -> None:
    port = flow.free_port(random.Random(4242))
    station = FxsPhoneConfig(name="fxs-a", listen=HostPort("127.0.0.1", port), number="5551050",
                             answer_after_rings=1, play="tone:697", detect=(1004,))
    options = flow.Options(media=True, a_fxs=(station,), a_extra=STATION.format(port=port))

    async def main() -> None:
        async with flow.world(options) as w:
            await w.until(lambda: w.gw_a.in_service["fxs-a"], what="the FXS board")
            w.pbx_a.dial("1000", "5551050")
            caller_id = await w.phone(w.pbx_a, "fxs-a", "caller-id")
            assert caller_id.value.startswith("5551000")
            await w.phone(w.pbx_a, "1000", "far-end-answered")
            # Each phone detects the tone the other one plays: the audio crossed GW-A.
            await w.phone(w.pbx_a, "1000", "frequency", "697", timeout=10)
            await w.phone(w.pbx_a, "fxs-a", "frequency", "1004", timeout=10)
            (record,) = w.gw_a.call_records()
            assert record["phase"] == "active" and len(record["legs"]) == 2
            w.pbx_a.hang_up("1000")
            await w.phone(w.pbx_a, "fxs-a", "cleared")
            await w.until(lambda: w.gw_a.live_calls == 0, what="the call to end")
            assert w.sip(w.gw_a) == [] and w.sip(w.gw_b) == []
            assert [name for _, name in w.q931(w.gw_a)][:4] == [
                "SETUP", "CALL PROCEEDING", "ALERTING", "CONNECT"]

    run_virtual(asyncio.wait_for(main(), 120))
