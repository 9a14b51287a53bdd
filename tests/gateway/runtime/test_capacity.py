"""One gateway serves many lines at once: a fully busy 30-channel E1 trunk plus station lines.

Thirty calls from PBX-A's extensions to PBX-B's fill both E1 trunks (every B-channel of GW-A and
GW-B taken); a station call then runs next to them, and a station call that needs the full
trunk is refused with cause 34 (no circuit/channel available) without touching the others.
Hanging everything up brings every live-call counter back to zero.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from gateway.aio.virtual_time import run_virtual
from pbx_sim.config import FxsPhoneConfig, HostPort

CALLS = 30
STATIONS = """
[[station]]
name = "fxs-{side}"
device = "socket://127.0.0.1:{port}"
number = "{number}"

[[dial-peer.pots]]
tag = {tag}
destination-pattern = "{number}"
port = "fxs-{side}"
forward-digits = "all"
huntstop = true
"""


def test_a_full_e1_trunk_and_station_lines_at_once(flow: Any) -> None:
    rng = random.Random(4711)
    a_port, b_port = flow.free_port(rng), flow.free_port(rng)
    options = flow.Options(
        channels=CALLS, b_interface="e1", seed=31,
        a_extensions=tuple(flow.extension(str(1000 + n), hangup_on_clear=0.2)
                           for n in range(CALLS)),
        b_extensions=tuple(flow.extension(str(4000 + n), answer_after_rings=1)
                           for n in range(CALLS)),
        a_fxs=(FxsPhoneConfig(name="fxs-a", listen=HostPort("127.0.0.1", a_port),
                              number="5551050", hangup_on_clear=0.2),),
        b_fxs=(FxsPhoneConfig(name="fxs-b", listen=HostPort("127.0.0.1", b_port),
                              number="5553000", answer_after_rings=1),),
        a_extra=STATIONS.format(side="a", port=a_port, number="5551050", tag=2),
        b_extra=STATIONS.format(side="b", port=b_port, number="5553000", tag=3),
    )

    async def main() -> None:
        async with flow.world(options) as w:
            await w.until(lambda: w.gw_a.in_service["fxs-a"] and w.gw_b.in_service["fxs-b"],
                          what="the FXS boards")
            for n in range(CALLS):
                w.pbx_a.dial(str(1000 + n), f"555{4000 + n}")
            for n in range(CALLS):
                await w.phone(w.pbx_a, str(1000 + n), "far-end-answered", timeout=60)
            trunk_a, trunk_b = w.gw_a.trunks["pbx-a"], w.gw_b.trunks["pbx-b"]
            assert len(trunk_a.busy_channels) == len(trunk_b.busy_channels) == CALLS
            assert w.gw_a.live_calls == w.gw_b.live_calls == CALLS
            # a station call that needs the full trunk: cause 34, nobody else disturbed
            w.pbx_a.dial("fxs-a", "5554100#")

            def station_call() -> list[Any]:
                return [c for c in w.gw_a.call_records() if c["calling"] == "5551050"]

            await w.until(lambda: [(c["phase"], c["cause"]) for c in station_call()] ==
                          [("failed", 34)], what="the refusal")
            assert ("in", "503 (INVITE)") in w.sip(w.gw_a)
            assert w.gw_b.live_calls == CALLS
            w.pbx_a.hang_up("fxs-a")  # (signalling only: the congestion tone is not signalled)
            await w.until(lambda: not station_call(), what="the failed station call to end")
            # a station-to-station call next to the thirty trunk calls
            await asyncio.sleep(2)  # on hook longer than a hook flash
            mark = len(w.pbx_a.events)
            w.pbx_a.dial("fxs-a", "5553000")
            await w.phone(w.pbx_a, "fxs-a", "far-end-answered", since=mark)
            assert w.gw_a.live_calls == w.gw_b.live_calls == CALLS + 1
            phases = {c["phase"] for c in w.gw_b.call_records()}
            assert phases == {"active"}
            for n in range(CALLS):
                w.pbx_a.hang_up(str(1000 + n))
            w.pbx_a.hang_up("fxs-a")
            await w.idle(timeout=60)
            assert not trunk_a.busy_channels and not trunk_b.busy_channels
            causes = [e.cause for e in w.pbx_b.events
                      if getattr(e, "kind", "") == "cleared" and e.phone.startswith("4")]
            assert causes == [16] * CALLS

    run_virtual(asyncio.wait_for(main(), 300))
