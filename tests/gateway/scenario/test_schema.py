"""The scenario file format: TOML and YAML, and errors that name the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigErrors
from gateway.scenario.catalog import BUILTIN_DIR
from gateway.scenario.nodes import load_node_configs, node_documents
from gateway.scenario.runner import check_scenario
from gateway.scenario.schema import (
    DialAction,
    LinkDownAction,
    PhoneAction,
    WaitAction,
    load_scenario,
)
from pbx_sim.config import PbxConfig

NODES = BUILTIN_DIR / "nodes"

GOOD_TOML = f"""
title = "A small scenario"
media = true
timeout = "30s"

[nodes.PBX-A]
kind = "pbx"
file = "{NODES / 'pbx-a.toml'}"

[nodes.GW-A]
kind = "gateway"
file = "{NODES / 'gw-a.toml'}"
override = {{ timers = {{ ring-no-answer = "5s" }} }}

[[action]]
phone = "PBX-A/1000"
do = "dial"
number = "95552000"

[[action]]
on = "GW-A -> PBX-A ALERTING"
delay = "1s"
phone = "PBX-A/1000"
do = "hang-up"

[[action]]
at = "10s"
do = "wait"

[[action]]
do = "link-down"
node = "PBX-A"
trunk = "gw-a"

[expect.ladder]
match = "exact"
order = "strict"
steps = ["PBX-A -> GW-A SETUP", "GW-A -> PBX-A CALL PROC"]

[[expect.rtp]]
between = "PBX-A <-> GW-A"
max-jitter = "20ms"
"""

GOOD_YAML = f"""
title: The same in YAML
nodes:
  PBX-A: {{kind: pbx, file: "{NODES / 'pbx-a.toml'}"}}
  GW-A: {{kind: gateway, file: "{NODES / 'gw-a.toml'}"}}
action:
  - {{phone: PBX-A/1000, do: dial, number: "95552000"}}
  - {{on: "PBX-A/1000 tone ringback", phone: PBX-A/1000, do: hang-up}}
expect:
  leg:
    - {{between: PBX-A -> GW-A, cause: 16, cleared-by: PBX-A}}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_toml_scenario(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, "small.toml", GOOD_TOML))
    assert scenario.name == "small" and scenario.media and scenario.timeout == 30.0
    assert list(scenario.nodes) == ["PBX-A", "GW-A"]  # file order = ladder column order
    dial, hang_up, wait, link = scenario.action
    assert isinstance(dial, DialAction) and dial.number == "95552000"
    assert isinstance(hang_up, PhoneAction) and hang_up.delay == 1.0 and hang_up.on is not None
    assert isinstance(wait, WaitAction) and wait.at == 10.0
    assert isinstance(link, LinkDownAction) and link.restore_after is None
    ladder = scenario.expect.ladder
    assert ladder is not None and ladder.match == "exact" and ladder.order == "strict"
    assert scenario.expect.rtp[0].max_jitter == pytest.approx(0.020)
    configs = check_scenario(scenario)
    assert isinstance(configs["PBX-A"], PbxConfig) and configs["PBX-A"].name == "PBX-A"
    gateway = configs["GW-A"]
    assert gateway.name == "GW-A" and gateway.timers.ring_no_answer == 5.0  # type: ignore[union-attr]


def test_a_yaml_scenario(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, "small.yaml", GOOD_YAML))
    assert scenario.title == "The same in YAML" and len(scenario.action) == 2
    assert scenario.expect.leg[0].cleared_by == "PBX-A"
    assert set(check_scenario(scenario)) == {"PBX-A", "GW-A"}


