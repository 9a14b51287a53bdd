"""SIP timer values (RFC 3261 section 17 and table 4, RFC 6026) and the endpoint's timer queue.

:class:`TimerConfig` holds T1, T2 and T4 and derives every transaction timer from them, so a test
or a slow link changes one number.  :class:`TimerQueue` is the one place deadlines live: the
endpoint's ``get_timer()`` is the queue's earliest deadline and ``handle_timer(now)`` fires what is
due.

Why lanes instead of a heap: every deadline is ``now + delay`` with ``now`` never going back, and
the endpoint only uses a handful of distinct delays (T1 doubling up to T2 or 32 s, T4, 64*T1, the
100 Trying delay, the TCP idle time).  Appending to a FIFO per delay therefore keeps each lane
sorted, scheduling is an O(1) append and the earliest deadline is the smallest lane head.  A
cancelled timer stays in its lane, marked inactive, until its deadline passes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

from gateway.errors import LocalProtocolError

__all__ = ["Timer", "TimerConfig", "TimerOwner", "TimerQueue"]


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """T1/T2/T4 (RFC 3261 section 17.1.1.1 and table 4) and the values derived from them.

    ``t1`` is the round-trip time estimate (default 500 ms), ``t2`` the cap of non-INVITE and
    response retransmission intervals (4 s), ``t4`` how long a message may live in the network
    (5 s).  ``timer_d`` is the wait for response retransmissions after a non-2xx final
    response over UDP (at least 32 s).  ``trying_delay`` is how long an INVITE server
    transaction waits for the TU's provisional response before sending 100 Trying itself
    (RFC 3261 section 17.2.1 says 200 ms; 0 sends it at once, as a stateful proxy does).
    ``tcp_idle`` closes a TCP connection nobody used for that long.
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    timer_d: float = 32.0
    trying_delay: float = 0.2
    tcp_idle: float = 120.0

    def __post_init__(self) -> None:
        if not 0 < self.t1 <= self.t2:
            raise LocalProtocolError(f"timers need 0 < T1 <= T2 (T1={self.t1}, T2={self.t2})")
        if self.t4 <= 0 or self.timer_d < 0 or self.trying_delay < 0 or self.tcp_idle <= 0:
            raise LocalProtocolError("T4, Timer D, the trying delay and the TCP idle time are >= 0")

    @property
    def transaction_timeout(self) -> float:
        """64*T1: Timers B, F, H, J (unreliable), L and M (RFC 3261 table 4, RFC 6026)."""
        return 64 * self.t1

    def d(self, reliable: bool) -> float:
        """Timer D: >= 32 s over UDP, 0 over TCP (RFC 3261 section 17.1.1.2)."""
        return 0.0 if reliable else self.timer_d

    def i(self, reliable: bool) -> float:
        """Timer I: T4 over UDP, 0 over TCP (section 17.2.1)."""
        return 0.0 if reliable else self.t4

    def j(self, reliable: bool) -> float:
        """Timer J: 64*T1 over UDP, 0 over TCP (section 17.2.2)."""
        return 0.0 if reliable else self.transaction_timeout

    def k(self, reliable: bool) -> float:
        """Timer K: T4 over UDP, 0 over TCP (section 17.1.2.2)."""
        return 0.0 if reliable else self.t4


class TimerOwner(Protocol):
    """Something with timers: a transaction, a dialog's 2xx retransmission, a connection."""

    def on_timer(self, name: str, now: float) -> None: ...


class Timer:
    """One scheduled deadline; ``cancel()`` makes it a no-op."""

    __slots__ = ("active", "deadline", "name", "owner")

    def __init__(self, deadline: float, owner: TimerOwner, name: str) -> None:
        self.deadline = deadline
        self.owner = owner
        self.name = name
        self.active = True

    def cancel(self) -> None:
        self.active = False

    def __repr__(self) -> str:
        state = "" if self.active else " cancelled"
        return f"<Timer {self.name} at {self.deadline:.3f}{state}>"


class TimerQueue:
    """Deadlines in FIFO lanes keyed by delay (see the module docstring)."""

    __slots__ = ("_lanes", "_latest")

    def __init__(self) -> None:
        self._lanes: dict[float, deque[Timer]] = {}
        self._latest = float("-inf")

    def schedule(self, owner: TimerOwner, name: str, delay: float, now: float) -> Timer:
        """A timer firing ``owner.on_timer(name, t)`` at ``now + delay``."""
        if now < self._latest:
            now = self._latest  # time never runs backwards for the queue: lanes stay sorted
        else:
            self._latest = now
        timer = Timer(now + delay, owner, name)
        lane = self._lanes.get(delay)
        if lane is None:
            lane = self._lanes[delay] = deque()
        lane.append(timer)
        return timer

    def next_deadline(self) -> float | None:
        """The earliest deadline of an active timer, or None."""
        earliest: float | None = None
        empty: list[float] = []
        for delay, lane in self._lanes.items():
            while lane and not lane[0].active:
                lane.popleft()
            if not lane:
                empty.append(delay)
                continue
            deadline = lane[0].deadline
            if earliest is None or deadline < earliest:
                earliest = deadline
        for delay in empty:
            del self._lanes[delay]
        return earliest

    def fire_due(self, now: float) -> int:
        """Fire every active timer whose deadline is <= ``now``, earliest first; return how many.

        A timer scheduled while firing (with a positive delay) is due after ``now`` and waits for
        the next call.
        """
        if now > self._latest:
            self._latest = now
        due: list[Timer] = []
        for lane in self._lanes.values():
            while lane and lane[0].deadline <= now:
                timer = lane.popleft()
                if timer.active:
                    due.append(timer)
        if len(due) > 1:
            due.sort(key=_deadline)
        for timer in due:
            if timer.active:  # an earlier timer of this batch may have cancelled it
                timer.active = False
                timer.owner.on_timer(timer.name, now)
        return len(due)

    def __len__(self) -> int:
        """Active timers (for tests and statistics; O(n))."""
        return sum(1 for lane in self._lanes.values() for timer in lane if timer.active)


def _deadline(timer: Timer) -> float:
    return timer.deadline
