"""One-line summaries (traces, ladders) and detailed dumps of messages."""

from __future__ import annotations

from pbx_sim.q931 import Message, describe, summarize


def test_summaries_of_the_fixture_call(fixture_messages: dict[str, bytes]) -> None:
    summaries = {name: summarize(Message.parse(wire)) for name, wire in fixture_messages.items()}
    assert summaries == {
        "SETUP": "SETUP cr=0x0001 called=9725552222 calling=3145551111 ch=1 progress=3 "
        "keypad=5 display='Alice' complete",
        "CALL PROCEEDING": "CALL PROCEEDING cr=0x8001 ch=1!",
        "ALERTING": "ALERTING cr=0x8001 progress=8",
        "CONNECT": "CONNECT cr=0x8001",
        "CONNECT ACK": "CONNECT ACKNOWLEDGE cr=0x0001",
        "DISCONNECT": "DISCONNECT cr=0x0001 cause=16(normal call clearing)",
        "RELEASE": "RELEASE cr=0x8001",
        "RELEASE COMPLETE": "RELEASE COMPLETE cr=0x0001",
        "RELEASE COMPLETE busy (call 2)": "RELEASE COMPLETE cr=0x8002 cause=17(user busy)",
    }


def test_describe_lists_every_element(fixture_messages: dict[str, bytes]) -> None:
    text = describe(Message.parse(fixture_messages["SETUP"]))
    assert text.splitlines() == [
        "SETUP (0x05) cr=0x0001",
        "    Sending complete",
        "    Bearer capability: speech, circuit mode, 64 kbit/s, G.711 A-law",
        "    Channel identification: PRI, preferred, B-channel 1",
        "    Progress indicator: 3 origination not isdn (location user)",
        "    Display: 'Alice'",
        "    Keypad facility: '5'",
        "    Calling party number: '3145551111' (national, e164, allowed, user not screened)",
        "    Called party number: '9725552222' (national, e164)",
    ]


def test_describe_raw_and_shifted_elements() -> None:
    data = bytes.fromhex(
        "08020001 7d 0803 80e0 04 1401 0a 7e01 00 96 0101 ff 0401 80".replace(" ", "")
    )
    text = describe(Message.parse(data, lenient=True))
    assert text.splitlines() == [
        "STATUS (0x7D) cr=0x0001",
        "    Cause: 96 mandatory information element is missing (location user), "
        "diagnostics 04",
        "    Call state: 10",
        "    User user: 00",
        "    Locking shift to codeset 6",
        "    codeset 6 IE 0x01: ff",
        "    codeset 6 IE 0x04: 80",
    ]
    broken = describe(Message.parse(bytes.fromhex("080200014508018a"), lenient=True))
    assert "Cause: 8a [invalid: Cause: too short]" in broken
