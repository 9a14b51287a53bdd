"""Interop with baresip (Debian ``baresip-core``), a real SIP softphone, with real voice.

One world per test on 127.0.0.1: a PBX simulator whose E1 trunk (Q.931 over TCP/TPKT, A-law
B-channels on RTP) goes to a gwemu gateway (GW-A), whose voip dial-peer points at a headless
baresip (tests/interop/baresip_peer.py: auto-answer, an 800 Hz sine as its microphone, WAV
recordings of what it hears).  Extension 1000 ("Alice") says 1004 Hz and listens for 800 Hz.

* gwemu -> baresip: Alice dials baresip's number; baresip answers; each side hears the other's
  tone (Alice's phone detects 800 Hz, baresip's recording holds 1004 Hz); Alice hangs up, the
  BYE ends baresip's call; cause 16 everywhere.  A number baresip does not own gets its 404, and
  Alice's phone is cleared with cause 1.
* baresip -> gwemu: baresip dials Alice; she answers; tones both ways; baresip hangs up and
  Alice's phone is cleared with cause 16.
* early media: the PBX's in-band ringback (ALERTING with progress indicator 8) goes to baresip
  in a 183 with SDP; baresip's recording holds 425 Hz before Alice's tone.
* RFC 4733: digits (``15#*0``) keyed on baresip during a call arrive at gwemu as
  telephone-events and are heard in-band by Alice's phone, in order.
* hold: baresip's re-INVITE with sendonly is answered recvonly and gwemu stops sending RTP;
  the resume re-INVITE brings sendrecv and gwemu's RTP back.
* codecs: a PCMA-only offer is answered with PCMA end to end; a G.722-only offer gets 488 with
  Warning 305 and Reason cause 65 and never reaches the PBX; baresip refusing our PCMU/PCMA offer
  with a bare 488 clears Alice with cause 31 (RFC 3398 s8.2.6.1: 488 maps "by Warning header",
  31 by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import random
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gateway.config.gateway_schema import load_gateway_text
from gateway.media.tones import ToneDetector
from gateway.media.wav import read_wav
from gateway.runtime import GatewayNode
from gateway.trace import TraceEvent
from pbx_sim.aio import PbxSimulator
from pbx_sim.config import ExtensionConfig, HostPort, PbxConfig, RouteConfig, TrunkConfig
from pbx_sim.events import PhoneEvent

pytestmark = [pytest.mark.interop, pytest.mark.timeout(60)]


def _load_peer_module() -> ModuleType:
    # pytest imports test modules with --import-mode=importlib: the helper beside this file is
    # not on sys.path, so it is loaded by path (and registered for its dataclasses).
    path = Path(__file__).with_name("baresip_peer.py")
    spec = importlib.util.spec_from_file_location("baresip_peer", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["baresip_peer"] = module
    spec.loader.exec_module(module)
    return module


peer_module = _load_peer_module()
BaresipOptions = peer_module.BaresipOptions
BaresipPeer = peer_module.BaresipPeer

ALICE = "1000"
ALICE_E164 = "5551000"
BARESIP_NUMBER = "5559000"
ALICE_TONE = 1004
BARESIP_TONE = 800
ETSI_RINGBACK = 425
CHANNELS = 2
# Ports, from one block of consecutive free ones: GW-A's SIP, its RTP range, the two ends of the
# B-channels (2 channels, RTP + RTCP each), then baresip's own block.
GW_SIP, GW_RTP, PBX_BCHANNELS, GW_BCHANNELS, BARESIP = 0, 2, 8, 12, 16
PORTS = BARESIP + BaresipOptions.PORTS_NEEDED

GATEWAY = """
name = "GW-A"
tone-plan = "etsi"

[sip]
listen = "127.0.0.1:{sip}"
transports = ["udp"]

[media]
ports = "{rtp}-{rtp_last}"

[[trunk]]
name = "pbx-a"
address = "127.0.0.1:{pbx}"
mode = "connect"
side = "user"
interface = "e1"
channels = {channels}
reconnect = "50ms"
rtp-local = "127.0.0.1:{gw_bchannels}"
rtp-remote = "127.0.0.1:{pbx_bchannels}"
numbers = ["{alice}"]

[[dial-peer.pots]]
tag = 1
destination-pattern = "55510.."
port = "pbx-a"
forward-digits = 4

