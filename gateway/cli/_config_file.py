"""What the commands that read a node's config file share: load it or report why not, and find
the control address of a running node from ``--control`` or the file's ``control`` key."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Protocol, TypeVar

from gateway.errors import ConfigError

__all__ = ["control_address", "load_or_report"]


class _HasControl(Protocol):
    @property
    def control(self) -> str | None: ...


Config = TypeVar("Config")


def load_or_report(load: Callable[[str], Config], path: str) -> Config | None:
    """``load(path)``, or None after printing every problem (file, line, key) to stderr."""
    try:
        return load(path)
    except ConfigError as error:  # ConfigErrors too: one line per problem
        print(error.render(), file=sys.stderr)
    return None


def control_address(address: str | None, path: str | None,
                    load: Callable[[str], _HasControl], command: str) -> str | None:
    """``address`` if given, else the ``control`` key of the file at ``path``; None (the
    reason printed) when neither names one."""
    if address is None and path is not None:
        config = load_or_report(load, path)
        if config is None:
            return None
        address = config.control
    if address is None:
        print(f"{command}: give --control, or --config naming a file with a control key",
              file=sys.stderr)
    return address
