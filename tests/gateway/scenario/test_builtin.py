"""Every built-in scenario passes, and tshark reads its pcap cleanly with SIP and Q.931 (and
RTP, for the media scenarios) recognised.  Signalling-only scenarios run on the virtual clock;
the media ones in real time.  A deliberately broken expectation fails with a useful message."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.scenario.catalog import builtin_files, catalog
from gateway.scenario.report import failure_text, write_pcap
from gateway.scenario.runner import RunOptions, check_scenario, run_scenario
from gateway.scenario.schema import load_scenario

BUILTINS = [path.stem for path in builtin_files()]


def test_the_catalog() -> None:
    entries = {entry.name: entry for entry in catalog()}
    assert "gw-gw" in entries and entries["gw-gw"].scenario is not None
    assert BUILTINS[0] == "gw-gw"  # the flagship comes first in `gwemu scenario list`
    assert all(entry.problem == "" for entry in entries.values())
    variants = {"busy", "no-answer", "cancel", "callee-clears", "unknown-number", "early-media",
                "codec-mismatch"}
    assert {f"gw-gw-{variant}" for variant in variants} <= set(entries)


@pytest.mark.parametrize("name", BUILTINS)
def test_builtin_scenario_passes(name: str, tmp_path: Path,
                                 tshark: Callable[[Any], Any]) -> None:
    path = next(p for p in builtin_files() if p.stem == name)
    scenario = load_scenario(path)
    assert scenario.title and scenario.reference
    check_scenario(scenario)
    report = run_scenario(scenario, RunOptions(fast=True, seed=7))
    assert report.passed, failure_text(report, "ascii")
    assert report.mode == ("real" if scenario.media else "fast")
    pcap = tmp_path / f"{name}.pcap"
    write_pcap(pcap, report)
    verdict = tshark(pcap)
    assert verdict.flagged == [], f"tshark flags frames {verdict.flagged}"
    sip = sum(1 for a in report.view.arrows if a.protocol == "sip")
    q931 = sum(1 for a in report.view.arrows if a.protocol == "q931")
    assert verdict.count("sip") == sip > 0
    assert verdict.count("q931") == q931 > 0
    if scenario.media:
        assert verdict.count("rtp") > 100  # the SIP leg's RTP, its SDP being in the capture


def test_a_broken_expectation_fails_with_a_useful_message() -> None:
    path = next(p for p in builtin_files() if p.stem == "gw-gw-busy")
    scenario = load_scenario(path)
    leg = scenario.expect.leg[0]
    broken = dataclasses.replace(
        scenario, expect=dataclasses.replace(
            scenario.expect, leg=(dataclasses.replace(leg, status=404), *scenario.expect.leg[1:])))
    report = run_scenario(broken, RunOptions(fast=True))
    assert not report.passed
    failed = [r for r in report.results if not r.passed]
    assert [r.key for r in failed] == ["expect.leg[0]"]
    text = failure_text(report, "ascii")
    assert text.splitlines()[:2] == [
        "FAILED gw-gw-busy: leg GW-A -> GW-B: status=404 answered=False cleared-by=GW-B",
        "  (expect.leg[0]) GW-A -> GW-B: final status 486, expected 404",
    ]
    assert "the ladder around it:" in text
    marked = [line for line in text.splitlines() if line.lstrip().startswith(">")]
    assert len(marked) == 1 and "486 Busy Here" in marked[0]


def test_a_dns_session_target_resolves_on_the_virtual_clock(tmp_path: Path) -> None:
    """GW-A reaches GW-B through ``dns:localhost:PORT``: the run relocates that port with the
    others, and the lookup (a thread) is not overtaken by the fast run's clock."""
    builtin = next(p for p in builtin_files() if p.stem == "gw-gw-busy")
    nodes = builtin.parent / "nodes"
    text = builtin.read_text().replace('file = "nodes/', f'file = "{nodes}/')
    text = text.replace("[nodes.GW-B]", """[[nodes.GW-A.override.dial-peer.voip]]
tag = 100
destination-pattern = "5552..."
incoming-called-number = "55510.."
session-target = "dns:localhost:38120"
codecs = ["g711ulaw", "g711alaw"]
dtmf-relay = ["rtp-nte"]

[nodes.GW-B]""", 1)
    path = tmp_path / "busy-by-name.toml"
    path.write_text(text)
    report = run_scenario(load_scenario(path), RunOptions(fast=True, seed=7))
    assert report.mode == "fast"
    assert report.passed, failure_text(report, "ascii")
