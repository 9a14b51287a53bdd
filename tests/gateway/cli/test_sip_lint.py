from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import main

REPO = Path(__file__).resolve().parents[3]
GWEMU = REPO / ".venv" / "bin" / "gwemu"


def lint(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str], str]:
    status = main(["sip", "lint", *args])
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err


def test_a_valid_request(capsys: pytest.CaptureFixture[str], corpora: Path) -> None:
    path = corpora / "rfc4475-torture" / "dat" / "wsinv.dat"
    status, lines, _ = lint(capsys, str(path))
    assert status == 0
    assert lines == [
        f"{path}: INVITE sip:vivekg@chair-dnrc.example.com;unknownparam "
        "Call-ID=wsinv.ndaksdj@192.0.2.1 CSeq=9 INVITE Via=3 body=150B"
    ]


def test_responses_and_drops(capsys: pytest.CaptureFixture[str], corpora: Path) -> None:
    base = corpora / "rfc4475-torture" / "dat"
    status, lines, _ = lint(capsys, str(base / "noreason.dat"), str(base / "bigcode.dat"))
    assert status == 1
    assert lines[0].endswith(
        "noreason.dat: 100 Call-ID=noreason.asndj203insdf99223ndf CSeq=35 INVITE Via=1 body=0B"
    )
    assert lines[1].endswith(
        "bigcode.dat: dropped: Status-Line: status code '4294967301' is not 3 digits"
    )


def test_what_a_uas_answers(capsys: pytest.CaptureFixture[str], corpora: Path) -> None:
    base = corpora / "rfc4475-torture" / "dat"
    status, lines, _ = lint(
        capsys, str(base / "badvers.dat"), str(base / "bext01.dat"), str(base / "dblreq.dat")
    )
    assert status == 1  # badvers is invalid
    assert lines[0].endswith("badvers.dat: 505 Version Not Supported: unsupported version SIP/7.0")
    assert lines[1].endswith(
        "=> 420 Bad Extension: unsupported extension nothingSupportsThis, "
        "nothingSupportsThisEither; Unsupported: nothingSupportsThis, nothingSupportsThisEither"
    )
    assert "(+450 trailing octets ignored)" in lines[2] and "=> 405 Method Not Allowed" in lines[2]


def test_capability_options(capsys: pytest.CaptureFixture[str], corpora: Path) -> None:
    path = corpora / "rfc4475-torture" / "dat" / "bext01.dat"
    status, lines, _ = lint(
        capsys, "--supported", "nothingSupportsThis,nothingSupportsThisEither", str(path)
    )
    assert status == 0 and "=>" not in lines[0]
    register = corpora / "rfc4475-torture" / "dat" / "cparam01.dat"
    status, lines, _ = lint(capsys, "--methods", "REGISTER", str(register))
    assert status == 0 and "=>" not in lines[0]


def test_every_torture_file_gets_one_line(
    capsys: pytest.CaptureFixture[str], corpora: Path
) -> None:
    base = corpora / "rfc4475-torture"
    entries = json.loads((base / "index.json").read_text())
    paths = [str(base / entry["file"]) for entry in entries]
    status, lines, _ = lint(capsys, *paths)
    assert status == 1 and len(lines) == len(paths)
    for entry, line in zip(entries, lines, strict=True):
        valid = not line.split(": ", 1)[1].startswith(("4", "5", "dropped"))
        if entry["verdict"] == "valid":
            assert valid, line
        elif entry["verdict"] in ("invalid", "invalid-drop"):
            assert not valid, line


def test_stdin_and_unreadable_files(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, corpora: Path
) -> None:
    data = (corpora / "rfc4475-torture" / "dat" / "zeromf.dat").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    status, lines, _ = lint(capsys, "-")
    assert status == 0 and lines[0].startswith("<stdin>: OPTIONS sip:user@example.com ")
    status, lines, err = lint(capsys, "/nonexistent/message.sip")
    assert status == 2 and lines == []
    assert err.strip() == "/nonexistent/message.sip: cannot read: No such file or directory"


def test_empty_and_keepalive_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    empty = tmp_path / "empty.sip"
    empty.write_bytes(b"")
    keepalive = tmp_path / "ping.sip"
    keepalive.write_bytes(b"\r\n\r\n")
    status, lines, _ = lint(capsys, str(empty), str(keepalive))
    assert status == 1
    assert lines == [f"{empty}: empty file", f"{keepalive}: keep-alive (CR/LF only), no message"]


def test_sip_without_subcommand_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sip"]) == 2
    assert "lint" in capsys.readouterr().out


def test_the_installed_console_script(corpora: Path) -> None:
    if not GWEMU.exists():
        pytest.fail(f"console script missing: {GWEMU} (pip install -e .)")
    base = corpora / "rfc4475-torture" / "dat"
    done = subprocess.run(
        [str(GWEMU), "sip", "lint", str(base / "esc01.dat"), str(base / "ltgtruri.dat")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    out = done.stdout.splitlines()
    assert out[0].endswith(
        "esc01.dat: INVITE sip:sips%3Auser%40example.com@example.net "
        "Call-ID=esc01.239409asdfakjkn23onasd0-3234 CSeq=234234 INVITE Via=1 body=150B"
    )
    assert out[1].endswith(
        "ltgtruri.dat: 400 Bad Request: Request-URI enclosed in '<>' (RFC 3261 8.1.1.1)"
    )
