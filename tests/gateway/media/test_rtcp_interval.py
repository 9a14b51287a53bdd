"""RFC 3550 A.7 rtcp_interval() against hand-computed values."""

from __future__ import annotations

import math
import random

import pytest

from gateway.media.rtcp_interval import rtcp_interval

COMPENSATION = math.e - 1.5


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


def interval(value: float, **overrides: object) -> float:
    options: dict[str, object] = {
        "members": 2,
        "senders": 1,
        "we_sent": True,
        "avg_rtcp_size": 100.0,
        "session_bandwidth": 80_000.0,
        "initial": False,
        "reduced_minimum": False,
    }
    options.update(overrides)
    return rtcp_interval(rng=FixedRandom(value), **options)  # type: ignore[arg-type]


def test_small_sessions_sit_on_the_five_second_minimum() -> None:
    # 2 members * 100 octets / 500 octets/s = 0.4 s, under the 5 s minimum.
    assert interval(0.0) == pytest.approx(5.0 * 0.5 / COMPENSATION)
    assert interval(0.5) == pytest.approx(5.0 / COMPENSATION)
    assert interval(0.999) == pytest.approx(5.0 * 1.499 / COMPENSATION)
    assert interval(0.5, initial=True) == pytest.approx(2.5 / COMPENSATION)


def test_reduced_minimum_is_360_over_kilobits() -> None:
    assert interval(0.5, reduced_minimum=True, session_bandwidth=720_000.0) == pytest.approx(
        0.5 / COMPENSATION
    )


def test_large_groups_share_the_bandwidth_by_role() -> None:
    # 1000 members, 10 senders: senders share 25 % of the 5 % (RFC 3550 §6.2).
    rtcp_bw = 1_000_000 / 8 * 0.05
    sender = interval(0.5, members=1000, senders=10, session_bandwidth=1e6)
    assert sender == pytest.approx(max(5.0, 100.0 * 10 / (rtcp_bw * 0.25)) / COMPENSATION)
    receiver = interval(0.5, members=1000, senders=10, we_sent=False, session_bandwidth=1e6)
    assert receiver == pytest.approx(100.0 * 990 / (rtcp_bw * 0.75) / COMPENSATION)
    # Many senders: everyone shares the whole RTCP bandwidth.
    crowd = interval(0.5, members=1000, senders=600, session_bandwidth=1e6)
    assert crowd == pytest.approx(100.0 * 1000 / rtcp_bw / COMPENSATION)
