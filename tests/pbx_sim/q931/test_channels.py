"""B-channel selection (Q.931 s5.2.3): exclusive, preferred, any; causes 44, 82, 34."""

from __future__ import annotations

from pbx_sim.config import INTERFACE_CHANNELS
from pbx_sim.q931 import ChannelIdentification as Ci
from pbx_sim.q931.channels import ChannelPool, ChannelRefused


def test_hunting_order_and_exhaustion() -> None:
    up = ChannelPool((1, 2, 3), "ascending", primary_rate=True)
    down = ChannelPool((1, 2, 3), "descending", primary_rate=True)
    assert up.hunt() == 1 and down.hunt() == 3
    for number in (1, 2, 3):
        up.take(number)
    assert up.hunt() is None and up.free_count == 0
    assert up.select(None) == ChannelRefused(34, "every channel is busy")
    up.release(2)
    assert up.select(Ci.any_channel()) == 2


def test_exclusive_preferred_and_unknown_channels() -> None:
    pool = ChannelPool(INTERFACE_CHANNELS["e1"][:4], "ascending", primary_rate=True)
    pool.take(2)
    assert pool.select(Ci.pri(3, exclusive=True)) == 3
    refused = pool.select(Ci.pri(2, exclusive=True))
    assert isinstance(refused, ChannelRefused) and refused.cause == 44
    assert pool.select(Ci.pri(2)) == 1  # preferred: another one will do
    refused = pool.select(Ci.pri(16, exclusive=True))
    assert isinstance(refused, ChannelRefused) and refused.cause == 82
    assert pool.select(Ci.pri(16)) == 1


def test_e1_skips_timeslot_16_and_bri_identifies_b1_b2() -> None:
    assert 16 not in INTERFACE_CHANNELS["e1"] and len(INTERFACE_CHANNELS["e1"]) == 30
    bri = ChannelPool((1, 2), "ascending", primary_rate=False)
    assert bri.identification(2, exclusive=True) == Ci.bri(2, exclusive=True)
    assert bri.select(Ci.bri(1, exclusive=True)) == 1
