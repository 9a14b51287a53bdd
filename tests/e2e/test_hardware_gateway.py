"""Hardware lines end to end: simulated devices on real ptys, gateways on real sockets.

* A call rings on a simulated voice modem (caller ID after the first RING); the gateway that owns
  the modem line sends an INVITE with the caller's number to a gwemu SIP UAS, which answers; the
  modem goes off hook into full-duplex voice; the far end hangs up (loop current break) and the
  gateway sends BYE.
* A phone on a simulated FXS board (pty) goes off hook, hears dial tone, dials; GW-A routes the
  number over SIP to GW-B, whose station line is the PBX simulator's FXS-board phone on
  ``socket://``; that phone rings with caller ID and answers, audio flows both ways (tones
  detected at each phone), and hanging up clears both sides.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.aio.sip_peers import CallRecord
from gateway.aio.sip_transport import SipTransport
from gateway.aio.sip_uas_peer import UasOptions, UasPeer
from gateway.config.gateway_schema import load_gateway_text
from gateway.media.tones import ToneDetector, ToneGenerator
from gateway.runtime import GatewayNode
from gateway.sip.endpoint import EndpointConfig, SipEndpoint
from gateway.trace import TraceRecorder
from hardware.drivers.serial_line import ReopenPolicy
from hardware.drivers.voice_modem import VoiceModemAdapter
from hardware.protocols.caller_id import CallerId
from hardware.protocols.voice_modem import VoiceModemConfig
from hardware.sim.fxs import SimulatedFxsPhone
from hardware.sim.modem import SimModemOptions, SimulatedModem
from hardware.sim.runner import DeviceRunner
from pbx_sim.aio import PbxSimulator
from pbx_sim.config import FxsPhoneConfig, HostPort, PbxConfig

pytestmark = pytest.mark.timeout(60)


async def until(test: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not test():
        assert loop.time() < deadline, f"timed out waiting for {what or test}"
        await asyncio.sleep(0.01)


def tone_frames(pcm: bytes | bytearray, frequencies: int | tuple[int, ...]) -> int:
    detector = ToneDetector(frequencies)
    return sum(detector.feed(bytes(pcm[i:i + 320])) for i in range(0, len(pcm) - 319, 320))


MODEM_GATEWAY = """
name = "GW-M"

[sip]
listen = "127.0.0.1:{sip}"
transports = ["udp"]

[media]
enabled = false

[[dial-peer.voip]]
tag = 10
destination-pattern = "5553000"
session-target = "ipv4:127.0.0.1:{uas}"
codecs = ["g711ulaw"]
"""


def test_modem_call_becomes_an_invite_a_gwemu_uas_answers(
        tmp_path: Path, free_ports: Callable[[int], int]) -> None:

    async def main() -> None:
        sim = SimulatedModem(SimModemOptions(ring_interval=1.0, caller_id_delay=0.2))
        async with DeviceRunner(sim, link=tmp_path / "gwemu-modem0") as runner:
            uas_trace = TraceRecorder()
            endpoint = SipEndpoint(EndpointConfig(node="uas"), rng=random.Random(1),
                                   trace=uas_trace)
            records: list[CallRecord] = []
            peer = UasPeer(endpoint, UasOptions(), records.append)
            uas = SipTransport(endpoint, peer)
            _, uas_port = await uas.listen_udp("127.0.0.1", 0)
            config = load_gateway_text(MODEM_GATEWAY.format(sip=free_ports(1), uas=uas_port))
            modem = VoiceModemAdapter.open_device(
                VoiceModemConfig(line="modem0", number="5553000", caller_id_wait=2.0),
                runner.path, reopen=ReopenPolicy(first=0.1))
            try:
                async with GatewayNode(config, lines=(modem,)) as gateway:
                    await until(lambda: gateway.in_service.get("modem0"), what="modem ready")
                    runner.act(lambda now: sim.ring(CallerId(number="5551234", name="ALICE"),
                                                    now))
                    await runner.wait_event("answered", timeout=10)
                    await runner.wait_event("voice", "duplex", timeout=5)
                    invites = [e for e in uas_trace.events
                               if e.direction == "in" and e.summary.startswith("INVITE")]
                    assert len(invites) == 1
                    head = invites[0].raw.split(b"\r\n\r\n")[0].decode()
                    from_line = next(line for line in head.split("\r\n")
                                     if line.lower().startswith(("from:", "f:")))
                    assert "5551234" in from_line
                    assert "sip:5553000@" in head.split("\r\n")[0]
                    assert peer.started == 1 and not records  # answered and still up
                    runner.act(lambda now: sim.hang_up("loop-break", now))
                    await until(lambda: records, what="the BYE at the UAS")
                    assert records[0].status == 200
                    assert records[0].outcome == "BYE from the caller"
                    await until(lambda: not sim.off_hook and gateway.live_calls == 0,
                                what="the modem back on hook")
            finally:
                await uas.aclose()

    asyncio.run(asyncio.wait_for(main(), 45))


STATION_GATEWAY = """
name = "{name}"
tone-plan = "us"

