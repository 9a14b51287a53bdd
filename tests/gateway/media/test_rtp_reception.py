"""Per-source reception state: RFC 3550 A.1 verdicts, A.3 figures, A.8 jitter."""

from __future__ import annotations

import random

import pytest

from gateway.media.rtp import RtpPacket
from gateway.media.rtp_reception import REORDER_WINDOW, SourceReception, Verdict

A = ("192.0.2.1", 4000)


def valid_source(first: int, min_sequential: int = 2) -> SourceReception:
    source = SourceReception(9, A, first, min_sequential)
    for k in range(min_sequential):
        packet = RtpPacket(0, (first + k) & 0xFFFF, 160 * k, 9)
        done = source.probe(packet, 0.02 * k, min_sequential)
        assert done == (k == min_sequential - 1)
    held = source.validate()
    assert [p.sequence for p, _ in held] == [(first + k) & 0xFFFF for k in range(min_sequential)]
    return source


def test_probation_restarts_on_a_gap_and_validation_returns_the_run() -> None:
    source = SourceReception(9, A, 100, 3)
    assert not source.probe(RtpPacket(0, 100, 0, 9), 0.0, 3)
    assert not source.probe(RtpPacket(0, 102, 0, 9), 0.1, 3)  # gap: start again from 102
    assert not source.probe(RtpPacket(0, 103, 0, 9), 0.2, 3)
    assert source.probe(RtpPacket(0, 104, 0, 9), 0.3, 3)
    assert [(p.sequence, t) for p, t in source.validate()] == [(102, 0.1), (103, 0.2), (104, 0.3)]
    assert (source.expected(), source.received, source.true_lost()) == (3, 3, 0)


def test_verdicts_for_order_wrap_duplicates_reordering_and_lateness() -> None:
    source = valid_source(65534)  # 65534, 65535 held
    assert source.update(0) is Verdict.IN_ORDER  # wrapped: one cycle
    assert source.update(2) is Verdict.IN_ORDER  # 1 missing
    assert source.update(1) is Verdict.REORDERED
    assert source.update(1) is Verdict.DUPLICATE
    assert source.update(2) is Verdict.DUPLICATE
    assert (source.cycles, source.max_seq) == (65536, 2)
    for seq in range(3, 3 + REORDER_WINDOW + 5):
        assert source.update(seq) is Verdict.IN_ORDER
    assert source.update(3) is Verdict.LATE
    # Expected 65534..65535 then 0..(REORDER_WINDOW + 7); received adds both duplicates and the
    # late one (too old to tell it was a duplicate too).
    expected = 2 + REORDER_WINDOW + 8
    assert source.expected() == expected
    assert source.received == expected + 2 + 1
    assert source.duplicates == 2
    assert source.true_lost() == 0


@pytest.mark.parametrize("seed", range(4))
def test_duplicates_are_told_apart_across_the_whole_window(seed: int) -> None:
    # The bitmap against a plain model: a packet up to REORDER_WINDOW - 1 behind the highest is
    # a duplicate exactly when it was seen; forward steps of every size (including ones past the
    # window, which forget everything) keep that true.
    rng = random.Random(seed)
    source = valid_source(1000)
    seen = {1000, 1001}
    highest = 1001
    for _ in range(3000):
        if rng.random() < 0.5:
            highest += rng.choice((1, 1, 2, 3, REORDER_WINDOW - 1, REORDER_WINDOW, 200))
            assert source.update(highest & 0xFFFF) is Verdict.IN_ORDER
            seen.add(highest)
            continue
        sequence = highest - rng.randrange(1, REORDER_WINDOW + 3)
        verdict = source.update(sequence & 0xFFFF)
        if highest - sequence >= REORDER_WINDOW:
            assert verdict is Verdict.LATE
        elif sequence in seen:
            assert verdict is Verdict.DUPLICATE
        else:
            assert verdict is Verdict.REORDERED
            seen.add(sequence)


def test_a_large_jump_needs_a_second_packet_then_resynchronises() -> None:
    source = valid_source(10)
    assert source.update(13) is Verdict.IN_ORDER  # 12 lost
    assert source.update(20_000) is Verdict.JUMPED
    assert source.update(30_000) is Verdict.JUMPED  # not the follower of 20000
    assert source.update(30_001) is Verdict.RESYNCED
    assert source.update(30_002) is Verdict.IN_ORDER
    # The run before the restart is retired, not forgotten.
    assert (source.retired_expected, source.retired_lost) == (4, 1)
    assert (source.expected(), source.true_lost()) == (2, 0)


def test_report_block_follows_appendix_a3() -> None:
    source = valid_source(1000)
    for seq in (1002, 1003, 1005):
        source.update(seq)
    source.last_sr = 0xABCD1234
    source.last_sr_arrival = 10.0
    source.jitter = 12.7
    block = source.report_block(10.5)
    # Expected 6 (1000..1005), received 5: cumulative 1, and 1 of 6 in this first interval.
    assert block.cumulative_lost == 1
    assert block.fraction_lost == (1 << 8) // 6
    assert block.highest_sequence == 1005
    assert block.jitter == 12
    assert (block.last_sr, block.delay_since_last_sr) == (0xABCD1234, 32768)
    # Nothing new: the next interval reports no fresh loss.
    assert source.report_block(11.0).fraction_lost == 0


def test_a_duplicate_offsets_a_loss_in_the_rfc_figure() -> None:
    source = valid_source(1000)
    for seq in (1002, 1003, 1005, 1005):
        source.update(seq)
    assert source.report_block(0.0).cumulative_lost == 0  # §6.4.1: duplicates count
    assert source.true_lost() == 1


def test_more_duplicates_than_losses_give_a_negative_cumulative_loss() -> None:
    source = valid_source(0)
    for _ in range(3):
        source.update(1)
    assert source.report_block(0.0).cumulative_lost == -3
    assert source.true_lost() == 0


def test_jitter_is_the_rfc3550_running_estimate() -> None:
    source = valid_source(0)
    source.observe_jitter(2**32 - 80, 0.0, 8000)
    source.observe_jitter(80, 0.025, 8000)  # across the wrap, 5 ms late: D = 40 samples
    assert source.jitter == pytest.approx(40 / 16)
    source.observe_jitter(240, 0.045, 8000)  # on time again: D = 0
    assert source.jitter == pytest.approx(40 / 16 - (40 / 16) / 16)
