"""``session-target dns:NAME:PORT`` on real sockets: GW-A looks the name up when the call
starts (``loop.getaddrinfo``), a name that does not resolve hunts on to the next dial-peer, and
with none left the call fails with cause 3 (no route).

These run on a real event loop: a name lookup runs in a thread, which the virtual-time loop
cannot wait for.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.runtime.names import NameLookups

FALLBACK = """
[[dial-peer.voip]]
tag = 101
destination-pattern = "555...."
session-target = "ipv4:127.0.0.1:{b_sip}"
preference = 1
"""


def test_dns_localhost_is_looked_up_at_call_time(flow: Any) -> None:
    async def main() -> None:
        options = flow.Options(b_scheme="dns", b_target="localhost:{b_sip}")
        async with flow.world(options) as w:
            port = w.gw_b.sip_address()[1]
            w.pbx_a.dial("1000", "5551234")
            await w.phone(w.pbx_a, "1000", "far-end-answered")
            (invite, *_) = w.messages(w.gw_a, "sip", "INVITE")
            assert invite.remote == ("127.0.0.1", port)
            assert any("localhost resolved to 127.0.0.1" in line for line in w.console)
            w.pbx_a.hang_up("1000")
            await w.idle()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_a_name_that_does_not_resolve_hunts_to_the_next_dial_peer(flow: Any) -> None:
    async def main() -> None:
        options = flow.Options(b_scheme="dns", b_target="gwemu-test.invalid:5060",
                               a_extra=FALLBACK)
        async with flow.world(options) as w:
            w.pbx_a.dial("1000", "5551234")
            await w.phone(w.pbx_a, "1000", "far-end-answered", timeout=30)
            (invite, *_) = w.messages(w.gw_a, "sip", "INVITE")
            assert invite.remote == w.gw_b.sip_address()
            assert any("gwemu-test.invalid does not resolve" in line for line in w.console)
            w.pbx_a.hang_up("1000")
            await w.idle()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_with_no_dial_peer_left_the_call_fails_with_cause_3(flow: Any) -> None:
    async def main() -> None:
        options = flow.Options(b_scheme="dns", b_target="gwemu-test.invalid:5060")
        async with flow.world(options) as w:
            w.pbx_a.dial("1000", "5551234")
            cleared = await w.phone(w.pbx_a, "1000", "cleared", timeout=30)
            assert cleared.cause == 3  # no route to destination
            assert w.messages(w.gw_a, "sip", "INVITE") == []
            disconnect = w.messages(w.gw_a, "q931", "DISCONNECT")
            assert [flow.q931_cause(e) for e in disconnect] == [3]
            await w.idle()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_lookups_prefer_ipv4_and_report_failures() -> None:
    answers: list[tuple[str, str | None]] = []

    async def main() -> None:
        lookups = NameLookups(asyncio.get_running_loop(),
                              lambda name, address: answers.append((name, address)))
        lookups.resolve("localhost")
        lookups.resolve("localhost")  # already running: not repeated
        lookups.resolve("gwemu-test.invalid")
        while len(answers) < 2:
            await asyncio.sleep(0.01)
        await lookups.close()

    asyncio.run(asyncio.wait_for(main(), 30))
    assert sorted(answers) == [("gwemu-test.invalid", None), ("localhost", "127.0.0.1")]
