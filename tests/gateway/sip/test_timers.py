from __future__ import annotations

import pytest

from gateway.errors import LocalProtocolError
from gateway.sip.timers import TimerConfig, TimerQueue


class Recorder:
    def __init__(self) -> None:
        self.fired: list[tuple[str, float]] = []

    def on_timer(self, name: str, now: float) -> None:
        self.fired.append((name, now))


def test_config_derives_rfc3261_table_4_values() -> None:
    config = TimerConfig()
    assert (config.t1, config.t2, config.t4) == (0.5, 4.0, 5.0)
    assert config.transaction_timeout == 32.0  # B, F, H, J(UDP), L, M
    assert (config.d(False), config.d(True)) == (32.0, 0.0)
    assert (config.i(False), config.i(True)) == (5.0, 0.0)
    assert (config.j(False), config.j(True)) == (32.0, 0.0)
    assert (config.k(False), config.k(True)) == (5.0, 0.0)


def test_config_scales_with_t1_and_rejects_nonsense() -> None:
    assert TimerConfig(t1=0.1, t2=1.0).transaction_timeout == pytest.approx(6.4)
    with pytest.raises(LocalProtocolError):
        TimerConfig(t1=0.0)
    with pytest.raises(LocalProtocolError):
        TimerConfig(t1=5.0, t2=4.0)
    with pytest.raises(LocalProtocolError):
        TimerConfig(t4=0.0)


def test_queue_fires_in_deadline_order_across_lanes() -> None:
    queue = TimerQueue()
    owner = Recorder()
    queue.schedule(owner, "long", 4.0, 0.0)
    queue.schedule(owner, "short", 0.5, 0.0)
    queue.schedule(owner, "mid", 2.0, 1.0)
    assert queue.next_deadline() == 0.5
    assert queue.fire_due(10.0) == 3
    assert [name for name, _ in owner.fired] == ["short", "mid", "long"]
    assert queue.next_deadline() is None


def test_cancelled_timers_never_fire_and_do_not_hold_the_deadline() -> None:
    queue = TimerQueue()
    owner = Recorder()
    first = queue.schedule(owner, "a", 1.0, 0.0)
    queue.schedule(owner, "b", 3.0, 0.0)
    first.cancel()
    assert queue.next_deadline() == 3.0
    queue.fire_due(3.0)
    assert owner.fired == [("b", 3.0)]
    assert len(queue) == 0


def test_only_due_timers_fire_and_time_never_runs_backwards() -> None:
    queue = TimerQueue()
    owner = Recorder()
    queue.schedule(owner, "a", 1.0, 5.0)
    assert queue.fire_due(5.5) == 0
    # A caller whose clock went back still gets deadlines after the latest time seen (5.5).
    timer = queue.schedule(owner, "b", 1.0, 2.0)
    assert timer.deadline == 6.5
    queue.fire_due(7.0)
    assert owner.fired == [("a", 7.0), ("b", 7.0)]


def test_a_timer_cancelled_by_an_earlier_one_in_the_same_batch_stays_silent() -> None:
    queue = TimerQueue()
    fired: list[str] = []

    class Canceller:
        def on_timer(self, name: str, now: float) -> None:
            fired.append(name)
            victim.cancel()

    queue.schedule(Canceller(), "first", 1.0, 0.0)
    victim = queue.schedule(Recorder(), "second", 2.0, 0.0)
    queue.fire_due(5.0)
    assert fired == ["first"]
