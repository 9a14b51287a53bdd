"""GatewayNode as an operator sees it: the console, the show commands on the control channel,
registration status, and a clean stop in the middle of a call."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from gateway.aio.control import ControlClient
from gateway.aio.virtual_time import run_virtual
from gateway.runtime.show import (
    format_calls,
    format_dial_peers,
    format_registrations,
    format_status,
    format_trace,
)


def test_show_commands_while_a_call_is_up(flow: Any) -> None:
    async def main() -> None:
        async with flow.world(flow.Options(a_control="127.0.0.1:0")) as w:
            address = w.gw_a.control_address
            assert address is not None
            client = await ControlClient.connect(address)
            try:
                w.pbx_a.dial("1000", "5551234")
                await w.phone(w.pbx_a, "1000", "far-end-answered")
                calls = await client.request("calls")
                assert calls["node"] == "GW-A"
                (call,) = calls["calls"]
                assert (call["phase"], call["calling"], call["called"], call["codec"]) == \
                    ("active", "5551000", "5551234", "PCMU")
                assert [(leg["kind"], leg["role"], leg["peer"]) for leg in call["legs"]] == [
                    ("line", "incoming", "pbx-a"),
                    ("sip", "outgoing", f"127.0.0.1:{w.gw_b.sip_address()[1]}")]
                assert call["line"]["channel"] == 1 and call["line"]["state"] == "U10 Active"
                text = format_calls("GW-A", calls["calls"])
                assert "call GW-A/1  line-to-sip  active  5551000 -> 5551234" in text
                assert "trunk    channel 1" in text

                page = await client.request("trace", since=0)
                messages = [e for e in page["events"] if e["direction"] in ("in", "out")]
                invite = next(e for e in messages if e["summary"].startswith("INVITE"))
                assert invite["protocol"] == "sip" and "m=audio" in invite["text"]
                assert invite["text"].startswith("INVITE sip:5551234@")
                setup = next(e for e in messages if e["summary"].startswith("SETUP"))
                assert setup["protocol"] == "q931" and "5551234" in setup["text"]
                assert len(setup["text"].splitlines()) > 3  # element by element
                later = await client.request("trace", since=page["next"])
                assert later["events"] == [] and later["next"] == page["next"]
                rendered = format_trace(page["events"])
                assert "SIP   -> " in rendered and "    v=0" in rendered

                peers = await client.request("dial-peers")
                assert [(p["tag"], p["type"]) for p in peers] == [(1, "pots"), (100, "voip")]
                assert "55510.." in format_dial_peers(peers)
                table = await client.request("sip-ua-map")
                assert table.startswith("profile rfc3398") and "PSTN-Cause" in table
                assert "17              486" in table
                assert await client.request("registrations") == []
                assert format_registrations([]) == "no registrations configured\n"
                status = await client.request("status")
                assert status["live_calls"] == 1 and status["lines"][0]["in_service"]
                assert "line pbx-a (trunk, 4 ch): in service" in format_status(status)
                assert set(await client.request("help")) >= {
                    "calls", "trace", "registrations", "dial-peers", "sip-ua-map", "status"}
            finally:
                await client.close()
            w.pbx_a.hang_up("1000")
            await w.idle()

    run_virtual(asyncio.wait_for(main(), 60))


def test_the_console_has_one_line_per_message_and_call_event(flow: Any) -> None:
    async def main() -> None:
        async with flow.world() as w:
            w.pbx_a.dial("1000", "5551234")
            await w.phone(w.pbx_a, "1000", "far-end-answered")
            w.pbx_a.hang_up("1000")
            await w.idle()
            lines = [line.split(None, 2)[2] for line in w.console if " GW-A " in line]
            assert lines[0].startswith("trunk pbx-a: link up (user side)")
            assert lines[1].startswith("line pbx-a in service")
            assert lines[2].startswith("Q931 <- 127.0.0.1:") and "SETUP" in lines[2]
            expected = ["SETUP", "INVITE", "CALL PROCEEDING", "100 Trying", "180 Ringing",
                        "ALERTING", "200 OK", "CONNECT", "CONNECT ACKNOWLEDGE", "ACK",
                        "DISCONNECT", "BYE", "RELEASE", "RELEASE COMPLETE", "200 OK"]
            seen = [line.split(None, 3)[3] for line in lines if line.startswith(("SIP", "Q931"))]
            position = 0
            for name in expected:  # in this order
                while not seen[position].startswith(name):
                    position += 1
                position += 1
            assert len(seen) == len(expected)
            assert any(line.startswith("call GW-A/1: 5551000 -> 5551234 via dial-peer 100")
                       for line in lines)
            assert lines[-1] == "call GW-A/1 ended: cause 16 (Normal call clearing)"

    run_virtual(asyncio.wait_for(main(), 60))


@pytest.mark.parametrize("host", ["ipv4:127.0.0.1", "dns:localhost"])
def test_registration_status(flow: Any, host: str) -> None:
    """GW-B registers its trunk's numbers with a registrar (a raw UDP one that says 200), given
    by address or by a name the runtime looks up first."""
    registrar = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    registrar.bind(("127.0.0.1", 0))
    registrar.setblocking(False)
    port = registrar.getsockname()[1]
    config = f'[registration]\nregistrar = "{host}:{port}"\nexpires = 600\n'

    async def answer() -> list[bytes]:
        loop = asyncio.get_running_loop()
        seen = []
        while True:
            data, source = await loop.sock_recvfrom(registrar, 65535)
            seen.append(data)
            head = data.split(b"\r\n\r\n")[0].split(b"\r\n")
            keep = [h for h in head[1:] if h.split(b":")[0].lower() in
                    (b"via", b"from", b"to", b"call-id", b"cseq", b"contact")]
            reply = b"\r\n".join([b"SIP/2.0 200 OK", *keep, b"Expires: 600",
                                  b"Content-Length: 0", b"", b""])
            await loop.sock_sendto(registrar, reply, source)

    async def main() -> None:
        async with flow.world(flow.Options(b_extra=config)) as w:
            server = asyncio.get_running_loop().create_task(answer())
            try:
                await w.until(lambda: w.gw_b.core is not None and all(
                    r.state == "registered" for r in w.gw_b.core.registrations())
                    and len(w.gw_b.core.registrations()) == 2, what="registration")
                records = w.gw_b.call_records()
                assert records == []
                core = w.gw_b.core
                assert core is not None
                numbers = sorted(r.number for r in core.registrations())
                assert numbers == ["5551234", "5552000"]
            finally:
                server.cancel()

    try:
        if host.startswith("dns:"):  # the lookup runs in a thread: real time only
            asyncio.run(asyncio.wait_for(main(), 30))
        else:
            run_virtual(asyncio.wait_for(main(), 60))
    finally:
        registrar.close()


def test_stop_clears_the_calls_and_closes_the_sockets(flow: Any) -> None:
    async def main() -> None:
        async with flow.world() as w:
            w.pbx_a.dial("1000", "5551234")
            await w.phone(w.pbx_a, "1000", "far-end-answered")
            mark_a, mark_b = len(w.pbx_a.events), len(w.pbx_b.events)
            sip = w.gw_a.sip_address()
            await w.gw_a.stop()
            assert w.gw_a.live_calls == 0
            cleared_a = await w.phone(w.pbx_a, "1000", "cleared", since=mark_a)
            cleared_b = await w.phone(w.pbx_b, "1234", "cleared", since=mark_b)
            assert cleared_a.cause == cleared_b.cause == 41  # temporary failure
            assert ("out", "BYE") in w.sip(w.gw_a) and ("in", "BYE") in w.sip(w.gw_b)
            await w.until(lambda: w.gw_b.live_calls == 0)
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(socket.AF_INET, kind) as again:
                    again.bind(sip)  # the gateway's SIP sockets are closed

    run_virtual(asyncio.wait_for(main(), 60))
