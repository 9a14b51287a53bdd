"""``gwemu sip uas`` as a process: calls answered, a line per call, a clean stop on a signal."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from gateway.aio.sip_peers import CallRecord
from gateway.aio.sip_transport import SipTransport
from gateway.aio.sip_uac_peer import UacOptions, UacPeer
from gateway.cli._sip_uas import parse_hostport
from gateway.sip.endpoint import SipEndpoint
from gateway.sip.events import EndpointEvent, ResponseReceived
from gateway.sip.routing import Hop, hostport


@contextmanager
def uas_process(*options: str) -> Iterator[tuple[subprocess.Popen[str], tuple[str, int]]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "sip", "uas", "--listen", "127.0.0.1:0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("uas listening on "), banner + (
            process.stderr.read() if process.stderr else ""
        )
        address = banner.split()[3].partition(":")[2]
        yield process, parse_hostport(address, 5060)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def place(address: tuple[str, int], transport: str, calls: int, hold: float) -> UacPeer:
    async def main() -> UacPeer:
        endpoint = SipEndpoint(rng=random.Random(5))
        options = UacOptions(
            f"sip:svc@{hostport(*address)}",
            Hop(transport, address),  # type: ignore[arg-type]
            calls=calls,
            rate=20.0,
            hold=hold,
        )
        records: list[CallRecord] = []
        peer = UacPeer(endpoint, options, records.append)
        sip = SipTransport(endpoint, peer)
        await sip.listen_udp("127.0.0.1", 0)
        if transport == "tcp":
            await sip.listen_tcp("127.0.0.1", 0)
        peer.start(asyncio.get_running_loop().time())
        sip.pump()
        while not peer.done:
            await asyncio.sleep(0.02)
        await sip.aclose()
        return peer

    return asyncio.run(asyncio.wait_for(main(), 30))


def stop(process: subprocess.Popen[str], signum: int = signal.SIGTERM) -> tuple[int, str]:
    process.send_signal(signum)
    out, _ = process.communicate(timeout=10)
    return process.returncode, out


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_every_call_is_answered_and_reported_on_one_line(transport: str) -> None:
    with uas_process("--transport", transport) as (process, address):
        peer = place(address, transport, 3, 0.05)
        assert peer.summary.completed == 3 and peer.summary.failed == 0
        status, out = stop(process)
    assert status == 0
    lines = out.splitlines()
    calls = [line for line in lines if line.startswith("call ")]
    assert len(calls) == 3
    assert all(" 200 BYE from the caller held " in line for line in calls)
    assert lines[-1] == "uas: 3 calls received, 3 ended, 0 in progress; BYE from the caller x3"


def test_ring_then_hold_and_hang_up_ourselves() -> None:
    with uas_process("--ring", "0.2", "--hold", "0.2", "--calls", "2") as (process, address):
        peer = place(address, "udp", 2, 30.0)  # the UAS hangs up first
        out, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert peer.summary.completed == 2
    calls = [line for line in out.splitlines() if line.startswith("call ")]
    assert len(calls) == 2 and all("BYE sent after the hold time" in line for line in calls)


def test_options_are_answered_with_allow() -> None:
    with uas_process() as (process, address):

        async def ask() -> list[EndpointEvent]:
            endpoint = SipEndpoint(rng=random.Random(1))
            events: list[EndpointEvent] = []

            class Keep:
                def handle_event(self, event: EndpointEvent, now: float) -> None:
                    events.append(event)

                def get_timer(self) -> float | None:
                    return None

                def handle_timer(self, now: float) -> None:
                    """No timers."""

            sip = SipTransport(endpoint, Keep())
            await sip.listen_udp("127.0.0.1", 0)
            request = endpoint.new_request(
                "OPTIONS",
                f"sip:svc@{hostport(*address)}",
                from_="<sip:t@127.0.0.1>",
                to="<sip:svc@x>",
            )
            endpoint.send_request(request, asyncio.get_running_loop().time())
            sip.pump()
            while not events:
                await asyncio.sleep(0.01)
            await sip.aclose()
            return events

        (answer,) = asyncio.run(asyncio.wait_for(ask(), 10))
        status, _ = stop(process, signal.SIGINT)
    assert status == 0
    assert isinstance(answer, ResponseReceived) and answer.response.status == 200
    allow = answer.response.headers.get("allow") or ""
    assert "INVITE" in allow and "BYE" in allow


def test_bad_listen_address_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "sip", "uas", "--listen", "127.0.0.1:99999"],
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ},
    )
    assert result.returncode == 2 and "99999" in result.stderr


def test_an_address_it_cannot_listen_on_is_named_in_the_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "sip", "uas", "--transport", "tcp",
             "--listen", f"127.0.0.1:{port}", "--duration", "1"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    assert result.returncode == 2
    assert result.stderr.startswith(f"gwemu sip uas: cannot listen on 127.0.0.1:{port}: "), (
        result.stderr
    )
