"""Serial links: device paths (a real pty), socket:// (TCP on the event loop), rfc2217:// (a small
RFC 2217 server built on pyserial's PortManager), and the error texts a user sees."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import threading
import tty
from collections.abc import Awaitable
from pathlib import Path

import pytest
import serial
import serial.rfc2217

from gateway.errors import ConfigError
from hardware.serial_io import (
    SerialPortError,
    SerialSettings,
    describe_open_error,
    open_link,
    serial_opener,
)


class Receiver:
    def __init__(self) -> None:
        self.data = bytearray()
        self.lost: list[str] = []

    def link_data(self, data: bytes) -> None:
        self.data += data

    def link_lost(self, reason: str) -> None:
        self.lost.append(reason)

    async def until(self, test: object, timeout: float = 3.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not test():  # type: ignore[operator]
            assert asyncio.get_running_loop().time() < deadline, f"got {bytes(self.data)!r}"
            await asyncio.sleep(0.005)


def run(coroutine: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 15))  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- error texts


def test_missing_device_names_the_fix() -> None:
    text = describe_open_error("/dev/ttyACM7", errno.ENOENT)
    assert "/dev/ttyACM7 does not exist" in text and "/dev/serial/by-id" in text


@pytest.mark.parametrize("code", [errno.EACCES, errno.EPERM])
def test_permission_denied_names_the_dialout_group_and_udev(code: int) -> None:
    text = describe_open_error("/dev/ttyUSB0", code)
    assert "permission denied opening /dev/ttyUSB0" in text
    assert "'dialout' group" in text and "usermod -aG dialout" in text
    assert "udev rule" in text and 'GROUP="dialout"' in text
    # Distributions that use another group (uucp on Arch) get that group named.
    assert "usermod -aG uucp" in describe_open_error("/dev/ttyUSB0", code, group="uucp")


@pytest.mark.parametrize("code", [errno.EBUSY, errno.EAGAIN])
def test_port_in_use_mentions_modemmanager(code: int) -> None:
    assert "ModemManager" in describe_open_error("/dev/ttyACM0", code)


def test_refused_tcp_port_and_unknown_errors() -> None:
    assert "nothing listens at socket://127.0.0.1:9" in describe_open_error(
        "socket://127.0.0.1:9", errno.ECONNREFUSED)
    assert describe_open_error("/dev/x", None, "odd") == "cannot open /dev/x: odd"


def test_opening_a_missing_path_raises_the_clear_error(tmp_path: Path) -> None:
    async def main() -> None:
        with pytest.raises(SerialPortError) as caught:
            await open_link(SerialSettings(str(tmp_path / "gwemu-nothing")), Receiver())
        assert caught.value.errno == errno.ENOENT
        assert "does not exist" in str(caught.value)

    run(main())


def test_permission_errors_from_the_open_are_mapped(tmp_path: Path) -> None:
    """As root a chmod 000 node still opens, so the open call itself is made to fail."""
    node = tmp_path / "ttyFAKE"
    node.write_bytes(b"")

    class Refusing(serial.Serial):  # type: ignore[misc]
        def open(self) -> None:
            raise serial.SerialException(errno.EACCES, f"could not open port {node}: denied")

    from hardware import serial_io

    original = serial_io._NonBlockingSerial
    serial_io._NonBlockingSerial = Refusing  # type: ignore[misc]
    try:
        with pytest.raises(SerialPortError) as caught:
            serial_io._open_port(SerialSettings(str(node)))
    finally:
        serial_io._NonBlockingSerial = original  # type: ignore[misc]
    assert caught.value.errno == errno.EACCES
    assert "dialout" in str(caught.value) or "group" in str(caught.value)


@pytest.mark.parametrize(("url", "key"), [
    ("loop://", "device"), ("spy:///dev/ttyS0", "device"), ("socket://localhost", "device"),
    ("", "device"),
])
def test_unusable_urls_are_config_errors(url: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        SerialSettings(url)
    assert caught.value.key == key


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError):
        SerialSettings("/dev/ttyS0", flow_control="dsrdtr")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        SerialSettings("/dev/ttyS0", baud_rate=0)
    assert SerialSettings("socket://127.0.0.1:7000").scheme == "socket"
    assert SerialSettings("/dev/ttyACM0").scheme is None


# ----------------------------------------------------------------------------- device paths


def _pty() -> tuple[int, int, str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    return master, slave, os.ttyname(slave)


def test_device_path_both_ways_exclusive_and_loss() -> None:
    master, slave, path = _pty()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        got = bytearray()
        loop.add_reader(master, lambda: got.extend(os.read(master, 4096)))
        receiver = Receiver()
        link = await serial_opener(SerialSettings(path, baud_rate=57600))(receiver)
        try:
            link.write(b"ATZ\r")
            await receiver.until(lambda: bytes(got) == b"ATZ\r")
            os.write(master, b"\r\nOK\r\n" + bytes(range(256)))  # binary passes untouched
            await receiver.until(lambda: len(receiver.data) == 6 + 256)
            assert bytes(receiver.data) == b"\r\nOK\r\n" + bytes(range(256))
            with pytest.raises(SerialPortError) as caught:  # exclusive: a second opener fails
                await open_link(SerialSettings(path), Receiver())
            assert "in use" in str(caught.value)
            # A large write is buffered, never blocks the loop, and arrives whole.
            big = bytes(range(256)) * 512
            got.clear()
            link.write(big)
            await receiver.until(lambda: len(got) >= len(big), timeout=5.0)
            assert bytes(got) == big
            loop.remove_reader(master)
            os.close(master)  # the device disappears
            await receiver.until(lambda: receiver.lost)
            assert path in receiver.lost[0]
        finally:
            link.close()
            os.close(slave)

    run(main())


# ----------------------------------------------------------------------------- socket://


def test_socket_url_through_the_event_loop() -> None:
    async def main() -> None:
        peers: list[asyncio.StreamWriter] = []
        received = bytearray()

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peers.append(writer)
            writer.write(b"READY\r\n")
            while data := await reader.read(100):
                received.extend(data)

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        receiver = Receiver()
        link = await open_link(SerialSettings(f"socket://127.0.0.1:{port}"), receiver)
        await receiver.until(lambda: bytes(receiver.data) == b"READY\r\n")
        link.write(b"\r\n")
        await receiver.until(lambda: bytes(received) == b"\r\n")
        peers[0].close()  # ser2net drops the connection
        await receiver.until(lambda: receiver.lost)
        link.close()
        server.close()
        await server.wait_closed()
        with pytest.raises(SerialPortError) as caught:
            await open_link(SerialSettings(f"socket://127.0.0.1:{port}"), Receiver())
        assert "nothing listens" in str(caught.value)

    run(main())


# ----------------------------------------------------------------------------- rfc2217://


class PtyDevice(serial.Serial):  # type: ignore[misc]
    """A pty has no modem control lines: report them steady instead of failing the ioctl."""

    cts = dsr = cd = True
    ri = False

    def _update_dtr_state(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass


class Rfc2217Server:
    """One RFC 2217 client at a time onto a serial port, as ser2net's telnet mode does."""

    def __init__(self, port_path: str) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._path = port_path
        self._alive = True
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        device = PtyDevice(self._path, timeout=0.05)

        class Writer:
            def write(self, data: bytes) -> None:
                connection.sendall(data)

        manager = serial.rfc2217.PortManager(device, Writer())

        def to_network() -> None:
            while self._alive:
                data = device.read(device.in_waiting or 1)
                if data:
                    connection.sendall(b"".join(manager.escape(data)))

        sender = threading.Thread(target=to_network, daemon=True)
        sender.start()
        while self._alive:
            data = connection.recv(1024)
            if not data:
                break
            device.write(b"".join(manager.filter(data)))
        self._alive = False
        sender.join()
        connection.close()
        device.close()

    def stop(self) -> None:
        self._alive = False
        self.listener.close()


def test_rfc2217_url_carries_bytes_both_ways() -> None:
    master, slave, path = _pty()
    server = Rfc2217Server(path)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        got = bytearray()
        loop.add_reader(master, lambda: got.extend(os.read(master, 4096)))
        receiver = Receiver()
        link = await open_link(SerialSettings(f"rfc2217://127.0.0.1:{server.port}",
                                              baud_rate=57600), receiver)
        try:
            link.write(b"STATE\r\n\xff\x10")  # 0xFF is the telnet escape: RFC 2217 doubles it
            await receiver.until(lambda: bytes(got) == b"STATE\r\n\xff\x10")
            os.write(master, b"OK\r\nSTATE IDLE\r\n\xff")
            await receiver.until(lambda: bytes(receiver.data) == b"OK\r\nSTATE IDLE\r\n\xff")
        finally:
            link.close()
            loop.remove_reader(master)
            await asyncio.sleep(0.3)

    try:
        run(main())
    finally:
        server.stop()
        os.close(master)
        os.close(slave)
