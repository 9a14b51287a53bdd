"""The README walk-through, run as a new user runs it: four processes on loopback.

    gwemu pbx --config examples/pbx-a.toml
    gwemu gateway --config examples/gw-a.toml
    gwemu gateway --config examples/gw-b.toml
    gwemu pbx --config examples/pbx-b.toml
    gwemu pbx ctl --config examples/pbx-a.toml dial 1000 5551234
    gwemu pbx ctl --config examples/pbx-a.toml digits 1000 159
    gwemu pbx ctl --config examples/pbx-a.toml hangup 1000
    gwemu gateway show trace --config examples/gw-a.toml

The assertions read what the user reads: ``gwemu pbx ctl events`` on both PBXs (tones heard,
digits heard, clearing causes) and ``gwemu gateway show trace`` on both gateways (the message
sequence of REFERENCE_FLOWS flow 1, SIP and Q.931).  Every process is stopped in ``finally``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
GWEMU = Path(sys.executable).parent / "gwemu"
# Every fixed port the four example files use (TCP and UDP alike).
EXAMPLE_PORTS = (38101, 38102, 38110, 38120, 38180, 38181, 38190, 38191, 38140, 38150)

pytestmark = pytest.mark.timeout(90)


def gwemu(*args: str) -> list[str]:
    base = [str(GWEMU)] if GWEMU.exists() else [sys.executable, "-m", "gateway.cli"]
    return [*base, *args]


def run(*args: str, timeout: float = 20.0) -> str:
    done = subprocess.run(gwemu(*args), capture_output=True, text=True, timeout=timeout,
                          cwd=REPO)
    assert done.returncode == 0, f"gwemu {' '.join(args)}: {done.stderr}"
    return done.stdout


def ports_busy() -> list[int]:
    busy = []
    for port in EXAMPLE_PORTS:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(socket.AF_INET, kind) as sock:
                # as the servers do: a connection of an earlier run in TIME_WAIT is no owner
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    busy.append(port)
                    break
    return busy


class Processes:
    """The walk-through's processes, their logs, and a guaranteed clean-up."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.running[name] = subprocess.Popen(gwemu(*args), cwd=self.logs, stdout=log,
                                              stderr=subprocess.STDOUT)
        log.close()

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def wait_log(self, name: str, text: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log(name):
            process = self.running[name]
            assert process.poll() is None, f"{name} exited:\n{self.log(name)}"
            assert time.monotonic() < deadline, f"{name} never said {text!r}:\n{self.log(name)}"
            time.sleep(0.05)

    def stop(self) -> dict[str, int | None]:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for name, process in self.running.items():
            try:
                codes[name] = process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                codes[name] = None
        return codes


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    deadline = time.monotonic() + 30
    while busy := ports_busy():  # another test run may be using the examples right now
        if time.monotonic() > deadline:
            pytest.fail(f"the example ports {busy} are in use: another gwemu is running")
        time.sleep(0.5)
    procs = Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.stop()


def pbx_events(config: str, phone: str | None = None) -> list[dict[str, Any]]:
    args = ["pbx", "ctl", "--config", str(EXAMPLES / config), "--json", "events", "0"]
    if phone is not None:
        args.append(phone)
    events: list[dict[str, Any]] = json.loads(run(*args))["events"]
    return events


def wait_events(config: str, predicate: Callable[[list[dict[str, Any]]], bool],
                timeout: float = 20.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        events = pbx_events(config)
        if predicate(events):
            return events
        assert time.monotonic() < deadline, json.dumps(events, indent=1)
        time.sleep(0.2)


def has(phone: str, kind: str, value: str | None = None) -> \
        Callable[[list[dict[str, Any]]], bool]:
    return lambda events: any(e.get("phone") == phone and e["kind"] == kind
                              and (value is None or e["value"] == value) for e in events)


def trace(config: str) -> list[dict[str, Any]]:
    lines = run("gateway", "show", "trace", "--config", str(EXAMPLES / config), "--json",
                "--brief").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def sequence(events: list[dict[str, Any]], protocol: str) -> list[tuple[str, str]]:
    out = []
    for event in events:
        if event["protocol"] != protocol or event["direction"] not in ("in", "out"):
            continue
        words = event["summary"].split()
        if protocol == "sip":
            label = f"{words[0]} {words[-1]}" if words[0].isdigit() else words[0]
        else:
            label = event["summary"].split(" cr=")[0]
        out.append((event["direction"], label))
    return out


def index(events: list[dict[str, Any]], protocol: str, direction: str, label: str) -> int:
    for position, event in enumerate(events):
        if event["protocol"] == protocol and event["direction"] == direction and \
                sequence([event], protocol) == [(direction, label)]:
            return position
    raise AssertionError(f"no {direction} {label} in the trace")


def test_the_readme_walkthrough(processes: Processes) -> None:
    started = time.monotonic()
    processes.start("pbx-a", "pbx", "--config", str(EXAMPLES / "pbx-a.toml"))
    processes.start("gw-a", "gateway", "--config", str(EXAMPLES / "gw-a.toml"))
    processes.start("gw-b", "gateway", "--config", str(EXAMPLES / "gw-b.toml"))
    processes.start("pbx-b", "pbx", "--config", str(EXAMPLES / "pbx-b.toml"))
    for name in ("pbx-a", "gw-a", "gw-b", "pbx-b"):
        processes.wait_log(name, "ready")
    # both trunks up: each gateway reports its line in service
    processes.wait_log("gw-a", "line pbx-a in service")
    processes.wait_log("gw-b", "line pbx-b in service")
    status = run("gateway", "show", "status", "--config", str(EXAMPLES / "gw-a.toml"))
    assert "line pbx-a (trunk, 8 ch): in service" in status

    # phone 1000 behind PBX-A calls 5551234 behind PBX-B
    assert run("pbx", "ctl", "--config", str(EXAMPLES / "pbx-a.toml"), "dial", "1000",
               "5551234").strip() == "ok"
    wait_events("pbx-a.toml", has("1000", "far-end-answered"))
    wait_events("pbx-b.toml", has("1234", "answered"))
    # a tone from each phone is heard at the other
    wait_events("pbx-a.toml", has("1000", "frequency", "697"))
    wait_events("pbx-b.toml", has("1234", "frequency", "1004"))
    calls = run("gateway", "show", "calls", "--config", str(EXAMPLES / "gw-a.toml"))
    assert "active" in calls and "5551000 -> 5551234" in calls and "RTP sent" in calls
    # DTMF dialled mid-call (in-band at PBX-A, RFC 4733 between the gateways) arrives
    run("pbx", "ctl", "--config", str(EXAMPLES / "pbx-a.toml"), "digits", "1000", "159")
    heard = wait_events("pbx-b.toml", lambda events: [
        e["value"] for e in events if e.get("phone") == "1234" and e["kind"] == "digit"
    ] == ["1", "5", "9"])
    assert all(e["via"] == "audio" for e in heard if e["kind"] == "digit")
    # the caller hangs up: both PBXs see the clearing
    run("pbx", "ctl", "--config", str(EXAMPLES / "pbx-a.toml"), "hangup", "1000")
    cleared = wait_events("pbx-b.toml", has("1234", "cleared"))
    assert [e["cause"] for e in cleared if e["kind"] == "cleared"] == [16]
    wait_events("pbx-a.toml", lambda events: any(
        e["kind"] == "released" and e.get("trunk") == "gw-a" for e in events))
    time.sleep(0.5)  # the last RELEASE COMPLETE / 200 OK

    gw_a, gw_b = trace("gw-a.toml"), trace("gw-b.toml")
    # REFERENCE_FLOWS flow 1, message for message, on each side of each gateway
    assert sequence(gw_a, "q931") == [
        ("in", "SETUP"), ("out", "CALL PROCEEDING"), ("out", "ALERTING"), ("out", "CONNECT"),
        ("in", "CONNECT ACKNOWLEDGE"), ("in", "DISCONNECT"), ("out", "RELEASE"),
        ("in", "RELEASE COMPLETE"),
    ]
    assert sequence(gw_a, "sip") == [
        ("out", "INVITE"), ("in", "100 (INVITE)"), ("in", "180 (INVITE)"),
        ("in", "200 (INVITE)"), ("out", "ACK"), ("out", "BYE"), ("in", "200 (BYE)"),
    ]
    assert sequence(gw_b, "sip") == [
        ("in", "INVITE"), ("out", "100 (INVITE)"), ("out", "180 (INVITE)"),
        ("out", "200 (INVITE)"), ("in", "ACK"), ("in", "BYE"), ("out", "200 (BYE)"),
    ]
    assert sequence(gw_b, "q931") == [
        ("out", "SETUP"), ("in", "CALL PROCEEDING"), ("in", "ALERTING"), ("in", "CONNECT"),
        ("out", "CONNECT ACKNOWLEDGE"), ("out", "DISCONNECT"), ("in", "RELEASE"),
        ("out", "RELEASE COMPLETE"),
    ]
    # the orderings the chapter insists on
    assert index(gw_a, "sip", "out", "ACK") > index(gw_a, "q931", "in", "CONNECT ACKNOWLEDGE")
    assert index(gw_a, "q931", "out", "ALERTING") > index(gw_a, "sip", "in", "180 (INVITE)")
    assert index(gw_a, "q931", "out", "CONNECT") > index(gw_a, "sip", "in", "200 (INVITE)")
    assert index(gw_a, "sip", "out", "BYE") > index(gw_a, "q931", "in", "DISCONNECT")
    assert index(gw_b, "sip", "out", "180 (INVITE)") > index(gw_b, "q931", "in", "ALERTING")
    assert index(gw_b, "sip", "out", "200 (INVITE)") > index(gw_b, "q931", "in", "CONNECT")
    assert index(gw_b, "q931", "out", "CONNECT ACKNOWLEDGE") > index(gw_b, "sip", "in", "ACK")
    assert index(gw_b, "q931", "out", "DISCONNECT") > index(gw_b, "sip", "in", "BYE")
    assert index(gw_b, "sip", "out", "200 (BYE)") > index(gw_b, "q931", "in", "RELEASE")
    full = run("gateway", "show", "trace", "--config", str(EXAMPLES / "gw-b.toml"))
    assert "INVITE sip:5551234@" in full and "m=audio" in full  # full message text

    codes = processes.stop()
    assert codes == {"pbx-a": 0, "gw-a": 0, "gw-b": 0, "pbx-b": 0}, codes
    for name in ("gw-a", "gw-b"):
        assert processes.log(name).rstrip().endswith("stopped"), processes.log(name)
    assert time.monotonic() - started < 60
    assert os.path.exists(processes.logs / "gw-a.log")


def test_the_station_line_flavour(processes: Processes) -> None:
    """The same walk-through with analog station lines: the PBX simulators' FXS-board phones
    (socket://127.0.0.1:38140 and :38150) on examples/gw-a-station.toml and gw-b-station.toml."""
    processes.start("pbx-a", "pbx", "--config", str(EXAMPLES / "pbx-a.toml"))
    processes.start("gw-a", "gateway", "--config", str(EXAMPLES / "gw-a-station.toml"))
    processes.start("gw-b", "gateway", "--config", str(EXAMPLES / "gw-b-station.toml"))
    processes.start("pbx-b", "pbx", "--config", str(EXAMPLES / "pbx-b.toml"))
    processes.wait_log("gw-a", "line fxs1 in service")
    processes.wait_log("gw-b", "line fxs1 in service")
    run("pbx", "ctl", "--config", str(EXAMPLES / "pbx-a.toml"), "dial", "fxs1", "5553000")
    caller_id = wait_events("pbx-b.toml", has("fxs1", "caller-id"))
    assert any(e["value"].startswith("5551050") for e in caller_id
               if e.get("phone") == "fxs1" and e["kind"] == "caller-id")
    wait_events("pbx-b.toml", has("fxs1", "answered"), timeout=20)
    wait_events("pbx-a.toml", has("fxs1", "far-end-answered"))
    run("pbx", "ctl", "--config", str(EXAMPLES / "pbx-a.toml"), "hangup", "fxs1")
    wait_events("pbx-b.toml", has("fxs1", "cleared"))
    gw_a, gw_b = trace("gw-a.toml"), trace("gw-b.toml")
    assert sequence(gw_a, "sip") == [
        ("out", "INVITE"), ("in", "100 (INVITE)"), ("in", "180 (INVITE)"),
        ("in", "200 (INVITE)"), ("out", "ACK"), ("out", "BYE"), ("in", "200 (BYE)")]
    assert sequence(gw_b, "sip") == [
        ("in", "INVITE"), ("out", "100 (INVITE)"), ("out", "180 (INVITE)"),
        ("out", "200 (INVITE)"), ("in", "ACK"), ("in", "BYE"), ("out", "200 (BYE)")]
    board_b = [e["summary"] for e in gw_b if e["protocol"] == "fxs" and e["direction"] == "out"]
    assert any(s.startswith("CID 5551050") for s in board_b) and "RING" in board_b
    codes = processes.stop()
    assert codes == {"pbx-a": 0, "gw-a": 0, "gw-b": 0, "pbx-b": 0}, codes
