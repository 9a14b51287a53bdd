"""Flow 1 and its failure and variant paths through two real gateways (REFERENCE_FLOWS.md).

PBX-A simulator -> GW-A -> SIP -> GW-B -> PBX-B simulator, signalling only, on the virtual-time
loop.  Each test checks the messages on both sides of both gateways (SIP and Q.931, from the
gateways' traces), the Q.850 causes on the wire and what the phones were told, and that every
call is gone afterwards.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from gateway.aio.virtual_time import run_virtual
from gateway.calls.causes import CauseMap
from gateway.runtime import GatewayNode

FLOW_1_A_Q931 = [
    ("in", "SETUP"), ("out", "CALL PROCEEDING"), ("out", "ALERTING"), ("out", "CONNECT"),
    ("in", "CONNECT ACKNOWLEDGE"), ("in", "DISCONNECT"), ("out", "RELEASE"),
    ("in", "RELEASE COMPLETE"),
]
FLOW_1_A_SIP = [
    ("out", "INVITE"), ("in", "100 (INVITE)"), ("in", "180 (INVITE)"), ("in", "200 (INVITE)"),
    ("out", "ACK"), ("out", "BYE"), ("in", "200 (BYE)"),
]
FLOW_1_B_SIP = [(("in" if d == "out" else "out"), label) for d, label in FLOW_1_A_SIP]
FLOW_1_B_Q931 = [
    ("out", "SETUP"), ("in", "CALL PROCEEDING"), ("in", "ALERTING"), ("in", "CONNECT"),
    ("out", "CONNECT ACKNOWLEDGE"), ("out", "DISCONNECT"), ("in", "RELEASE"),
    ("out", "RELEASE COMPLETE"),
]
# The clearing of a call that failed after GW-A answered its PBX with CALL PROCEEDING.
A_FAILED = [("in", "SETUP"), ("out", "CALL PROCEEDING"), ("out", "DISCONNECT"),
            ("in", "RELEASE"), ("out", "RELEASE COMPLETE")]


def causes(flow: Any, node: GatewayNode, label: str) -> list[int | None]:
    return [flow.q931_cause(e) for e in flow.recorded(node)
            if e.protocol == "q931" and e.summary.split(" cr=")[0] == label]


def header(flow: Any, node: GatewayNode, label: str, name: str) -> str:
    for event in flow.recorded(node):
        if event.protocol == "sip" and flow.sip_label(event) == label:
            for line in event.raw.decode().split("\r\n"):
                if line.lower().startswith(name.lower() + ":"):
                    return str(line.split(":", 1)[1].strip())
    raise AssertionError(f"no {name} in {label}")


def reason_cause(value: str) -> int | None:
    """The Q.850 cause of an RFC 3326 Reason header value."""
    protocol, *parameters = [part.strip() for part in value.split(";")]
    if protocol.upper() != "Q.850":
        return None
    for parameter in parameters:
        name, _, number = parameter.partition("=")
        if name.strip().lower() == "cause":
            return int(number)
    return None


def run(main: Any) -> None:
    run_virtual(asyncio.wait_for(main, 300))


def test_flow_1_message_for_message(flow: Any) -> None:
    async def main() -> None:
        async with flow.world() as w:
            w.pbx_a.dial("1000", "5551234")
            await w.phone(w.pbx_a, "1000", "far-end-answered")
            caller_id = await w.phone(w.pbx_b, "1234", "caller-id")
            assert caller_id.value == "5551000 Alice"
            ringback = [e for e in flow.phone_events(w.pbx_a, "1000") if e.kind == "tone"]
            assert [(e.value, e.via) for e in ringback] == [("dial", "signal"),
                                                           ("ringback", "signal")]
            calls = w.gw_a.call_records()
            assert [(c["phase"], c["calling"], c["called"]) for c in calls] == \
                [("active", "5551000", "5551234")]
            assert {leg["kind"]: leg["dial_peer"] for leg in calls[0]["legs"]} == \
                {"line": 1, "sip": 100}
            w.pbx_a.hang_up("1000")
            cleared = await w.phone(w.pbx_b, "1234", "cleared")
            assert cleared.cause == 16
            await w.idle()
            assert w.q931(w.gw_a) == FLOW_1_A_Q931
            assert w.sip(w.gw_a) == FLOW_1_A_SIP
            assert w.sip(w.gw_b) == FLOW_1_B_SIP
            assert w.q931(w.gw_b) == FLOW_1_B_Q931
            assert causes(flow, w.gw_b, "DISCONNECT") == [16]
            assert w.gw_a.call_records() == [] and w.gw_b.call_records() == []

    run(main())


def test_the_callee_hangs_up_first(flow: Any) -> None:
    async def main() -> None:
        async with flow.world() as w:
            w.pbx_a.dial("1000", "5551234")
            await w.phone(w.pbx_a, "1000", "far-end-answered")
            w.pbx_b.hang_up("1234")
            cleared = await w.phone(w.pbx_a, "1000", "cleared")
            assert cleared.cause == 16
            await w.idle()
            assert w.sip(w.gw_b)[-2:] == [("out", "BYE"), ("in", "200 (BYE)")]
            assert w.q931(w.gw_b)[-3:] == [("in", "DISCONNECT"), ("out", "RELEASE"),
                                           ("in", "RELEASE COMPLETE")]
            assert w.q931(w.gw_a)[-3:] == [("out", "DISCONNECT"), ("in", "RELEASE"),
                                           ("out", "RELEASE COMPLETE")]
            assert causes(flow, w.gw_a, "DISCONNECT") == [16]

    run(main())


def refused(flow: Any, number: str, status: int, cause: int, **options: Any) -> None:
    """A call the far PBX refuses at once: RELEASE COMPLETE -> SIP status -> DISCONNECT."""

    async def main() -> None:
        async with flow.world(flow.Options(**options)) as w:
            mark = len(w.pbx_a.events)
            w.pbx_a.dial("1000", number)
            await w.phone(w.pbx_a, "1000", "cleared")
            await w.idle()
            assert w.q931(w.gw_b) == [("out", "SETUP"), ("in", "RELEASE COMPLETE")]
            assert causes(flow, w.gw_b, "RELEASE COMPLETE") == [cause]
            assert w.sip(w.gw_b) == [("in", "INVITE"), ("out", "100 (INVITE)"),
                                     ("out", f"{status} (INVITE)"), ("in", "ACK")]
            assert w.sip(w.gw_a) == [("out", "INVITE"), ("in", "100 (INVITE)"),
                                     ("in", f"{status} (INVITE)"), ("out", "ACK")]
            assert CauseMap().status_for_cause(cause) == status
            # RFC 3326: the far side's cause travels in a Reason header and wins
            assert reason_cause(header(flow, w.gw_a, f"{status} (INVITE)", "Reason")) == cause
            assert w.q931(w.gw_a) == A_FAILED
            assert causes(flow, w.gw_a, "DISCONNECT") == [cause]
            assert w.cleared(w.pbx_a, "1000", mark) == [cause]

    run(main())


def test_busy(flow: Any) -> None:
    refused(flow, "5552001", 486, 17)


def test_unknown_number(flow: Any) -> None:
    refused(flow, "5558888", 404, 1)


def test_rejected_call(flow: Any) -> None:
    refused(flow, "5552003", 403, 21)


def test_no_dial_peer_for_the_number(flow: Any) -> None:
    """GW-A has no route for 5669999: the PBX is told 'unallocated number' at once."""

    async def main() -> None:
        async with flow.world() as w:
            mark = len(w.pbx_a.events)
            w.pbx_a.dial("1000", "95669999#")  # PBX-A's 9 + any number route
            await w.phone(w.pbx_a, "1000", "cleared")
            await w.idle()
            assert w.sip(w.gw_a) == [] and w.sip(w.gw_b) == []
            assert w.q931(w.gw_a)[0] == ("in", "SETUP")
            assert w.cleared(w.pbx_a, "1000", mark) == [1]

    run(main())


def test_no_answer_timer(flow: Any) -> None:
    """GW-A's ring-no-answer timer (20 s) ends a call PBX-B lets ring: CANCEL with cause 19."""

    async def main() -> None:
        async with flow.world(flow.Options(ring="20s")) as w:
            mark = len(w.pbx_a.events)
            start = asyncio.get_running_loop().time()
            w.pbx_a.dial("1000", "5552002")
            cleared = await w.phone(w.pbx_a, "1000", "cleared", timeout=60)
            assert 20 <= cleared.time - start < 22
            assert cleared.cause == 19
            await w.idle()
            assert w.sip(w.gw_a) == [
                ("out", "INVITE"), ("in", "100 (INVITE)"), ("in", "180 (INVITE)"),
                ("out", "CANCEL"), ("in", "200 (CANCEL)"), ("in", "487 (INVITE)"),
                ("out", "ACK")]
            assert reason_cause(header(flow, w.gw_a, "CANCEL", "Reason")) == 19
            assert w.q931(w.gw_b)[-3:] == [("out", "DISCONNECT"), ("in", "RELEASE"),
                                           ("out", "RELEASE COMPLETE")]
            assert causes(flow, w.gw_b, "DISCONNECT") == [19]
            assert causes(flow, w.gw_a, "DISCONNECT") == [19]
            assert w.cleared(w.pbx_a, "1000", mark) == [19]

    run(main())