def test_every_mistake_is_reported_with_file_line_and_key(tmp_path: Path) -> None:
    text = """\
[nodes.PBX-A]
kind = "pbx"

[nodes.GW-A]
kind = "gatewy"
file = "gw.toml"

[[action]]
phone = "PBX-B/1000"
do = "dial"
number = "9x"

[[action]]
phone = "PBX-A/1000"
do = "hang-up"
at = "1s"
on = "PBX-A/1000 ring"

[expect.ladder]
steps = ["PBX-A -> GW-A SETUP", "PBX-A -> GW-X CALL PROC"]
"""
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(ConfigErrors) as caught:
        load_scenario(path)
    lines = caught.value.render().splitlines()
    assert lines == [
        f"{path}:1: nodes.PBX-A.file: give the node's config either as file = ... or as a "
        "config table",
        f'{path}:5: nodes.GW-A.kind: expected one of "gateway", "pbx", got "gatewy"; did you '
        'mean "gateway"?',
        f"{path}:11: action[0].number: a number is digits, * and #",
        f"{path}:17: action[1].on: give at or on, not both",
    ]
    # Once the file's own shape is right, names that point nowhere are reported at their line.
    fixed = (text.replace('kind = "gatewy"', 'kind = "gateway"')
             .replace('number = "9x"', 'number = "9"').replace('on = "PBX-A/1000 ring"\n', "")
             .replace('kind = "pbx"\n', f'kind = "pbx"\nfile = "{NODES / "pbx-a.toml"}"\n', 1))
    with pytest.raises(ConfigErrors) as caught:
        load_scenario(write(tmp_path, "bad2.toml", fixed))
    assert caught.value.render().splitlines() == [
        f"{tmp_path / 'bad2.toml'}:10: action[0].phone: no pbx node named 'PBX-B' (known: PBX-A)",
        f"{tmp_path / 'bad2.toml'}:20: expect.ladder.steps[1]: no node named 'GW-X' (known: "
        "GW-A, PBX-A)",
    ]


def test_node_config_errors_point_into_the_right_file(tmp_path: Path) -> None:
    write(tmp_path, "gw.toml", 'name = "x"\n[sip]\nlisten = "127.0.0.1:99999"\n')
    text = """\
[nodes.PBX-A]
kind = "pbx"
[nodes.PBX-A.config]
tone-plan = "mars"
[[nodes.PBX-A.config.extension]]
number = "1000"
dial-mode = "rotary"

[nodes.GW-A]
kind = "gateway"
file = "gw.toml"
override = { sip = { transports = ["sctp"] } }
"""
    scenario = load_scenario(write(tmp_path, "nodes.toml", text))
    with pytest.raises(ConfigErrors) as caught:
        check_scenario(scenario)
    rendered = caught.value.render()
    assert f"{tmp_path / 'nodes.toml'}:7: nodes.PBX-A.config.extension[0].dial-mode:" in rendered
    assert f"{tmp_path / 'gw.toml'}:3: sip.listen: port 99999 is not in 0..65535" in rendered
    assert f"{tmp_path / 'nodes.toml'}:12: nodes.GW-A.override.sip.transports[0]:" in rendered


def test_missing_node_file(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, "s.toml", '[nodes.P]\nkind = "pbx"\n'
                                   'file = "nowhere.toml"\n'))
    with pytest.raises(ConfigErrors, match="cannot read the file"):
        node_documents(scenario)


def test_ports_are_relocated_consistently() -> None:
    scenario = load_scenario(BUILTIN_DIR / "gw-gw.toml")
    documents = node_documents(scenario)
    plain = load_node_configs(scenario, documents)
    moved = load_node_configs(scenario, documents, 1000)
    pbx_a, gw_a = moved["PBX-A"], moved["GW-A"]
    assert isinstance(pbx_a, PbxConfig) and isinstance(plain["PBX-A"], PbxConfig)
    assert pbx_a.trunk[0].address.port == plain["PBX-A"].trunk[0].address.port + 1000 == 39101
    assert gw_a.trunk[0].address.port == 39101  # type: ignore[union-attr]
    assert str(gw_a.media.ports) == "39600-39699"  # type: ignore[union-attr]
    peer = gw_a.dial_peer.voip[0].session_target  # type: ignore[union-attr]
    assert str(peer) == "ipv4:127.0.0.1:39120"
    assert gw_a.dial_peer.pots[0].port == "pbx-a"  # type: ignore[union-attr]  # not a number
