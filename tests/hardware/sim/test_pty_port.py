"""The simulator's pty: raw bytes both ways, a stable symlink, unplug and replug."""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

from hardware.sim.pty_port import PtyPort


def test_raw_bytes_symlink_unplug_and_replug(tmp_path: Path) -> None:
    async def main() -> None:
        received = bytearray()
        port = PtyPort(received.extend, link=tmp_path / "gwemu-modem0")
        path = port.open()
        assert path == str(tmp_path / "gwemu-modem0")
        first_slave = port.slave_path
        assert os.readlink(path) == first_slave and first_slave.startswith("/dev/pts/")
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            # Raw mode: CR, LF, DLE and NUL cross untouched, and nothing is echoed.
            os.write(fd, b"AT\r\n\x10\x03\x00")
            await _until(lambda: bytes(received) == b"AT\r\n\x10\x03\x00")
            port.write(b"\r\nOK\r\n\x11\x13")
            await asyncio.sleep(0.05)
            assert os.read(fd, 100) == b"\r\nOK\r\n\x11\x13"
            port.unplug()
            assert not port.plugged
            # What a driver sees when USB is pulled: end of file or EIO, never a hang.
            try:
                assert os.read(fd, 100) == b""
            except OSError as exc:
                assert exc.errno == errno.EIO
        finally:
            os.close(fd)
        assert not Path(path).exists()  # the link dangles while the device is away
        port.replug()
        assert Path(path).exists() and os.readlink(path) == port.slave_path
        port.close()
        assert not Path(path).is_symlink()

    asyncio.run(asyncio.wait_for(main(), 10))


def test_nobody_reading_the_slave_does_not_block_the_simulator() -> None:
    async def main() -> None:
        port = PtyPort(lambda _data: None)
        port.open()
        for _ in range(100):
            port.write(bytes(8192))  # far beyond the pty buffer: kept, then bounded
        assert port.dropped > 0
        port.close()

    asyncio.run(asyncio.wait_for(main(), 10))


async def _until(test: object, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not test():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.005)