def test_the_caller_abandons_while_ringing(flow: Any) -> None:
    async def main() -> None:
        async with flow.world() as w:
            mark = len(w.pbx_b.events)
            w.pbx_a.dial("1000", "5552002")
            await w.phone(w.pbx_b, "2002", "ring")
            w.pbx_a.hang_up("1000")
            await w.idle()
            assert w.q931(w.gw_a)[-3:] == [("in", "DISCONNECT"), ("out", "RELEASE"),
                                           ("in", "RELEASE COMPLETE")]
            assert w.sip(w.gw_b) == [
                ("in", "INVITE"), ("out", "100 (INVITE)"), ("out", "180 (INVITE)"),
                ("in", "CANCEL"), ("out", "200 (CANCEL)"), ("out", "487 (INVITE)"),
                ("in", "ACK")]
            assert w.q931(w.gw_b) == [
                ("out", "SETUP"), ("in", "CALL PROCEEDING"), ("in", "ALERTING"),
                ("out", "DISCONNECT"), ("in", "RELEASE"), ("out", "RELEASE COMPLETE")]
            assert causes(flow, w.gw_b, "DISCONNECT") == [16]
            rings = [e for e in flow.phone_events(w.pbx_b, "2002", mark) if e.kind == "ring"]
            assert rings  # it rang, then stopped: no answer, no cleared tone for an idle phone

    run(main())


