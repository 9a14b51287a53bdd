"""``gwemu scenario list|run|check``: scripted scenario runs (docs/scenarios.md).

``run`` prints the ladder as the scenario goes, then every expectation with its verdict; on a
failure, the first unmet expectation and the part of the ladder around it.  The exit status is
0 only when every expectation of every run held (1 otherwise, 2 for unusable input).  With
several runs (``--all``, ``--repeat``, several names) a progress line per run replaces the live
ladder.  Files: ``--html``, ``--json``, ``--junit``, ``--pcap`` (``--html``/``--pcap`` for a
single run), or ``--out DIR`` for all of them, per run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from gateway.config import ConfigErrors
from gateway.scenario.catalog import catalog, find_scenario
from gateway.scenario.ladder_text import Charset
from gateway.scenario.report import (
    ScenarioReport,
    failure_text,
    write_html,
    write_json,
    write_junit,
    write_pcap,
)
from gateway.scenario.runner import RunOptions, check_scenario, run_scenario
from gateway.scenario.schema import Scenario, load_scenario


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "scenario", help="run scripted scenarios (built-in reference flows or your own files)",
        description="Scripted scenario runs: ladders, expectations, pcaps and reports.")
    commands = parser.add_subparsers(dest="scenario_command", metavar="SUBCOMMAND")

    listing = commands.add_parser("list", help="list the built-in scenarios")
    listing.add_argument("--json", action="store_true", help="as JSON")
    listing.set_defaults(handler=_list)

    check = commands.add_parser("check", help="validate scenario files (and their node configs)")
    check.add_argument("scenarios", nargs="+", metavar="NAME|FILE")
    check.set_defaults(handler=_check)

    run = commands.add_parser("run", help="run scenarios", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("scenarios", nargs="*", metavar="NAME|FILE",
                     help="built-in scenario names or scenario files")
    run.add_argument("--all", action="store_true", help="run every built-in scenario")
    run.add_argument("--fast", action="store_true",
                     help="virtual time for signalling-only scenarios (media ones run in real "
                          "time)")
    run.add_argument("--repeat", type=int, default=1, metavar="N", help="run each N times")
    run.add_argument("--out", metavar="DIR",
                     help="write NAME.html, .json, .xml (JUnit) and .pcap per run, and "
                          "report.json / junit.xml for all")
    run.add_argument("--html", metavar="FILE", help="HTML ladder (single run)")
    run.add_argument("--json", metavar="FILE", help="JSON report")
    run.add_argument("--junit", metavar="FILE", help="JUnit XML (one testcase per run)")
    run.add_argument("--pcap", metavar="FILE", help="pcap of the run's SIP, RTP and Q.931")
    run.add_argument("--quiet", "-q", action="store_true", help="verdicts only")
    run.add_argument("--ladder", action="store_true",
                     help="print the ladder of each run even when running several")
    run.add_argument("--ascii", action="store_true", help="draw the ladder with ASCII only")
    run.add_argument("--seed", type=int, default=None, help="seed every random choice")
    run.set_defaults(handler=_run)
    parser.set_defaults(handler=lambda _args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _error(text: str) -> int:
    print(f"gwemu scenario: {text}", file=sys.stderr)
    return 2


# ------------------------------------------------------------------------------ list / check


def _list(args: argparse.Namespace) -> int:
    entries = catalog()
    if args.json:
        print(json.dumps([
            {"name": e.name, "title": e.title, "file": str(e.path),
             "media": e.scenario.media if e.scenario else None,
             "reference": e.scenario.reference if e.scenario else None}
            for e in entries], indent=2))
        return 0
    width = max((len(e.name) for e in entries), default=4)
    for entry in entries:
        media = "media" if entry.scenario is not None and entry.scenario.media else "     "
        print(f"{entry.name:<{width}}  {media}  {entry.title}")
    return 0


def _load(name: str) -> Scenario:
    return load_scenario(find_scenario(name))


def _check(args: argparse.Namespace) -> int:
    status = 0
    for name in args.scenarios:
        try:
            scenario = _load(name)
            configs = check_scenario(scenario)
        except LookupError as exc:
            print(f"gwemu scenario: {exc.args[0]}", file=sys.stderr)
            status = 2
            continue
        except ConfigErrors as exc:
            print(exc.render(), file=sys.stderr)
            status = 2
            continue
        print(f"{scenario.source}: {scenario.name}: {len(configs)} nodes, "
              f"{len(scenario.action)} actions - ok")
    return status


# ------------------------------------------------------------------------------ run


def _run(args: argparse.Namespace) -> int:
    names = list(args.scenarios)
    if args.all:
        names += [entry.name for entry in catalog()]
    if not names:
        return _error("name a scenario (gwemu scenario list), a file, or use --all")
    if args.repeat < 1:
        return _error("--repeat takes a positive count")
    scenarios: list[Scenario] = []
    for name in names:
        try:
            scenario = _load(name)
            check_scenario(scenario)
        except LookupError as exc:
            return _error(exc.args[0])
        except ConfigErrors as exc:
            print(exc.render(), file=sys.stderr)
            return 2
        scenarios.append(scenario)
    total = len(scenarios) * args.repeat
    if total > 1 and (args.html or args.pcap):
        return _error("--html and --pcap write one run; use --out DIR for several runs")
    charset: Charset = "ascii" if args.ascii or not _can_draw(sys.stdout) else "unicode"
    single = total == 1
    reports: list[ScenarioReport] = []
    count = 0
    for scenario in scenarios:
        for repeat in range(1, args.repeat + 1):
            count += 1
            live = sys.stdout if (single or args.ladder) and not args.quiet else None
            if single and not args.quiet:
                _announce(scenario, args.fast)
            elif not single:
                _progress_start(count, total, scenario, repeat, args.repeat)
            seed = None if args.seed is None else args.seed + repeat - 1
            report = run_scenario(scenario, RunOptions(fast=args.fast, live=live,
                                                       charset=charset, seed=seed,
                                                       repeat=repeat))
            reports.append(report)
            if single:
                _print_verdicts(report, charset, args.quiet)
            else:
                _progress_end(count, total, report, charset)
            if args.out:
                _write_run_files(Path(args.out), report)
    if not single:
        passed = sum(1 for r in reports if r.passed)
        print(f"{len(reports)} runs: {passed} passed, {len(reports) - passed} failed")
    _write_files(args, reports)
    return 0 if all(r.passed for r in reports) else 1


def _can_draw(stream: TextIO) -> bool:
    encoding = (getattr(stream, "encoding", None) or "").lower()
    return encoding.replace("-", "") in ("utf8", "utf16", "utf32")


def _announce(scenario: Scenario, fast: bool) -> None:
    mode = "fast (virtual time)" if fast and not scenario.media else "real time"
    if fast and scenario.media:
        mode += ": it needs media"
    title = f" - {scenario.title}" if scenario.title else ""
    print(f"scenario {scenario.name}{title} [{mode}]", flush=True)


def _progress_start(count: int, total: int, scenario: Scenario, repeat: int,
                    repeats: int) -> None:
    if sys.stdout.isatty():
        label = scenario.name if repeats == 1 else f"{scenario.name} #{repeat}"
        print(f"[{count}/{total}] {label} ...", end="\r", flush=True)


def _progress_end(count: int, total: int, report: ScenarioReport, charset: Charset) -> None:
    verdict = "PASS" if report.passed else "FAIL"
    width = len(str(total))
    line = (f"[{count:>{width}}/{total}] {verdict} {report.label:<28} {report.mode:<4} "
            f"{report.wall_seconds:7.2f} s  ({report.duration:.1f} s scenario time)")
    clear = "\x1b[K" if sys.stdout.isatty() else ""  # erase the rest of the progress line
    print(line + clear, flush=True)
    if not report.passed:
        print(_indent(failure_text(report, charset)), flush=True)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _print_verdicts(report: ScenarioReport, charset: Charset, quiet: bool) -> None:
    if not quiet:
        print()
        for result in report.results:
            mark = "ok  " if result.passed else "FAIL"
            first = result.message.splitlines()[0] if result.message else ""
            print(f"  {mark} {result.description}" + (f": {first}" if first else ""))
        print()
    if not report.passed:
        print(failure_text(report, charset))
    held = sum(1 for r in report.results if r.passed)
    verdict = "PASS" if report.passed else "FAIL"
    print(f"{verdict} {report.label}: {held}/{len(report.results)} expectations held "
          f"({report.duration:.2f} s scenario time, {report.wall_seconds:.2f} s, {report.mode})",
          flush=True)


def _write_run_files(directory: Path, report: ScenarioReport) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    stem = report.name if report.repeat == 1 else f"{report.name}-{report.repeat}"
    write_html(directory / f"{stem}.html", report)
    write_json(directory / f"{stem}.json", [report])
    write_junit(directory / f"{stem}.xml", [report])
    write_pcap(directory / f"{stem}.pcap", report)


def _write_files(args: argparse.Namespace, reports: list[ScenarioReport]) -> None:
    if args.out:
        directory = Path(args.out)
        write_json(directory / "report.json", reports)
        write_junit(directory / "junit.xml", reports)
        print(f"reports written to {directory}/")
    if args.json:
        write_json(args.json, reports)
    if args.junit:
        write_junit(args.junit, reports)
    if args.html:
        write_html(args.html, reports[0])
    if args.pcap:
        write_pcap(args.pcap, reports[0])