[sip]
listen = "127.0.0.1:{sip}"
transports = ["udp"]

[media]
ports = "{rtp}-{rtp_last}"

[[station]]
name = "{line}"
device = "{device}"
number = "{number}"
audio = "serial"

[[dial-peer.pots]]
tag = 1
destination-pattern = "{number}"
port = "{line}"
forward-digits = "all"

[[dial-peer.voip]]
tag = 100
destination-pattern = "{far}"
session-target = "ipv4:127.0.0.1:{far_sip}"
codecs = ["g711ulaw"]
dtmf-relay = ["rtp-nte"]

[timers]
inter-digit = "2s"
"""


def test_fxs_phone_dials_a_phone_behind_a_second_gateway(
        tmp_path: Path, free_ports: Callable[[int], int]) -> None:
    a_sip, b_sip = free_ports(1), free_ports(1)
    a_rtp, b_rtp = free_ports(20), free_ports(20)
    pbx_config = PbxConfig(name="PBX-B", tone_plan="us", fxs_phone=(FxsPhoneConfig(
        name="fxs2", listen=HostPort("127.0.0.1", 0), number="5552001", answer_after_rings=1,
        play="tone:1004", detect=(697,)),))

    async def main() -> None:
        phone = SimulatedFxsPhone(name="phone-a")
        async with PbxSimulator(pbx_config) as pbx, \
                DeviceRunner(phone, link=tmp_path / "gwemu-fxs0") as runner:
            host, port = pbx.fxs_address("fxs2")
            gw_a = GatewayNode(load_gateway_text(STATION_GATEWAY.format(
                name="GW-A", sip=a_sip, rtp=a_rtp, rtp_last=a_rtp + 19, line="phone-a",
                device=runner.path, number="5551001", far="5552...", far_sip=b_sip)))
            gw_b = GatewayNode(load_gateway_text(STATION_GATEWAY.format(
                name="GW-B", sip=b_sip, rtp=b_rtp, rtp_last=b_rtp + 19, line="fxs2",
                device=f"socket://{host}:{port}", number="5552001", far="5551...",
                far_sip=a_sip)))
            async with gw_a, gw_b:
                await until(lambda: gw_a.in_service.get("phone-a") and
                            gw_b.in_service.get("fxs2"), what="both station lines in service")
                phone.play(ToneGenerator([(697, -10.0)]))
                runner.act(phone.lift)
                await runner.wait_event("tone", "dial", timeout=5)
                await asyncio.sleep(0.3)
                assert tone_frames(phone.heard, (350, 440)) >= 5  # dial tone in the earpiece
                runner.act(lambda now: phone.dial("5552001", now))
                cid = await pbx.wait_phone("fxs2", "caller-id", timeout=10)
                assert "5551001" in cid.value
                await pbx.wait_phone("fxs2", "answered", timeout=10)
                await until(lambda: gw_a.live_calls == 1 and gw_b.live_calls == 1)
                mark = len(phone.heard)
                await pbx.wait_phone("fxs2", "frequency", "697", timeout=10)
                await until(lambda: tone_frames(phone.heard[mark:], 1004) >= 10, timeout=10,
                            what="the far phone's 1004 Hz at phone A")
                runner.act(phone.hang_up)
                await until(lambda: gw_a.live_calls == 0 and gw_b.live_calls == 0, timeout=10,
                            what="both gateways clear the call")
                await pbx.wait_phone("fxs2", "cleared", timeout=5)

    asyncio.run(asyncio.wait_for(main(), 50))


MODEM_LINE_GATEWAY = """
name = "GW-M"
tone-plan = "us"

[sip]
listen = "127.0.0.1:{sip}"
transports = ["udp"]

[media]
ports = "{rtp}-{rtp_last}"

[[modem]]
name = "modem0"
device = "{device}"
number = "5553000"
connection-plar = "5552001"
caller-id-wait = "2s"

[[dial-peer.pots]]
tag = 1
destination-pattern = "555[0-1]..."
port = "modem0"
forward-digits = "all"

