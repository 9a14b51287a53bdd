"""The JSON-lines control channel: requests, errors, help, Unix and TCP, the sync helper."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from gateway.aio.control import ControlAddress, ControlClient, ControlError, ControlServer, request
from gateway.errors import LocalProtocolError


def handlers(log: list[Any]) -> dict[str, Any]:
    def dial(phone: str, number: str) -> None:
        """dial PHONE NUMBER: lift and dial."""
        log.append(("dial", phone, number))

    async def status() -> dict[str, int]:
        await asyncio.sleep(0)
        return {"calls": len(log)}

    def refuse() -> None:
        raise LocalProtocolError("extension 1000 is not ringing")

    def broken() -> None:
        raise RuntimeError("bug")

    return {"dial": dial, "status": status, "refuse": refuse, "broken": broken}


@pytest.mark.parametrize(
    ("text", "address"),
    [("127.0.0.1:7001", ControlAddress(host="127.0.0.1", port=7001)),
     ("tcp:[::1]:0", ControlAddress(host="::1", port=0)),
     ("unix:/tmp/x.sock", ControlAddress(path="/tmp/x.sock"))],
)
def test_addresses(text: str, address: ControlAddress) -> None:
    assert ControlAddress.parse(text) == address
    assert ControlAddress.parse(str(address)) == address


@pytest.mark.parametrize("bad", ["", "unix:", "7001", "host:port"])
def test_bad_addresses(bad: str) -> None:
    with pytest.raises(ValueError):
        ControlAddress.parse(bad)


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_requests_and_errors(kind: str, tmp_path: Path) -> None:
    log: list[Any] = []
    where = f"unix:{tmp_path / 'c.sock'}" if kind == "unix" else "127.0.0.1:0"

    async def main() -> None:
        server = ControlServer(handlers(log), where)
        address = await server.start()
        client = await ControlClient.connect(address)
        assert await client.request("dial", phone="1000", number="555") is None
        assert log == [("dial", "1000", "555")]
        assert await client.request("status") == {"calls": 1}
        for command, args, message in [
            ("nope", {}, "unknown command 'nope'"),
            ("dial", {"phone": "1"}, "bad arguments"),
            ("refuse", {}, "not ringing"),
            ("broken", {}, "internal error: bug"),
        ]:
            with pytest.raises(ControlError, match=message):
                await client.request(command, **args)
        assert (await client.request("help"))["dial"] == "dial PHONE NUMBER: lift and dial."
        # raw lines: garbage gets an error response, the connection stays usable
        reader, writer = client._reader, client._writer  # the same ordered stream
        writer.write(b"not json\n[1]\n\n")
        await writer.drain()
        first = json.loads(await reader.readline())
        second = json.loads(await reader.readline())
        assert not first["ok"] and "not JSON" in first["error"]
        assert not second["ok"] and "JSON object" in second["error"]
        assert await client.request("status") == {"calls": 1}
        await client.close()
        await server.close()
        with pytest.raises(ControlError, match="cannot reach"):
            await ControlClient.connect(address, timeout=1.0)

    asyncio.run(main())


def test_the_synchronous_helper_from_another_thread() -> None:
    log: list[Any] = []
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    address: list[ControlAddress] = []

    async def serve() -> None:
        server = ControlServer(handlers(log), "127.0.0.1:0")
        address.append(await server.start())
        stop.append(asyncio.Event())
        ready.set()
        await stop[0].wait()
        await server.close()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),))
    thread.start()
    try:
        assert ready.wait(5)
        assert request(address[0], "status") == {"calls": 0}
        with pytest.raises(ControlError, match="unknown command"):
            request(str(address[0]), "nope")
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(5)
        loop.close()