[[dial-peer.voip]]
tag = 100
description = "baresip"
destination-pattern = "5559..."
session-target = "ipv4:127.0.0.1:{baresip}"
codecs = ["g711ulaw", "g711alaw"]
dtmf-relay = ["rtp-nte"]
"""


def pbx_config(base: int, *, rings: int = 1, inband_ringback: bool = False) -> PbxConfig:
    alice = ExtensionConfig(number=ALICE, name="Alice", play=f"tone:{ALICE_TONE}",
                            detect=(BARESIP_TONE,), answer_after_rings=rings, dial_delay=0.05,
                            hangup_on_clear=0.3)
    trunk = TrunkConfig(name="gw-a", address=HostPort("127.0.0.1", 0), mode="listen",
                        side="network", interface="e1", channels=CHANNELS, calling_prefix="555",
                        rtp_local=HostPort("127.0.0.1", base + PBX_BCHANNELS),
                        rtp_remote=HostPort("127.0.0.1", base + GW_BCHANNELS),
                        inband_ringback=inband_ringback)
    return PbxConfig(name="PBX-A", tone_plan="etsi", ring_cadence=(300, 300), ring_timeout=30.0,
                     extension=(alice,), trunk=(trunk,),
                     route=(RouteConfig(pattern="555XXXX", trunk="gw-a"),))


@dataclass
class World:
    pbx: PbxSimulator
    gateway: GatewayNode
    baresip: Any  # BaresipPeer (loaded by path, so no static type)
    console: list[str]

    @property
    def gateway_uri(self) -> str:
        host, port = self.gateway.sip_address("udp")
        return f"sip:{ALICE_E164}@{host}:{port}"

    def sip(self) -> list[tuple[str, str]]:
        """(direction, first word or status) of GW-A's SIP messages: ``("out", "INVITE")``,
        ``("in", "200 (BYE)")`` ..."""
        return [(event.direction, label(event)) for event in self.traced("sip")]

    def q931(self) -> list[tuple[str, str]]:
        return [(event.direction, event.summary.split(" cr=")[0])
                for event in self.traced("q931")]

    def traced(self, protocol: str) -> list[TraceEvent]:
        recorded = self.gateway.trace.recorded
        assert recorded is not None
        return [event for event in recorded
                if event.protocol == protocol and event.direction in ("in", "out")]

    def sip_message(self, direction: str, name: str) -> str:
        found = [event for event in self.traced("sip")
                 if event.direction == direction and label(event) == name]
        assert len(found) == 1, f"expected one {direction} {name}, got {self.sip()}"
        return found[0].raw.decode()

    def phone(self, kind: str) -> list[PhoneEvent]:
        return [event for event in self.pbx.events
                if isinstance(event, PhoneEvent) and event.phone == ALICE and event.kind == kind]

    async def until(self, condition: Callable[[], object], what: str,
                    timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            assert loop.time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.02)

    async def idle(self) -> None:
        await self.until(lambda: self.gateway.live_calls == 0 and not self.pbx.pbx.calls,
                         "every call to end")


def label(event: TraceEvent) -> str:
    words = event.summary.split()
    return f"{words[0]} {words[-1]}" if words[0].isdigit() else words[0]


@contextlib.asynccontextmanager
async def world(tmp_path: Path, binary: str, base: int,
                codecs: Sequence[str] = ("PCMU", "PCMA"),
                pbx_settings: PbxConfig | None = None) -> AsyncIterator[World]:
    console: list[str] = []
    peer = BaresipPeer(binary, BaresipOptions(user=BARESIP_NUMBER, first_port=base + BARESIP,
                                              codecs=tuple(codecs)), tmp_path)
    async with PbxSimulator(pbx_settings or pbx_config(base), rng=random.Random(1)) as pbx:
        text = GATEWAY.format(
            sip=base + GW_SIP, rtp=base + GW_RTP, rtp_last=base + PBX_BCHANNELS - 1,
            pbx=pbx.trunk_address("gw-a")[1], channels=CHANNELS, alice=ALICE_E164,
            gw_bchannels=base + GW_BCHANNELS, pbx_bchannels=base + PBX_BCHANNELS,
            baresip=base + BARESIP)
        async with GatewayNode(load_gateway_text(text, file="gw-a.toml"), record=True,
                               console=console.append, rng=random.Random(2)) as gateway:
            try:
                await peer.start()
                here = World(pbx, gateway, peer, console)
                await here.until(lambda: pbx.trunk_connected("gw-a")
                                 and all(gateway.in_service.values()), "the trunk")
                yield here
            finally:
                await peer.stop()


def tone_frames(pcm: bytes, frequency: int) -> int:
    detector = ToneDetector(frequency)
    return sum(detector.feed(pcm[i:i + 320]) for i in range(0, len(pcm) - 319, 320))


def first_frame(pcm: bytes, frequency: int) -> int | None:
    detector = ToneDetector(frequency)
    for number, start in enumerate(range(0, len(pcm) - 319, 320)):
        if detector.feed(pcm[start:start + 320]):
            return number
    return None


def heard_by_baresip(peer: Any) -> bytes:
    """What baresip decoded from gwemu's RTP during the call (its ``sndfile`` recording)."""
    return read_wav(peer.recording("dec"))


