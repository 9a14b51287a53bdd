"""``dtmf-relay sip-info`` end to end: two in-process gateways, keypad digits from phone 1000
behind PBX-A leave GW-A as SIP INFO and reach phone 1234 behind PBX-B, in order."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.aio.virtual_time import run_virtual
from gateway.sip.parser import parse_datagram

DIGITS = "1590#*"


def test_keypad_digits_cross_as_sip_info_in_order(flow: Any) -> None:
    async def main() -> None:
        options = flow.Options(a_dtmf=["sip-info"], b_dtmf=["sip-info"],
                               b_media='digits-to-line = "signal"')
        async with flow.world(options) as w:
            w.pbx_a.dial("1000", "5551234")
            await w.phone(w.pbx_a, "1000", "far-end-answered")
            await w.until(lambda: ("in", "ACK") in w.sip(w.gw_b), what="the ACK")
            mark = len(w.pbx_b.events)
            w.pbx_a.send_digits("1000", DIGITS)
            await w.until(lambda: len(digits(w, mark)) == len(DIGITS), what="the digits")
            assert "".join(digits(w, mark)) == DIGITS
            sent = [parse_datagram(e.raw) for e in w.messages(w.gw_a, "sip", "INFO")]
            assert [m.body for m in sent] == [
                f"Signal={d}\r\nDuration=100\r\n".encode() for d in DIGITS]
            infos = [(d, label) for d, label in w.sip(w.gw_a) if "INFO" in label]
            assert infos == [("out", "INFO"), ("in", "200 (INFO)")] * len(DIGITS)
            assert [label for _, label in w.sip(w.gw_b) if "INFO" in label] == [
                "INFO", "200 (INFO)"] * len(DIGITS)
            keypads = [e for e in w.messages(w.gw_b, "q931", "INFORMATION")
                       if e.direction == "out"]
            assert len(keypads) == len(DIGITS)
            (record,) = w.gw_a.call_records()
            assert record["dtmf"] == "sip-info"
            w.pbx_a.hang_up("1000")
            await w.idle()

    run_virtual(asyncio.wait_for(main(), 60))


def digits(w: Any, since: int) -> list[str]:
    return [e.value for e in w.pbx_b.events[since:]
            if getattr(e, "phone", None) == "1234" and e.kind == "digit"]


def test_in_band_digits_from_the_line_cross_as_sip_info(flow: Any) -> None:
    """With media: phone 1000 dials DTMF tones into its audio; GW-A hears them, mutes them and
    sends INFO; GW-B signals them to PBX-B, whose phone 1234 gets them as keypad signals."""

    async def main() -> None:
        options = flow.Options(media=True, a_dtmf=["sip-info"], b_dtmf=["sip-info"],
                               b_media='digits-to-line = "signal"')
        async with flow.world(options) as w:
            w.pbx_a.dial("1000", "5551234")
            await w.phone(w.pbx_a, "1000", "far-end-answered")
            await w.until(lambda: ("in", "ACK") in w.sip(w.gw_b), what="the ACK")
            mark = len(w.pbx_b.events)
            w.pbx_a.send_digits("1000", "386")
            await w.until(lambda: len(digits(w, mark)) == 3, what="the digits")
            await asyncio.sleep(1.0)  # time for any tone leaked into the audio to be heard
            assert "".join(digits(w, mark)) == "386"
            events = [e for e in w.pbx_b.events[mark:]
                      if getattr(e, "phone", None) == "1234" and e.kind == "digit"]
            assert {e.via for e in events} == {"signal"}  # not heard in the audio too
            assert len(w.messages(w.gw_a, "sip", "INFO")) == 3
            w.pbx_a.hang_up("1000")
            await w.idle()

    run_virtual(asyncio.wait_for(main(), 60))
