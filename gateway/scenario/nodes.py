"""Node configs of a scenario: read inline or from files, ports relocated, loaded per kind.

A scenario is written with concrete ports (the examples' 38101, 38110, ...), so its files also
run by hand.  A scenario *run* must not collide with whatever else uses those ports (another run,
a gateway someone left running), so the runner relocates every port of every node by one even
offset chosen so that the ports it finds are free: one offset keeps every relation between
ports (B-channel N at ``base + 2*(N-1)``, RTP/RTCP pairs, a peer's address in a dial-peer).

The relocation works on the located document, before the schema reads it, so errors still point
at the file and line.  It changes

* every ``HOST:PORT`` with a numeric host or ``localhost`` inside a string (``127.0.0.1:38101``,
  ``ipv4:127.0.0.1:38120``, ``dns:localhost:38120``, ``socket://127.0.0.1:38150``,
  ``[::1]:5060``) -- a scenario's nodes all run on this machine;
* the value of every key whose name contains ``port``: a number, digits in a string, or a
  ``FIRST-LAST`` range (``ports = "38600-38699"``); other strings (a pots peer's
  ``port = "pbx-a"``) are left alone.
"""

from __future__ import annotations

import random
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Final, TypeAlias, TypeVar

from gateway.config import ConfigErrors, Located, load, read_document
from gateway.config.gateway_schema import GatewayConfig
from gateway.errors import ConfigError
from gateway.scenario.schema import NodeSpec, Scenario
from pbx_sim.config import PbxConfig

__all__ = [
    "NodeConfig",
    "choose_port_offset",
    "document_ports",
    "load_node_configs",
    "shift_ports",
]

NodeConfig: TypeAlias = PbxConfig | GatewayConfig
T = TypeVar("T")

# A numeric host (IPv4, or IPv6 in brackets) or localhost and a port, inside any string.
_ADDRESS: Final = re.compile(
    r"(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]|\blocalhost):(\d{1,5})(?!\d)", re.IGNORECASE
)
_RANGE: Final = re.compile(r"^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$")
_MIN_PORT: Final = 1024
_MAX_PORT: Final = 65535
# Room above the highest port written for what is derived from it (B-channels, RTCP).
_HEADROOM: Final = 128


def _is_port_key(node: Located) -> bool:
    for part in reversed(node.path):
        if isinstance(part, str):
            return "port" in part.lower()
    return False


def _map_text(text: str, on_port_key: bool, change: Callable[[int], int]) -> str:
    if on_port_key:
        if text.strip().isdigit():
            return str(change(int(text)))
        found = _RANGE.match(text)
        if found is not None:
            return f"{change(int(found.group(1)))}-{change(int(found.group(2)))}"
    return _ADDRESS.sub(lambda m: f"{m.group(1)}:{change(int(m.group(2)))}", text)


def _map_ports(node: Located, change: Callable[[int], int]) -> Located:
    value = node.value
    if isinstance(value, dict):
        return replace(node, value={k: _map_ports(v, change) for k, v in value.items()})
    if isinstance(value, tuple):
        return replace(node, value=tuple(_map_ports(v, change) for v in value))
    if isinstance(value, str):
        return replace(node, value=_map_text(value, _is_port_key(node), change))
    if isinstance(value, int) and not isinstance(value, bool) and _is_port_key(node):
        return replace(node, value=change(value))
    return node


def _relocatable(port: int) -> bool:
    return port >= _MIN_PORT  # 0 means "any" and well-known ports stay what they are


def document_ports(node: Located) -> list[int]:
    """Every port :func:`shift_ports` would move."""
    found: list[int] = []

    def note(port: int) -> int:
        if _relocatable(port):
            found.append(port)
        return port

    _map_ports(node, note)
    return found


def shift_ports(node: Located, offset: int) -> Located:
    """The document with every port (see the module docstring) moved by ``offset``."""
    if offset == 0:
        return node
    return _map_ports(node, lambda port: port + offset if _relocatable(port) else port)


def _free(port: int) -> bool:
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def choose_port_offset(ports: Iterable[int], rng: random.Random, attempts: int = 60) -> int:
    """An even offset that keeps every port in range and finds each of them free now."""
    wanted = sorted(set(ports))
    if not wanted:
        return 0
    low = _MIN_PORT - wanted[0]
    high = _MAX_PORT - _HEADROOM - wanted[-1]
    if low > high:
        return 0
    offset = 0
    for _ in range(attempts):
        offset = rng.randint(low, high) & ~1
        if offset < low:
            offset += 2
        if all(_free(port + offset) for port in wanted):
            return offset
    return offset  # a busy port now shows up as the node failing to start, with its reason


def merge_documents(base: Located, override: Located) -> Located:
    """``base`` with ``override``'s keys: tables merge key by key, anything else replaces.

    Every value keeps the file, line and key it was written at, so an error points at the
    override when the override is wrong and at the base file otherwise.
    """
    table, changes = base.as_table(), override.as_table()
    if table is None or changes is None:
        return override
    merged = dict(table)
    for key, change in changes.items():
        current = merged.get(key)
        merged[key] = change if current is None else merge_documents(current, change)
    return replace(base, value=merged)


def _node_document(spec: NodeSpec) -> Located:
    if spec.file is not None:
        document = read_document(spec.file)
    else:
        assert spec.config is not None
        document = spec.config
    if spec.override is not None:
        document = merge_documents(document, spec.override)
    return document


def node_documents(scenario: Scenario) -> dict[str, Located]:
    """Each node's config document (files read), by node name; errors are ConfigErrors."""
    documents: dict[str, Located] = {}
    problems: list[ConfigErrors] = []
    for name, spec in scenario.nodes.items():
        try:
            documents[name] = _node_document(spec)
        except ConfigErrors as exc:
            problems.append(exc)
    if problems:
        raise ConfigErrors([error for exc in problems for error in exc.errors])
    return documents


def _named(document: Located, name: str) -> Located:
    """The document with ``name`` set to the node's name (the scenario names its nodes)."""
    table = document.as_table()
    if table is None:
        return document
    entry = Located(name, (*document.path, "name"), document.file, document.line)
    return replace(document, value={**table, "name": entry})


_SCHEMAS: Final[dict[str, type]] = {"pbx": PbxConfig, "gateway": GatewayConfig}


def load_node_configs(
    scenario: Scenario, documents: dict[str, Located], offset: int = 0
) -> dict[str, NodeConfig]:
    """Every node's config, ports moved by ``offset``, named after its node (a ``name`` in the
    config is replaced: traces and ladders use the scenario's names).

    All problems of all nodes are reported together (a :class:`ConfigErrors`).
    """
    configs: dict[str, NodeConfig] = {}
    errors: list[ConfigError] = []
    for name, spec in scenario.nodes.items():
        schema = _SCHEMAS[spec.kind]
        try:
            config: object = load(schema, _named(shift_ports(documents[name], offset), name))
        except ConfigErrors as exc:
            errors.extend(exc.errors)
            continue
        assert isinstance(config, PbxConfig | GatewayConfig)
        configs[name] = config
    if errors:
        raise ConfigErrors(errors)
    return configs
