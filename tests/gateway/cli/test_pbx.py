"""``gwemu pbx``: the example config runs as its own process, is driven with ``gwemu pbx ctl``
and stops cleanly on SIGTERM; configuration errors name file, line and key."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.cli import main

REPO = Path(__file__).resolve().parents[3]
GWEMU = REPO / ".venv" / "bin" / "gwemu"
EXAMPLE = REPO / "examples" / "pbx-a.toml"


def gwemu() -> list[str]:
    return [str(GWEMU)] if GWEMU.exists() else [sys.executable, "-m", "gateway.cli"]


def ctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*gwemu(), "pbx", "ctl", "--config", str(EXAMPLE), *args],
                          capture_output=True, text=True, timeout=20, cwd=REPO)


def wait_for_events(predicate: object, timeout: float = 10.0) -> list[dict[str, object]]:
    deadline = time.monotonic() + timeout
    while True:
        done = ctl("--json", "events")
        assert done.returncode == 0, done.stderr
        events = json.loads(done.stdout)["events"]
        if predicate(events):  # type: ignore[operator]
            return events  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, events
        time.sleep(0.2)


def test_run_drive_and_stop_the_example() -> None:
    process = subprocess.Popen([*gwemu(), "pbx", "--config", str(EXAMPLE)], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        assert "PBX-A: ready (with media)" in ready, ready + (process.stderr.read()
                                                              if process.poll() else "")
        assert "trunk gw-a listening on 127.0.0.1:38101" in ready
        assert "control 127.0.0.1:38190" in ready
        done = ctl("dial", "1000", "1002")  # Carol is always busy
        assert (done.returncode, done.stdout.strip()) == (0, "ok")
        events = wait_for_events(lambda events: any(
            e["kind"] == "cleared" and e.get("phone") == "1000" for e in events))
        cleared = [e for e in events if e["kind"] == "cleared"]
        assert cleared[0]["cause"] == 17
        status = ctl("status")
        assert status.returncode == 0 and json.loads(status.stdout)["name"] == "PBX-A"
        text = ctl("events", "0", "1000")
        assert "phone 1000: cleared cause 17" in text.stdout
        bad = ctl("answer", "1001")
        assert bad.returncode == 1 and "not ringing" in bad.stderr
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "phone 1000: dial 1 [dtmf]" in out
    assert "phone 1000: cleared cause 17 (user busy)" in out
    assert out.rstrip().endswith("PBX-A: stopped")


def test_configuration_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "X"\n[[trunk]]\nname = "t"\naddress = "127.0.0.1:1"\n'
                   'intreface = "e1"\n')
    assert main(["pbx", "check", "--config", str(bad)]) == 2
    assert f'{bad}:5: trunk[0].intreface: unknown key; did you mean "interface"?' in \
        capsys.readouterr().err
    assert main(["pbx", "--config", str(bad)]) == 2
    assert main(["pbx", "check", "--config", str(EXAMPLE)]) == 0
    assert "PBX-A: 3 extensions, 1 trunks" in capsys.readouterr().out
    assert main(["pbx", "ctl", "status"]) == 2
    assert "give --control" in capsys.readouterr().err
    assert main(["ctl", "127.0.0.1:9", "status", "--timeout", "1"]) == 1
    assert "cannot reach" in capsys.readouterr().err
