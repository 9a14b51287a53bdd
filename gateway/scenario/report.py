"""A finished run as files: the JSON report, JUnit XML, the pcap and the HTML ladder.

All of them are renderings of the same :class:`ScenarioReport` (the trace, the results and what
was derived from the trace), never a second bookkeeping.

The pcap holds every SIP, RTP, RTCP and Q.931 packet once: a message between two nodes of the
run is traced by both (``out`` at the sender, ``in`` at the receiver), so only the ``out`` is
written, and an ``in`` only when no node of the run traced sending it (an outside peer).
Timestamps are true: trace times plus the run's ``epoch`` (Unix time at trace time zero).
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ElementTree
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from gateway.pcap import LINKTYPE_ETHERNET, PcapWriter
from gateway.scenario.expect import Result, RunRecord, RunView, first_failure
from gateway.scenario.ladder_html import render_html
from gateway.scenario.ladder_text import Charset, render_ladder
from gateway.trace import TraceEvent

__all__ = [
    "ScenarioReport",
    "failure_text",
    "json_report",
    "junit_xml",
    "write_html",
    "write_json",
    "write_junit",
    "write_pcap",
]

_PACKET_PROTOCOLS: Final = frozenset({"sip", "rtp", "rtcp", "q931"})


@dataclass(slots=True)
class ScenarioReport:
    """One run of one scenario."""

    name: str
    title: str
    source: str
    mode: str  # "real" or "fast"
    columns: tuple[str, ...]
    record: RunRecord
    view: RunView
    results: list[Result]
    epoch: float  # Unix time at trace time zero
    wall_seconds: float
    repeat: int = 1
    description: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)

    @property
    def duration(self) -> float:
        return self.record.end - self.record.start

    @property
    def label(self) -> str:
        return self.name if self.repeat == 1 else f"{self.name} #{self.repeat}"

    def ladder_text(self, charset: Charset = "unicode") -> str:
        return render_ladder(self.view.arrows, self.columns, notes=self.view.notes,
                             streams=self.view.streams, start=self.record.start,
                             charset=charset)


def failure_text(report: ScenarioReport, charset: Charset = "unicode") -> str:
    """The first unmet expectation and the part of the ladder around it ('' when all held)."""
    failed = first_failure(report.results)
    if failed is None:
        return ""
    lines = [f"FAILED {report.label}: {failed.description}", f"  ({failed.key}) {failed.message}"]
    if failed.excerpt:
        lines.append("  the ladder around it:")
        excerpt = render_ladder(failed.excerpt, report.columns, start=report.record.start,
                                charset=charset, marked=failed.marked)
        lines.extend("    " + line for line in excerpt.splitlines())
    return "\n".join(lines)


# ------------------------------------------------------------------------------ JSON


def json_report(reports: Sequence[ScenarioReport]) -> dict[str, object]:
    return {
        "passed": all(r.passed for r in reports),
        "scenarios": [_scenario_record(r) for r in reports],
    }


def _scenario_record(report: ScenarioReport) -> dict[str, object]:
    start = report.record.start
    return {
        "name": report.name,
        "repeat": report.repeat,
        "title": report.title,
        "source": report.source,
        "mode": report.mode,
        "passed": report.passed,
        "started": report.epoch + start,
        "duration": round(report.duration, 6),
        "wall_seconds": round(report.wall_seconds, 3),
        "nodes": list(report.columns),
        "results": [result.as_record(start) for result in report.results],
        "ladder": [
            {"time": round(a.time - start, 6), "from": a.source, "to": a.target,
             "protocol": a.protocol, "name": a.name, "label": a.label,
             "retransmission": a.retransmission, "delivery": a.delivery,
             "cause": a.cause, "status": a.status, "sdp": list(a.codecs) if a.codecs else None}
            for a in report.view.arrows
        ],
        "rtp": [stream.as_record(start) for stream in report.view.streams],
        "problems": list(report.record.problems),
        **report.extra,
    }


def write_json(path: str | os.PathLike[str], reports: Sequence[ScenarioReport]) -> None:
    Path(path).write_text(json.dumps(json_report(reports), indent=2) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------ JUnit


def junit_xml(reports: Sequence[ScenarioReport], suite: str = "gwemu scenarios") -> str:
    """One testcase per scenario run; a failure carries the first unmet expectation."""
    failures = sum(1 for r in reports if not r.passed)
    total_time = sum(r.wall_seconds for r in reports)
    root = ElementTree.Element("testsuites", name=suite, tests=str(len(reports)),
                               failures=str(failures), time=f"{total_time:.3f}")
    suite_element = ElementTree.SubElement(
        root, "testsuite", name=suite, tests=str(len(reports)), failures=str(failures),
        errors="0", skipped="0", time=f"{total_time:.3f}")
    for report in reports:
        case = ElementTree.SubElement(suite_element, "testcase", classname="gwemu.scenario",
                                      name=report.label, time=f"{report.wall_seconds:.3f}")
        failed = first_failure(report.results)
        if failed is not None:
            element = ElementTree.SubElement(
                case, "failure", message=f"{failed.description}: {failed.message.splitlines()[0]}",
                type=failed.kind)
            element.text = failure_text(report, charset="ascii")
        out = ElementTree.SubElement(case, "system-out")
        out.text = report.ladder_text(charset="ascii")
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(path: str | os.PathLike[str], reports: Sequence[ScenarioReport]) -> None:
    Path(path).write_text(junit_xml(reports), encoding="utf-8")


# ------------------------------------------------------------------------------ pcap


def capture_events(trace: Iterable[TraceEvent],
                   ports: Mapping[int, int] = {}) -> list[TraceEvent]:
    """The events a capture shows, each packet once (see the module docstring; ``ports``:
    relay ports and the ports they stand for)."""
    events = [e for e in trace if e.protocol in _PACKET_PROTOCOLS and e.raw
              and e.local is not None and e.remote is not None
              and e.transport in ("udp", "tcp", "tls")]
    sent: Counter[tuple[str, bytes, int, int]] = Counter()
    for event in events:
        if event.direction == "out":
            assert event.local is not None and event.remote is not None
            sent[(event.protocol, event.raw, ports.get(event.local[1], event.local[1]),
                  ports.get(event.remote[1], event.remote[1]))] += 1
    kept: list[TraceEvent] = []
    for event in events:
        assert event.local is not None and event.remote is not None
        if event.direction == "out":
            kept.append(event)
        elif event.direction in ("in", "drop"):
            key = (event.protocol, event.raw, ports.get(event.remote[1], event.remote[1]),
                   ports.get(event.local[1], event.local[1]))
            if sent[key] > 0:
                sent[key] -= 1
            else:
                kept.append(event)
    kept.sort(key=lambda event: event.time)
    return kept


def write_pcap(path: str | os.PathLike[str], report: ScenarioReport) -> int:
    """Write the run's packets; returns how many were written."""
    with open(path, "wb") as stream:
        writer = PcapWriter(stream, linktype=LINKTYPE_ETHERNET, epoch=report.epoch)
        return writer.write_events(capture_events(report.record.trace, report.record.ports))


# ------------------------------------------------------------------------------ HTML


def write_html(path: str | os.PathLike[str], report: ScenarioReport) -> None:
    title = f"{report.label}: {report.title}" if report.title else report.label
    page = render_html(
        title=title, description=report.description, arrows=report.view.arrows,
        notes=report.view.notes, streams=report.view.streams, columns=report.columns,
        results=report.results, start=report.record.start, duration=report.duration)
    Path(path).write_text(page, encoding="utf-8")
