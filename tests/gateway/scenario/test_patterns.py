"""The small languages of scenario files: what they accept, what they say when they do not."""

from __future__ import annotations

import pytest

from gateway.scenario.patterns import (
    EventPattern,
    PhoneRef,
    StepPattern,
    Trigger,
    canonical_message_name,
)


@pytest.mark.parametrize(("words", "name"), [
    ("SETUP", "SETUP"), ("call proc", "CALL PROCEEDING"), ("CONNECT ACK", "CONNECT ACKNOWLEDGE"),
    ("REL COMPLETE", "RELEASE COMPLETE"), ("REL", "RELEASE"), ("DISC", "DISCONNECT"),
    ("INVITE", "INVITE"), ("bye", "BYE"), ("180", "180"), ("200 OK", "200"),
    ("183 Session Progress", "183"), ("PROG", "PROGRESS"),
    ("SETUPP", None), ("999", None), ("INVITE BYE", None), ("", None),
])
def test_message_names(words: str, name: str | None) -> None:
    assert canonical_message_name(words.split()) == name


def test_a_step_with_checks_round_trips() -> None:
    step = StepPattern.parse("GW-B  ->  PBX-B   DISCONNECT cause=16 pi=8")
    assert (step.source, step.target, step.name) == ("GW-B", "PBX-B", "DISCONNECT")
    assert [str(c) for c in step.checks] == ["cause=16", "pi=8"]
    assert str(step) == "GW-B -> PBX-B DISCONNECT cause=16 pi=8"
    assert StepPattern.parse(str(step)) == step
    invite = StepPattern.parse("* -> GW-B INVITE sdp=pcmu, cseq=invite")
    assert invite.source == "*" and invite.check_value("cseq") == "INVITE"
    assert StepPattern.parse("A -> B 200 OK sdp").status == 200


@pytest.mark.parametrize(("text", "fragment"), [
    ("GW-A GW-B INVITE", "expected 'FROM -> TO MESSAGE'"),
    ("GW-A -> GW-B", "expected 'FROM -> TO MESSAGE'"),
    ("GW-A -> GW-B INVIT", "'INVIT' is not a SIP method"),
    ("GW-A -> GW-B INVITE colour=red", "unknown check 'colour'"),
    ("GW-A -> GW-B DISCONNECT cause=x", "cause= takes a number 0..127"),
    ("GW-A -> GW-B 200 cseq=", "cseq= needs a value"),
    ("GW-A -> GW-B DISCONNECT cause=16 extra", "'extra' after the checks"),
])
def test_bad_steps(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        StepPattern.parse(text)
    assert fragment in str(caught.value)


def test_phone_references() -> None:
    assert PhoneRef.parse("PBX-A/1000") == PhoneRef("PBX-A", "1000")
    assert str(PhoneRef.parse("PBX-B/fxs1")) == "PBX-B/fxs1"
    for bad in ("PBX-A", "PBX-A/", "/1000", "PBX-A/10/00", "PBX-A 1000"):
        with pytest.raises(ValueError, match="NODE/PHONE"):
            PhoneRef.parse(bad)


def test_event_patterns() -> None:
    cleared = EventPattern.parse("cleared 16")
    assert cleared.cause == 16 and cleared.matches("cleared", "", "", 16)
    assert not cleared.matches("cleared", "", "", 17)
    tone = EventPattern.parse("tone ringback via=audio")
    assert tone.matches("tone", "ringback", "audio", None)
    assert not tone.matches("tone", "ringback", "signal", None)
    assert EventPattern.parse("frequency").matches("frequency", "697", "", None)
    assert str(EventPattern.parse("digit 5 via=audio")) == "digit 5 via=audio"
    for bad, fragment in (("rung", "unknown phone event"), ("tone a b", "more than one value"),
                          ("tone via=ear", "via= is audio"), ("cleared x", "a Q.850 cause"),
                          ("tone colour=1", "unknown qualifier"), ("", "expected a phone")):
        with pytest.raises(ValueError) as caught:
            EventPattern.parse(bad)
        assert fragment in str(caught.value)


def test_triggers() -> None:
    step = Trigger.parse("GW-B -> GW-A 180")
    assert step.kind == "step" and step.step is not None and step.node == "GW-B"
    phone = Trigger.parse("last PBX-A/1000 dial")
    assert phone.kind == "phone" and phone.last and phone.phone == "1000"
    assert str(phone) == "last PBX-A/1000 dial"
    pbx = Trigger.parse("PBX-A route 5552000")
    assert pbx.kind == "pbx" and pbx.pbx_event is not None
    assert pbx.pbx_event.matches("route", "5552000 -> trunk gw-a")
    for bad in ("PBX-A", "PBX-A flying", "PBX-A/1000 rung"):
        with pytest.raises(ValueError):
            Trigger.parse(bad)