[[dial-peer.voip]]
tag = 100
destination-pattern = "5552..."
session-target = "ipv4:127.0.0.1:{far_sip}"
codecs = ["g711ulaw"]
dtmf-relay = ["rtp-nte"]
"""


def test_modem_line_from_config_carries_voice_and_dtmf_both_directions(
        tmp_path: Path, free_ports: Callable[[int], int]) -> None:
    """A ``[[modem]]`` line of ``gwemu gateway``'s config, against a station phone behind GW-B.

    In: the modem's line rings with caller ID; the call goes to the connection-plar number, the
    far phone rings with that caller ID and answers; tones cross both ways, the caller's keys
    (DLE DTMF reports) arrive at the phone as in-band digits through RFC 4733; the caller hangs
    up (loop current break) and both gateways clear.  Out: the phone dials a number routed to
    the modem's pots dial-peer; the modem goes off hook and dials it; the far end answers (VCON);
    tones cross; the phone hangs up and the modem goes back on hook."""
    m_sip, b_sip = free_ports(1), free_ports(1)
    m_rtp, b_rtp = free_ports(20), free_ports(20)
    pbx_config = PbxConfig(name="PBX-B", tone_plan="us", fxs_phone=(FxsPhoneConfig(
        name="fxs2", listen=HostPort("127.0.0.1", 0), number="5552001", answer_after_rings=1,
        play="tone:1004", detect=(697,)),))

    async def main() -> None:
        sim = SimulatedModem(SimModemOptions(ring_interval=1.0, caller_id_delay=0.2,
                                             dial_delay=0.3))
        async with PbxSimulator(pbx_config) as pbx, \
                DeviceRunner(sim, link=tmp_path / "gwemu-modem0") as runner:
            host, port = pbx.fxs_address("fxs2")
            gw_m = GatewayNode(load_gateway_text(MODEM_LINE_GATEWAY.format(
                sip=m_sip, rtp=m_rtp, rtp_last=m_rtp + 19, device=runner.path, far_sip=b_sip)))
            gw_b = GatewayNode(load_gateway_text(STATION_GATEWAY.format(
                name="GW-B", sip=b_sip, rtp=b_rtp, rtp_last=b_rtp + 19, line="fxs2",
                device=f"socket://{host}:{port}", number="5552001", far="555[0-1]...",
                far_sip=m_sip)))
            async with gw_m, gw_b:
                assert "modem modem0 on" in gw_m.ready_line()
                await until(lambda: gw_m.in_service.get("modem0") and
                            gw_b.in_service.get("fxs2"), what="modem and station in service")

                # --- in: a call rings on the modem's line -------------------------------------
                sim.play(ToneGenerator([(697, -10.0)]))
                runner.act(lambda now: sim.ring(CallerId(number="5551234", name="ALICE"), now))
                cid = await pbx.wait_phone("fxs2", "caller-id", timeout=10)
                assert "5551234" in cid.value
                await runner.wait_event("answered", timeout=10)
                await runner.wait_event("voice", "duplex", timeout=5)
                mark = len(sim.heard)
                await pbx.wait_phone("fxs2", "frequency", "697", timeout=10)
                await until(lambda: tone_frames(sim.heard[mark:], 1004) >= 10, timeout=10,
                            what="the phone's 1004 Hz on the modem's line")
                since = len(pbx.phone_events("fxs2"))
                runner.act(lambda now: sim.send_dtmf("159#", now, duration=0.12, gap=0.12))
                await until(lambda: "".join(e.value for e in pbx.phone_events("fxs2")[since:]
                                            if e.kind == "digit") == "159#", timeout=10,
                            what="the caller's digits at the far phone")
                runner.act(lambda now: sim.hang_up("loop-break", now))
                await until(lambda: gw_m.live_calls == 0 and gw_b.live_calls == 0, timeout=10,
                            what="both gateways clear the incoming call")
                await until(lambda: not sim.off_hook, what="the modem back on hook")
                await pbx.wait_phone("fxs2", "cleared", timeout=5)
                await until(lambda: not pbx.phone("fxs2").off_hook, timeout=5,
                            what="the far phone hangs up")
                # On hook long enough to be a hang-up: a break this short would be a dial
                # pulse or a flash to the board.
                await asyncio.sleep(1.2)

                # --- out: the phone calls a number behind the modem's line -------------------
                sim.play(ToneGenerator([(697, -10.0)]))  # the far end hung up: a new voice
                mark = len(sim.heard)
                since = len(sim.events)
                phone_since = len(pbx.events)
                pbx.dial("fxs2", "5550100")
                await runner.wait_event("dialled", "5550100", timeout=10)
                await until(lambda: gw_m.live_calls == 1 and gw_b.live_calls == 1, timeout=10,
                            what="the outgoing call up on both gateways")
                await pbx.wait_phone("fxs2", "frequency", "697", timeout=10,
                                     since=phone_since)
                pbx.play("fxs2", "tone:1004")  # ``play`` is what the phone says when it answers
                await until(lambda: tone_frames(sim.heard[mark:], 1004) >= 10, timeout=10,
                            what="the phone's 1004 Hz on the modem's line, outgoing")
                pbx.hang_up("fxs2")
                await until(lambda: gw_m.live_calls == 0 and gw_b.live_calls == 0, timeout=10,
                            what="both gateways clear the outgoing call")
                await until(lambda: not sim.off_hook, what="the modem on hook again")
                assert "host-hangup" in [e.kind for e in sim.events[since:]]

    asyncio.run(asyncio.wait_for(main(), 55))
