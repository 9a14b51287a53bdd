"""gwemu behind a real Kamailio (Debian ``kamailio``) running examples/kamailio/kamailio.cfg.

* Registration: a gateway registers its numbers, answering Kamailio's digest challenge; the
  binding is real (an OPTIONS for the number sent to Kamailio reaches the gateway).  A wrong
  password ends ``rejected`` with the 401 reported, after exactly one answered challenge.
* A call through Kamailio: PBX-A's phone 1000 dials 5551234; GW-A sends the INVITE to its
  ``sip-server`` (Kamailio), which looks up GW-B's registration and relays it; PBX-B's phone
  answers, each phone hears the other's tone, the caller hangs up.  With Record-Route the ACK
  and BYE cross Kamailio (Route header, Kamailio's port); without it they go straight to GW-B.
  First, a number nobody registered gets Kamailio's 404, which phone 1000 sees as cause 1.
* Refresh: with a 3 s binding the gateway sends a second REGISTER (same Call-ID, next CSeq)
  and has it accepted before the first binding runs out.
* Stopping an idle gateway removes its bindings (Expires: 0).
* examples/kamailio/gw-a.toml and gw-b.toml (docs/kamailio.md) match kamailio.cfg's defaults.

Kamailio runs in the foreground as this user, with its runtime files in ``tmp_path``; every
process is stopped in ``finally``.  Real sockets on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gateway.calls.core import GatewayCore
from gateway.config.files import load_toml
from gateway.config.gateway_schema import load_gateway_config, load_gateway_text
from gateway.runtime import GatewayNode
from gateway.runtime.show import registration_record
from gateway.trace import TraceEvent, TraceRecorder
from pbx_sim.aio import PbxSimulator
from pbx_sim.config import PbxConfig
from pbx_sim.events import PbxEvent

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]

REPO = Path(__file__).resolve().parents[2]
KAMAILIO_CFG = REPO / "examples" / "kamailio" / "kamailio.cfg"
PASSWORD = "lab-secret"


# ----------------------------------------------------------------------------- Kamailio


class Kamailio:
    """One Kamailio process on 127.0.0.1:``port`` (UDP), its log in ``workdir/kamailio.log``."""

    def __init__(self, binary: str, workdir: Path, port: int, defines: dict[str, str | None]) \
            -> None:
        self.port = port
        self.address = ("127.0.0.1", port)
        self.log_path = workdir / "kamailio.log"
        self._runtime = workdir / "kamailio-run"
        self._runtime.mkdir()
        args = [binary, "-f", str(KAMAILIO_CFG), "-DD", "-E", "-Y", str(self._runtime),
                "-P", str(self._runtime / "kamailio.pid"), "-m", "32", "-M", "8", "-n", "1",
                "-A", f"LISTEN=udp:127.0.0.1:{port}"]
        for name, value in defines.items():
            args += ["-A", name if value is None else f"{name}={value}"]
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        with self.log_path.open("wb") as log:
            # its own process group: kamailio forks workers; SIGTERM to the group stops them all
            self.process = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self._answers_options():
            assert self.process.poll() is None, f"kamailio exited:\n{self.log()}"
            assert time.monotonic() < deadline, f"kamailio never answered OPTIONS:\n{self.log()}"
            time.sleep(0.05)  # not listening yet: the OPTIONS met ICMP port unreachable at once

    def _answers_options(self) -> bool:
        return options(self.address, f"sip:127.0.0.1:{self.port}", timeout=0.2) == 200

    def stop(self) -> int | None:
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            return process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def lines(self, marker: str) -> list[str]:
        return [line for line in self.log().splitlines() if marker in line]


@contextmanager
def kamailio(require_tool: Callable[[str], str], tmp_path: Path, port: int,
             **defines: str | None) -> Iterator[Kamailio]:
    server = Kamailio(require_tool("kamailio"), tmp_path, port, defines)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def options(address: tuple[str, int], uri: str, timeout: float) -> int | None:
    """Send one OPTIONS to ``address`` and return the final status (None: no answer)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        port = sock.getsockname()[1]
        branch = f"z9hG4bK{os.urandom(6).hex()}"
        request = (
            f"OPTIONS {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch={branch};rport\r\n"
            "Max-Forwards: 5\r\n"
            f"From: <sip:probe@127.0.0.1:{port}>;tag={os.urandom(4).hex()}\r\n"
            f"To: <{uri}>\r\n"
            f"Call-ID: {os.urandom(8).hex()}@127.0.0.1\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
        sock.sendto(request, address)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65535)
            except (TimeoutError, ConnectionRefusedError):
                return None
            status = int(data.split(b" ", 2)[1])
            if status >= 200:
                return status
        return None


