"""Q.931 timers (s9, Tables 9-1 network side and 9-2 user side) and what their expiry does.

Which side runs which timer:

=====  ==========================================  =======================================
timer  user side                                   network side
=====  ==========================================  =======================================
T301   --                                          N7 call received (ALERTING in): no answer
T302   U25 overlap receiving (after SETUP ACK)     N2 overlap sending (after SETUP ACK)
T303   U1 (SETUP out)                              N6 (SETUP out)
T304   U2 overlap sending (INFORMATION out)        N25 overlap receiving (INFORMATION out)
T305   U11 (DISCONNECT out)                        N12 (DISCONNECT out; T306 not implemented)
T308   U19 (RELEASE out)                           N19 (RELEASE out)
T310   U3 (CALL PROCEEDING in)                     N9 (CALL PROCEEDING in)
T313   U8 (CONNECT out, awaiting CONNECT ACK)      --
T316   RESTART out (global call reference)         RESTART out
T322   STATUS ENQUIRY out                          STATUS ENQUIRY out
=====  ==========================================  =======================================

T302 expiry is reported to call control only: whether the digits so far are a complete number
is a dial-plan question (s5.2.4 / 5.1.3): call control answers with ``proceeding()`` or clears
with cause 28.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

from pbx_sim.q931.constants import CauseValue, Role


@dataclass(frozen=True, slots=True)
class Q931Timers:
    """Timer durations in seconds (defaults: Tables 9-1/9-2; T304/T310 differ per side)."""

    t301: float = 180.0
    t302: float = 15.0
    t303: float = 4.0
    t304: float = 30.0
    t305: float = 30.0
    t308: float = 4.0
    t310: float = 30.0
    t313: float = 4.0
    t316: float = 120.0
    t322: float = 4.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if getattr(self, field.name) <= 0:
                raise ValueError(f"timer {field.name.upper()} must be positive")

    @classmethod
    def defaults(cls, role: Role) -> Q931Timers:
        # Table 9-1: the network waits 20 s in overlap receiving and 10 s after CALL PROCEEDING.
        return cls(t304=20.0, t310=10.0) if role == "network" else cls()

    def duration(self, timer: str) -> float:
        value: float = getattr(self, timer.lower())
        return value


class OnExpiry(Enum):
    RETRANSMIT = "retransmit the message that started the timer and restart it"
    CLEAR = "send RELEASE COMPLETE and release the call reference"
    DISCONNECT = "send DISCONNECT and start T305"
    RELEASE = "send RELEASE and start T308"
    RELEASE_REFERENCE = "release the call reference (B-channel to maintenance)"
    REPORT = "tell call control only"


@dataclass(frozen=True, slots=True)
class TimerRule:
    """What the first and second expiry do, the cause sent, the cause reported to call control.

    ``report_cause`` is what call control should use toward the other leg (e.g. 18 "no user
    responding" when the network's SETUP is never answered); ``wire_cause`` goes on the wire
    (None: the cause of our own DISCONNECT, for T305).
    """

    first: OnExpiry
    second: OnExpiry | None = None
    wire_cause: int | None = CauseValue.RECOVERY_ON_TIMER_EXPIRY
    user_report: int | None = CauseValue.RECOVERY_ON_TIMER_EXPIRY
    network_report: int | None = CauseValue.RECOVERY_ON_TIMER_EXPIRY

    def report_cause(self, role: Role) -> int | None:
        return self.user_report if role == "user" else self.network_report


TIMER_RULES: dict[str, TimerRule] = {
    # Table 9-1: ringing too long -> clear; the caller is told "no answer from user".
    "T301": TimerRule(OnExpiry.DISCONNECT, network_report=CauseValue.NO_ANSWER),
    "T302": TimerRule(OnExpiry.REPORT, wire_cause=None,
                      user_report=CauseValue.INVALID_NUMBER_FORMAT,
                      network_report=CauseValue.INVALID_NUMBER_FORMAT),
    # s5.1.1 / 5.2.1: SETUP retransmitted once, then the call is given up.
    "T303": TimerRule(OnExpiry.RETRANSMIT, OnExpiry.CLEAR,
                      network_report=CauseValue.NO_USER_RESPONDING),
    "T304": TimerRule(OnExpiry.DISCONNECT),  # s5.1.3: overlap sending stalled
    "T305": TimerRule(OnExpiry.RELEASE, wire_cause=None, user_report=None, network_report=None),
    # s5.3.3/5.3.4: RELEASE retransmitted once, then the reference is released regardless.
    "T308": TimerRule(OnExpiry.RETRANSMIT, OnExpiry.RELEASE_REFERENCE),
    # Tables 9-1/9-2: CALL PROCEEDING and then nothing (no ALERTING/CONNECT/DISCONNECT).
    "T310": TimerRule(OnExpiry.DISCONNECT, network_report=CauseValue.NO_USER_RESPONDING),
    "T313": TimerRule(OnExpiry.DISCONNECT),  # s5.2.8: our CONNECT was never acknowledged
    "T316": TimerRule(OnExpiry.RETRANSMIT, OnExpiry.REPORT, user_report=None,
                      network_report=None),  # s5.5.1: RESTART unanswered
    # s5.8.10: STATUS ENQUIRY unanswered -> retry once, then clear with cause 41.
    "T322": TimerRule(OnExpiry.RETRANSMIT, OnExpiry.RELEASE,
                      wire_cause=CauseValue.TEMPORARY_FAILURE,
                      user_report=CauseValue.TEMPORARY_FAILURE,
                      network_report=CauseValue.TEMPORARY_FAILURE),
}