def test_an_unreachable_gateway_times_the_invite_out(flow: Any) -> None:
    """GW-B's address swallows everything: Timer B (64*T1 = 32 s) -> 408 -> cause 102."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    port = silent.getsockname()[1]

    async def main() -> None:
        options = flow.Options(b_target=f"127.0.0.1:{port}",
                               pbx_a_trunk={"timers": {"t310": 120.0}})
        async with flow.world(options) as w:
            mark = len(w.pbx_a.events)
            start = asyncio.get_running_loop().time()
            w.pbx_a.dial("1000", "5551234")
            cleared = await w.phone(w.pbx_a, "1000", "cleared", timeout=120)
            assert 32 <= cleared.time - start < 34
            await w.idle()
            sent = w.sip(w.gw_a)
            assert set(sent) == {("out", "INVITE")} and len(sent) == 7  # A: 0.5, 1, ... 16 s
            assert w.q931(w.gw_a) == A_FAILED
            assert causes(flow, w.gw_a, "DISCONNECT") == [102]
            assert w.cleared(w.pbx_a, "1000", mark) == [102]
            assert w.sip(w.gw_b) == []

    try:
        run(main())
    finally:
        silent.close()


def test_codec_mismatch(flow: Any) -> None:
    """GW-B's peer allows only G.729, GW-A offers G.711: 488 -> 'bearer capability' (65)."""

    async def main() -> None:
        async with flow.world(flow.Options(b_codecs=("g729r8",))) as w:
            mark = len(w.pbx_a.events)
            w.pbx_a.dial("1000", "5551234")
            await w.phone(w.pbx_a, "1000", "cleared")
            await w.idle()
            assert w.sip(w.gw_b) == [("in", "INVITE"), ("out", "100 (INVITE)"),
                                     ("out", "488 (INVITE)"), ("in", "ACK")]
            assert w.q931(w.gw_b) == []  # PBX-B never hears of it
            assert header(flow, w.gw_b, "488 (INVITE)", "Warning").startswith("305")
            assert w.q931(w.gw_a) == A_FAILED
            assert causes(flow, w.gw_a, "DISCONNECT") == [65]
            assert w.cleared(w.pbx_a, "1000", mark) == [65]

    run(main())


