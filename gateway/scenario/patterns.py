"""The small languages of scenario files: phone references, ladder steps, event patterns, triggers.

They are values with ``parse(text)`` and ``str()`` so :mod:`gateway.config` reads them from TOML
or YAML strings and reports a bad one with its file, line and key:

* :class:`PhoneRef` -- ``PBX-A/1000``: a phone of a PBX node (extension number or FXS name);
* :class:`StepPattern` -- ``GW-A -> GW-B INVITE sdp``: one ladder arrow, ``*`` for any node,
  a message name (``SETUP``, ``CALL PROC``, ``180``, ``200 OK``) and checks (``cause=16``,
  ``pi=8``, ``sdp``, ``no-sdp``, ``sdp=PCMU,PCMA``, ``cseq=BYE``, ``called=5552000``,
  ``keypad=5``);
* :class:`EventPattern` -- ``tone ringback via=audio``, ``cleared 16``: a phone event;
* :class:`Trigger` -- one of the three: a step (it has ``->``), a phone event
  (``PBX-B/2000 ring 2``) or a PBX call event (``PBX-A connected``); ``last`` in front picks the
  last occurrence instead of the first (``last PBX-A/1000 dial``: the end of dialling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

from pbx_sim.events import PbxEventKind, PhoneEventKind

__all__ = [
    "ANY_NODE",
    "EventPattern",
    "PbxEventPattern",
    "PhoneRef",
    "StepCheck",
    "StepPattern",
    "Trigger",
    "canonical_message_name",
]

ANY_NODE: Final = "*"
PHONE_EVENT_KINDS: Final = frozenset(get_args(PhoneEventKind))
PBX_EVENT_KINDS: Final = frozenset(get_args(PbxEventKind))

# Q.931 s3 message names and the short forms ladder diagrams use for them.
Q931_NAMES: Final = frozenset({
    "ALERTING", "CALL PROCEEDING", "CONNECT", "CONNECT ACKNOWLEDGE", "PROGRESS", "SETUP",
    "SETUP ACKNOWLEDGE", "DISCONNECT", "RELEASE", "RELEASE COMPLETE", "RESTART",
    "RESTART ACKNOWLEDGE", "INFORMATION", "NOTIFY", "STATUS", "STATUS ENQUIRY", "FACILITY",
})  # fmt: skip
_ALIASES: Final = {
    "CALL PROC": "CALL PROCEEDING",
    "PROCEEDING": "CALL PROCEEDING",
    "CONNECT ACK": "CONNECT ACKNOWLEDGE",
    "CONN ACK": "CONNECT ACKNOWLEDGE",
    "SETUP ACK": "SETUP ACKNOWLEDGE",
    "REL COMPLETE": "RELEASE COMPLETE",
    "REL COMP": "RELEASE COMPLETE",
    "RELEASE COMP": "RELEASE COMPLETE",
    "DISC": "DISCONNECT",
    "REL": "RELEASE",
    "ALERT": "ALERTING",
    "PROG": "PROGRESS",
}
SIP_METHODS: Final = frozenset({
    "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY",
    "PUBLISH", "INFO", "REFER", "MESSAGE", "UPDATE",
})  # fmt: skip
_FLAGS: Final = frozenset({"sdp", "no-sdp"})
_VALUED: Final = frozenset({"cause", "pi", "sdp", "cseq", "called", "calling", "keypad"})


def canonical_message_name(words: list[str]) -> str | None:
    """``["call", "proc"]`` -> ``CALL PROCEEDING``; ``["180", "Ringing"]`` -> ``180``; None when
    the words name no SIP or Q.931 message."""
    if not words:
        return None
    first = words[0]
    if first.isdigit() and len(first) == 3 and 100 <= int(first) <= 699:
        return first  # a status code; the reason phrase that may follow is decoration
    text = " ".join(word.upper() for word in words)
    text = _ALIASES.get(text, text)
    if text in Q931_NAMES or (len(words) == 1 and text in SIP_METHODS):
        return text
    return None


@dataclass(frozen=True, slots=True)
class PhoneRef:
    """``NODE/PHONE``: a phone of a PBX simulator node."""

    node: str
    phone: str

    @classmethod
    def parse(cls, text: str) -> PhoneRef:
        node, sep, phone = text.strip().partition("/")
        if not sep or not node or not phone or "/" in phone or " " in text.strip():
            raise ValueError(f"expected NODE/PHONE (e.g. PBX-A/1000), got {text!r}")
        return cls(node, phone)

    def __str__(self) -> str:
        return f"{self.node}/{self.phone}"


@dataclass(frozen=True, slots=True)
class StepCheck:
    """One condition on an arrow: ``cause=16``, ``pi=8``, ``sdp``, ``no-sdp``, ``sdp=PCMU``."""

    key: str
    value: str = ""

    def __str__(self) -> str:
        return f"{self.key}={self.value}" if self.value else self.key


@dataclass(frozen=True, slots=True)
class StepPattern:
    """One expected ladder arrow: ``FROM -> TO NAME [checks]``."""

    source: str
    target: str
    name: str
    checks: tuple[StepCheck, ...] = ()
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> StepPattern:
        left, arrow, right = text.partition("->")
        if not arrow:
            raise ValueError(f"expected 'FROM -> TO MESSAGE', got {text!r}")
        source = left.strip()
        words = right.split()
        if not source or " " in source or len(words) < 2:
            raise ValueError(f"expected 'FROM -> TO MESSAGE', got {text!r}")
        target, rest = words[0], words[1:]
        name_words: list[str] = []
        checks: list[StepCheck] = []
        for word in rest:
            key, eq, value = word.partition("=")
            if eq or word in _FLAGS:
                checks.append(_check(key, value, text))
            elif checks:
                raise ValueError(f"{word!r} after the checks in {text!r}: name the message first")
            else:
                name_words.append(word)
        name = canonical_message_name(name_words)
        if name is None:
            shown = " ".join(name_words) or "nothing"
            raise ValueError(
                f"{shown!r} is not a SIP method, SIP status code or Q.931 message name "
                f"(in {text!r})"
            )
        return cls(source, target, name, tuple(checks), " ".join(text.split()))

    @property
    def status(self) -> int | None:
        return int(self.name) if self.name.isdigit() else None

    def check_value(self, key: str) -> str | None:
        for check in self.checks:
            if check.key == key:
                return check.value
        return None

    def __str__(self) -> str:
        if self.text:
            return self.text
        checks = "".join(f" {check}" for check in self.checks)
        return f"{self.source} -> {self.target} {self.name}{checks}"


def _check(key: str, value: str, text: str) -> StepCheck:
    if key not in _VALUED and key not in _FLAGS:
        known = ", ".join(sorted(_VALUED | _FLAGS))
        raise ValueError(f"unknown check {key!r} in {text!r} (known: {known})")
    if key in ("cause", "pi") and not (value.isdigit() and 0 <= int(value) <= 127):
        raise ValueError(f"{key}= takes a number 0..127, got {value!r} in {text!r}")
    if key in ("cseq", "called", "calling", "keypad") and not value:
        raise ValueError(f"{key}= needs a value in {text!r}")
    if key == "cseq":
        value = value.upper()
    if key == "sdp" and value:
        value = ",".join(part.strip().upper() for part in value.split(",") if part.strip())
    return StepCheck(key, value)


@dataclass(frozen=True, slots=True)
class EventPattern:
    """A phone event: ``KIND [VALUE] [via=audio|signal|keypad|dtmf] [cause=N]``.

    For ``cleared`` and ``rejected`` a bare number is the Q.850 cause (``cleared 16``).
    """

    kind: str
    value: str = ""
    via: str = ""
    cause: int | None = None

    @classmethod
    def parse(cls, text: str) -> EventPattern:
        words = text.split()
        if not words:
            raise ValueError("expected a phone event like 'tone ringback' or 'cleared 16'")
        kind = words[0]
        if kind not in PHONE_EVENT_KINDS:
            raise ValueError(
                f"unknown phone event {kind!r} (known: {', '.join(sorted(PHONE_EVENT_KINDS))})"
            )
        value, via, cause = "", "", None
        for word in words[1:]:
            key, eq, item = word.partition("=")
            if eq and key == "via":
                if item not in ("audio", "signal", "keypad", "dtmf"):
                    raise ValueError(f"via= is audio, signal, keypad or dtmf, got {item!r}")
                via = item
            elif eq and key == "cause":
                cause = _cause(item, text)
            elif eq:
                raise ValueError(f"unknown qualifier {key!r} in {text!r} (known: via, cause)")
            elif value:
                raise ValueError(f"more than one value in {text!r}")
            elif kind in ("cleared", "rejected"):
                cause = _cause(word, text)
            else:
                value = word
        return cls(kind, value, via, cause)

    def matches(self, kind: str, value: str, via: str, cause: int | None) -> bool:
        return (
            kind == self.kind
            and (not self.value or value == self.value)
            and (not self.via or via == self.via)
            and (self.cause is None or cause == self.cause)
        )

    def __str__(self) -> str:
        parts = [self.kind]
        if self.value:
            parts.append(self.value)
        if self.cause is not None:
            parts.append(str(self.cause) if self.kind in ("cleared", "rejected")
                         else f"cause={self.cause}")
        if self.via:
            parts.append(f"via={self.via}")
        return " ".join(parts)


def _cause(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 127:
        raise ValueError(f"a Q.850 cause is a number 0..127, got {text!r} in {whole!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class PbxEventPattern:
    """A PBX call event: ``KIND [words found in its detail]``."""

    kind: str
    detail: str = ""

    def matches(self, kind: str, detail: str) -> bool:
        return kind == self.kind and self.detail in detail

    def __str__(self) -> str:
        return f"{self.kind} {self.detail}".strip()


TriggerKind = Literal["step", "phone", "pbx"]


@dataclass(frozen=True, slots=True)
class Trigger:
    """Something that happens in a run: a ladder arrow, a phone event or a PBX event."""

    kind: TriggerKind
    node: str
    step: StepPattern | None = None
    phone: str = ""
    event: EventPattern | None = None
    pbx_event: PbxEventPattern | None = None
    last: bool = False

    @classmethod
    def parse(cls, text: str) -> Trigger:
        body = text.strip()
        last = body.startswith("last ")
        if last:
            body = body[5:].strip()
        if "->" in body:
            step = StepPattern.parse(body)
            return cls("step", step.source, step=step, last=last)
        head, _, rest = body.partition(" ")
        if not head or not rest.strip():
            raise ValueError(
                f"expected 'NODE/PHONE EVENT', 'NODE PBX-EVENT' or 'FROM -> TO MESSAGE', "
                f"got {text!r}"
            )
        if "/" in head:
            ref = PhoneRef.parse(head)
            return cls("phone", ref.node, phone=ref.phone, event=EventPattern.parse(rest),
                       last=last)
        kind, _, detail = rest.strip().partition(" ")
        if kind not in PBX_EVENT_KINDS:
            raise ValueError(
                f"unknown PBX event {kind!r} in {text!r} "
                f"(known: {', '.join(sorted(PBX_EVENT_KINDS))})"
            )
        return cls("pbx", head, pbx_event=PbxEventPattern(kind, detail.strip()), last=last)

    def __str__(self) -> str:
        prefix = "last " if self.last else ""
        if self.step is not None:
            return prefix + str(self.step)
        if self.event is not None:
            return f"{prefix}{self.node}/{self.phone} {self.event}"
        return f"{prefix}{self.node} {self.pbx_event}"
