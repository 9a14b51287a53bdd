"""The device end of a simulated serial port: a raw pty pair on the event loop.

``os.openpty()`` gives a master (the simulated device reads and writes it) and a slave whose
``/dev/pts/N`` path a driver opens exactly like ``/dev/ttyACM0``.  The slave is put in raw mode
(``tty.setraw``: no echo, no CR/LF translation, no signals), so bytes cross unchanged.  The
simulator keeps its own slave descriptor open for the life of the pair: without it, a master
whose slave nobody holds reports hang-up on every poll, and the port would vanish between two
opens of the driver.

``link`` (e.g. ``/tmp/gwemu-modem0``) is a stable symlink to the current slave, replaced
atomically.  :meth:`PtyPort.unplug` closes the pair (the driver reads EIO: the device is gone)
and :meth:`PtyPort.replug` makes a new pair behind the same link, the way a USB modem comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import Callable
from pathlib import Path

# Bytes kept for a slave nobody reads; beyond this the oldest are dropped (a real UART overruns).
MAX_BACKLOG = 256 * 1024


class PtyPort:
    """One simulated serial port (see the module docstring)."""

    def __init__(self, on_data: Callable[[bytes], None], *, link: str | Path | None = None) -> None:
        self._on_data = on_data
        self.link = Path(link) if link is not None else None
        self._master: int | None = None
        self._slave: int | None = None
        self.slave_path = ""
        self._out = bytearray()
        self._writing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.dropped = 0

    @property
    def plugged(self) -> bool:
        return self._master is not None

    @property
    def path(self) -> str:
        """What a driver opens: the stable link when there is one, else the slave."""
        return str(self.link) if self.link is not None else self.slave_path

    def open(self) -> str:
        """Create the pair (in the running loop) and return :attr:`path`."""
        self._loop = asyncio.get_running_loop()
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self.slave_path = os.ttyname(slave)
        self._out.clear()
        self._loop.add_reader(master, self._readable)
        if self.link is not None:
            temporary = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            temporary.symlink_to(self.slave_path)
            temporary.replace(self.link)
        return self.path

    def unplug(self) -> None:
        """Close the pair: the driver's next read fails as when a USB device is pulled."""
        master, slave = self._master, self._slave
        self._master = self._slave = None
        if master is None:
            return
        loop = self._loop
        if loop is not None:
            loop.remove_reader(master)
            if self._writing:
                loop.remove_writer(master)
        self._writing = False
        self._out.clear()
        os.close(master)
        if slave is not None:
            os.close(slave)

    def replug(self) -> str:
        """A new pair behind the same link (the device came back)."""
        self.unplug()
        return self.open()

    def close(self) -> None:
        """Unplug and remove the link."""
        self.unplug()
        if self.link is not None and self.link.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()

    def write(self, data: bytes) -> None:
        if self._master is None or not data:
            return
        self._out += data
        if len(self._out) > MAX_BACKLOG:
            excess = len(self._out) - MAX_BACKLOG
            del self._out[:excess]
            self.dropped += excess
        if not self._writing:
            self._flush()

    def _flush(self) -> None:
        master = self._master
        if master is None:
            return
        while self._out:
            try:
                written = os.write(master, self._out)
            except BlockingIOError:
                break
            except OSError:
                # EIO: the slave side is gone for good; the bytes have nowhere to go.
                self._out.clear()
                break
            del self._out[:written]
        loop = self._loop
        if loop is None:
            return
        if self._out and not self._writing:
            loop.add_writer(master, self._flush)
            self._writing = True
        elif not self._out and self._writing:
            loop.remove_writer(master)
            self._writing = False

    def _readable(self) -> None:
        master = self._master
        if master is None:
            return
        try:
            data = os.read(master, 65536)
        except BlockingIOError:
            return
        except OSError:
            return  # EIO while no slave is open; we hold one, so this is transient
        if data:
            self._on_data(data)