def media(gateway: GatewayNode) -> dict[str, Any]:
    """The RTP side of the gateway's one call, as ``show calls`` reports it."""
    (call,) = gateway.call_records()
    record: dict[str, Any] = call["media"]
    return record


def digits_from_rtp(gateway: GatewayNode) -> int:
    count: int = media(gateway)["digits_from_rtp"]
    return count


def sdp(raw: bytes) -> str:
    return raw.decode().split("\r\n\r\n", 1)[1]


def attribute(body: str, *names: str) -> str:
    """Which one of ``names`` (whole SDP lines) the body carries."""
    (found,) = [line for line in body.splitlines() if line in names]
    return found


def run(main: Callable[[], Any]) -> None:
    asyncio.run(asyncio.wait_for(main(), 40))


# --------------------------------------------------------------------------- gwemu -> baresip


def test_a_pbx_phone_calls_baresip_through_the_gateway(
        tmp_path: Path, require_tool: Callable[[str], str],
        free_ports: Callable[[int], int]) -> None:
    binary, base = require_tool("baresip"), free_ports(PORTS)

    async def main() -> None:
        async with world(tmp_path, binary, base) as w:
            w.pbx.dial(ALICE, BARESIP_NUMBER)
            answered = await w.baresip.wait_event("CALL_ESTABLISHED")
            # baresip took the call for its own number, from Alice's E.164 number and name
            assert answered["direction"] == "incoming"
            assert answered["peeruri"].startswith(f"sip:{ALICE_E164}@")
            assert answered.get("peerdisplayname") == "Alice"
            await w.pbx.wait_phone(ALICE, "far-end-answered")
            await w.pbx.wait_phone(ALICE, "frequency", str(BARESIP_TONE))  # baresip's sine
            await asyncio.sleep(1.0)  # a second of Alice's tone toward baresip
            (call,) = w.gateway.call_records()
            assert call["codec"] == "PCMU" and call["phase"] == "active"
            media = call["media"]
            assert media["packets_received"] >= 40 and media["packets_lost"] == 0
            assert media["packets_sent"] >= 40

            mark = len(w.baresip.events)
            w.pbx.hang_up(ALICE)
            closed = await w.baresip.wait_event("CALL_CLOSED", since=mark)
            assert closed["param"] == "Connection reset by peer"  # baresip's words for a BYE
            await w.idle()

        assert w.sip() == [("out", "INVITE"), ("in", "180 (INVITE)"), ("in", "200 (INVITE)"),
                           ("out", "ACK"), ("out", "BYE"), ("in", "200 (BYE)")]
        assert w.q931() == [("in", "SETUP"), ("out", "CALL PROCEEDING"), ("out", "ALERTING"),
                            ("out", "CONNECT"), ("in", "CONNECT ACKNOWLEDGE"),
                            ("in", "DISCONNECT"), ("out", "RELEASE"),
                            ("in", "RELEASE COMPLETE")]
        invite = w.sip_message("out", "INVITE")
        assert invite.startswith(f"INVITE sip:{BARESIP_NUMBER}@127.0.0.1:{base + BARESIP} ")
        assert "m=audio " in invite and "RTP/AVP 0 8 101" in invite
        assert any("ended: cause 16" in line for line in w.console), w.console
        heard = heard_by_baresip(w.baresip)
        assert tone_frames(heard, ALICE_TONE) >= 40, "Alice's 1004 Hz not in baresip's recording"
        assert tone_frames(heard, BARESIP_TONE) == 0  # no echo of its own sine
        assert tone_frames(read_wav(w.baresip.recording("enc")), BARESIP_TONE) >= 40

    run(main)


