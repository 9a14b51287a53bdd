"""Calls per second: SIPp's ``uac`` against three answering sides, stepping the rate up.

For each system under test (SUT) the same harness runs SIPp's built-in ``uac`` scenario (INVITE,
200, ACK, calls held ``--hold`` seconds, BYE, 200) over UDP on 127.0.0.1 at increasing rates,
``--seconds`` of calls per step.  A step passes when SIPp reports zero failed calls, exits 0 and
reached at least 95 % of the asked rate; a failing step is run once more (the machine is
shared: one noisy moment should not end the search) and stepping stops when it fails again.
The figure of a SUT is its highest passing rate, with the CPU time its process(es) used per
call in that step (from /proc: user + system).

SUTs, in one run:

* ``gwemu``  -- ``gwemu sip uas`` (uvloop when installed; ``gwemu-asyncio`` forces the stdlib
  loop);
* ``sipp``   -- SIPp's built-in ``uas`` answering directly: the C ceiling of a UAS;
* ``sippy``  -- PyPI sippy's B2BUA (``python -m sippy.b2bua_simple``, logging at ERR) relaying
  to a SIPp ``uas``: the strongest Python peer (CPU counted for the B2BUA only).

Transactions outlive their calls (Timers J and L run 64*T1 = 32 s), so part of gwemu's work per
call happens after a step; ``--drain`` waits 34 s after the last step and reports the CPU per
call over all steps with that cleanup included.

    python scripts/bench_cps.py [--targets gwemu,sipp,sippy] [--rates 250,500,...] [--drain]

The run is bounded: each step is ``--seconds`` + ``--hold`` + a few seconds, and ``--budget``
caps the whole run (steps that would overrun it are skipped and reported as such).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
DEFAULT_RATES = {
    "gwemu": [250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2500, 3000],
    "gwemu-asyncio": [250, 500, 750, 1000, 1250, 1500, 2000],
    "sipp": [500, 1000, 2000, 3000, 4000, 5000, 6000],
    "sippy": [50, 100, 150, 200, 250, 300, 400, 500],
}
LABELS = {
    "gwemu": "gwemu sip uas",
    "gwemu-asyncio": "gwemu sip uas (stdlib loop)",
    "sipp": "SIPp uas (direct)",
    "sippy": "sippy B2BUA -> SIPp uas",
}


@dataclass
class Step:
    rate: int
    calls: int
    successful: int
    failed: int
    retransmissions: int
    achieved: float
    response_ms: float
    exit_status: int
    cpu_seconds: float

    @property
    def passed(self) -> bool:
        return (
            self.exit_status == 0
            and self.failed == 0
            and self.successful == self.calls
            and self.achieved >= 0.95 * self.rate
        )

    @property
    def cpu_ms_per_call(self) -> float:
        return 1000 * self.cpu_seconds / max(1, self.successful)

    def line(self) -> str:
        verdict = "ok" if self.passed else "FAIL"
        return (
            f"  {self.rate:5d} cps asked, {self.achieved:7.1f} reached: "
            f"{self.successful}/{self.calls} calls ok, {self.failed} failed, "
            f"{self.retransmissions} retransmissions, INVITE->200 {self.response_ms:.1f} ms, "
            f"CPU {self.cpu_ms_per_call:.3f} ms/call [{verdict}]"
        )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of live processes (fields 14 and 15 of /proc/PID/stat)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def stats_rows(path: Path) -> list[dict[str, str]]:
    """SIPp's statistics: one row per second (periodic and cumulative counters)."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    return [dict(zip(rows[0], row, strict=False)) for row in rows[1:]]


def launch_rate(rows: list[dict[str, str]]) -> float:
    """Calls SIPp started per second while it was starting them (full seconds only)."""
    rates = [float(row["CallRate(P)"]) for row in rows if int(row["OutgoingCall(P)"] or 0) > 0]
    if len(rates) > 2:
        rates = rates[:-1]  # the last second is partial
    return sum(rates) / len(rates) if rates else 0.0


def milliseconds(duration: str) -> float:
    """SIPp's ``HH:MM:SS:microseconds`` as milliseconds."""
    hours, minutes, seconds, micros = (int(part) for part in duration.split(":"))
    return ((hours * 60 + minutes) * 60 + seconds) * 1000 + micros / 1000


def sipp_uas(sipp: str, port: int) -> list[str]:
    return [sipp, "-sn", "uas", "-i", "127.0.0.1", "-p", str(port), "-nostdin"]


