"""The gateway runtime: :class:`GatewayNode` composes SIP, lines, call control, media, control.

``gwemu gateway --config gw-a.toml`` runs one; tests run several in one event loop.
"""

from gateway.runtime.node import GatewayNode

__all__ = ["GatewayNode"]
