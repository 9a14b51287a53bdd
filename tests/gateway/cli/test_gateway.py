"""``gwemu gateway``: --check, --help-config, errors with file/line/key, a running gateway process
answering ``show ...`` and stopping cleanly on SIGTERM."""

from __future__ import annotations

import json
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.cli import main

REPO = Path(__file__).resolve().parents[3]
GWEMU = REPO / ".venv" / "bin" / "gwemu"
EXAMPLES = REPO / "examples"


def gwemu(*args: str) -> list[str]:
    base = [str(GWEMU)] if GWEMU.exists() else [sys.executable, "-m", "gateway.cli"]
    return [*base, *args]


def free_port(rng: random.Random) -> int:
    for _ in range(200):
        port = rng.randrange(20000, 60000)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp, \
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                tcp.bind(("127.0.0.1", port))
                udp.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port")


@pytest.mark.parametrize("name", ["gw-a.toml", "gw-b.toml", "gw-a-station.toml",
                                  "gw-b-station.toml"])
def test_check_the_examples(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", "--config", str(EXAMPLES / name), "--check"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(str(EXAMPLES / name)) and "dial-peers" in out


def test_errors_name_file_line_and_key(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "X"\n[sip]\nlisten = "127.0.0.1:5060"\n[[trunk]]\nname = "t"\n'
                   'address = "127.0.0.1:1"\nsied = "user"\n[[dial-peer.pots]]\ntag = 1\n'
                   'port = "nope"\n')
    assert main(["gateway", "--config", str(bad), "--check"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f'{bad}:7: trunk[0].sied: unknown key; did you mean "side"?',
                   f"{bad}:10: dial-peer.pots[0].port: no trunk, station or modem line named "
                   "'nope' (lines: t)"]
    bad.write_text('name = "X"\n[sip]\nlisten = "127.0.0.1:5060"\n[[dial-peer.pots]]\n'
                   'tag = 1\nport = "nope"\n')
    assert main(["gateway", "--config", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"{bad}:6: dial-peer.pots[0].port: no trunk, station or modem line named 'nope' "
        "(lines: none)")
    assert main(["gateway"]) == 2
    assert "--config is required" in capsys.readouterr().err


def test_help_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gateway", "--help-config"]) == 0
    text = capsys.readouterr().out
    assert "[[dial-peer.voip]]" in text and "session-target" in text
    assert main(["gateway", "--help-config", "--markdown"]) == 0
    assert "| `listen` | SocketAddress | required |" in capsys.readouterr().out


def test_show_needs_a_running_gateway(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port(random.Random(3))
    assert main(["gateway", "show", "calls", "--control", f"127.0.0.1:{port}"]) == 1
    assert "cannot reach the control channel" in capsys.readouterr().err
    assert main(["gateway", "show", "calls"]) == 2


def test_a_gateway_process_answers_show_and_stops_on_sigterm(tmp_path: Path) -> None:
    rng = random.Random(17)
    sip, control, trunk = free_port(rng), free_port(rng), free_port(rng)
    config = tmp_path / "gw.toml"
    config.write_text(f"""
name = "GW-T"
control = "127.0.0.1:{control}"
[sip]
listen = "127.0.0.1:{sip}"
[media]
ports = "{20000 + sip % 1000 * 2}-{20100 + sip % 1000 * 2}"
[[trunk]]
name = "pbx"
address = "127.0.0.1:{trunk}"
numbers = ["5551000"]
[[dial-peer.voip]]
tag = 7
destination-pattern = "9T"
session-target = "ipv4:127.0.0.1:5099"
""")
    pcap = tmp_path / "gw.pcap"
    process = subprocess.Popen(gwemu("gateway", "--config", str(config), "--pcap", str(pcap)),
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert ready.startswith("GW-T: ready (with media);"), ready
        assert f"SIP udp 127.0.0.1:{sip}" in ready and f"control 127.0.0.1:{control}" in ready

        def show(*args: str) -> str:
            done = subprocess.run(gwemu("gateway", "show", *args, "--config", str(config)),
                                  capture_output=True, text=True, timeout=20, cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            return done.stdout

        assert "line pbx (trunk, 30 ch): out of service" in show("status")
        assert show("calls") == "GW-T: no active calls\n"
        assert "9T" in show("dial-peers")
        assert "PSTN-Cause" in show("sip-ua-map")
        assert show("registrations") == "no registrations configured\n"
        assert json.loads(show("calls", "--json")) == {"node": "GW-T", "calls": []}
        trace = show("trace", "--brief")
        assert trace == "" or "SIP" not in trace  # no traffic yet
        via_ctl = subprocess.run(gwemu("ctl", f"127.0.0.1:{control}", "status"),
                                 capture_output=True, text=True, timeout=20)
        assert via_ctl.returncode == 0 and json.loads(via_ctl.stdout)["node"] == "GW-T"
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert out.rstrip().endswith("GW-T: stopped")
    assert f"GW-T: trace written to {pcap}" in out
    assert pcap.read_bytes()[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4",
                                     b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