def test_early_media_cuts_through_before_answer(flow: Any) -> None:
    """PBX-B rings back in-band (ALERTING, PI 8): GW-B sends 183 with SDP, GW-A a PROGRESS
    with PI 8, so PBX-A's phone listens to the B-channel instead of playing ringback."""

    async def main() -> None:
        async with flow.world(flow.Options(pbx_b_trunk={"inband_ringback": True})) as w:
            w.pbx_a.dial("1000", "5551234")
            await w.phone(w.pbx_a, "1000", "far-end-answered")
            w.pbx_a.hang_up("1000")
            await w.idle()
            alerting = w.messages(w.gw_b, "q931", "ALERTING")
            assert len(alerting) == 1 and "progress=8" in alerting[0].summary
            assert w.sip(w.gw_b)[:4] == [("in", "INVITE"), ("out", "100 (INVITE)"),
                                         ("out", "183 (INVITE)"), ("out", "200 (INVITE)")]
            early = w.messages(w.gw_b, "sip", "183 (INVITE)")[0]
            assert b"m=audio" in early.raw  # 183 carries the SDP answer
            progress = w.messages(w.gw_a, "q931", "PROGRESS")
            assert len(progress) == 1 and "progress=8" in progress[0].summary
            assert ("out", "ALERTING") not in w.q931(w.gw_a)
            tones = [e.value for e in flow.phone_events(w.pbx_a, "1000") if e.kind == "tone"]
            assert "ringback" not in tones  # PBX-A did not ring back locally

    run(main())


def test_forward_on_busy(flow: Any) -> None:
    forwarding = '[[forwarding]]\nnumber = "5552001"\nbusy = "5552000"\n'

    async def main() -> None:
        async with flow.world(flow.Options(b_extra=forwarding)) as w:
            w.pbx_a.dial("1000", "5552001")
            await w.phone(w.pbx_a, "1000", "far-end-answered")
            await w.phone(w.pbx_b, "2000", "answered")
            w.pbx_a.hang_up("1000")
            await w.idle()
            assert w.q931(w.gw_b)[:3] == [("out", "SETUP"), ("in", "RELEASE COMPLETE"),
                                          ("out", "SETUP")]
            assert causes(flow, w.gw_b, "RELEASE COMPLETE")[0] == 17
            setups = w.messages(w.gw_b, "q931", "SETUP")
            assert "called=5552001" in setups[0].summary
            assert "called=5552000" in setups[1].summary
            assert ("out", "181 (INVITE)") in w.sip(w.gw_b)
            assert ("in", "200 (INVITE)") in w.sip(w.gw_a)
            assert any("forwarding 5552001 on busy to 5552000" in line for line in w.console)

    run(main())


