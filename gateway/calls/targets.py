"""Where voip dial-peers point, and who may send us INVITEs (toll-fraud protection).

:func:`target_hop` turns a peer's ``session target`` into the transport hop of its INVITE:
``ipv4:``/``ipv6:`` as written, ``dns:`` through the plan's resolver (the sans-IO core never
does DNS), ``registrar`` and ``sip-server`` through the plan's servers.

:class:`TrustList` is IOS ``voice service voip / ip address trusted list`` with toll-fraud
prevention on by default (IOS 15.1(2)T and later): an INVITE is accepted only from an address
that is a session target of some voip dial-peer, the registrar, the SIP server, or an entry of
the trusted list (an address or a network).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from gateway.calls.dialpeer import VoipDialPeer
from gateway.calls.plan import SIP_PORT, GatewayPlan, Resolver, SipTarget
from gateway.sip.routing import Hop, bare_host, is_ip_address

__all__ = ["TrustList", "Unreachable", "target_hop", "target_host"]

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Unreachable:
    """Why a peer's session target gives no hop (for the Notice and the cause)."""

    reason: str


def _server(plan: GatewayPlan, kind: str) -> SipTarget | None:
    return plan.registrar if kind == "registrar" else plan.sip_server


def target_host(peer: VoipDialPeer, plan: GatewayPlan) -> tuple[str, int | None] | Unreachable:
    """The host (name or address) and port ``peer``'s session target names."""
    target = peer.session_target
    if target is None:
        return Unreachable(f"dial-peer {peer.tag} has no session target")
    if target.kind in ("registrar", "sip-server"):
        server = _server(plan, target.kind)
        if server is None:
            return Unreachable(f"dial-peer {peer.tag}: session target {target.kind} is not set")
        return server.host, server.port
    assert target.host is not None  # SessionTarget guarantees a host for address kinds
    return target.host, target.port


def target_hop(
    peer: VoipDialPeer, plan: GatewayPlan, resolver: Resolver | None = None
) -> Hop | Unreachable:
    """The hop an INVITE over ``peer`` goes to, or why there is none; names go through
    ``resolver`` (default: the plan's)."""
    found = target_host(peer, plan)
    if isinstance(found, Unreachable):
        return found
    host, port = found
    resolve = resolver or plan.resolver
    address = bare_host(host) if is_ip_address(host) else resolve(host)
    if address is None or not is_ip_address(address):
        return Unreachable(f"dial-peer {peer.tag}: cannot resolve {host!r}")
    return Hop(peer.session_transport, (bare_host(address), port or SIP_PORT))


class TrustList:
    """Decides whether an INVITE's source address may place calls through this gateway."""

    __slots__ = ("_addresses", "_names", "_networks", "_plan", "_resolver")

    def __init__(self, plan: GatewayPlan, resolver: Resolver | None = None) -> None:
        self._plan = plan
        self._resolver = resolver or plan.resolver
        self._networks: tuple[IpNetwork, ...] = tuple(
            ipaddress.ip_network(source, strict=False) for source in plan.trusted_sources
        )
        addresses: set[str] = set()
        names: set[str] = set()
        hosts: list[str] = []
        for peer in plan.dial_plan.peers:
            if isinstance(peer, VoipDialPeer) and peer.session_target is not None:
                target = peer.session_target
                if target.host is not None:
                    hosts.append(target.host)
        hosts += [server.host for server in (plan.registrar, plan.sip_server) if server]
        for host in hosts:
            if is_ip_address(host):
                addresses.add(_normal(host))
            else:
                names.add(host)
        self._addresses = frozenset(addresses)
        self._names = tuple(sorted(names))

    def allows(self, host: str) -> bool:
        if not self._plan.toll_fraud_protection:
            return True
        if not is_ip_address(host):
            return False
        address = _normal(host)
        if address in self._addresses:
            return True
        ip = ipaddress.ip_address(address)
        if any(ip in network for network in self._networks):
            return True
        # Names resolve at check time: the runtime's resolver may learn them late.
        for name in self._names:
            resolved = self._resolver(name)
            if resolved is not None and is_ip_address(resolved) and _normal(resolved) == address:
                return True
        return False


def _normal(host: str) -> str:
    return str(ipaddress.ip_address(bare_host(host)))
