"""tshark as an independent decoder of a whole simulated call (recipe: tshark-checks/README.md).

Two links run a call back to back; every frame they send (taken from their trace events, the
single record of the wire) becomes the TCP payload of one packet in a pcap written by
``text2pcap``; tshark must dissect each as Q.931 with the values we sent and find nothing
malformed or worth a warning.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.trace import TraceRecorder
from pbx_sim.q931 import (
    CallingPartyNumber,
    ChannelIdentification,
    Location,
    ProgressIndicator,
    Q931Link,
)

USER = ("10.0.0.1", 40000)  # text2pcap: direction I = from the first address/port
NETWORK = ("10.0.0.2", 1720)
FIELDS = [
    "frame.number",
    "ip.src",
    "q931.message_type",
    "q931.call_ref_flag",
    "q931.call_ref",
    "q931.information_transfer_capability",
    "q931.uil1",
    "q931.channel.number",
    "q931.channel.exclusive",
    "q931.calling_party_number.digits",
    "q931.presentation_ind",
    "q931.called_party_number.digits",
    "q931.display_information",
    "q931.progress_indicator.description",
    "q931.cause_location",
    "q931.cause_value",
]


def simulated_call() -> list[tuple[str, bytes]]:
    """(sender, TPKT frame) for a whole call, in wire order."""
    trace = TraceRecorder()
    user = Q931Link("user", trace=trace, node="user", local=USER, remote=NETWORK)
    network = Q931Link("network", trace=trace, node="network", local=NETWORK, remote=USER)

    def pump() -> None:
        for sender, receiver in ((user, network), (network, user)):
            data = sender.data_to_send(0.0)
            if data:  # b"" would mean end of stream
                receiver.receive_data(data, 0.0)

    call = user.setup(
        0.0,
        called="9725552222",
        calling=CallingPartyNumber("3145551111", 2, 1, presentation=0, screening=0),
        channel=ChannelIdentification.pri(1),
        display="Alice",
    )
    pump()
    incoming = network.next_event().call  # type: ignore[union-attr]
    network.proceeding(incoming, 0.0, channel=ChannelIdentification.pri(1, exclusive=True))
    network.alerting(incoming, 0.0, progress=[ProgressIndicator(8, Location.PRIVATE_NETWORK_LOCAL)])
    network.connect(incoming, 0.0)
    pump()
    user.connect_ack(call, 0.0)
    user.disconnect(call, 0.0, cause=16)
    pump()
    network.release(incoming, 0.0)
    pump()
    pump()
    assert user.calls() == () == network.calls()
    return [(e.node, e.raw) for e in trace.events if e.direction == "out"]


def write_pcap(frames: list[tuple[str, bytes]], directory: Path, text2pcap: str) -> Path:
    lines = []
    for index, (sender, frame) in enumerate(frames):
        lines.append(f"{'I' if sender == 'user' else 'O'} 00:00:{index:02d}.000000")
        for offset in range(0, len(frame), 16):
            chunk = " ".join(f"{octet:02x}" for octet in frame[offset : offset + 16])
            lines.append(f"{offset:06x} {chunk}")
    dump = directory / "call.txt"
    dump.write_text("\n".join(lines) + "\n")
    pcap = directory / "call.pcap"
    subprocess.run(
        [text2pcap, "-q", "-D", "-t", "%H:%M:%S.", "-4", f"{USER[0]},{NETWORK[0]}",
         "-T", f"{USER[1]},{NETWORK[1]}", str(dump), str(pcap)],
        check=True, capture_output=True, timeout=30,
    )
    return pcap


@pytest.mark.interop
def test_tshark_dissects_a_whole_call(tmp_path: Path, require_tool: Callable[[str], str]) -> None:
    tshark = require_tool("tshark")
    frames = simulated_call()
    pcap = write_pcap(frames, tmp_path, require_tool("text2pcap"))
    fields = [arg for name in FIELDS for arg in ("-e", name)]
    decoded = subprocess.run(
        [tshark, "-r", str(pcap), "-Y", "q931", "-T", "fields", "-E", "separator=|", *fields],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.splitlines()
    rows = [dict(zip(FIELDS, line.split("|"), strict=True)) for line in decoded]
    assert len(rows) == len(frames) == 8  # every packet is Q.931

    def row(number: int, **expected: str) -> None:
        got = {key: rows[number][key.replace("__", ".")] for key in expected}
        assert got == {key: value for key, value in expected.items()}, rows[number]

    user, network = USER[0], NETWORK[0]
    types = [(r["ip.src"], r["q931.message_type"]) for r in rows]
    assert types == [
        (user, "0x05"), (network, "0x02"), (network, "0x01"), (network, "0x07"),
        (user, "0x0f"), (user, "0x45"), (network, "0x4d"), (user, "0x5a"),
    ]
    assert [r["q931.call_ref"] for r in rows] == ["0001"] * 8
    assert [r["q931.call_ref_flag"] for r in rows] == ["0", "1", "1", "1", "0", "0", "1", "0"]
    row(0, q931__information_transfer_capability="0x00", q931__uil1="0x03",
        q931__channel__number="1", q931__channel__exclusive="0",
        q931__calling_party_number__digits="3145551111", q931__presentation_ind="0x00",
        q931__called_party_number__digits="9725552222", q931__display_information="Alice")
    row(1, q931__channel__number="1", q931__channel__exclusive="1")
    row(2, q931__progress_indicator__description="0x08")
    row(5, q931__cause_location="0", q931__cause_value="16")
    complete = subprocess.run(
        [tshark, "-r", str(pcap), "-Y", "q931.sending_complete", "-T", "fields",
         "-e", "frame.number"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout.split()
    assert complete == ["1"]  # only the SETUP carries Sending complete
    problems = subprocess.run(
        [tshark, "-r", str(pcap), "-Y", '_ws.malformed || _ws.expert.severity >= "warning"'],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    assert problems == ""
