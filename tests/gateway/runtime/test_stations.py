"""The second flavour of flow 1: analog station lines on both gateways instead of Q.931 trunks.

Each PBX simulator exposes a phone as a serial FXS board on TCP (docs/fxs-serial-protocol.md);
each gateway opens it as ``socket://127.0.0.1:PORT`` through the FXS-board line adapter
(hardware/drivers/fxs_board.py): lifting the phone gives dial tone, its digits are matched
against the dial-peers, the far phone rings with caller ID and answers, ringback is played
locally, hanging up clears both sides.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from gateway.aio.virtual_time import run_virtual
from pbx_sim.config import FxsPhoneConfig, HostPort

A_STATION = """
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
B_STATION = """
[[station]]
name = "fxs-b"
device = "socket://127.0.0.1:{port}"
number = "5553000"
ring-cadence = [300, 300]

[[dial-peer.pots]]
tag = 3
destination-pattern = "5553000"
port = "fxs-b"
forward-digits = "all"
huntstop = true
"""


def station_options(flow: Any, *, media: bool = False, b_busy: bool = False,
                    seed: int = 21) -> Any:
    rng = random.Random(seed * 7919 + 1)  # not the world's own port sequence
    a_port, b_port = flow.free_port(rng), flow.free_port(rng)
    sound: dict[str, Any] = {"play": "tone:1004", "detect": (697,)} if media else {}
    answer: dict[str, Any] = {"play": "tone:697", "detect": (1004,)} if media else {}
    return flow.Options(
        media=media,
        a_fxs=(FxsPhoneConfig(name="fxs-a", listen=HostPort("127.0.0.1", a_port),
                              number="5551050", **sound),),
        b_fxs=(FxsPhoneConfig(name="fxs-b", listen=HostPort("127.0.0.1", b_port),
                              number="5553000", answer_after_rings=2, busy=b_busy,
                              **answer),),
        a_extra=A_STATION.format(port=a_port),
        b_extra=B_STATION.format(port=b_port),
        seed=seed,
    )


def kinds(flow: Any, sim: Any, phone: str) -> list[str]:
    out = []
    for event in flow.phone_events(sim, phone):
        out.append(f"{event.kind} {event.value}".strip() if event.kind in ("tone", "ring")
                   else event.kind)
    return out


def test_station_to_station_call(flow: Any) -> None:
    async def main() -> None:
        async with flow.world(station_options(flow)) as w:
            await w.until(lambda: w.gw_a.in_service["fxs-a"] and w.gw_b.in_service["fxs-b"],
                          what="the FXS boards")
            w.pbx_a.dial("fxs-a", "5553000")
            caller_id = await w.phone(w.pbx_b, "fxs-b", "caller-id")
            assert caller_id.value.startswith("5551050")
            await w.phone(w.pbx_b, "fxs-b", "answered")
            await w.phone(w.pbx_a, "fxs-a", "far-end-answered")
            calls = w.gw_a.call_records()
            assert [(c["phase"], c["calling"], c["called"]) for c in calls] == \
                [("active", "5551050", "5553000")]
            await asyncio.sleep(1)
            w.pbx_a.hang_up("fxs-a")
            await w.phone(w.pbx_b, "fxs-b", "cleared")
            await w.phone(w.pbx_b, "fxs-b", "on-hook")  # 0.5 s after the busy tone
            await w.idle()
            assert w.sip(w.gw_a) == [
                ("out", "INVITE"), ("in", "100 (INVITE)"), ("in", "180 (INVITE)"),
                ("in", "200 (INVITE)"), ("out", "ACK"), ("out", "BYE"), ("in", "200 (BYE)")]
            assert w.sip(w.gw_b) == [
                ("in", "INVITE"), ("out", "100 (INVITE)"), ("out", "180 (INVITE)"),
                ("out", "200 (INVITE)"), ("in", "ACK"), ("in", "BYE"), ("out", "200 (BYE)")]
            assert w.q931(w.gw_a) == [] and w.q931(w.gw_b) == []
            caller = kinds(flow, w.pbx_a, "fxs-a")
            assert caller[:2] == ["off-hook", "tone dial"]
            assert caller.index("tone ringback") < caller.index("far-end-answered")
            callee = kinds(flow, w.pbx_b, "fxs-b")
            assert callee[:3] == ["caller-id", "ring 1", "ring 2"]
            assert callee[3:5] == ["off-hook", "answered"]
            assert callee[-3:] == ["cleared", "tone busy", "on-hook"]

    run_virtual(asyncio.wait_for(main(), 120))


def test_a_busy_station_refuses_with_486_and_cause_17(flow: Any) -> None:
    async def main() -> None:
        async with flow.world(station_options(flow, b_busy=True)) as w:
            await w.until(lambda: w.gw_a.in_service["fxs-a"] and w.gw_b.in_service["fxs-b"],
                          what="the FXS boards")
            mark = len(w.pbx_a.events)
            w.pbx_a.dial("1000", "5553000")
            cleared = await w.phone(w.pbx_a, "1000", "cleared")
            assert cleared.cause == 17
            await w.until(lambda: w.gw_a.live_calls == 0)
            assert w.sip(w.gw_b) == [("in", "INVITE"), ("out", "100 (INVITE)"),
                                     ("out", "486 (INVITE)"), ("in", "ACK")]
            # the phone left off hook is a call of its own: dial tone, collecting digits
            left = w.gw_b.call_records()
            assert [(c["direction"], c["legs"][0]["state"]) for c in left] == \
                [("line-to-sip", "collecting")]
            assert w.cleared(w.pbx_a, "1000", mark) == [17]
            assert not [e for e in flow.phone_events(w.pbx_b, "fxs-b") if e.kind == "ring"]

    run_virtual(asyncio.wait_for(main(), 120))


def test_station_call_with_voice_both_ways(flow: Any) -> None:
    """Media on: each FXS phone's tone crosses serial audio, RTP and serial audio again."""

    async def main() -> None:
        async with flow.world(station_options(flow, media=True, seed=23)) as w:
            await w.until(lambda: w.gw_a.in_service["fxs-a"] and w.gw_b.in_service["fxs-b"],
                          what="the FXS boards")
            w.pbx_a.dial("fxs-a", "5553000")
            await w.phone(w.pbx_a, "fxs-a", "far-end-answered", timeout=10)
            await w.phone(w.pbx_b, "fxs-b", "frequency", "1004", timeout=5)
            await w.phone(w.pbx_a, "fxs-a", "frequency", "697", timeout=5)
            w.pbx_b.hang_up("fxs-b")
            await w.phone(w.pbx_a, "fxs-a", "cleared", timeout=5)
            await w.until(lambda: w.gw_a.live_calls == 0 and w.gw_b.live_calls == 0)

    asyncio.run(asyncio.wait_for(main(), 30))
