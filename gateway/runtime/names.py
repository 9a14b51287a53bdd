"""Host-name lookups for call control, on the event loop (``loop.getaddrinfo``).

The sans-IO core asks with :class:`~gateway.calls.commands.ResolveHost`; :class:`NameLookups`
runs each lookup as a task and hands the first address back to ``answer(name, address, now)``
(None when the name does not resolve or the lookup takes longer than ``timeout``).  IPv4
answers come first: gateways usually listen on IPv4 only, and ``localhost`` often resolves to
``::1`` before ``127.0.0.1``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

__all__ = ["NameLookups"]

Answer = Callable[[str, "str | None"], None]


class NameLookups:
    """Resolves names in the background, one task per name being looked up."""

    __slots__ = ("_answer", "_loop", "_tasks", "_timeout")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, answer: Answer, *, timeout: float = 4.0
    ) -> None:
        self._loop = loop
        self._answer = answer
        self._timeout = timeout
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def resolve(self, name: str) -> None:
        """Start looking ``name`` up (a lookup already running for it is not repeated)."""
        if name in self._tasks:
            return
        task = self._loop.create_task(self._lookup(name))
        self._tasks[name] = task
        task.add_done_callback(lambda _task: self._tasks.pop(name, None))

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _lookup(self, name: str) -> None:
        try:
            infos = await asyncio.wait_for(
                self._loop.getaddrinfo(name, None, type=socket.SOCK_DGRAM), self._timeout
            )
        except (OSError, UnicodeError, TimeoutError):
            address = None
        else:
            ordered = sorted(infos, key=lambda info: info[0] != socket.AF_INET)
            address = str(ordered[0][4][0]) if ordered else None
        self._answer(name, address)
