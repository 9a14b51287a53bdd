"""The line-direction jitter buffer on scripted arrival patterns (virtual time)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import LocalProtocolError
from gateway.media.jitter_buffer import (
    JitterBuffer,
    JitterBufferConfig,
    JitterOutput,
    MissingFrame,
    PlayoutFrame,
    SilentFrame,
)
from gateway.media.rtp import RtpPacket

FRAME = 0.02


@dataclass
class Sent:
    seq: int
    arrival: float
    ts: int | None = None
    ssrc: int = 1
    marker: bool = False


def packet(item: Sent, ts_base: int = 0) -> RtpPacket:
    ts = item.ts if item.ts is not None else item.seq * 160
    payload = item.seq.to_bytes(2, "big") * 80
    return RtpPacket(
        0, item.seq & 0xFFFF, (ts_base + ts) & 0xFFFFFFFF, item.ssrc, payload, item.marker
    )


def play(
    jb: JitterBuffer,
    sent: list[Sent],
    until: float,
    *,
    phase: float = 0.001,
    ts_base: int = 0,
) -> list[tuple[float, JitterOutput]]:
    """Run the line clock: every 20 ms put what has arrived, then pop one unit."""
    pending = sorted(sent, key=lambda s: s.arrival)
    out = []
    k = 0
    t = phase
    while t < until:
        while k < len(pending) and pending[k].arrival <= t:
            jb.put(packet(pending[k], ts_base), pending[k].arrival)
            k += 1
        out.append((t, jb.pop(t)))
        t += FRAME
    return out


def played(out: list[tuple[float, JitterOutput]]) -> list[int]:
    return [o.sequence for _, o in out if isinstance(o, PlayoutFrame)]


def kinds(out: list[tuple[float, JitterOutput]]) -> list[str]:
    names: list[str] = []
    for _, o in out:
        if isinstance(o, MissingFrame):
            names.append(o.reason)
        else:
            names.append("play" if isinstance(o, PlayoutFrame) else "silent")
    return names


def steady(n: int, delay: float = 0.05, start: int = 0) -> list[Sent]:
    return [Sent(start + i, (start + i) * FRAME + delay) for i in range(n)]


def test_steady_stream_plays_every_frame_in_order_after_the_initial_delay() -> None:
    jb = JitterBuffer()
    out = play(jb, steady(50), 1.3)
    assert played(out) == list(range(50))
    first = next(t for t, o in out if isinstance(o, PlayoutFrame))
    # Arrival at 50 ms plus the 60 ms initial target, to within one line frame.
    assert 0.09 <= first <= 0.13
    body = kinds(out)
    start = body.index("play")
    assert body[:start] == ["silent"] * start
    assert body[start : start + 50] == ["play"] * 50
    stats = jb.statistics()
    assert (stats.frames_lost, stats.late_discarded, stats.duplicates) == (0, 0, 0)


def test_reordered_packets_play_in_order() -> None:
    sent = steady(30)
    sent[3].arrival, sent[4].arrival = sent[4].arrival + 0.005, sent[3].arrival
    sent[10].arrival += 0.035  # overtaken by 11 and 12
    jb = JitterBuffer()
    out = play(jb, sent, 1.0)
    assert played(out) == list(range(30))
    assert "lost" not in kinds(out)


def test_a_lost_packet_is_reported_missing_and_the_next_one_still_plays() -> None:
    sent = [s for s in steady(30) if s.seq != 10]
    jb = JitterBuffer()
    out = play(jb, sent, 1.0)
    outputs = [o for _, o in out if not isinstance(o, SilentFrame)]
    index = next(i for i, o in enumerate(outputs) if isinstance(o, MissingFrame))
    assert outputs[index] == MissingFrame(10 * 160, 160, "lost")
    before, after = outputs[index - 1], outputs[index + 1]
    assert isinstance(before, PlayoutFrame) and before.sequence == 9
    assert isinstance(after, PlayoutFrame) and after.sequence == 11
    assert played(out) == [*range(10), *range(11, 30)]
    assert jb.statistics().frames_lost == 1


def test_a_late_packet_is_discarded_grows_the_target_and_the_delay_follows() -> None:
    sent = steady(150)
    sent[20].arrival += 0.15  # arrives long after its turn
    sent[120].arrival += 0.10  # by then the buffer has grown enough to wait for it
    jb = JitterBuffer()
    out = play(jb, sent, 3.5)
    assert jb.statistics().late_discarded == 1
    assert MissingFrame(20 * 160, 160, "lost") in [o for _, o in out]
    assert 20 not in played(out)
    assert 120 in played(out)
    stats = jb.statistics()
    assert stats.stretched >= 3
    # Everything else played in order, but for the frames dropped while the delay shrank back.
    sequences = played(out)
    assert sequences == sorted(sequences)
    assert len(sequences) + stats.compressed == 149


def test_target_delay_tracks_the_measured_jitter_within_bounds() -> None:
    rng = random.Random(7)
    sent = [Sent(i, i * FRAME + 0.05 + rng.uniform(0, 0.08)) for i in range(500)]
    jb = JitterBuffer()
    out = play(jb, sent, 10.5)
    stats = jb.statistics()
    assert 70.0 <= stats.target_delay_ms <= 110.0
    assert stats.late_discarded <= 5  # only while the estimate was still learning
    assert len(played(out)) >= 490

    wild = JitterBuffer()
    rng = random.Random(8)
    play(wild, [Sent(i, i * FRAME + rng.uniform(0, 0.6)) for i in range(100)], 3.0)
    assert wild.statistics().target_delay_ms == pytest.approx(200.0)


def test_the_delay_shrinks_slowly_after_a_jitter_spike() -> None:
    sent = steady(1500)
    for s in sent[10:15]:
        s.arrival += 0.12
    jb = JitterBuffer()
    out = play(jb, sent, 31.0)
    targets = []
    for t, o in out:
        if isinstance(o, PlayoutFrame):
            targets.append((t, t - (o.sequence * FRAME + 0.05)))
    early = max(d for t, d in targets if 1.0 < t < 2.0)
    late = max(d for t, d in targets if 28.0 < t < 30.0)
    assert early > 0.1
    assert late < 0.05
    assert jb.statistics().target_delay_ms == pytest.approx(20.0, abs=0.5)
    assert jb.statistics().compressed >= 3


def test_a_marked_talkspurt_after_silence_starts_at_the_current_target() -> None:
    first = steady(20)
    # 1 s of silence suppression: sequence numbers continue, timestamps jump, marker set.
    second = [Sent(20 + i, (70 + i) * FRAME + 0.05, ts=(70 + i) * 160) for i in range(20)]
    second[0].marker = True
    jb = JitterBuffer()
    out = play(jb, first + second, 2.5)
    assert played(out) == list(range(40))
    body = kinds(out)
    gap = body[body.index("play") + 20 : body.index("play", body.index("play") + 20)]
    assert "lost" not in gap
    assert gap.count("underrun") <= 5  # the end of a talk-spurt looks like a stall at first
    assert gap.count("silent") >= 40
    spurt_start = next(t for t, o in out if isinstance(o, PlayoutFrame) and o.sequence == 20)
    assert spurt_start - (70 * FRAME + 0.05) <= jb.target_delay() + FRAME


def test_a_short_silence_already_buffered_is_played_as_silence() -> None:
    first = steady(10)
    second = [Sent(10 + i, (12 + i) * FRAME + 0.05, ts=(12 + i) * 160) for i in range(10)]
    jb = JitterBuffer()
    out = play(jb, first + second, 1.0)
    assert played(out) == list(range(20))
    body = kinds(out)
    start = body.index("play")
    assert body[start : start + 13] == ["play"] * 10 + ["silent"] * 2 + ["play"]
    assert jb.statistics().frames_lost == 0


def test_timestamps_wrap_without_a_hiccup() -> None:
    jb = JitterBuffer()
    out = play(jb, steady(40), 1.2, ts_base=2**32 - 10 * 160)
    assert played(out) == list(range(40))
    stamps = [o.timestamp for _, o in out if isinstance(o, PlayoutFrame)]
    assert stamps[9] == 2**32 - 160 and stamps[10] == 0
    assert set(kinds(out)) <= {"silent", "play", "underrun"}


def test_a_new_ssrc_restarts_the_stream() -> None:
    old = steady(20)
    new = [Sent(5000 + i, (25 + i) * FRAME + 0.05, ts=777_000 + i * 160, ssrc=2) for i in range(20)]
    jb = JitterBuffer()
    out = play(jb, old + new, 1.5)
    assert played(out) == [*range(20), *range(5000, 5020)]
    assert jb.statistics().ssrc_changes == 1


def test_a_sender_clock_restart_resyncs() -> None:
    sent = steady(20) + [
        Sent(20 + i, (20 + i) * FRAME + 0.05, ts=9_000_000 + i * 160) for i in range(20)
    ]
    jb = JitterBuffer()
    out = play(jb, sent, 1.5)
    assert jb.statistics().resyncs == 1
    assert played(out)[-5:] == [35, 36, 37, 38, 39]


def test_duplicates_and_overflow_are_counted() -> None:
    jb = JitterBuffer(JitterBufferConfig(capacity=8))
    for i in range(10):
        jb.put(packet(Sent(i, 0.0)), 0.0)
    jb.put(packet(Sent(3, 0.0)), 0.0)
    stats = jb.statistics()
    assert (stats.buffered, stats.overflow_discarded, stats.duplicates) == (8, 2, 1)


def test_a_fast_sender_clock_is_absorbed_by_dropping_frames() -> None:
    sent = [Sent(i, i * FRAME * 0.995 + 0.05) for i in range(3000)]  # 0.5 % fast
    jb = JitterBuffer()
    out = play(jb, sent, 60.0)
    stats = jb.statistics()
    assert 12 <= stats.compressed <= 20  # 60 s at 0.5 % is 0.3 s, fifteen frames
    delays = [t - sent[o.sequence].arrival for t, o in out if isinstance(o, PlayoutFrame)]
    assert max(delays[-500:]) < 0.1  # the buffer did not fill up with the surplus
    assert stats.buffered <= 8


def test_bad_configuration_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        JitterBufferConfig(min_delay=0.3, max_delay=0.2)
    with pytest.raises(LocalProtocolError):
        JitterBufferConfig(frame_samples=0)


@given(
    st.lists(
        st.tuples(st.integers(0, 59), st.floats(0, 0.3), st.booleans()),
        min_size=1,
        max_size=80,
    )
)
@settings(max_examples=150, deadline=None)
def test_any_arrival_pattern_keeps_order_and_accounts_for_every_packet(
    events: list[tuple[int, float, bool]],
) -> None:
    sent = [Sent(seq, seq * FRAME + delay, marker=marker) for seq, delay, marker in events]
    jb = JitterBuffer()
    out = play(jb, sent, 60 * FRAME + 1.0)
    sequences = played(out)
    assert sequences == sorted(set(sequences))
    assert set(sequences) <= {s.seq for s in sent}
    stats = jb.statistics()
    assert stats.packets_in == len(sent)
    assert stats.packets_in == (
        stats.frames_played
        + stats.late_discarded
        + stats.duplicates
        + stats.overflow_discarded
        + stats.compressed
        + stats.buffered
    )
