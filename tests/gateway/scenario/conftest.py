"""Synthetic traces for the scenario tests: a flow-1 call between four nodes, built message by
message with real SIP, SDP, Q.931/TPKT and RTP bytes, each message traced by sender and receiver
as a run traces it."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest

from gateway.trace import Address, TraceEvent
from pbx_sim.q931 import (
    CalledPartyNumber,
    CallReference,
    Cause,
    Message,
    MessageType,
    ProgressIndicator,
    tpkt_frame,
)

ADDRESSES: dict[str, dict[str, Address]] = {
    # node -> role -> its local address
    "PBX-A": {"q931": ("127.0.0.1", 40101), "rtp": ("127.0.0.1", 40200)},
    "GW-A": {"q931": ("127.0.0.1", 50001), "sip": ("127.0.0.1", 40110),
             "rtp": ("127.0.0.1", 40600), "bch": ("127.0.0.1", 40300)},
    "GW-B": {"q931": ("127.0.0.1", 40102), "sip": ("127.0.0.1", 40120),
             "rtp": ("127.0.0.1", 40700), "bch": ("127.0.0.1", 40500)},
    "PBX-B": {"q931": ("127.0.0.1", 50002), "rtp": ("127.0.0.1", 40400)},
}
CALL_ID = "a84b4c76e66710@127.0.0.1"


def sdp(port: int, formats: str = "0 8 101") -> bytes:
    lines = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
             f"m=audio {port} RTP/AVP {formats}"]
    names = {"0": "PCMU/8000", "8": "PCMA/8000", "18": "G729/8000",
             "101": "telephone-event/8000"}
    lines += [f"a=rtpmap:{f} {names[f]}" for f in formats.split()]
    return ("\r\n".join(lines) + "\r\n").encode()


def sip_request(method: str, cseq: int, body: bytes = b"", branch: str = "z9hG4bK1",
                reason: str | None = None) -> bytes:
    head = [f"{method} sip:5552000@127.0.0.1:40120 SIP/2.0",
            f"Via: SIP/2.0/UDP 127.0.0.1:40110;branch={branch}",
            "Max-Forwards: 70", "From: <sip:5551000@127.0.0.1>;tag=1928301774",
            "To: <sip:5552000@127.0.0.1>" + (";tag=a6c85cf" if method in ("ACK", "BYE") else ""),
            f"Call-ID: {CALL_ID}", f"CSeq: {cseq} {method}",
            "Contact: <sip:5551000@127.0.0.1:40110>"]
    if reason:
        head.append(f"Reason: {reason}")
    if body:
        head.append("Content-Type: application/sdp")
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def sip_response(status: int, phrase: str, method: str, cseq: int, body: bytes = b"",
                 branch: str = "z9hG4bK1") -> bytes:
    head = [f"SIP/2.0 {status} {phrase}",
            f"Via: SIP/2.0/UDP 127.0.0.1:40110;branch={branch}",
            "From: <sip:5551000@127.0.0.1>;tag=1928301774",
            "To: <sip:5552000@127.0.0.1>" + (";tag=a6c85cf" if status > 100 else ""),
            f"Call-ID: {CALL_ID}", f"CSeq: {cseq} {method}"]
    if body:
        head.append("Content-Type: application/sdp")
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def q931(kind: MessageType, ref: int, flag: bool, *ies: Any) -> bytes:
    return tpkt_frame(bytes(Message.build(kind, CallReference(ref, flag), *ies)))


def rtp(seq: int, stamp: int, ssrc: int, payload_type: int = 0, payload: bytes = b"\xff" * 160,
        marker: bool = False) -> bytes:
    return struct.pack("!BBHII", 0x80, payload_type | (0x80 if marker else 0), seq, stamp,
                       ssrc) + payload


class Tracer:
    """Appends the two sightings of each message (sender's out, receiver's in)."""

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []
        self.time = 0.0

    def send(self, protocol: str, source: str, target: str, raw: bytes, *, role: str = "",
             delay: float = 0.001, deliver: str = "in", transport: str = "") -> None:
        role = role or protocol
        self.time += delay
        local = ADDRESSES[source][role]
        remote = ADDRESSES[target][role]
        kind = transport or ("tcp" if protocol == "q931" else "udp")
        self.events.append(TraceEvent(self.time, source, protocol, "out", "", raw, local,
                                      remote, kind))  # type: ignore[arg-type]
        if deliver:
            self.events.append(TraceEvent(self.time + 0.0002, target, protocol, deliver,
                                          "dropped: test" if deliver == "drop" else "", raw,
                                          remote, local, kind))  # type: ignore[arg-type]


def flow_one(tracer: Tracer, *, answer: bool = True, rtp_packets: int = 50,
             lost: frozenset[int] = frozenset(), retransmit_invite: bool = False) -> Tracer:
    """Flow 1 of REFERENCE_FLOWS, or the same call refused with 486 when ``answer`` is false."""
    t = tracer
    t.send("q931", "PBX-A", "GW-A", q931(MessageType.SETUP, 1, False,
                                         CalledPartyNumber("5552000")))
    t.send("q931", "GW-A", "PBX-A", q931(MessageType.CALL_PROCEEDING, 1, True))
    invite = sip_request("INVITE", 1, sdp(40600))
    t.send("sip", "GW-A", "GW-B", invite, deliver="" if retransmit_invite else "in")
    if retransmit_invite:
        t.send("sip", "GW-A", "GW-B", invite, delay=0.5)
    t.send("sip", "GW-B", "GW-A", sip_response(100, "Trying", "INVITE", 1))
    t.send("q931", "GW-B", "PBX-B", q931(MessageType.SETUP, 7, False,
                                         CalledPartyNumber("5552000")))
    t.send("q931", "PBX-B", "GW-B", q931(MessageType.CALL_PROCEEDING, 7, True))
    if not answer:
        t.send("q931", "PBX-B", "GW-B", q931(MessageType.RELEASE_COMPLETE, 7, True, Cause(17)))
        t.send("sip", "GW-B", "GW-A", sip_response(486, "Busy Here", "INVITE", 1))
        t.send("sip", "GW-A", "GW-B", sip_request("ACK", 1))
        t.send("q931", "GW-A", "PBX-A", q931(MessageType.DISCONNECT, 1, True, Cause(17)))
        t.send("q931", "PBX-A", "GW-A", q931(MessageType.RELEASE, 1, False))
        t.send("q931", "GW-A", "PBX-A", q931(MessageType.RELEASE_COMPLETE, 1, True))
        return t
    t.send("q931", "PBX-B", "GW-B", q931(MessageType.ALERTING, 7, True, ProgressIndicator(8)))
    t.send("sip", "GW-B", "GW-A", sip_response(180, "Ringing", "INVITE", 1))
    t.send("q931", "GW-A", "PBX-A", q931(MessageType.ALERTING, 1, True))
    t.send("q931", "PBX-B", "GW-B", q931(MessageType.CONNECT, 7, True), delay=2.0)
    t.send("sip", "GW-B", "GW-A", sip_response(200, "OK", "INVITE", 1, sdp(40700, "0 101")))
    t.send("q931", "GW-A", "PBX-A", q931(MessageType.CONNECT, 1, True))
    t.send("q931", "PBX-A", "GW-A", q931(MessageType.CONNECT_ACKNOWLEDGE, 1, False))
    t.send("sip", "GW-A", "GW-B", sip_request("ACK", 1))
    t.send("q931", "GW-B", "PBX-B", q931(MessageType.CONNECT_ACKNOWLEDGE, 7, False))
    for index in range(rtp_packets):
        for source, target, ssrc in (("GW-A", "GW-B", 0x1111), ("GW-B", "GW-A", 0x2222)):
            packet = rtp(1000 + index, 160 * index, ssrc)
            t.send("rtp", source, target, packet, delay=0.010,
                   deliver="" if index in lost and source == "GW-A" else "in")
    t.send("q931", "PBX-A", "GW-A", q931(MessageType.DISCONNECT, 1, False, Cause(16)),
           delay=0.5)
    t.send("sip", "GW-A", "GW-B", sip_request("BYE", 2, reason='Q.850;cause=16'))
    t.send("q931", "GW-A", "PBX-A", q931(MessageType.RELEASE, 1, True))
    t.send("q931", "GW-B", "PBX-B", q931(MessageType.DISCONNECT, 7, False, Cause(16)))
    t.send("q931", "PBX-B", "GW-B", q931(MessageType.RELEASE, 7, True))
    t.send("sip", "GW-B", "GW-A", sip_response(200, "OK", "BYE", 2))
    t.send("q931", "GW-B", "PBX-B", q931(MessageType.RELEASE_COMPLETE, 7, False))
    t.send("q931", "PBX-A", "GW-A", q931(MessageType.RELEASE_COMPLETE, 1, False))
    return t


@pytest.fixture
def flow() -> Callable[..., Tracer]:
    return lambda **options: flow_one(Tracer(), **options)


FLOW_ONE_STEPS = [
    "PBX-A -> GW-A SETUP called=5552000",
    "GW-A -> PBX-A CALL PROC",
    "GW-A -> GW-B INVITE sdp=PCMU,PCMA,101",
    "GW-B -> GW-A 100",
    "GW-B -> PBX-B SETUP",
    "PBX-B -> GW-B CALL PROC",
    "PBX-B -> GW-B ALERTING pi=8",
    "GW-B -> GW-A 180 Ringing",
    "GW-A -> PBX-A ALERTING",
    "PBX-B -> GW-B CONNECT",
    "GW-B -> GW-A 200 sdp",
    "GW-A -> PBX-A CONNECT",
    "PBX-A -> GW-A CONNECT ACK",
    "GW-A -> GW-B ACK",
    "GW-B -> PBX-B CONNECT ACK",
    "PBX-A -> GW-A DISCONNECT cause=16",
    "GW-A -> GW-B BYE",
    "GW-A -> PBX-A RELEASE",
    "GW-B -> PBX-B DISCONNECT cause=16",
    "PBX-B -> GW-B RELEASE",
    "GW-B -> GW-A 200 cseq=BYE",
    "GW-B -> PBX-B REL COMPLETE",
    "PBX-A -> GW-A RELEASE COMPLETE",
]


@pytest.fixture
def flow_one_steps() -> list[str]:
    return list(FLOW_ONE_STEPS)


# ------------------------------------------------------------------------------ tshark

_WARNING = 0x00600000  # epan/proto.h PI_WARN: what the validation recipe calls "warning"


class TsharkVerdict:
    """What tshark made of a capture: per-frame protocol stacks and the frames it flagged."""

    def __init__(self, lines: list[str]) -> None:
        self.stacks: list[str] = []
        self.flagged: list[int] = []
        for number, line in enumerate(lines, start=1):
            protocols, malformed, severity = [*line.split("\t"), "", ""][:3]
            self.stacks.append(protocols)
            worst = max((int(v) for v in severity.split(",") if v.isdigit()), default=0)
            if malformed or worst >= _WARNING:
                self.flagged.append(number)

    def count(self, protocol: str) -> int:
        return sum(1 for stack in self.stacks if protocol in stack.split(":"))


@pytest.fixture
def tshark(require_tool: Callable[[str], str]) -> Callable[[Any], TsharkVerdict]:
    import subprocess

    def run(path: Any) -> TsharkVerdict:
        command = [require_tool("tshark"), "-r", str(path), "-o", "ip.check_checksum:TRUE",
                   "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                   "-T", "fields", "-e", "frame.protocols", "-e", "_ws.malformed",
                   "-e", "_ws.expert.severity"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                check=True)
        return TsharkVerdict(result.stdout.splitlines())

    return run
