"""The RFC 3666 built-in scenarios against the RFC's own ladders (corpora flows.yaml).

For each built-in, every numbered step of the RFC's flow is accounted for: it is one of the
scenario's expected ladder steps -- same message (ISUP and Feature Group B messages mapped to
their Q.931 counterparts, each mapping written here), same sender and receiver (participants
mapped to scenario nodes; a proxy gwemu leaves out is looked through: a message to or from it
is a message between the nodes on either side) -- or it is excused with the reason.  The
scenarios themselves pass in test_builtin.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.scenario.catalog import BUILTIN_DIR
from gateway.scenario.patterns import canonical_message_name
from gateway.scenario.schema import load_scenario


@dataclass(frozen=True)
class Mapping:
    nodes: dict[str, str]  # RFC participant -> scenario node
    proxies: dict[str, set[str]]  # left-out proxy -> the participants it sits between
    steps: dict[int, int | tuple[int, str]]  # Fn -> scenario step (and the message it maps to)
    excused: dict[int, str] = field(default_factory=dict)


SIP_SIDE = {"Alice": "GW-A", "NGW 1": "NGW-1"}
MAPPINGS = {
    "2.2": Mapping(
        {"Alice": "GW-A", "GW 1": "GW-1", "PBX C": "PBX-C"}, {"Proxy 1": {"Alice", "GW 1"}},
        {1: 0, 2: 1, 3: 0, 4: 1, 5: 2, 6: 3,
         7: (4, "ALERTING"),  # the simulated PBX rings with ALERTING, not PROGRESS (PI 1)
         8: 5, 9: 5, 10: 6, 11: 9, 12: 7, 13: 7, 14: 8, 15: 8, 16: 10, 17: 10, 18: 14, 19: 14,
         20: 11, 21: 12, 22: 13}),
    "2.5": Mapping(
        {**SIP_SIDE, "Bob": "Switch-B"}, {"Proxy 1": {"Alice", "NGW 1"}},
        {1: 0, 2: 1, 3: 0, 4: 1, 5: (2, "SETUP"), 6: (3, "PROGRESS"), 7: 4, 8: 4, 9: 5,
         10: 6, 11: 5, 12: 6, 13: (7, "DISCONNECT"), 14: (10, "RELEASE"), 15: 8, 16: 9,
         17: 8, 18: 9}),
    "2.6": Mapping(
        {**SIP_SIDE, "Switch B": "Switch-B"}, {"Proxy 1": {"Alice", "NGW 1"}},
        {1: 0, 2: 1, 3: 0, 4: 1, 5: (2, "SETUP"), 6: (3, "RELEASE COMPLETE"), 8: 4, 9: 5,
         10: 4, 11: 5},
        {7: "a Q.931 refusal (RELEASE COMPLETE) is not answered: the RLC has no counterpart"}),
    "2.7": Mapping(
        {**SIP_SIDE, "Switch B": "Switch-B"}, {"Proxy 1": {"Alice", "NGW 1"}},
        {1: 0, 2: 1, 3: 0, 4: 1, 5: (2, "SETUP"), 6: (3, "ALERTING"),
         7: (4, "180"), 8: (4, "180"),  # an ACM without in-band information rings: 180
         9: (5, "DISCONNECT"), 10: (8, "RELEASE"), 11: 6, 12: 7, 13: 6, 14: 7}),
    "3.1": Mapping(
        {"Switch A": "Switch-A", "NGW 1": "NGW-1", "Bob": "GW-B"},
        {"Proxy 1": {"NGW 1", "Bob"}},
        {1: (0, "SETUP"), 2: 1, 3: 1, 4: 2, 5: 3, 6: 3, 7: (4, "ALERTING"), 8: 5, 9: 5,
         10: 7, 11: 7, 12: (6, "CONNECT"), 13: (8, "DISCONNECT"), 14: (9, "RELEASE"), 15: 10,
         16: 10, 17: 12, 18: 12}),
    "3.2": Mapping(
        {"Switch A": "Switch-A", "NGW 1": "NGW-1", "Bob": "GW-B"},
        {"Proxy 1": {"NGW 1", "Bob"}},
        {1: (0, "SETUP"), 2: 1, 3: 1, 4: 2, 5: 3, 6: 3, 7: 5, 8: 5, 9: (4, "CONNECT"),
         10: (6, "DISCONNECT"), 11: (7, "RELEASE"), 12: 8, 13: 8, 14: 9, 15: 9}),
    "3.9": Mapping(
        {"Switch A": "Switch-A", "NGW 1": "NGW-1", "Bob": "GW-B"},
        {"Proxy 1": {"NGW 1", "Bob"}},
        {1: (0, "SETUP"), 2: 1, 3: 1, 4: 2, 5: 3, 6: 3, 7: (4, "ALERTING"),
         8: (5, "DISCONNECT"), 9: (6, "RELEASE"), 10: 7, 11: 8, 12: 7, 13: 8, 14: 9, 15: 10,
         16: 9, 17: 10}),
    "4.1": Mapping(
        {"Switch A": "Switch-A", "NGW 1": "NGW-1", "GW 2": "GW-2", "Switch C": "Switch-C"},
        {"Proxy 1": {"NGW 1", "GW 2"}},
        {1: (0, "SETUP"), 2: 1, 3: 1, 4: (2, "SETUP"), 5: (3, "ALERTING"), 6: 4, 7: 4,
         8: (5, "PROGRESS"), 9: (6, "CONNECT"), 10: 7, 11: 7, 12: (8, "CONNECT"), 13: 9,
         14: 9, 15: (10, "DISCONNECT"), 16: 11, 17: (12, "RELEASE"), 18: 11, 19: 15, 20: 15,
         21: (13, "DISCONNECT"), 22: (14, "RELEASE")}),
    "4.2": Mapping(
        {"PBX A": "PBX-A", "GW 1": "GW-1", "GW 2": "GW-2", "GW 3": "GW-3", "PBX C": "PBX-C"},
        {"Proxy 1": {"GW 1", "GW 2", "GW 3"}},
        {1: (0, "SETUP"),  # Feature Group B MF digits: the SETUP's called number
         2: 1, 3: 1, 4: 2, 5: 3, 6: 4, 7: 5, 8: 6, 9: 7, 10: 8, 11: 9, 12: 9, 13: 10, 14: 11,
         15: 11, 16: 13, 17: 13, 18: 14, 19: 15, 20: 16, 21: 16, 22: 17, 23: 19, 24: 19,
         25: 20}),
}


@pytest.fixture(scope="module")
def flows(corpora: Path) -> dict[str, Any]:
    path = corpora / "rfc3666-pstn-call-flows" / "flows.yaml"
    return {flow["section"]: flow for flow in yaml.safe_load(path.read_text())}


def test_every_rfc3666_builtin_is_mapped() -> None:
    builtins = {p.stem.removeprefix("rfc3666-") for p in BUILTIN_DIR.glob("rfc3666-*.toml")}
    assert builtins == set(MAPPINGS)
    # Q.931 flows 2.2 and 4.2 are both in; the ISUP flows included map onto Q.931.
    assert {"2.2", "4.2"} <= builtins


@pytest.mark.parametrize("section", sorted(MAPPINGS))
def test_the_scenario_follows_the_rfc_ladder(section: str, flows: dict[str, Any]) -> None:
    flow = flows[section]
    mapping = MAPPINGS[section]
    scenario = load_scenario(BUILTIN_DIR / f"rfc3666-{section}.toml")
    assert scenario.reference == f"RFC 3666 section {section}"
    assert scenario.expect.ladder is not None
    steps = scenario.expect.ladder.steps
    numbers = [step["n"] for step in flow["steps"]]
    assert set(mapping.steps) | set(mapping.excused) == set(numbers), "every Fn accounted for"
    assert not set(mapping.steps) & set(mapping.excused)
    used = set()
    for rfc in flow["steps"]:
        target = mapping.steps.get(rfc["n"])
        if target is None:
            continue
        index, name = (target, None) if isinstance(target, int) else target
        used.add(index)
        step = steps[index]
        where = f"F{rfc['n']} {rfc['from']} -> {rfc['to']} {rfc['message']} vs step {index} {step}"
        if name is None:
            assert rfc["protocol"] in ("sip", "q931"), f"{where}: an ISUP/FGB step needs a mapping"
            name = canonical_message_name(rfc["message"].split())
        assert step.name == name, where
        for end, node in ((rfc["from"], step.source), (rfc["to"], step.target)):
            if end in mapping.proxies:
                other = rfc["to"] if end == rfc["from"] else rfc["from"]
                allowed = {mapping.nodes[p] for p in mapping.proxies[end] - {other}}
                assert node in allowed, where
            else:
                assert node == mapping.nodes[end], where
    # What the scenario expects beyond the RFC is gwemu's own, and said so in the file.
    extra = set(range(len(steps))) - used
    assert all(steps[i].name in ("RELEASE COMPLETE", "CONNECT", "DISCONNECT", "CONNECT ACKNOWLEDGE")
               for i in extra), [str(steps[i]) for i in sorted(extra)]
