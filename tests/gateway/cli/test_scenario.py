"""``gwemu scenario list|check|run``: listings, validation errors, verdicts, exit codes and the
files a run writes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.scenario.catalog import BUILTIN_DIR


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["gw-gw", "media"]
    assert any(line.startswith("rfc3666-2.2 ") for line in lines)
    assert main(["scenario", "list", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert {"name": "gw-gw-busy", "media": False}.items() <= entries[1].items()


def test_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "check", "gw-gw", str(BUILTIN_DIR / "rfc3666-4.2.toml")]) == 0
    out = capsys.readouterr().out
    assert "gw-gw: 4 nodes, 3 actions - ok" in out and "rfc3666-4.2: 6 nodes" in out
    bad = tmp_path / "bad.toml"
    bad.write_text('[nodes.P]\nkind = "pbx"\n[nodes.P.config]\nring-timeout = -1\n')
    assert main(["scenario", "check", str(bad)]) == 2
    assert f"{bad}:4: nodes.P.config.ring-timeout: must be positive" in capsys.readouterr().err
    assert main(["scenario", "check", "no-such-scenario"]) == 2
    assert "no built-in scenario 'no-such-scenario'" in capsys.readouterr().err


def test_run_one_with_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = {kind: tmp_path / f"busy.{kind}" for kind in ("html", "json", "xml", "pcap")}
    status = main(["scenario", "run", "gw-gw-busy", "--fast", "--ascii",
                   "--html", str(files["html"]), "--json", str(files["json"]),
                   "--junit", str(files["xml"]), "--pcap", str(files["pcap"])])
    out = capsys.readouterr().out
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("scenario gw-gw-busy - ") and lines[0].endswith(
        "[fast (virtual time)]")
    assert lines[1].split()[:5] == ["time", "PBX-A", "GW-A", "GW-B", "PBX-B"]
    assert any("486 Busy Here" in line and "|<" in line for line in lines)
    assert "  ok   leg GW-A -> GW-B: status=486 answered=False cleared-by=GW-B: status 486, "\
           "not answered, cause 17, cleared by GW-B" in lines
    assert lines[-1].startswith("PASS gw-gw-busy: 6/6 expectations held")
    assert json.loads(files["json"].read_text())["passed"] is True
    suite = ElementTree.parse(files["xml"]).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0"
    assert files["html"].read_text().startswith("<!DOCTYPE html>")
    assert files["pcap"].stat().st_size > 1000


def test_a_failing_run_exits_1_and_says_why(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    text = (BUILTIN_DIR / "gw-gw-cancel.toml").read_text()
    text = text.replace('"GW-B -> GW-A 487",', '"GW-B -> GW-A 486",')
    text = text.replace('file = "nodes/', f'file = "{BUILTIN_DIR}/nodes/')
    path = tmp_path / "cancel-broken.toml"
    path.write_text(text)
    assert main(["scenario", "run", str(path), "--fast", "--quiet", "--ascii"]) == 1
    out = capsys.readouterr().out
    assert "FAILED gw-gw-cancel: ladder: 19 steps (exact)" in out
    assert "unexpected GW-B -> GW-A 487 Request Terminated at 0.950 s" in out
    assert "and step 16 of 19 not seen: GW-B -> GW-A 486" in out
    assert out.splitlines()[-1].startswith("FAIL gw-gw-cancel: ")


def test_repeat_and_out_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "out"
    assert main(["scenario", "run", "gw-gw-unknown-number", "rfc3666-2.6", "--fast",
                 "--repeat", "2", "--out", str(out_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:3] for line in lines[:4]] == [
        ["[1/4]", "PASS", "gw-gw-unknown-number"], ["[2/4]", "PASS", "gw-gw-unknown-number"],
        ["[3/4]", "PASS", "rfc3666-2.6"], ["[4/4]", "PASS", "rfc3666-2.6"]]
    assert "#2" in lines[1] and lines[4] == "4 runs: 4 passed, 0 failed"
    names = sorted(p.name for p in out_dir.iterdir())
    assert "gw-gw-unknown-number-2.pcap" in names and "rfc3666-2.6.html" in names
    assert "junit.xml" in names and "report.json" in names
    report = json.loads((out_dir / "report.json").read_text())
    assert [s["repeat"] for s in report["scenarios"]] == [1, 2, 1, 2]


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "run"]) == 2
    assert "name a scenario" in capsys.readouterr().err
    assert main(["scenario", "run", "gw-gw-busy", "gw-gw-cancel", "--html", "x.html"]) == 2
    assert "--html and --pcap write one run" in capsys.readouterr().err