def test_a_number_baresip_does_not_own_clears_the_pbx_phone_with_cause_1(
        tmp_path: Path, require_tool: Callable[[str], str],
        free_ports: Callable[[int], int]) -> None:
    binary, base = require_tool("baresip"), free_ports(PORTS)

    async def main() -> None:
        async with world(tmp_path, binary, base) as w:
            w.pbx.dial(ALICE, "5559999")  # the dial-peer's pattern, not baresip's account
            cleared = await w.pbx.wait_phone(ALICE, "cleared")
            await w.idle()
        assert w.sip() == [("out", "INVITE"), ("in", "404 (INVITE)"), ("out", "ACK")]
        assert cleared.cause == 1  # RFC 3398 s8.2.6.1: 404 -> 1 Unallocated number
        assert not w.baresip.events  # baresip refused it before any call existed

    run(main)


# --------------------------------------------------------------------------- baresip -> gwemu


def test_baresip_calls_a_pbx_phone_and_hangs_up(
        tmp_path: Path, require_tool: Callable[[str], str],
        free_ports: Callable[[int], int]) -> None:
    binary, base = require_tool("baresip"), free_ports(PORTS)

    async def main() -> None:
        async with world(tmp_path, binary, base) as w:
            await w.baresip.dial(w.gateway_uri)
            caller = await w.pbx.wait_phone(ALICE, "caller-id")
            assert caller.value == BARESIP_NUMBER
            await w.pbx.wait_phone(ALICE, "answered")
            established = await w.baresip.wait_event("CALL_ESTABLISHED")
            assert established["direction"] == "outgoing"
            await w.pbx.wait_phone(ALICE, "frequency", str(BARESIP_TONE))
            await asyncio.sleep(1.0)
            (call,) = w.gateway.call_records()
            assert call["direction"] == "sip-to-line" and call["calling"] == BARESIP_NUMBER
            assert call["media"]["packets_received"] >= 40
            assert call["media"]["packets_lost"] == 0

            await w.baresip.hang_up()
            cleared = await w.pbx.wait_phone(ALICE, "cleared")
            assert cleared.cause == 16
            closed = await w.baresip.wait_event("CALL_CLOSED")
            assert closed["param"] == "Connection reset by user"  # baresip hung up itself
            await w.idle()

        assert w.sip() == [("in", "INVITE"), ("out", "100 (INVITE)"), ("out", "180 (INVITE)"),
                           ("out", "200 (INVITE)"), ("in", "ACK"), ("in", "BYE"),
                           ("out", "200 (BYE)")]
        assert w.q931() == [("out", "SETUP"), ("in", "CALL PROCEEDING"), ("in", "ALERTING"),
                            ("in", "CONNECT"), ("out", "CONNECT ACKNOWLEDGE"),
                            ("out", "DISCONNECT"), ("in", "RELEASE"),
                            ("out", "RELEASE COMPLETE")]
        disconnect = next(e for e in w.traced("q931") if e.summary.startswith("DISCONNECT"))
        assert "cause=16" in disconnect.summary
        assert tone_frames(heard_by_baresip(w.baresip), ALICE_TONE) >= 40

    run(main)


