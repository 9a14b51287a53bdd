"""The expectation engine: pure functions from what a run recorded to pass/fail results.

Inputs are a :class:`RunRecord` -- the trace events of every node, the PBX simulators' phone
and call events, each node's state at the end -- and a scenario's
:class:`~gateway.scenario.schema.Expectations`.  The ladder (:mod:`gateway.scenario.ladder`) and
the RTP streams (:mod:`gateway.scenario.rtp_stats`) are derived from the trace once
(:class:`RunView`); every expectation becomes one :class:`Result`, and a failed one carries the
part of the ladder around the first thing that did not happen as expected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from gateway.scenario.ladder import Arrow, Note, extract_ladder
from gateway.scenario.patterns import (
    ANY_NODE,
    EventPattern,
    StepPattern,
    Trigger,
)
from gateway.scenario.rtp_stats import RtpStream, rtp_streams
from gateway.scenario.schema import (
    Expectations,
    LadderExpectation,
    LegExpectation,
    MediaExpectation,
    PhoneExpectation,
    RegistrationExpectation,
    RtpExpectation,
    TimingExpectation,
)
from gateway.trace import Address, TraceEvent
from pbx_sim.events import PbxEvent, PhoneEvent, SimEvent

__all__ = [
    "NodeState",
    "Result",
    "RunRecord",
    "RunView",
    "evaluate",
    "first_failure",
    "match_ladder",
]

ResultKind = Literal[
    "run", "ladder", "phone", "media", "rtp", "leg", "timing", "registration", "idle"
]
_EXCERPT_BEFORE: Final = 4
_EXCERPT_AFTER: Final = 5
_CLEARING_Q931: Final = ("DISCONNECT", "RELEASE", "RELEASE COMPLETE")


@dataclass(frozen=True, slots=True)
class NodeState:
    """A node at the end of the run: calls still up, phones off hook, registrations."""

    node: str
    kind: str
    live_calls: int = 0
    off_hook: tuple[str, ...] = ()
    registrations: tuple[tuple[str, str], ...] = ()  # (number or AOR, state)


@dataclass(frozen=True, slots=True)
class RunRecord:
    """Everything a run leaves behind (times are the run's clock; ``start`` is time zero)."""

    scenario: str
    start: float
    end: float
    trace: tuple[TraceEvent, ...]
    sim_events: Mapping[str, tuple[SimEvent, ...]] = field(default_factory=dict)
    final: Mapping[str, NodeState] = field(default_factory=dict)
    aliases: Mapping[Address, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()  # the run itself went wrong (a node failed, a timeout)
    ports: Mapping[int, int] = field(default_factory=dict)  # relay port -> the one it stands for


class RunView:
    """The ladder, notes and RTP streams of a record, derived once."""

    __slots__ = ("arrows", "notes", "record", "streams")

    def __init__(self, record: RunRecord) -> None:
        self.record = record
        arrows, notes = extract_ladder(record.trace, record.aliases, record.ports)
        self.arrows: list[Arrow] = arrows
        self.notes: list[Note] = notes
        self.streams: list[RtpStream] = rtp_streams(record.trace, arrows, record.aliases,
                                                    record.ports)

    def phone_events(self, node: str, phone: str) -> list[PhoneEvent]:
        return [e for e in self.record.sim_events.get(node, ())
                if isinstance(e, PhoneEvent) and e.phone == phone]

    def pbx_events(self, node: str) -> list[PbxEvent]:
        return [e for e in self.record.sim_events.get(node, ()) if isinstance(e, PbxEvent)]

    def excerpt(self, time: float | None, around: Arrow | None = None) -> tuple[Arrow, ...]:
        """The arrows around ``around`` (an arrow of the ladder), else after ``time`` (the start
        of the ladder when None)."""
        arrows = [a for a in self.arrows if not a.retransmission or a is around]
        if not arrows:
            return ()
        if around is not None and any(a is around for a in arrows):
            index = next(i for i, a in enumerate(arrows) if a is around) + 1
        elif time is None:
            index = 0
        else:
            index = next((i for i, a in enumerate(arrows) if a.time > time), len(arrows))
        return tuple(arrows[max(0, index - _EXCERPT_BEFORE) : index + _EXCERPT_AFTER])


@dataclass(frozen=True, slots=True)
class Result:
    """One expectation's verdict; ``focus`` is the run time to show the ladder around."""

    kind: ResultKind
    key: str  # where the expectation is written: "expect.ladder", "expect.leg[0]"
    description: str
    passed: bool
    message: str = ""
    focus: float | None = None
    excerpt: tuple[Arrow, ...] = ()
    marked: Arrow | None = None  # the arrow the message talks about, if any

    def as_record(self, start: float = 0.0) -> dict[str, object]:
        return {
            "kind": self.kind, "key": self.key, "description": self.description,
            "passed": self.passed, "message": self.message,
            "focus": None if self.focus is None else round(self.focus - start, 6),
        }  # fmt: skip


# ------------------------------------------------------------------------------ matching


def step_matches(step: StepPattern, arrow: Arrow) -> bool:
    if step.source not in (ANY_NODE, arrow.source) or step.target not in (ANY_NODE, arrow.target):
        return False
    return arrow.name == step.name and not failed_checks(step, arrow)


def failed_checks(step: StepPattern, arrow: Arrow) -> list[str]:
    """The checks of ``step`` that ``arrow`` does not meet, written as in the step."""
    failed: list[str] = []
    for check in step.checks:
        value = check.value
        match check.key:
            case "cause":
                ok = arrow.cause == int(value)
            case "pi":
                ok = int(value) in arrow.progress
            case "sdp":
                ok = arrow.codecs is not None and (
                    not value or ",".join(arrow.codecs).upper() == value
                )
            case "no-sdp":
                ok = arrow.codecs is None
            case "cseq":
                ok = arrow.cseq_method == value
            case "called":
                ok = arrow.called == value
            case "calling":
                ok = arrow.calling == value
            case "keypad":
                ok = arrow.keypad == value
            case _:  # pragma: no cover - the parser admits no other key
                ok = False
        if not ok:
            failed.append(str(check))
    return failed


def _ordered(earlier: StepPattern, later: StepPattern) -> bool:
    """Whether ``later`` must come after ``earlier`` under causal order.

    It must when both are on the same link (one conversation), when the node that receives
    ``earlier`` sends ``later`` (drawn as cause and effect: GW-A sends ACK only once PBX-A
    acknowledged CONNECT), or when the node that sends ``earlier`` receives ``later`` (an
    answer comes after what it answers).  Two messages a node sends at once on two links, two
    answers reaching a node from different peers, and messages on links that share no node
    may come in either order: those are races between legs that progress independently.
    """
    if ANY_NODE in (earlier.source, earlier.target, later.source, later.target):
        return True  # a wildcard might be anything: keep the written order
    same_link = {earlier.source, earlier.target} == {later.source, later.target}
    return same_link or earlier.target == later.source or earlier.source == later.target


@dataclass(frozen=True, slots=True)
class LadderMatch:
    """Which arrow met each step (None: none did) and, for ``exact``, the arrows no step
    expected."""

    matched: tuple[Arrow | None, ...]
    unexpected: tuple[Arrow, ...]


def match_ladder(arrows: Sequence[Arrow], expectation: LadderExpectation) -> LadderMatch:
    """Match steps to arrows in trace order (see :class:`LadderExpectation` for the rules).

    Each arrow meets the first step it matches among those whose predecessors (all earlier
    steps under ``strict`` order, see :func:`_ordered` under ``causal``) are met already.
    """
    steps = expectation.steps
    protocols = set(expectation.protocols)
    scope = {n for s in steps for n in (s.source, s.target)} - {ANY_NODE}
    strict = expectation.order == "strict"
    before = [[i for i in range(j) if strict or _ordered(steps[i], steps[j])]
              for j in range(len(steps))]
    matched: list[Arrow | None] = [None] * len(steps)
    unexpected: list[Arrow] = []
    for arrow in arrows:
        if arrow.retransmission or arrow.protocol not in protocols:
            continue
        chosen = next((j for j, step in enumerate(steps)
                       if matched[j] is None
                       and all(matched[i] is not None for i in before[j])
                       and step_matches(step, arrow)), None)
        if chosen is not None:
            matched[chosen] = arrow
        elif expectation.match == "exact" and {arrow.source, arrow.target} <= scope:
            unexpected.append(arrow)
    return LadderMatch(tuple(matched), tuple(unexpected))


def _check_ladder(view: RunView, expectation: LadderExpectation) -> Result:
    steps = expectation.steps
    description = f"ladder: {len(steps)} steps ({expectation.match})"
    outcome = match_ladder(view.arrows, expectation)
    missing = next((i for i, arrow in enumerate(outcome.matched) if arrow is None), None)
    first_unexpected = outcome.unexpected[0] if outcome.unexpected else None
    if missing is None and first_unexpected is None:
        return Result("ladder", "expect.ladder", description, True,
                      f"all {len(steps)} steps seen in order")
    previous = next((outcome.matched[i] for i in range(missing - 1, -1, -1)
                     if outcome.matched[i] is not None), None) if missing is not None else None
    if first_unexpected is not None and (
        missing is None or previous is None or first_unexpected.time <= previous.time
    ):
        message = (f"unexpected {_arrow_text(first_unexpected)} at "
                   f"{first_unexpected.time - view.record.start:.3f} s (match = \"exact\")")
        if missing is not None:
            message += f"\n  and step {missing + 1} of {len(steps)} not seen: {steps[missing]}"
        return Result("ladder", "expect.ladder", description, False, message,
                      first_unexpected.time,
                      view.excerpt(first_unexpected.time, first_unexpected),
                      first_unexpected)
    assert missing is not None
    step = steps[missing]
    message = f"step {missing + 1} of {len(steps)} not seen: {step}"
    if previous is not None:
        message += (f"\n  after step {missing} ({steps[missing - 1]}) at "
                    f"{previous.time - view.record.start:.3f} s")
    used = {id(arrow) for arrow in outcome.matched if arrow is not None}
    unused = [arrow for arrow in view.arrows if id(arrow) not in used]
    position = {id(arrow): index for index, arrow in enumerate(view.arrows)}

    def blocking(candidate: Arrow) -> str:
        """The first step the written order puts ahead of ``candidate`` but that came later."""
        for earlier in _predecessors(expectation, missing):
            seen = outcome.matched[earlier]
            if seen is None or position[id(seen)] > position[id(candidate)]:
                return str(steps[earlier])
        return ""

    hint = _near_miss(unused, step, previous.time if previous is not None else None,
                      view.record.start, blocking)
    if hint:
        message += f"\n  {hint}"
    focus = previous.time if previous is not None else None
    return Result("ladder", "expect.ladder", description, False, message, focus,
                  view.excerpt(focus, previous), previous)


def _predecessors(expectation: LadderExpectation, index: int) -> list[int]:
    steps = expectation.steps
    strict = expectation.order == "strict"
    return [i for i in range(index) if strict or _ordered(steps[i], steps[index])]


def _near_miss(arrows: Sequence[Arrow], step: StepPattern, after: float | None,
               start: float, blocking: Callable[[Arrow], str]) -> str:
    """Why ``step`` met none of ``arrows`` (those no other step took)."""
    for arrow in arrows:
        if arrow.name == step.name and step.source in (ANY_NODE, arrow.source) and (
            step.target in (ANY_NODE, arrow.target)
        ):
            failed = failed_checks(step, arrow)
            if failed:
                return (f"{_arrow_text(arrow)} at {arrow.time - start:.3f} s does not meet "
                        f"{', '.join(failed)}")
            ahead = blocking(arrow)
            order = f": it came before '{ahead}', which the steps put first" if ahead else ""
            return (f"{_arrow_text(arrow)} was seen at {arrow.time - start:.3f} s, out of "
                    f"the written order{order}")
    later = [a for a in arrows if after is None or a.time >= after]
    for arrow in later:
        if arrow.name == step.name:
            return (f"{step.name} went {arrow.source} -> {arrow.target} at "
                    f"{arrow.time - start:.3f} s instead")
    return f"no {step.name} at all" + (" after that" if after is not None else "")


def _arrow_text(arrow: Arrow) -> str:
    return f"{arrow.source} -> {arrow.target} {arrow.label}"


# ------------------------------------------------------------------------------ phones


def _subsequence(
    patterns: Sequence[EventPattern], events: Sequence[PhoneEvent]
) -> tuple[int | None, PhoneEvent | None]:
    """(index of the first pattern not met, the event after which it was looked for)."""
    position = 0
    last: PhoneEvent | None = None
    for index, pattern in enumerate(patterns):
        while position < len(events) and not _event_matches(pattern, events[position]):
            position += 1
        if position == len(events):
            return index, last
        last = events[position]
        position += 1
    return None, last


def _event_matches(pattern: EventPattern, event: PhoneEvent) -> bool:
    return pattern.matches(event.kind, event.value, event.via, event.cause)


def _event_list(events: Sequence[PhoneEvent], start: float, limit: int = 8) -> str:
    shown = [f"{e.time - start:.3f} {_event_text(e)}" for e in events[:limit]]
    more = f" (+{len(events) - limit} more)" if len(events) > limit else ""
    return "; ".join(shown) + more if shown else "none"


def _event_text(event: PhoneEvent) -> str:
    text: str = event.kind
    if event.value:
        text += f" {event.value}"
    if event.cause is not None:
        text += f" cause={event.cause}"
    if event.via:
        text += f" via={event.via}"
    return text


def _check_phone(view: RunView, key: str, expectation: PhoneExpectation) -> Result:
    ref = expectation.phone
    events = view.phone_events(ref.node, ref.phone)
    start = view.record.start
    description = f"phone {ref}: " + ", ".join(str(p) for p in expectation.events)
    if expectation.absent:
        description += "; never " + ", ".join(str(p) for p in expectation.absent)
    missing, last = _subsequence(expectation.events, events)
    if missing is not None:
        after = events if last is None else events[events.index(last) + 1 :]
        message = f"{ref}: no '{expectation.events[missing]}'"
        if last is not None:
            message += f" after '{_event_text(last)}' at {last.time - start:.3f} s"
        message += f"\n  its events from there: {_event_list(after, start)}"
        focus = last.time if last is not None else None
        return Result("phone", key, description, False, message, focus, view.excerpt(focus))
    for pattern in expectation.absent:
        found = next((e for e in events if _event_matches(pattern, e)), None)
        if found is not None:
            message = f"{ref}: '{_event_text(found)}' at {found.time - start:.3f} s"
            return Result("phone", key, description, False, message, found.time,
                          view.excerpt(found.time))
    return Result("phone", key, description, True, f"{len(events)} events, all as expected")


def _check_media(view: RunView, key: str, expectation: MediaExpectation) -> Result:
    ref = expectation.phone
    events = view.phone_events(ref.node, ref.phone)
    parts = []
    if expectation.frequencies:
        parts.append("hears " + ", ".join(f"{f} Hz" for f in expectation.frequencies))
    if expectation.digits:
        parts.append(f"DTMF {expectation.digits}")
    if expectation.tones:
        parts.append("tones " + ", ".join(expectation.tones))
    description = f"media at {ref}: " + "; ".join(parts)
    via = expectation.via

    def wanted(event: PhoneEvent, kind: str) -> bool:
        return event.kind == kind and (not via or kind == "frequency" or event.via == via)

    problems: list[str] = []
    heard_frequencies = {e.value for e in events if wanted(e, "frequency")}
    for frequency in expectation.frequencies:
        if str(frequency) not in heard_frequencies:
            problems.append(f"{frequency} Hz never heard (heard: "
                            f"{', '.join(sorted(heard_frequencies)) or 'none'})")
    if expectation.digits:
        digits = "".join(e.value for e in events if wanted(e, "digit"))
        if digits.upper() != expectation.digits.upper():
            problems.append(f"DTMF heard {digits or 'nothing'!r}, expected "
                            f"{expectation.digits!r}")
    if expectation.tones:
        tones = [e.value for e in events if wanted(e, "tone")]
        position = 0
        for tone in expectation.tones:
            while position < len(tones) and tones[position] != tone:
                position += 1
            if position == len(tones):
                problems.append(f"tone {tone} not heard in order (heard: "
                                f"{', '.join(tones) or 'none'})")
                break
            position += 1
    if problems:
        connected = next((e.time for e in events if e.kind in ("answered", "far-end-answered")),
                         None)
        message = f"{ref}: " + "; ".join(problems)
        if via:
            message += f" (counting only via={via})"
        return Result("media", key, description, False, message, connected,
                      view.excerpt(connected))
    return Result("media", key, description, True, "heard as expected")


# ------------------------------------------------------------------------------ RTP


def _check_rtp(view: RunView, key: str, expectation: RtpExpectation) -> Result:
    link = expectation.between
    directions = [(link.source, link.target)]
    if link.both_ways:
        directions.append((link.target, link.source))
    description = f"RTP {link}"
    details = []
    if expectation.codec:
        details.append(expectation.codec.upper())
    if expectation.max_loss_percent is not None:
        details.append(f"loss <= {expectation.max_loss_percent:g}%")
    if expectation.max_jitter is not None:
        details.append(f"jitter <= {expectation.max_jitter * 1000:g} ms")
    if details:
        description += ": " + ", ".join(details)
    problems: list[str] = []
    summaries: list[str] = []
    for source, target in directions:
        streams = [s for s in view.streams if s.source == source and s.target == target]
        if not streams:
            problems.append(f"no RTP from {source} to {target} in the trace")
            continue
        for stream in streams:
            summaries.append(_stream_text(stream))
            problems.extend(_stream_problems(stream, expectation))
    if problems:
        first = next((s.first for s in view.streams
                      if (s.source, s.target) in directions), None)
        message = "; ".join(problems)
        if summaries:
            message += "\n  streams: " + "; ".join(summaries)
        return Result("rtp", key, description, False, message, first, view.excerpt(first))
    return Result("rtp", key, description, True, "; ".join(summaries))


def _stream_text(stream: RtpStream) -> str:
    loss = stream.loss_percent
    jitter = stream.jitter
    return (f"{stream.source} -> {stream.target} ssrc 0x{stream.ssrc:08x} {stream.codec}: "
            f"{stream.sent} sent, "
            f"{'?' if stream.received is None else stream.received} received, "
            f"loss {'?' if loss is None else f'{loss:.1f}%'}, "
            f"jitter {'?' if jitter is None else f'{jitter * 1000:.2f} ms'}")


def _stream_problems(stream: RtpStream, expectation: RtpExpectation) -> list[str]:
    problems: list[str] = []
    where = f"{stream.source} -> {stream.target} (ssrc 0x{stream.ssrc:08x})"
    if expectation.codec and stream.codec != expectation.codec.upper():
        problems.append(f"{where} carries {stream.codec or 'nothing'}, not "
                        f"{expectation.codec.upper()}")
    count = stream.received if stream.received is not None else stream.sent
    if count < expectation.min_packets:
        problems.append(f"{where}: {count} packets, fewer than {expectation.min_packets}")
    loss = stream.loss_percent
    if expectation.max_loss_percent is not None:
        if loss is None:
            problems.append(f"{where}: loss unknown (the receiver is not traced)")
        elif loss > expectation.max_loss_percent:
            problems.append(f"{where}: {loss:.2f}% lost, more than "
                            f"{expectation.max_loss_percent:g}%")
    if expectation.max_jitter is not None:
        if stream.jitter is None:
            problems.append(f"{where}: jitter unknown (the receiver is not traced)")
        elif stream.jitter > expectation.max_jitter:
            problems.append(f"{where}: jitter {stream.jitter * 1000:.2f} ms, more than "
                            f"{expectation.max_jitter * 1000:g} ms")
    return problems


# ------------------------------------------------------------------------------ legs


def _check_leg(view: RunView, key: str, expectation: LegExpectation) -> Result:
    caller, callee = expectation.between.source, expectation.between.target
    description = f"leg {caller} -> {callee}:" + "".join(
        f" {name}={value}" for name, value in (
            ("status", expectation.status), ("answered", expectation.answered),
            ("cause", expectation.cause), ("cleared-by", expectation.cleared_by))
        if value is not None
    )
    arrows = [a for a in view.arrows if not a.retransmission and a.link == {caller, callee}]
    setup = next((a for a in arrows if a.source == caller and a.target == callee
                  and a.name in ("INVITE", "SETUP")), None)
    if setup is None:
        message = f"no INVITE or SETUP from {caller} to {callee}"
        return Result("leg", key, description, False, message, None, view.excerpt(None))
    if setup.protocol == "sip":
        outcome = _sip_leg(arrows, setup, callee)
    else:
        outcome = _q931_leg(arrows, setup, callee)
    problems = []
    if expectation.status is not None:
        if setup.protocol != "sip":
            problems.append("status applies to SIP legs (this one is Q.931)")
        elif outcome.status != expectation.status:
            problems.append(f"final status {outcome.status or 'none'}, expected "
                            f"{expectation.status}")
    if expectation.answered is not None and outcome.answered != expectation.answered:
        problems.append("answered" if outcome.answered else "not answered")
    if expectation.cause is not None and outcome.cause != expectation.cause:
        problems.append(f"cause {outcome.cause if outcome.cause is not None else 'none'}, "
                        f"expected {expectation.cause}")
    if expectation.cleared_by is not None and outcome.cleared_by != expectation.cleared_by:
        problems.append(f"cleared by {outcome.cleared_by or 'nobody'}, expected "
                        f"{expectation.cleared_by}")
    summary = (f"status {outcome.status}" if setup.protocol == "sip" else "Q.931") + (
        f", {'answered' if outcome.answered else 'not answered'}, cause {outcome.cause}, "
        f"cleared by {outcome.cleared_by}"
    )
    if problems:
        focus = outcome.focus.time if outcome.focus is not None else setup.time
        message = f"{caller} -> {callee}: " + "; ".join(problems) + f"\n  seen: {summary}"
        return Result("leg", key, description, False, message, focus,
                      view.excerpt(focus, outcome.focus),
                      outcome.focus)
    return Result("leg", key, description, True, summary)


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: int | None
    answered: bool
    cause: int | None
    cleared_by: str | None
    focus: Arrow | None


def _sip_leg(arrows: Iterable[Arrow], invite: Arrow, callee: str) -> _Outcome:
    call = [a for a in arrows if a.call_id == invite.call_id and a.time >= invite.time]
    final = next((a for a in call if a.status is not None and a.status >= 200
                  and a.cseq_method == "INVITE" and a.source == callee), None)
    clearing = next((a for a in call if a.name in ("BYE", "CANCEL")), None)
    cause_arrow = next((a for a in call if a.cause is not None), None)
    cleared_by = clearing.source if clearing is not None else None
    if cleared_by is None and final is not None and final.status is not None and (
        final.status >= 300
    ):
        cleared_by = final.source
    status = final.status if final is not None else None
    return _Outcome(status, status is not None and status < 300,
                    cause_arrow.cause if cause_arrow is not None else None, cleared_by,
                    clearing or final)


def _q931_leg(arrows: Iterable[Arrow], setup: Arrow, callee: str) -> _Outcome:
    call = [a for a in arrows if a.call_ref == setup.call_ref and a.time >= setup.time]
    end = next((i for i, a in enumerate(call) if a.name == "RELEASE COMPLETE"), len(call) - 1)
    call = call[: end + 1]
    answered = any(a.name == "CONNECT" and a.source == callee for a in call)
    clearing = next((a for a in call if a.name in _CLEARING_Q931), None)
    cause_arrow = next((a for a in call if a.name in _CLEARING_Q931 and a.cause is not None),
                       None)
    return _Outcome(None, answered, cause_arrow.cause if cause_arrow is not None else None,
                    clearing.source if clearing is not None else None, clearing)


# ------------------------------------------------------------------------------ timing


def trigger_times(view: RunView, trigger: Trigger) -> list[float]:
    """When ``trigger`` happened, in order."""
    if trigger.step is not None:
        step = trigger.step
        return [a.time for a in view.arrows if not a.retransmission and step_matches(step, a)]
    if trigger.event is not None:
        pattern = trigger.event
        return [e.time for e in view.phone_events(trigger.node, trigger.phone)
                if _event_matches(pattern, e)]
    assert trigger.pbx_event is not None
    wanted = trigger.pbx_event
    return [e.time for e in view.pbx_events(trigger.node) if wanted.matches(e.kind, e.detail)]


def _check_timing(view: RunView, key: str, expectation: TimingExpectation) -> Result:
    bounds = []
    if expectation.min:
        bounds.append(f">= {expectation.min:g} s")
    if expectation.max is not None:
        bounds.append(f"<= {expectation.max:g} s")
    name = expectation.name or f"from '{expectation.start}' to '{expectation.end}'"
    description = f"timing {name} " + " and ".join(bounds)
    starts = trigger_times(view, expectation.start)
    start_time = None
    if starts:
        start_time = starts[-1] if expectation.start.last else starts[0]
    if start_time is None:
        return Result("timing", key, description, False,
                      f"'{expectation.start}' never happened", None, view.excerpt(None))
    ends = [t for t in trigger_times(view, expectation.end) if t >= start_time]
    if not ends:
        message = (f"'{expectation.end}' never happened after '{expectation.start}' "
                   f"({start_time - view.record.start:.3f} s)")
        return Result("timing", key, description, False, message, start_time,
                      view.excerpt(start_time))
    end_time = ends[-1] if expectation.end.last else ends[0]
    elapsed = end_time - start_time
    too_long = expectation.max is not None and elapsed > expectation.max
    if elapsed < expectation.min or too_long:
        message = f"{name}: {elapsed:.3f} s, outside " + " and ".join(bounds)
        return Result("timing", key, description, False, message, end_time,
                      view.excerpt(end_time))
    return Result("timing", key, description, True, f"{elapsed:.3f} s")


# ------------------------------------------------------------------------------ end state


def _check_registration(view: RunView, key: str, expectation: RegistrationExpectation) -> Result:
    description = f"registration of {expectation.number} by {expectation.node}: " + (
        expectation.state
    )
    state = view.record.final.get(expectation.node)
    known = dict(state.registrations) if state is not None else {}
    actual = known.get(expectation.number, "not registering at all")
    if actual != expectation.state:
        listed = ", ".join(f"{n}={s}" for n, s in known.items()) or "none"
        message = (f"{expectation.node}: {expectation.number} is {actual}, expected "
                   f"{expectation.state} (registrations: {listed})")
        return Result("registration", key, description, False, message)
    return Result("registration", key, description, True, actual)


def _check_idle(view: RunView) -> Result:
    problems = []
    for state in view.record.final.values():
        if state.live_calls:
            problems.append(f"{state.node} still has {state.live_calls} call(s)")
        if state.off_hook:
            problems.append(f"{state.node}: phone(s) {', '.join(state.off_hook)} off hook")
    description = "every call cleared and every phone on hook at the end"
    if problems:
        end = view.record.end
        return Result("idle", "expect.idle", description, False, "; ".join(problems), end,
                      view.excerpt(end))
    return Result("idle", "expect.idle", description, True, "all idle")


# ------------------------------------------------------------------------------ all of it


def evaluate(record: RunRecord, expectations: Expectations,
             view: RunView | None = None) -> list[Result]:
    """Every expectation's result, in the order the file lists them (run problems first)."""
    view = view or RunView(record)
    results: list[Result] = [
        Result("run", "run", "the run itself", False, problem, record.end,
               view.excerpt(record.end))
        for problem in record.problems
    ]
    if expectations.ladder is not None:
        results.append(_check_ladder(view, expectations.ladder))
    results.extend(_check_phone(view, f"expect.phone[{i}]", e)
                   for i, e in enumerate(expectations.phone))
    results.extend(_check_media(view, f"expect.media[{i}]", e)
                   for i, e in enumerate(expectations.media))
    results.extend(_check_rtp(view, f"expect.rtp[{i}]", e)
                   for i, e in enumerate(expectations.rtp))
    results.extend(_check_leg(view, f"expect.leg[{i}]", e)
                   for i, e in enumerate(expectations.leg))
    results.extend(_check_timing(view, f"expect.timing[{i}]", e)
                   for i, e in enumerate(expectations.timing))
    results.extend(_check_registration(view, f"expect.registration[{i}]", e)
                   for i, e in enumerate(expectations.registration))
    if expectations.idle:
        results.append(_check_idle(view))
    return results


def first_failure(results: Iterable[Result]) -> Result | None:
    return next((result for result in results if not result.passed), None)
