"""The leg diagrams are drawn from the same tables the machines run."""

from __future__ import annotations

import runpy
import sys

from gateway.calls.diagram import LEG_TABLES, leg_diagrams


def test_every_state_and_trigger_is_drawn():
    diagrams = leg_diagrams()
    assert set(diagrams) == {"line-leg", "sip-leg"}
    for name, (states, transitions) in LEG_TABLES.items():
        source = diagrams[name]
        assert source.lstrip("-\n").startswith(name) or "stateDiagram-v2" in source
        for state in states:
            assert f'state "{state}" as {state}' in source
        for row in transitions:
            assert row["trigger"] in source
    assert "[bye_wanted]" in diagrams["sip-leg"]


def test_script_writes_the_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["diagrams.py", str(tmp_path)])
    try:
        runpy.run_path("scripts/diagrams.py", run_name="__main__")
    except SystemExit as exit_:
        assert exit_.code == 0
    assert (tmp_path / "line-leg.mmd").read_text().count("-->") > 20
    assert (tmp_path / "sip-leg.mmd").exists()
