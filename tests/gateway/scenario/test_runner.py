"""The runner on two PBX simulators back to back (no gateway involved): the timeline, fast and
real time, media expectations from real RTP, a broken link, and what a run says when it cannot
go on as written."""

from __future__ import annotations

import time
from pathlib import Path

from gateway.scenario.report import failure_text
from gateway.scenario.runner import RunOptions, run_scenario
from gateway.scenario.schema import load_scenario

PAIR = """
timeout = "{timeout}"
media = {media}

[nodes.PBX-A]
kind = "pbx"
[nodes.PBX-A.config]
ring-cadence = [300, 300]
[[nodes.PBX-A.config.extension]]
number = "1000"
dial-delay = 0.1
play = "tone:1004"
detect = [697]
hangup-on-clear = 0.2
[[nodes.PBX-A.config.trunk]]
name = "t"
address = "127.0.0.1:38101"
mode = "connect"
side = "user"
interface = "e1"
channels = 2
rtp-local = "127.0.0.1:38200"
rtp-remote = "127.0.0.1:38300"
[[nodes.PBX-A.config.route]]
pattern = "2XXX"
trunk = "t"

[nodes.PBX-B]
kind = "pbx"
[nodes.PBX-B.config]
ring-cadence = [300, 300]
ring-timeout = 40.0
[[nodes.PBX-B.config.extension]]
number = "2000"
answer-after-rings = 1
play = "tone:697"
detect = [1004]
hangup-on-clear = 0.2
[[nodes.PBX-B.config.extension]]
number = "2002"
[[nodes.PBX-B.config.trunk]]
name = "t"
address = "127.0.0.1:38101"
mode = "listen"
side = "network"
interface = "e1"
channels = 2
rtp-local = "127.0.0.1:38300"
rtp-remote = "127.0.0.1:38200"
"""


def scenario_file(tmp_path: Path, body: str, *, timeout: str = "90s", media: bool = False,
                  name: str = "pair.toml") -> Path:
    path = tmp_path / name
    path.write_text(PAIR.format(timeout=timeout, media=str(media).lower()) + body)
    return path


NO_ANSWER = """
[[action]]
phone = "PBX-A/1000"
do = "dial"
number = "2002"

[[action]]
on = "PBX-A/1000 cleared"
delay = "0.5s"
phone = "PBX-A/1000"
do = "hang-up"

[expect.ladder]
match = "exact"
steps = ["PBX-A -> PBX-B SETUP called=2002", "PBX-B -> PBX-A CALL PROC",
         "PBX-B -> PBX-A ALERTING", "PBX-B -> PBX-A DISCONNECT cause=19",
         "PBX-A -> PBX-B RELEASE", "PBX-B -> PBX-A RELEASE COMPLETE"]

[[expect.timing]]
name = "PBX-B's ring timeout"
from = "PBX-B -> PBX-A ALERTING"
to = "PBX-B -> PBX-A DISCONNECT"
min = "39.9s"
max = "40.1s"
"""


def test_fast_mode_skips_a_40_second_ring(tmp_path: Path) -> None:
    scenario = load_scenario(scenario_file(tmp_path, NO_ANSWER))
    wall = time.monotonic()
    report = run_scenario(scenario, RunOptions(fast=True, seed=1))
    assert time.monotonic() - wall < 1.0
    assert report.passed, failure_text(report)
    assert report.mode == "fast" and report.duration > 40.0
    assert [r.kind for r in report.results] == ["ladder", "timing", "idle"]


VOICE = """
[[action]]
phone = "PBX-A/1000"
do = "dial"
number = "2000"

[[action]]
on = "PBX-A/1000 frequency 697"
delay = "0.5s"
phone = "PBX-A/1000"
do = "hang-up"

[[expect.media]]
phone = "PBX-B/2000"
frequencies = [1004]

[[expect.media]]
phone = "PBX-A/1000"
frequencies = [697]
tones = ["ringback"]
via = "audio"

[[expect.rtp]]
between = "PBX-A <-> PBX-B"
codec = "PCMA"
max-loss-percent = 1
max-jitter = "20ms"
min-packets = 20

[[expect.phone]]
phone = "PBX-B/2000"
events = ["ring", "answered", "frequency 1004", "cleared 16", "on-hook"]
"""


