"""Host names of ``dns:`` session targets, looked up at call time by the runtime and cached.

The sans-IO core never does DNS.  A call that needs a name the plan's static resolver does not
know asks for it (:class:`~gateway.calls.commands.ResolveHost`, once per name however many
calls wait) and waits; the runtime answers with an address or None.  Answers, positive and
negative, are kept a fixed ``ttl`` seconds -- no record TTLs, no SRV/NAPTR (RFC 3263 is out of
scope: a ``dns:`` target names a host, and its port or 5060).
"""

from __future__ import annotations

from gateway.calls.plan import Resolver
from gateway.sip.routing import bare_host, is_ip_address

__all__ = ["NameCache"]


class NameCache:
    """Addresses of host names: the static resolver first, then cached runtime answers."""

    __slots__ = ("_asked", "_entries", "_static", "_ttl")

    def __init__(self, static: Resolver, ttl: float) -> None:
        self._static = static
        self._ttl = ttl
        self._entries: dict[str, tuple[str | None, float]] = {}
        self._asked: set[str] = set()

    def lookup(self, name: str) -> str | None:
        """The address of ``name`` as known now (None: unknown or known not to resolve)."""
        address = self._static(name)
        if address is not None:
            return address
        entry = self._entries.get(name.lower())
        return None if entry is None else entry[0]

    def known(self, name: str, now: float) -> bool:
        """True when ``name`` has an answer (static, or cached and not expired)."""
        if self._static(name) is not None:
            return True
        key = name.lower()
        entry = self._entries.get(key)
        if entry is not None and entry[1] < now:
            del self._entries[key]
            entry = None
        return entry is not None

    def ask(self, name: str) -> bool:
        """Note that ``name`` is being looked up; False when it already was."""
        key = name.lower()
        if key in self._asked:
            return False
        self._asked.add(key)
        return True

    def store(self, name: str, address: str | None, now: float) -> str | None:
        """Keep the runtime's answer (anything but a numeric address counts as none)."""
        key = name.lower()
        self._asked.discard(key)
        usable = bare_host(address) if address is not None and is_ip_address(address) else None
        self._entries[key] = (usable, now + self._ttl)
        return usable
