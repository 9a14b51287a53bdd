"""A whole simulated call's Q.931 over real TCP on 127.0.0.1, written as pcap from the trace and
dissected by tshark (recipe: shared/corpora/tshark-checks/README.md): every message decodes as
Q.931 with the values sent, and nothing is malformed or worth a warning."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.aio.virtual_time import run_virtual
from gateway.pcap import pcap_bytes
from gateway.trace import TraceRecorder
from pbx_sim.aio import PbxSimulator

FIELDS = ["ip.src", "tcp.srcport", "q931.message_type", "q931.call_ref_flag",
          "q931.cause_value", "q931.progress_indicator.description", "q931.channel.number",
          "q931.called_party_number.digits", "q931.calling_party_number.digits", "q931.uil1"]


@pytest.mark.interop
def test_tshark_dissects_simulated_calls_cleanly(
    tmp_path: Path, require_tool: Callable[[str], str], pbx_pair: Callable[..., Any]
) -> None:
    tshark = require_tool("tshark")
    pair = pbx_pair()
    trace = TraceRecorder()

    async def main() -> int:
        async with PbxSimulator(pair.b(media=False, inband_ringback=True, early_progress=True),
                                media=False) as b:
            port = b.trunk_address("gw")[1]
            async with PbxSimulator(pair.a(port, media=False), media=False, trace=trace) as a:
                while not (a.trunk_connected("gw") and b.trunk_connected("gw")):
                    await asyncio.sleep(0.01)
                a.dial("1000", "2000")
                await a.wait_phone("1000", "far-end-answered")
                await asyncio.sleep(1.0)
                a.hang_up("1000")
                await b.wait_phone("2000", "cleared")
                mark = len(a.events)
                a.dial("1000", "2001")
                await a.wait_phone("1000", "cleared", since=mark)
                await asyncio.sleep(0.5)
                return port

    port = run_virtual(main())
    events = [e for e in trace.events if e.protocol == "q931" and e.direction in ("in", "out")]
    pcap = tmp_path / "calls.pcap"
    pcap.write_bytes(pcap_bytes(events, epoch=1_700_000_000.0))
    fields = [arg for name in FIELDS for arg in ("-e", name)]
    rows = subprocess.run(
        [tshark, "-r", str(pcap), "-Y", "q931", "-T", "fields", "-E", "separator=|", *fields],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.splitlines()
    decoded = [dict(zip(FIELDS, row.split("|"), strict=True)) for row in rows]
    assert len(decoded) == len(events) == 11
    sender = ["B" if r["tcp.srcport"] == str(port) else "A" for r in decoded]
    types = [r["q931.message_type"] for r in decoded]
    assert list(zip(sender, types, strict=True)) == [
        ("A", "0x05"), ("B", "0x02"), ("B", "0x03"), ("B", "0x01"), ("B", "0x07"),
        ("A", "0x0f"), ("A", "0x45"), ("B", "0x4d"), ("A", "0x5a"),
        ("A", "0x05"), ("B", "0x5a"),
    ]
    setup = decoded[0]
    assert (setup["q931.called_party_number.digits"], setup["q931.calling_party_number.digits"],
            setup["q931.uil1"], setup["q931.channel.number"]) == ("2000", "1000", "0x03", "4")
    assert decoded[1]["q931.channel.number"] == "4"
    assert decoded[2]["q931.progress_indicator.description"] == "0x08"
    assert decoded[3]["q931.progress_indicator.description"] == "0x08"
    assert decoded[6]["q931.cause_value"] == "16"
    assert decoded[10]["q931.cause_value"] == "17"
    problems = subprocess.run(
        [tshark, "-r", str(pcap), "-Y", '_ws.malformed || _ws.expert.severity >= "warning"'],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    assert problems == ""