def test_real_time_with_voice_and_rtp_statistics(tmp_path: Path) -> None:
    scenario = load_scenario(scenario_file(tmp_path, VOICE, timeout="10s", media=True))
    report = run_scenario(scenario, RunOptions(fast=True))  # media: real time regardless
    assert report.mode == "real"
    assert report.passed, failure_text(report)
    streams = report.view.streams
    assert {(s.source, s.target) for s in streams} == {("PBX-A", "PBX-B"), ("PBX-B", "PBX-A")}
    assert all(s.received and s.received > 20 for s in streams)


LINK_DOWN = """
[[action]]
phone = "PBX-A/1000"
do = "dial"
number = "2000"

[[action]]
on = "PBX-B/2000 answered"
delay = "0.5s"
do = "link-down"
node = "PBX-B"
trunk = "t"
restore-after = "0.5s"

[[action]]
on = "PBX-A/1000 on-hook"
delay = "1s"
phone = "PBX-A/1000"
do = "dial"
number = "2000"

[[action]]
on = "PBX-B/2000 answered"
delay = "0.5s"
phone = "PBX-A/1000"
do = "hang-up"

[expect.ladder]
steps = ["PBX-A -> PBX-B SETUP", "PBX-B -> PBX-A CONNECT", "PBX-A -> PBX-B SETUP",
         "PBX-B -> PBX-A CONNECT", "PBX-A -> PBX-B DISCONNECT cause=16"]

[[expect.phone]]
phone = "PBX-A/1000"
events = ["far-end-answered", "cleared 27", "on-hook", "far-end-answered", "on-hook"]
"""


def test_a_link_fails_and_comes_back(tmp_path: Path) -> None:
    scenario = load_scenario(scenario_file(tmp_path, LINK_DOWN))
    report = run_scenario(scenario, RunOptions(fast=True))
    assert report.passed, failure_text(report)
    # One arrow per message although each end talked to the relay, not to the other end.
    setups = [a for a in report.view.arrows if a.name == "SETUP"]
    assert [(a.source, a.target, a.delivery) for a in setups] == [
        ("PBX-A", "PBX-B", "received")] * 2
    assert any(n.text.startswith("link down") for n in report.view.notes)


def test_a_run_that_cannot_go_on_says_why(tmp_path: Path) -> None:
    body = """
[[action]]
phone = "PBX-A/1000"
do = "dial"
number = "2002"

[[action]]
on = "PBX-A/1000 far-end-answered"
phone = "PBX-A/1000"
do = "hang-up"
"""
    scenario = load_scenario(scenario_file(tmp_path, body, timeout="5s"))
    report = run_scenario(scenario, RunOptions(fast=True))
    assert not report.passed
    first = report.results[0]
    assert first.kind == "run"
    assert first.message == ("timed out waiting for 'PBX-A/1000 far-end-answered' "
                             "(action[1].on)")
    idle = report.results[-1]
    assert idle.kind == "idle" and "PBX-A" in idle.message
    assert 4.99 <= report.duration < 5.5


def test_an_impossible_action_is_a_failure(tmp_path: Path) -> None:
    body = '\n[[action]]\nphone = "PBX-B/2000"\ndo = "answer"\n'
    report = run_scenario(load_scenario(scenario_file(tmp_path, body)), RunOptions(fast=True))
    assert [r.message for r in report.results if not r.passed] == [
        "action[0] (answer): phone 2000 is not ringing"]


def test_a_node_that_cannot_start(tmp_path: Path) -> None:
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        path = scenario_file(tmp_path, "")
        text = path.read_text().replace('"127.0.0.1:38101"', f'"127.0.0.1:{port}"')
        path.write_text(text)
        report = run_scenario(load_scenario(path), RunOptions(fast=True, port_offset=0))
    finally:
        holder.close()
    assert report.results[0].kind == "run"
    assert report.results[0].message.startswith("a node failed:")