# ----------------------------------------------------------------------------- helpers


async def every_number(node: GatewayNode, state: str) -> GatewayCore:
    """Wait until every number of ``node`` has registration ``state``; the node's core."""
    core = node.core
    assert core is not None
    await until(lambda: all(r.state == state for r in core.registrations()),
                what=f"every number {state}")
    return core


async def until(test: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not test():
        assert loop.time() < deadline, f"timed out waiting for {what or test}"
        await asyncio.sleep(0.02)


def sip(trace: TraceRecorder, direction: str, start: str) -> list[TraceEvent]:
    """SIP messages in one direction whose summary starts with ``start`` ("REGISTER", "401")."""
    return [e for e in trace.events if e.protocol == "sip" and e.direction == direction
            and e.summary.startswith(start)]


def answers(trace: TraceRecorder, direction: str, status: int | str, method: str) \
        -> list[TraceEvent]:
    """Responses ``status`` (a number, or a prefix like "2") to ``method`` in one direction."""
    return [e for e in sip(trace, direction, str(status)) if e.summary.endswith(f"({method})")]


def header(event: TraceEvent, name: str) -> list[str]:
    """Every value of header ``name`` in a traced message (long names only)."""
    head = event.raw.split(b"\r\n\r\n", 1)[0].decode(errors="replace").split("\r\n")[1:]
    prefix = name.lower() + ":"
    return [line.split(":", 1)[1].strip() for line in head if line.lower().startswith(prefix)]


REGISTERING_GATEWAY = """
name = "GW-R"

[sip]
listen = "127.0.0.1:{sip}"
transports = ["udp"]

[media]
enabled = false

[registration]
registrar = "ipv4:127.0.0.1:{registrar}"
numbers = ["5551234", "5551235"]
password = "{password}"
expires = {expires}
refresh-margin = "1s"
retry-min = "30s"
"""


def traced_gateway(text: str) -> tuple[GatewayNode, TraceRecorder]:
    trace = TraceRecorder()
    return GatewayNode(load_gateway_text(text), trace=trace), trace


# ----------------------------------------------------------------------------- 1: registration


def test_gateway_registers_its_numbers_answering_the_digest_challenge(
        require_tool: Callable[[str], str], free_ports: Callable[[int], int],
        tmp_path: Path) -> None:
    base = free_ports(4)
    with kamailio(require_tool, tmp_path, base, GW_PASSWORD=f'"{PASSWORD}"') as server:
        node, trace = traced_gateway(REGISTERING_GATEWAY.format(
            sip=base + 2, registrar=base, password=PASSWORD, expires=600))

        async def main() -> None:
            async with node:
                core = await every_number(node, "registered")
                snapshots = {r.number: r for r in core.registrations()}
                assert set(snapshots) == {"5551234", "5551235"}
                for snapshot in snapshots.values():
                    assert snapshot.last_status == 200 and snapshot.failures == 0
                    assert snapshot.reason == "registered for 600 s"  # Kamailio's grant
                # each number: REGISTER, 401 with a challenge, REGISTER with credentials, 200
                registers = sip(trace, "out", "REGISTER")
                assert len(registers) == 4
                challenges = answers(trace, "in", 401, "REGISTER")
                assert len(challenges) == 2
                assert all('realm="gwemu"' in header(e, "WWW-Authenticate")[0]
                           for e in challenges)
                answered = [e for e in registers if header(e, "Authorization")]
                assert len(answered) == 2
                assert all('username="5551234"' in header(e, "Authorization")[0] or
                           'username="5551235"' in header(e, "Authorization")[0]
                           for e in answered)
                assert len(answers(trace, "in", 200, "REGISTER")) == 2
                assert all(e.remote == server.address for e in registers)
                # Kamailio kept the bindings: an OPTIONS for the number reaches the gateway
                status = await asyncio.to_thread(options, server.address,
                                                 f"sip:5551234@127.0.0.1:{base}", 3.0)
                assert status == 200
                relayed = sip(trace, "in", "OPTIONS")
                assert relayed and relayed[-1].remote == server.address
                # what `gwemu gateway show registrations` prints from
                records = [registration_record(r, node.now()) for r in core.registrations()]
                assert {r["number"]: (r["state"], r["last_status"]) for r in records} == \
                    {"5551234": ("registered", 200), "5551235": ("registered", 200)}
                assert all(590 < r["expires"] <= 600 for r in records)

        asyncio.run(asyncio.wait_for(main(), 30))
        saved = server.lines("gwemu-lab: REGISTER")
        assert any("5551234 saved" in line for line in saved), server.log()
        assert any("5551235 saved" in line for line in saved), server.log()


def test_a_wrong_password_ends_rejected_with_the_401_not_a_loop(
        require_tool: Callable[[str], str], free_ports: Callable[[int], int],
        tmp_path: Path) -> None:
    base = free_ports(4)
    with kamailio(require_tool, tmp_path, base, GW_PASSWORD=f'"{PASSWORD}"') as server:
        node, trace = traced_gateway(REGISTERING_GATEWAY.format(
            sip=base + 2, registrar=base, password="not-the-password", expires=600))

        async def main() -> None:
            async with node:
                core = await every_number(node, "rejected")
                await asyncio.sleep(1.0)  # a looping client would send many more by now
                for snapshot in core.registrations():
                    assert snapshot.state == "rejected"
                    assert snapshot.last_status == 401
                    assert snapshot.reason.startswith("401"), snapshot.reason
                    assert snapshot.next_attempt is not None  # back-off (retry-min 30 s)
                    assert snapshot.next_attempt - node.now() > 20
                # one plain REGISTER and one answered challenge per number, nothing more
                assert len(sip(trace, "out", "REGISTER")) == 4
                assert len(answers(trace, "in", 401, "REGISTER")) == 4

        asyncio.run(asyncio.wait_for(main(), 30))
        refused = server.lines("not authenticated")
        assert any("code -2" in line for line in refused), server.log()  # wrong password
        assert not server.lines(" saved")


def test_stopping_the_gateway_removes_its_bindings(
        require_tool: Callable[[str], str], free_ports: Callable[[int], int],
        tmp_path: Path) -> None:
    base = free_ports(4)
    with kamailio(require_tool, tmp_path, base, GW_PASSWORD=f'"{PASSWORD}"') as server:
        node, trace = traced_gateway(REGISTERING_GATEWAY.format(
            sip=base + 2, registrar=base, password=PASSWORD, expires=600))

        async def main() -> None:
            async with node:
                await every_number(node, "registered")

        asyncio.run(asyncio.wait_for(main(), 30))
        # RFC 3261 s10.2.2: a UA going away removes its bindings with Expires: 0 ...
        removals = [e for e in sip(trace, "out", "REGISTER") if header(e, "Expires") == ["0"]]
        assert len(removals) == 2
        # ... so Kamailio no longer routes the numbers to a gateway that is gone: 404 at once
        assert options(server.address, f"sip:5551234@127.0.0.1:{base}", 3.0) == 404
        assert len(server.lines("expires 0")) == 2, server.log()


# ----------------------------------------------------------------------------- 3: refresh


def test_a_short_binding_is_refreshed_before_it_runs_out(
        require_tool: Callable[[str], str], free_ports: Callable[[int], int],
        tmp_path: Path) -> None:
    base = free_ports(4)
    with kamailio(require_tool, tmp_path, base, GW_PASSWORD=f'"{PASSWORD}"',
                  MIN_EXPIRES="1") as server:
        node, trace = traced_gateway(REGISTERING_GATEWAY.format(
            sip=base + 2, registrar=base, password=PASSWORD, expires=3).replace(
                'numbers = ["5551234", "5551235"]', 'numbers = ["5551234"]'))

        async def main() -> None:
            async with node:
                await until(lambda: len(answers(trace, "in", 200, "REGISTER")) >= 2, timeout=8,
                            what="the refresh accepted")
                core = node.core
                assert core is not None
                (snapshot,) = core.registrations()
                assert snapshot.state == "registered" and snapshot.failures == 0

        asyncio.run(asyncio.wait_for(main(), 20))
        first_ok, second_ok = answers(trace, "in", 200, "REGISTER")[:2]
        # Kamailio granted what we asked for: 3 s on our Contact
        assert any(";expires=3" in value for value in header(first_ok, "Contact"))
        refresh = [e for e in sip(trace, "out", "REGISTER") if first_ok.time < e.time]
        assert refresh, "no REGISTER after the first 200"
        # sent at half the lifetime, answered before the first binding ran out
        assert 1.0 <= refresh[0].time - first_ok.time < 2.5
        assert second_ok.time < first_ok.time + 3
        registers = sip(trace, "out", "REGISTER")
        call_ids = {header(e, "Call-ID")[0] for e in registers}
        assert len(call_ids) == 1  # one binding, one Call-ID across refreshes (RFC 3261 s10.2.4)
        cseqs = [int(header(e, "CSeq")[0].split()[0]) for e in registers]
        assert cseqs == sorted(cseqs) and len(set(cseqs)) == len(cseqs)
        assert len(server.lines("5551234 saved")) >= 2, server.log()


# ----------------------------------------------------------------------------- 2: a call


PBX_A = """
name = "PBX-A"
tone-plan = "etsi"
ring-cadence = [400, 800]

[[extension]]
number = "1000"
name = "Alice"
play = "tone:1004"
detect = [697]

[[trunk]]
name = "gw-a"
address = "127.0.0.1:{trunk}"
mode = "listen"
side = "network"
interface = "e1"
channels = 2
rtp-local = "127.0.0.1:{rtp_pbx}"
rtp-remote = "127.0.0.1:{rtp_gw}"
calling-type = "subscriber"
calling-prefix = "555"

[[route]]
pattern = "555XXXX"
trunk = "gw-a"
"""

PBX_B = """
name = "PBX-B"
tone-plan = "us"
ring-cadence = [400, 800]

[[extension]]
number = "1234"
name = "Erin"
answer-after-rings = 1
play = "tone:697"
detect = [1004]

[[trunk]]
name = "gw-b"
address = "127.0.0.1:{trunk}"
mode = "connect"
side = "user"
interface = "t1"
channels = 2
rtp-local = "127.0.0.1:{rtp_pbx}"
rtp-remote = "127.0.0.1:{rtp_gw}"
incoming-strip = 3
"""

GW_A = """
name = "GW-A"
tone-plan = "etsi"

[sip]
listen = "127.0.0.1:{sip}"
transports = ["udp"]

[media]
ports = "{media}-{media_last}"

[sip-server]
target = "ipv4:127.0.0.1:{kamailio}"

[[trunk]]
name = "pbx-a"
address = "127.0.0.1:{trunk}"
mode = "connect"
side = "user"
interface = "e1"
channels = 2
rtp-local = "127.0.0.1:{rtp_gw}"
rtp-remote = "127.0.0.1:{rtp_pbx}"
numbers = ["5551000"]

[[dial-peer.pots]]
tag = 1
destination-pattern = "5551000"
port = "pbx-a"
forward-digits = 4

[[dial-peer.voip]]
tag = 100
description = "everything else via Kamailio"
destination-pattern = "555...."
session-target = "sip-server"
codecs = ["g711ulaw", "g711alaw"]
"""

GW_B = """
name = "GW-B"
tone-plan = "us"

[sip]
listen = "127.0.0.1:{sip}"
transports = ["udp"]

[media]
ports = "{media}-{media_last}"

[registration]
registrar = "ipv4:127.0.0.1:{kamailio}"
password = "{password}"
expires = 600

[[trunk]]
name = "pbx-b"
address = "127.0.0.1:{trunk}"
mode = "listen"
side = "network"
interface = "t1"
channels = 2
rtp-local = "127.0.0.1:{rtp_gw}"
rtp-remote = "127.0.0.1:{rtp_pbx}"
numbers = ["5551234"]

[[dial-peer.pots]]
tag = 1
destination-pattern = "5551234"
port = "pbx-b"
forward-digits = "all"

[[dial-peer.voip]]
tag = 200
description = "back through Kamailio"
incoming-called-number = "555...."
destination-pattern = "5551000"
session-target = "registrar"
codecs = ["g711ulaw", "g711alaw"]
"""


@pytest.mark.parametrize("record_route", [True, False], ids=["record-route", "direct-bye"])
def test_a_call_from_pbx_a_to_pbx_b_through_kamailio(
        record_route: bool, require_tool: Callable[[str], str],
        free_ports: Callable[[int], int], tmp_path: Path) -> None:
    # one block of ports: Kamailio, two SIP, two trunks, B-channels and gateway RTP
    base = free_ports(64)
    kam, sip_a, sip_b, trunk_a, trunk_b = base, base + 2, base + 4, base + 6, base + 8
    defines: dict[str, str | None] = {"GW_PASSWORD": f'"{PASSWORD}"'}
    if record_route:
        defines["WITH_RR"] = None
    with kamailio(require_tool, tmp_path, kam, **defines) as server:
        pbx_a = PbxSimulator(load_toml(PbxConfig, PBX_A.format(
            trunk=trunk_a, rtp_pbx=base + 10, rtp_gw=base + 14)))
        pbx_b = PbxSimulator(load_toml(PbxConfig, PBX_B.format(
            trunk=trunk_b, rtp_pbx=base + 20, rtp_gw=base + 24)))
        gw_a, trace_a = traced_gateway(GW_A.format(
            sip=sip_a, media=base + 30, media_last=base + 39, kamailio=kam, trunk=trunk_a,
            rtp_gw=base + 14, rtp_pbx=base + 10))
        gw_b, trace_b = traced_gateway(GW_B.format(
            sip=sip_b, media=base + 40, media_last=base + 49, kamailio=kam, trunk=trunk_b,
            rtp_gw=base + 24, rtp_pbx=base + 20, password=PASSWORD))

        async def main() -> None:
            async with pbx_a, gw_a, gw_b, pbx_b:
                core_b = gw_b.core
                assert core_b is not None
                await until(lambda: gw_a.in_service.get("pbx-a") and
                            gw_b.in_service.get("pbx-b"), what="both trunks in service")
                await until(lambda: [r.state for r in core_b.registrations()] == ["registered"],
                            what="GW-B registered 5551234 at Kamailio")
                # a number nobody registered: Kamailio's 404 reaches phone 1000 as cause 1
                pbx_a.dial("1000", "5559999")
                unknown = await pbx_a.wait_phone("1000", "cleared", timeout=10)
                assert unknown.cause == 1
                pbx_a.hang_up("1000")
                await until(lambda: gw_a.live_calls == 0, what="the failed call gone")
                mark = len(pbx_a.events)
                pbx_a.dial("1000", "5551234")
                await pbx_a.wait_phone("1000", "far-end-answered", timeout=10, since=mark)
                await pbx_b.wait_phone("1234", "answered", timeout=5)
                # a tone from each phone is heard at the other, across both gateways
                await pbx_a.wait_phone("1000", "frequency", "697", timeout=10, since=mark)
                await pbx_b.wait_phone("1234", "frequency", "1004", timeout=10)
                pbx_a.hang_up("1000")
                cleared = await pbx_b.wait_phone("1234", "cleared", timeout=10)
                assert cleared.cause == 16
                await pbx_a.wait_for(lambda e: isinstance(e, PbxEvent) and
                                     e.kind == "released" and e.trunk == "gw-a", timeout=10,
                                     since=mark)
                await until(lambda: gw_a.live_calls == 0 and gw_b.live_calls == 0,
                            what="both gateways back to no calls")

        asyncio.run(asyncio.wait_for(main(), 45))

    released = [e for e in pbx_a.events if isinstance(e, PbxEvent) and e.kind == "released"]
    assert [e.cause for e in released] == [1, 16]
    (not_found,) = answers(trace_a, "in", 404, "INVITE")
    assert not_found.remote == server.address and server.lines("5559999 not registered: 404")
    kam_addr = server.address
    # GW-A: the INVITE went to Kamailio, its answers came back from Kamailio
    (invite_out,) = sip(trace_a, "out", "INVITE sip:5551234@")
    call_id = invite_out.call_id
    assert invite_out.remote == kam_addr
    assert invite_out.summary.startswith(f"INVITE sip:5551234@127.0.0.1:{kam}")
    assert all(e.remote == kam_addr for e in answers(trace_a, "in", "", "INVITE")
               if e.call_id == call_id)
    # GW-B: Kamailio relayed it, R-URI rewritten to our registered Contact, two Vias
    (invite_in,) = sip(trace_b, "in", "INVITE")
    assert invite_in.remote == kam_addr
    assert invite_in.summary.startswith(f"INVITE sip:5551234@127.0.0.1:{sip_b}")
    vias = header(invite_in, "Via")
    assert len(vias) == 2 and f"127.0.0.1:{kam}" in vias[0] and f":{sip_a}" in vias[1]
    assert server.lines(f"INVITE 5551234 -> sip:5551234@127.0.0.1:{sip_b}"), server.log()
    (ack_out,) = [e for e in sip(trace_a, "out", "ACK") if e.call_id == call_id]
    (bye_out,) = sip(trace_a, "out", "BYE")
    (bye_in,) = sip(trace_b, "in", "BYE")
    assert len(answers(trace_a, "in", 200, "BYE")) == 1
    if record_route:
        assert header(invite_in, "Record-Route")
        # the route set: ACK and BYE carry Route: <Kamailio;lr> and go to Kamailio ...
        for message in (ack_out, bye_out):
            assert message.remote == kam_addr
            (route,) = header(message, "Route")
            assert f"sip:127.0.0.1:{kam};lr" in route
        # ... which relays the BYE to GW-B (and logged it)
        assert bye_in.remote == kam_addr
        assert server.lines("in-dialog BYE"), server.log()
    else:
        assert not header(invite_in, "Record-Route")
        # no route set: ACK and BYE go straight to GW-B's Contact, past Kamailio
        for message in (ack_out, bye_out):
            assert message.remote == ("127.0.0.1", sip_b)
            assert not header(message, "Route")
        assert bye_in.remote == ("127.0.0.1", sip_a)
        assert not server.lines("in-dialog")


def test_the_example_gateways_use_the_example_kamailio() -> None:
    """examples/kamailio/gw-*.toml (docs/kamailio.md) point at kamailio.cfg's default socket,
    with its default password."""
    config_text = KAMAILIO_CFG.read_text()
    listen = next(line.split()[-1] for line in config_text.splitlines()
                  if line.startswith("#!define LISTEN "))
    password = next(line.split(None, 2)[-1] for line in config_text.splitlines()
                    if line.startswith("#!define GW_PASSWORD "))
    host, port = listen.removeprefix("udp:").rsplit(":", 1)
    for name in ("gw-a", "gw-b"):
        config = load_gateway_config(KAMAILIO_CFG.parent / f"{name}.toml")
        plan = config.plan(())
        assert plan.registrar is not None and plan.registration is not None
        assert (plan.registrar.host, plan.registrar.port) == (host, int(port))
        assert f'"{plan.registration.password}"' == password
        if name == "gw-a":
            assert plan.sip_server is not None
            assert (plan.sip_server.host, plan.sip_server.port) == (host, int(port))


def test_static_route_takes_numbers_nobody_registered(
        require_tool: Callable[[str], str], free_ports: Callable[[int], int],
        tmp_path: Path) -> None:
    base = free_ports(4)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as fallback, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as caller:
        fallback.bind(("127.0.0.1", base + 2))
        fallback.settimeout(3.0)
        caller.bind(("127.0.0.1", 0))
        port = caller.getsockname()[1]
        with kamailio(require_tool, tmp_path, base,
                      STATIC_ROUTE=f'"sip:127.0.0.1:{base + 2}"') as server:
            caller.sendto((
                f"INVITE sip:5559999@127.0.0.1:{base} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{os.urandom(6).hex()};rport\r\n"
                "Max-Forwards: 5\r\n"
                f"From: <sip:5551000@127.0.0.1>;tag={os.urandom(4).hex()}\r\n"
                "To: <sip:5559999@127.0.0.1>\r\n"
                f"Call-ID: {os.urandom(8).hex()}@127.0.0.1\r\n"
                "CSeq: 1 INVITE\r\n"
                f"Contact: <sip:5551000@127.0.0.1:{port}>\r\n"
                "Content-Length: 0\r\n\r\n").encode(), server.address)
            relayed, source = fallback.recvfrom(65535)
        lines = relayed.decode().split("\r\n")
        assert lines[0] == f"INVITE sip:5559999@127.0.0.1:{base} SIP/2.0"
        assert source == server.address
        vias = [line for line in lines if line.lower().startswith("via:")]
        assert len(vias) == 2 and f"127.0.0.1:{base}" in vias[0]
        assert server.lines("5559999 not registered, static route"), server.log()
