"""Port relocation and config merging on located documents."""

from __future__ import annotations

import random
import socket

from gateway.config import parse_toml
from gateway.scenario.nodes import (
    choose_port_offset,
    document_ports,
    merge_documents,
    shift_ports,
)

DOCUMENT = """
listen = "127.0.0.1:38110"
peer = "ipv4:127.0.0.1:38120"
by-name = "dns:localhost:38130"
elsewhere = "dns:gw-b.example.net:38140"
device = "socket://127.0.0.1:38150"
v6 = "[::1]:38160"
name = "GW 1:5060"
ports = "38600-38699"
rtp-port = 40000
port = "pbx-a"
well-known = "127.0.0.1:80"
any = "127.0.0.1:0"
[[trunk]]
rtp-local = "127.0.0.1:38300"
sip-ports = [38000, 38002]
"""


def test_every_port_moves_and_nothing_else() -> None:
    document = parse_toml(DOCUMENT, file="gw.toml")
    assert sorted(document_ports(document)) == [
        38000, 38002, 38110, 38120, 38130, 38150, 38160, 38300, 38600, 38699, 40000]
    moved = shift_ports(document, 100).plain()
    assert moved == {
        "listen": "127.0.0.1:38210", "peer": "ipv4:127.0.0.1:38220",
        "by-name": "dns:localhost:38230", "elsewhere": "dns:gw-b.example.net:38140",
        "device": "socket://127.0.0.1:38250", "v6": "[::1]:38260", "name": "GW 1:5060",
        "ports": "38700-38799", "rtp-port": 40100, "port": "pbx-a",
        "well-known": "127.0.0.1:80", "any": "127.0.0.1:0",
        "trunk": [{"rtp-local": "127.0.0.1:38400", "sip-ports": [38100, 38102]}],
    }
    # Positions survive, so errors after relocation still point at the file's lines.
    assert shift_ports(document, 100).get("listen").line == 2  # type: ignore[union-attr]
    assert shift_ports(document, 0) is document


def test_the_offset_keeps_parity_range_and_finds_free_ports() -> None:
    busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    busy.bind(("127.0.0.1", 0))
    try:
        taken = busy.getsockname()[1]
        rng = random.Random(3)
        for _ in range(20):
            offset = choose_port_offset([taken, 38101], rng)
            assert offset % 2 == 0 and offset != 0
            assert taken + offset >= 1024 and 38101 + offset <= 65535 - 128
    finally:
        busy.close()
    assert choose_port_offset([], random.Random(1)) == 0


def test_override_merges_tables_and_replaces_the_rest() -> None:
    base = parse_toml('name = "a"\n[timers]\nring = "5s"\nconnect = "9s"\n[[peer]]\ntag = 1\n',
                      file="base.toml")
    override = parse_toml('[timers]\nring = "30s"\n[[peer]]\ntag = 7\n[[peer]]\ntag = 8\n',
                          file="scenario.toml")
    merged = merge_documents(base, override)
    assert merged.plain() == {"name": "a", "timers": {"ring": "30s", "connect": "9s"},
                              "peer": [{"tag": 7}, {"tag": 8}]}
    ring = merged.get("timers", "ring")
    connect = merged.get("timers", "connect")
    assert ring is not None and ring.file == "scenario.toml"
    assert connect is not None and connect.file == "base.toml"
