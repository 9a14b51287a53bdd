"""The PBX simulator on asyncio: trunks on TCP, B-channels on RTP, FXS-board phones on TCP.

:class:`PbxSimulator` runs the sans-IO :class:`~pbx_sim.pbx.Pbx` (and the
:class:`~pbx_sim.fxs_phone.BoardPhone` phones) in an existing event loop -- a normal one, or
:class:`gateway.aio.virtual_time.VirtualTimeEventLoop` with ``media=False`` for fast
signalling-only runs.  ``gwemu pbx`` runs one as its own process.
"""

from pbx_sim.aio.commands import control_handlers
from pbx_sim.aio.simulator import PbxSimulator

__all__ = ["PbxSimulator", "control_handlers"]
