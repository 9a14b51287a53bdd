"""The RTCP transmission interval of RFC 3550 §6.2/§6.3 (``rtcp_interval()`` of Appendix A.7)."""

from __future__ import annotations

import math
import random
from typing import Final

RTCP_MIN_TIME: Final = 5.0
RTCP_BANDWIDTH_FRACTION: Final = 0.05
RTCP_SENDER_BW_FRACTION: Final = 0.25
RTCP_RCVR_BW_FRACTION: Final = 0.75
# A.7: the randomisation makes the average interval e - 1.5 times too long without this.
RTCP_COMPENSATION: Final = math.e - 1.5


def rtcp_interval(
    *,
    members: int,
    senders: int,
    we_sent: bool,
    avg_rtcp_size: float,
    session_bandwidth: float,
    initial: bool,
    reduced_minimum: bool,
    rng: random.Random,
) -> float:
    """Seconds until the next report.

    ``session_bandwidth`` is in bits/s (RTCP gets 5 % of it, a quarter of that for senders when
    they are few); ``avg_rtcp_size`` in octets including UDP/IP headers.  The minimum is 5 s, or
    360 / (session kb/s) with ``reduced_minimum`` (§6.2), halved before the first report; the
    result is randomised over [0.5, 1.5) of the deterministic value with ``rng``.
    """
    bandwidth = session_bandwidth / 8.0 * RTCP_BANDWIDTH_FRACTION
    minimum = 360.0 / (session_bandwidth / 1000.0) if reduced_minimum else RTCP_MIN_TIME
    if initial:
        minimum /= 2.0
    n = members
    if senders <= members * RTCP_SENDER_BW_FRACTION:
        if we_sent:
            bandwidth *= RTCP_SENDER_BW_FRACTION
            n = senders
        else:
            bandwidth *= RTCP_RCVR_BW_FRACTION
            n -= senders
    interval = max(avg_rtcp_size * n / bandwidth, minimum)
    return interval * (rng.random() + 0.5) / RTCP_COMPENSATION