def test_the_pbx_ringback_reaches_baresip_as_early_media(
        tmp_path: Path, require_tool: Callable[[str], str],
        free_ports: Callable[[int], int]) -> None:
    binary, base = require_tool("baresip"), free_ports(PORTS)
    # ALERTING with progress indicator 8: ETSI ringback (425 Hz) on the B-channel before CONNECT
    config = pbx_config(base, rings=3, inband_ringback=True)

    async def main() -> None:
        async with world(tmp_path, binary, base, pbx_settings=config) as w:
            await w.baresip.dial(w.gateway_uri)
            progress = await w.baresip.wait_event("CALL_PROGRESS")
            assert progress["direction"] == "outgoing"
            await w.pbx.wait_phone(ALICE, "answered")
            await w.baresip.wait_event("CALL_ESTABLISHED")
            await asyncio.sleep(0.8)
            await w.baresip.hang_up()
            await w.idle()

        assert w.sip()[:5] == [("in", "INVITE"), ("out", "100 (INVITE)"),
                               ("out", "183 (INVITE)"), ("out", "200 (INVITE)"), ("in", "ACK")]
        early = w.sip_message("out", "183 (INVITE)")
        assert "m=audio " in early and "a=rtpmap:0 PCMU/8000" in early
        # One recording from the 183 on: ringback first, then Alice's tone once she answered.
        heard = heard_by_baresip(w.baresip)
        ringback = first_frame(heard, ETSI_RINGBACK)
        assert ringback is not None, "no 425 Hz ringback in baresip's recording"
        assert tone_frames(heard, ETSI_RINGBACK) >= 25
        talk = first_frame(heard, ALICE_TONE)
        assert talk is not None and talk > ringback

    run(main)


def test_digits_keyed_on_baresip_arrive_as_rfc4733_events(
        tmp_path: Path, require_tool: Callable[[str], str],
        free_ports: Callable[[int], int]) -> None:
    binary, base = require_tool("baresip"), free_ports(PORTS)

    async def main() -> None:
        async with world(tmp_path, binary, base) as w:
            await w.baresip.dial(w.gateway_uri)
            await w.baresip.wait_event("CALL_ESTABLISHED")
            await w.pbx.wait_phone(ALICE, "answered")
            await asyncio.sleep(0.3)
            offer = w.sip_message("in", "INVITE")
            answer = w.sip_message("out", "200 (INVITE)")
            assert "a=rtpmap:101 telephone-event/8000" in offer
            assert "a=rtpmap:101 telephone-event/8000" in answer
            await w.baresip.press_keys("15#*0")
            await w.until(lambda: len(w.phone("digit")) >= 5, "five digits at Alice")
            # counted by gwemu's RFC 4733 receiver (at each event's end packet), not by in-band
            # detection: baresip sent telephone-events, gwemu played them to the line
            await w.until(lambda: digits_from_rtp(w.gateway) == 5, "five RFC 4733 events")
            await w.baresip.hang_up()
            await w.idle()

        assert [event.value for event in w.phone("digit")] == ["1", "5", "#", "*", "0"]

    run(main)


def test_baresip_holds_and_resumes_the_call(
        tmp_path: Path, require_tool: Callable[[str], str],
        free_ports: Callable[[int], int]) -> None:
    binary, base = require_tool("baresip"), free_ports(PORTS)

    async def main() -> None:
        async with world(tmp_path, binary, base) as w:
            await w.baresip.dial(w.gateway_uri)
            await w.baresip.wait_event("CALL_ESTABLISHED")
            await w.pbx.wait_phone(ALICE, "answered")
            await w.until(lambda: media(w.gateway)["packets_sent"] >= 10, "RTP toward baresip")

            await w.baresip.press_keys("x")  # the menu's in-call key for /hold
            await w.until(lambda: media(w.gateway)["direction"] == "recvonly", "hold")
            await asyncio.sleep(0.1)
            held = media(w.gateway)
            await asyncio.sleep(0.5)
            still = media(w.gateway)
            # (baresip 1.0 itself sends nothing while it holds, sendonly or not)
            assert not still["sending"] and still["packets_sent"] == held["packets_sent"]

            await w.baresip.press_keys("X")  # /resume
            await w.until(lambda: media(w.gateway)["direction"] == "sendrecv", "resume")
            resumed = media(w.gateway)["packets_sent"]
            await w.until(lambda: media(w.gateway)["packets_sent"] >= resumed + 20,
                          "RTP toward baresip again")
            await w.baresip.hang_up()
            await w.idle()

        assert w.sip() == [("in", "INVITE"), ("out", "100 (INVITE)"), ("out", "180 (INVITE)"),
                           ("out", "200 (INVITE)"), ("in", "ACK"),
                           ("in", "INVITE"), ("out", "200 (INVITE)"), ("in", "ACK"),
                           ("in", "INVITE"), ("out", "200 (INVITE)"), ("in", "ACK"),
                           ("in", "BYE"), ("out", "200 (BYE)")]
        offers = [sdp(e.raw) for e in w.traced("sip") if label(e) == "INVITE"]
        answers = [sdp(e.raw) for e in w.traced("sip") if label(e) == "200 (INVITE)"]
        assert [attribute(o, "a=sendonly", "a=sendrecv") for o in offers] == [
            "a=sendrecv", "a=sendonly", "a=sendrecv"]
        # RFC 3264 s6.1: sendonly is answered recvonly; s8: each new answer bumps o= version
        assert [attribute(a, "a=recvonly", "a=sendrecv") for a in answers] == [
            "a=sendrecv", "a=recvonly", "a=sendrecv"]
        origins = [next(line for line in a.splitlines() if line.startswith("o=")).split()
                   for a in answers]
        assert len({o[1] for o in origins}) == 1
        assert [int(o[2]) for o in origins] == [0, 1, 2]

    run(main)