@contextmanager
def started(
    commands: list[list[str]], env: dict[str, str] | None = None
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start processes; always stop them (by pid) when done."""
    children: list[subprocess.Popen[bytes]] = []
    try:
        for command in commands:
            children.append(
                subprocess.Popen(
                    command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
                )
            )
        yield children
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)


class Sut:
    """One system under test: started per target, its measured pids, the port SIPp calls."""

    def __init__(self, name: str, sipp: str, work: Path) -> None:
        self.name = name
        self.sipp = sipp
        self.work = work
        self.port = free_port()
        self.pids: list[int] = []

    @contextmanager
    def running(self) -> Iterator[None]:
        if self.name.startswith("gwemu"):
            loop = "asyncio" if self.name == "gwemu-asyncio" else "auto"
            command = [
                sys.executable,
                "-m",
                "gateway.cli",
                "sip",
                "uas",
                "--quiet",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--loop",
                loop,
            ]
            with started([command]) as children:
                self.pids = [children[0].pid]
                time.sleep(1.0)
                yield
        elif self.name == "sipp":
            with started([sipp_uas(self.sipp, self.port)]) as children:
                self.pids = [children[0].pid]
                time.sleep(1.0)
                yield
        else:
            downstream = free_port()
            environment = {**os.environ, "SIPLOG_LVL": "ERR"}
            b2bua = [
                sys.executable,
                "-m",
                "sippy.b2bua_simple",
                "-f",
                "-l",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-n",
                f"127.0.0.1:{downstream}",
                "-L",
                "/dev/null",
            ]
            with started([sipp_uas(self.sipp, downstream)]), started([b2bua], environment) as b2b:
                self.pids = [b2b[0].pid]
                time.sleep(1.5)
                yield


def run_step(sut: Sut, rate: int, seconds: float, hold: float) -> Step:
    calls = int(rate * seconds)
    stats = sut.work / f"{sut.name}-{rate}.csv"
    command = [
        sut.sipp,
        "-sn",
        "uac",
        f"127.0.0.1:{sut.port}",
        "-i",
        "127.0.0.1",
        "-p",
        str(free_port()),
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-d",
        str(int(hold * 1000)),
        "-nostdin",
        "-timeout",
        f"{int(seconds + hold + 15)}s",
        "-timeout_error",
        "-trace_stat",
        "-stf",
        str(stats),
        "-fd",
        "1",
    ]
    before = cpu_seconds(sut.pids)
    result = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=seconds + hold + 30
    )
    used = cpu_seconds(sut.pids) - before
    rows = stats_rows(stats)
    row = rows[-1]
    return Step(
        rate=rate,
        calls=calls,
        successful=int(row["SuccessfulCall(C)"]),
        failed=int(row["FailedCall(C)"]) + max(0, calls - int(row["OutgoingCall(C)"])),
        retransmissions=int(row["Retransmissions(C)"]),
        achieved=launch_rate(rows),
        response_ms=milliseconds(row["ResponseTime1(C)"]),
        exit_status=result.returncode,
        cpu_seconds=used,
    )


def bench(
    sut: Sut, rates: list[int], seconds: float, hold: float, deadline: float, drain: bool
) -> tuple[Step | None, str]:
    """Step the rate up until a step fails twice in a row (one retry absorbs a noisy moment on
    a shared machine); return the best passing step and notes."""
    best: Step | None = None
    clean: Step | None = None  # the best step without a single retransmission
    notes: list[str] = []
    calls = 0
    print(f"{LABELS[sut.name]}:", flush=True)
    with sut.running():
        start_cpu = cpu_seconds(sut.pids)
        for rate in rates:
            step: Step | None = None
            for _attempt in range(2):
                if time.monotonic() + seconds + hold + 10 > deadline:
                    notes.append("time budget reached")
                    print(f"  {rate:5d} cps skipped: time budget reached", flush=True)
                    step = None
                    break
                step = run_step(sut, rate, seconds, hold)
                calls += step.successful
                print(step.line(), flush=True)
                time.sleep(1.0)
                if step.passed:
                    break
            if step is None or not step.passed:
                break
            best = step
            if step.retransmissions == 0:
                clean = step
        else:
            notes.append("every rate passed: the ceiling is higher")
        if clean is not None and best is not None and clean is not best:
            notes.append(f"no retransmission up to {clean.rate} cps")
        if drain and calls:
            time.sleep(34.0)  # Timers J and L (64*T1) of the last calls' transactions
            total = 1000 * (cpu_seconds(sut.pids) - start_cpu) / calls
            notes.append(f"all steps with deferred cleanup: {total:.3f} ms/call over {calls} calls")
    return best, "; ".join(notes)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--targets",
        default="gwemu,sipp,sippy",
        help="comma-separated: gwemu, gwemu-asyncio, sipp, sippy",
    )
    parser.add_argument("--rates", default=None, help="rates to step through (all targets)")
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds of calls per step")
    parser.add_argument("--hold", type=float, default=1.0, help="call hold time (default 1 s)")
    parser.add_argument("--budget", type=float, default=300.0, help="cap on the run, seconds")
    parser.add_argument(
        "--drain", action="store_true", help="measure gwemu's deferred transaction cleanup (+34 s)"
    )
    args = parser.parse_args()
    sipp = shutil.which("sipp")
    if sipp is None:
        print("SIPp is not installed (Debian package sip-tester)", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    deadline = time.monotonic() + args.budget
    results: list[tuple[str, Step | None, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench_cps.") as work:
        for name in args.targets.split(","):
            if name not in LABELS:
                print(f"unknown target {name!r}", file=sys.stderr)
                return 2
            rates = [int(r) for r in args.rates.split(",")] if args.rates else DEFAULT_RATES[name]
            sut = Sut(name, sipp, Path(work))
            best, note = bench(
                sut,
                rates,
                args.seconds,
                args.hold,
                deadline,
                args.drain and name.startswith("gwemu"),
            )
            results.append((name, best, note))
    print(
        f"\nhighest rate with zero failed calls ({args.seconds:g} s steps, calls held "
        f"{args.hold:g} s, SIPp uac on 127.0.0.1 UDP):"
    )
    for name, best, note in results:
        figure = (
            "none passed"
            if best is None
            else (f"{best.rate:5d} cps  CPU {best.cpu_ms_per_call:.3f} ms/call")
        )
        print(f"  {LABELS[name]:30} {figure}{f'  ({note})' if note else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
