"""Renderings of one synthetic flow-1 run: the terminal ladder (whole and live), the HTML
page, the JSON report, JUnit XML and the pcap, which tshark must read cleanly."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from gateway.config import load_toml
from gateway.pcap import read_pcap
from gateway.scenario.expect import NodeState, RunRecord, RunView, evaluate
from gateway.scenario.ladder import Note
from gateway.scenario.ladder_html import render_html
from gateway.scenario.ladder_text import LiveLadder, render_ladder
from gateway.scenario.report import (
    ScenarioReport,
    capture_events,
    failure_text,
    json_report,
    junit_xml,
    write_html,
    write_pcap,
)
from gateway.scenario.schema import Expectations

COLUMNS = ("PBX-A", "GW-A", "GW-B", "PBX-B")


def report_of(tracer: Any, expect: str = "", name: str = "flow") -> ScenarioReport:
    record = RunRecord(name, 0.0, tracer.time + 0.5, tuple(tracer.events),
                       final={"GW-A": NodeState("GW-A", "gateway")})
    view = RunView(record)
    results = evaluate(record, load_toml(Expectations, expect or "idle = true"), view)
    return ScenarioReport(name=name, title="Flow 1", source="flow.toml", mode="fast",
                          columns=COLUMNS, record=record, view=view, results=results,
                          epoch=1_700_000_000.0, wall_seconds=0.25)


def test_the_terminal_ladder(flow: Callable[..., Any]) -> None:
    report = report_of(flow())
    text = report.ladder_text()
    lines = text.splitlines()
    assert lines[0].split() == ["time", *COLUMNS]
    assert re.search(r"│─+ SETUP ─+▶│", lines[1])
    assert "◀" in lines[2] and "CALL PROCEEDING" in lines[2]
    invite = next(line for line in lines if "INVITE" in line)
    assert "INVITE (SDP PCMU,PCMA,101)" in invite
    assert any("═" in line and "RTP PCMU" in line for line in lines)  # the voice path
    assert any("DISCONNECT cause=16" in line for line in lines)
    ascii_text = report.ladder_text("ascii")
    assert ascii_text.isascii() and "|--" in ascii_text and "-->|" in ascii_text


def test_long_labels_go_right_and_notes_sit_on_their_column(flow: Callable[..., Any]) -> None:
    view = RunView(report_of(flow()).record)
    note = Note(0.0105, "GW-B", "q931", "T303 expired")
    text = render_ladder(view.arrows, COLUMNS, notes=[note], width=16, charset="ascii")
    invite = next(line for line in text.splitlines() if "INVITE" in line)
    assert invite.rstrip().endswith("INVITE (SDP PCMU,PCMA,101)")
    assert re.search(r"\|\s+\|\s+\|  \* T303 expired", text)


def test_the_live_ladder_prints_as_events_come(flow: Callable[..., Any]) -> None:
    tracer = flow()
    out = io.StringIO()
    live = LiveLadder(COLUMNS, out, charset="ascii")
    live.feed(tracer.events[0])  # before begin(): the startup is not part of the ladder
    live.begin(0.0)
    for event in tracer.events:
        live.feed(event)
    live.finish()
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["time", *COLUMNS]
    assert sum("SETUP" in line for line in lines) == 2
    assert sum("RTP" in line for line in lines) == 1  # one voice line per pair of ports
    assert "RELEASE COMPLETE" in lines[-1]


def test_failure_text_shows_the_first_unmet_expectation(flow: Callable[..., Any]) -> None:
    report = report_of(flow(), '[ladder]\nsteps = ["GW-B -> GW-A 180", "GW-A -> PBX-A BYE"]')
    assert not report.passed
    text = failure_text(report, "ascii")
    assert text.startswith("FAILED flow: ladder: 2 steps (subsequence)\n  (expect.ladder) "
                           "step 2 of 2 not seen: GW-A -> PBX-A BYE")
    assert "the ladder around it:" in text and "180 Ringing" in text
    assert failure_text(report_of(flow())) == ""


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


def test_the_html_page_is_self_contained(flow: Callable[..., Any], tmp_path: Path) -> None:
    tracer = flow()
    # A message whose text would end a script element early must not.
    tracer.send("sip", "GW-A", "GW-B", b"MESSAGE sip:x SIP/2.0\r\nX: </script><b>\r\n\r\n")
    report = report_of(tracer, '[[rtp]]\nbetween = "GW-A <-> GW-B"\ncodec = "PCMA"')
    path = tmp_path / "flow.html"
    write_html(path, report)
    page = path.read_text()
    parser = _Collect()
    parser.feed(page)
    for tag, attrs in parser.tags:
        assert not (attrs.get("src") or "").strip(), tag  # nothing loaded from elsewhere
        assert tag != "link"
    messages = json.loads(parser.scripts[0])
    assert len(messages) == len(report.view.arrows)
    assert messages[2]["label"] == "INVITE (SDP PCMU,PCMA,101)"
    assert messages[2]["text"].startswith("INVITE sip:5552000@127.0.0.1:40120 SIP/2.0\r\n")
    assert "</script><b>" in messages[-1]["text"]
    groups = [attrs for tag, attrs in parser.tags if tag == "g" and attrs.get("data-index")]
    assert len(groups) == len(report.view.arrows)
    assert "<title>INVITE sip:5552000@127.0.0.1:40120 SIP/2.0" in page  # hover text
    assert "0x00001111" in page and "PCMU" in page  # the stream table
    assert "FAIL" in page and "carries PCMU, not PCMA" in page
    assert render_html(title="t", description="", arrows=[], notes=[], streams=[],
                       columns=COLUMNS, results=[], start=0.0, duration=0.0).count("<svg") == 1


def test_json_and_junit(flow: Callable[..., Any]) -> None:
    good = report_of(flow(), name="good")
    bad = report_of(flow(), '[[leg]]\nbetween = "GW-A -> GW-B"\nstatus = 486', name="bad")
    document = json_report([good, bad])
    assert document["passed"] is False
    scenarios = document["scenarios"]
    assert isinstance(scenarios, list)
    first = scenarios[0]
    assert first["name"] == "good" and first["passed"] is True
    assert first["ladder"][2]["sdp"] == ["PCMU", "PCMA", "101"]
    assert first["rtp"][0]["loss_percent"] == 0.0 and first["started"] == 1_700_000_000.0
    json.dumps(document)  # all of it serialisable
    root = ElementTree.fromstring(junit_xml([good, bad]))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["good", "bad"]
    assert cases[0].find("failure") is None
    failure = cases[1].find("failure")
    assert failure is not None
    assert failure.get("message") == ("leg GW-A -> GW-B: status=486: GW-A -> GW-B: final "
                                      "status 200, expected 486")
    assert "the ladder around it" in (failure.text or "")
    assert "INVITE" in (cases[0].findtext("system-out") or "")


def test_the_pcap_holds_each_packet_once(flow: Callable[..., Any], tmp_path: Path,
                                         tshark: Callable[[Any], Any]) -> None:
    tracer = flow()
    report = report_of(tracer)
    captured = capture_events(tracer.events)
    assert len(captured) == len(tracer.events) // 2  # every message was traced twice
    path = tmp_path / "flow.pcap"
    assert write_pcap(path, report) == len(captured)
    records = list(read_pcap(path.read_bytes()))
    assert records[0].time >= 1_700_000_000.0
    verdict = tshark(path)
    assert verdict.flagged == []
    assert verdict.count("sip") == 7 and verdict.count("q931") == 16
    assert verdict.count("rtp") == 100  # decoded as RTP thanks to the SDP in the capture