# --------------------------------------------------------------------------- codecs


def test_a_pcma_only_offer_is_answered_with_pcma(
        tmp_path: Path, require_tool: Callable[[str], str],
        free_ports: Callable[[int], int]) -> None:
    binary, base = require_tool("baresip"), free_ports(PORTS)

    async def main() -> None:
        async with world(tmp_path, binary, base, codecs=("PCMA",)) as w:
            await w.baresip.dial(w.gateway_uri)
            await w.baresip.wait_event("CALL_ESTABLISHED")
            await w.pbx.wait_phone(ALICE, "frequency", str(BARESIP_TONE))
            await asyncio.sleep(0.6)
            (call,) = w.gateway.call_records()
            assert call["codec"] == "PCMA"
            assert (call["media"]["send_codec"], call["media"]["receive_codec"]) == ("PCMA",
                                                                                   "PCMA")
            answer = w.sip_message("out", "200 (INVITE)")
            assert "RTP/AVP 8 101" in answer and "PCMU" not in answer
            await w.baresip.hang_up()
            await w.idle()
        assert "audio: Set audio encoder: PCMA 8000Hz" in w.baresip.log()
        assert tone_frames(heard_by_baresip(w.baresip), ALICE_TONE) >= 20

    run(main)


def test_an_offer_without_a_common_codec_gets_488_and_never_reaches_the_pbx(
        tmp_path: Path, require_tool: Callable[[str], str],
        free_ports: Callable[[int], int]) -> None:
    binary, base = require_tool("baresip"), free_ports(PORTS)

    async def main() -> None:
        async with world(tmp_path, binary, base, codecs=("G722/16000/1",)) as w:
            await w.baresip.dial(w.gateway_uri)
            closed = await w.baresip.wait_event("CALL_CLOSED")
            assert closed["param"] == "488 Not Acceptable Here"
            await w.idle()
        refusal = w.sip_message("out", "488 (INVITE)")
        assert "Reason: Q.850;cause=65" in refusal  # bearer capability not implemented
        assert "Warning: 305 " in refusal  # RFC 3261 s20.43: incompatible media format
        assert w.sip() == [("in", "INVITE"), ("out", "100 (INVITE)"), ("out", "488 (INVITE)"),
                           ("in", "ACK")]
        assert w.q931() == []  # the PBX never saw a SETUP
        assert not w.phone("ring")

    run(main)


def test_baresip_refusing_our_codecs_clears_the_pbx_phone_with_cause_31(
        tmp_path: Path, require_tool: Callable[[str], str],
        free_ports: Callable[[int], int]) -> None:
    binary, base = require_tool("baresip"), free_ports(PORTS)

    async def main() -> None:
        async with world(tmp_path, binary, base, codecs=("G722/16000/1",)) as w:
            w.pbx.dial(ALICE, BARESIP_NUMBER)
            cleared = await w.pbx.wait_phone(ALICE, "cleared")
            await w.idle()
        refusal = w.sip_message("in", "488 (INVITE)")
        assert "Warning:" not in refusal
        # RFC 3398 s8.2.6.1: 488 maps "by Warning header"; without one, 31 Normal, unspecified
        assert cleared.cause == 31
        assert w.sip() == [("out", "INVITE"), ("in", "488 (INVITE)"), ("out", "ACK")]
        assert w.q931() == [("in", "SETUP"), ("out", "CALL PROCEEDING"), ("out", "DISCONNECT"),
                            ("in", "RELEASE"), ("out", "RELEASE COMPLETE")]
        assert "call: no common audio codecs - rejected" in w.baresip.log()

    run(main)
