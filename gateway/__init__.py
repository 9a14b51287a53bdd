"""gwemu: the gateway (call control, SIP, SDP, media) and its runtime.

Before any of its modules loads, a compiled module whose source has changed since it was built
is set aside for its source (see :mod:`gateway._compiled`).
"""

from gateway._compiled import prefer_changed_sources

prefer_changed_sources()
