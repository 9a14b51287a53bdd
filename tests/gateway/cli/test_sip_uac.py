"""``gwemu sip uac``: calls placed against ``gwemu sip uas``, a summary, the exit status."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time

import pytest

from gateway.cli import main
from gateway.cli._sip_uac import target_of


def start_uas(*options: str, listen: str = "127.0.0.1:0") -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "sip", "uas", "--listen", listen, *options],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    return process, banner.split()[3].partition(":")[2]


def closed_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_calls_complete_and_the_summary_says_so(
    transport: str, capsys: pytest.CaptureFixture[str]
) -> None:
    process, address = start_uas("--quiet", "--transport", transport)
    try:
        status = main(
            [
                "sip",
                "uac",
                address,
                "--calls",
                "4",
                "--rate",
                "40",
                "--hold",
                "0.05",
                "--transport",
                transport,
                "--verbose",
            ]
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert out[-1] == "calls: 4 attempted, 4 answered, 4 completed, 0 failed"
    assert sum(1 for line in out if line.startswith("call ") and " completed " in line) == 4


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_an_ipv6_target_is_called_from_an_ipv6_address_without_local(
    transport: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --local: the caller takes the address it reaches the target from (::1 here), not
    127.0.0.1 -- over UDP an IPv4 socket cannot even send to ::1."""
    process, address = start_uas("--transport", transport, listen="[::1]:0")
    try:
        status = main(
            ["sip", "uac", address, "--calls", "1", "--hold", "0.05", "--transport", transport]
        )
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
    assert status == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "calls: 1 attempted, 1 answered, 1 completed, 0 failed"
    )
    (call,) = [line for line in out.splitlines() if line.startswith("call ")]
    assert call.startswith("call 1 sip:gwemu@[::1] 200 BYE from the caller"), call


def test_failures_are_counted_by_status_and_the_exit_status_is_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Nobody listens: Timer B (64*T1, here 64*0.01 s) fails both calls with 408.
    status = main(
        [
            "sip",
            "uac",
            f"127.0.0.1:{closed_port(socket.SOCK_DGRAM)}",
            "--calls",
            "2",
            "--rate",
            "100",
            "--t1",
            "0.01",
        ]
    )
    out = capsys.readouterr().out.splitlines()
    assert status == 1
    assert out == ["calls: 2 attempted, 0 answered, 0 completed, 2 failed", "failures: 408 x2"]
    status = main(
        ["sip", "uac", f"127.0.0.1:{closed_port(socket.SOCK_STREAM)}", "--transport", "tcp"]
    )
    out = capsys.readouterr().out.splitlines()
    assert status == 1 and out[-1] == "failures: 503 x1"


def test_sigint_hangs_up_and_reports() -> None:
    process, address = start_uas("--quiet")
    try:
        uac = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway.cli",
                "sip",
                "uac",
                address,
                "--calls",
                "3",
                "--rate",
                "50",
                "--hold",
                "60",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)
        uac.send_signal(signal.SIGINT)
        out, _ = uac.communicate(timeout=15)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    assert uac.returncode == 1
    assert out.splitlines()[-1] == "calls: 3 attempted, 3 answered, 3 completed, 0 failed"


def test_targets_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    uri, hop = target_of("[::1]:5070", "svc", "udp")
    assert uri == "sip:svc@[::1]:5070" and hop.address == ("::1", 5070)
    uri, hop = target_of("sip:bob@127.0.0.1;transport=tcp", "svc", "tcp")
    assert uri == "sip:bob@127.0.0.1;transport=tcp" and hop.address == ("127.0.0.1", 5060)
    assert main(["sip", "uac", "127.0.0.1:70000"]) == 2
    assert main(["sip", "uac", "127.0.0.1", "--calls", "0"]) == 2
    assert "gwemu sip uac:" in capsys.readouterr().err