def test_an_untrusted_source_is_refused(flow: Any) -> None:
    """Toll-fraud protection: an INVITE from 127.0.0.2 (no dial-peer points there) -> 403."""

    async def main() -> None:
        async with flow.world() as w:
            target = w.gw_b.sip_address("udp")
            loop = asyncio.get_running_loop()
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.2", 0))
            sock.setblocking(False)
            port = sock.getsockname()[1]
            invite = (
                f"INVITE sip:5551234@{target[0]}:{target[1]} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.2:{port};branch=z9hG4bKfraud1\r\n"
                "Max-Forwards: 70\r\nFrom: <sip:attacker@127.0.0.2>;tag=f1\r\n"
                f"To: <sip:5551234@{target[0]}>\r\nCall-ID: fraud-1@127.0.0.2\r\n"
                "CSeq: 1 INVITE\r\nContact: <sip:attacker@127.0.0.2>\r\n"
                "Content-Length: 0\r\n\r\n").encode()
            await loop.sock_sendto(sock, invite, target)
            answer = await asyncio.wait_for(loop.sock_recv(sock, 4096), 5)
            sock.close()
            status = answer.split(b"\r\n")[0]
            assert status.startswith(b"SIP/2.0 403")
            assert b"cause=21" in answer  # Reason: Q.850;cause=21
            await asyncio.sleep(0.5)
            assert w.q931(w.gw_b) == [] and w.gw_b.live_calls == 0
            assert not w.pbx_events(w.pbx_b, "call")

    run(main())


def test_the_far_pbx_vanishing_mid_call_clears_with_cause_27(flow: Any) -> None:
    async def main() -> None:
        async with flow.world() as w:
            mark = len(w.pbx_a.events)
            w.pbx_a.dial("1000", "5551234")
            await w.phone(w.pbx_a, "1000", "far-end-answered")
            await w.pbx_b.stop()  # PBX-B's TCP connection closes under an active call
            cleared = await w.phone(w.pbx_a, "1000", "cleared")
            assert cleared.cause == 27
            await w.until(lambda: w.gw_a.live_calls == 0 and w.gw_b.live_calls == 0)
            assert w.sip(w.gw_b)[-2:] == [("out", "BYE"), ("in", "200 (BYE)")]
            assert reason_cause(header(flow, w.gw_b, "BYE", "Reason")) == 27
            assert causes(flow, w.gw_a, "DISCONNECT") == [27]
            assert w.cleared(w.pbx_a, "1000", mark) == [27]
            assert not w.gw_b.in_service["pbx-b"]
            await w.pbx_b.start()  # the world's teardown stops it again

    run(main())


def test_early_media_is_heard_before_answer(flow: Any) -> None:
    """With voice: PBX-B's in-band ringback (US plan, 440+480 Hz) crosses both gateways and
    PBX-A's phone hears it while the call is still unanswered -- PBX-A itself plays nothing,
    since GW-A's PROGRESS said the information is in-band (PI 8)."""

    async def main() -> None:
        options = flow.Options(media=True, pbx_b_trunk={"inband_ringback": True},
                               a_tone_plan="us")
        async with flow.world(options) as w:
            w.pbx_a.dial("1000", "5552002")  # rings, never answers
            heard = await w.phone(w.pbx_a, "1000", "tone", "ringback", timeout=10)
            assert heard.via == "audio"
            events = flow.phone_events(w.pbx_a, "1000")
            assert not any(e.kind == "far-end-answered" for e in events)
            # no ALERTING went to PBX-A, so it played no ringback of its own: this is PBX-B's
            assert w.q931(w.gw_a) == [("in", "SETUP"), ("out", "CALL PROCEEDING"),
                                      ("out", "PROGRESS")]
            assert [c["phase"] for c in w.gw_a.call_records()] == ["alerting"]
            w.pbx_a.hang_up("1000")
            await w.until(lambda: w.gw_a.live_calls == 0 and w.gw_b.live_calls == 0)
            assert ("in", "CANCEL") in w.sip(w.gw_b)

    asyncio.run(asyncio.wait_for(main(), 30))
