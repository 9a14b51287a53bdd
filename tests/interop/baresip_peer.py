"""baresip (Debian ``baresip-core``) as a headless SIP softphone for interop tests.

:class:`BaresipPeer` writes a private configuration directory (``config``, ``accounts``), runs
``baresip -f DIR`` with no sound card and drives it over two loopback sockets:

* ``ctrl_tcp``: JSON commands (``dial``, ``hangup``, ...) in netstrings, and the call events
  baresip reports (``CALL_PROGRESS``, ``CALL_ESTABLISHED``, ``CALL_CLOSED`` ...);
* ``cons``: single key presses, which is how baresip 1.0's menu sends DTMF during a call (a
  digit key in a call goes out as an RFC 4733 telephone-event when the peer accepted them).

Audio is files and generators only: ``ausine`` says a sine at ``tone_hz`` (it only makes
48 kHz stereo; baresip resamples to the codec's 8 kHz), the ``aubridge`` player swallows what
baresip hears, and ``sndfile`` records both directions as WAV files in the directory
(``dump-<time>-dec.wav``: what baresip heard; ``-enc.wav``: what it said).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

MODULES = Path("/usr/lib/baresip/modules")
# The module that provides each codec the tests name (baresip's codec names).
CODEC_MODULES = {"PCMU": "g711.so", "PCMA": "g711.so", "G722": "g722.so"}
KEY_RELEASE = b"\x04"  # baresip's KEYCODE_REL: the key pressed last has been let go


@dataclass(frozen=True, slots=True)
class BaresipOptions:
    """What the softphone looks like: its account, its ports on 127.0.0.1 and its audio.

    ``user`` is the account's user part (its number): baresip answers INVITEs whose
    Request-URI names it and 404s the rest.  ``codecs`` are baresip codec names in
    offer order (``PCMU``, ``PCMA``, ``G722/16000/1``: baresip matches name, rate and
    channels).  ``first_port`` starts a block of ``PORTS_NEEDED`` consecutive free ports: SIP
    (UDP and TCP), SIP over TLS (baresip always opens the next one), ctrl_tcp, cons, then RTP.
    The account answers every call at once (``answermode=auto``).
    """

    user: str
    first_port: int
    codecs: Sequence[str] = ("PCMU", "PCMA")
    tone_hz: int = 800

    PORTS_NEEDED = 8

    @property
    def sip_port(self) -> int:
        return self.first_port

    @property
    def ctrl_port(self) -> int:
        return self.first_port + 2

    @property
    def cons_port(self) -> int:
        return self.first_port + 3

    @property
    def rtp_ports(self) -> tuple[int, int]:
        return self.first_port + 4, self.first_port + self.PORTS_NEEDED - 1


def config_text(options: BaresipOptions, record_dir: Path) -> str:
    """The ``config`` file: loopback only, no sound card, no NAT helpers, no video."""
    first_rtp, last_rtp = options.rtp_ports
    lines = [
        ("poll_method", "epoll"),
        ("sip_listen", f"127.0.0.1:{options.sip_port}"),
        # the address baresip writes in SDP c= lines and Contact
        ("net_interface", "127.0.0.1"),
        ("call_local_timeout", "20"),
        ("call_max_calls", "2"),
        ("statmode_default", "off"),  # no call-status line every 100 ms in the log
        ("audio_path", "/usr/share/baresip"),
        # a bridge device nobody reads: a player that needs no sound card
        ("audio_player", "aubridge,gwemu-null"),
        ("audio_alert", "aubridge,gwemu-null"),
        ("audio_source", f"ausine,{options.tone_hz}"),
        ("ausrc_srate", "48000"),  # ausine only makes 48 kHz stereo
        ("ausrc_channels", "2"),
        ("ausrc_format", "s16"),
        ("auplay_format", "s16"),
        ("auenc_format", "s16"),
        ("audec_format", "s16"),
        ("rtp_ports", f"{first_rtp}-{last_rtp}"),
        ("rtcp_mux", "no"),
        ("jitter_buffer_delay", "1-5"),
        ("module_path", str(MODULES)),
        *(("module", module) for module in codec_modules(options.codecs)),
        ("module", "ausine.so"),
        ("module", "aubridge.so"),
        ("module", "sndfile.so"),
        ("module", "cons.so"),
        ("module_tmp", "account.so"),
        ("module_app", "menu.so"),
        ("module_app", "ctrl_tcp.so"),
        ("ctrl_tcp_listen", f"127.0.0.1:{options.ctrl_port}"),
        ("cons_listen", f"127.0.0.1:{options.cons_port}"),
        ("snd_path", str(record_dir)),
    ]
    return "".join(f"{key}\t{value}\n" for key, value in lines)


def accounts_text(options: BaresipOptions) -> str:
    """The ``accounts`` file: one account, no registration (``regint=0``), auto-answer."""
    codecs = ",".join(options.codecs)
    return (f"<sip:{options.user}@127.0.0.1:{options.sip_port}>;regint=0;"
            f"answermode=auto;audio_codecs={codecs}\n")


def codec_modules(codecs: Sequence[str]) -> list[str]:
    """The codec modules to load for ``codecs`` (``PCMA``, ``G722/16000/1`` ...), in order."""
    return list(dict.fromkeys(CODEC_MODULES[codec.split("/")[0]] for codec in codecs))


def netstring(payload: bytes) -> bytes:
    return str(len(payload)).encode() + b":" + payload + b","


class BaresipPeer:
    """One running baresip, started by :meth:`start` and always ended by :meth:`stop`."""

    def __init__(self, binary: str, options: BaresipOptions, directory: Path) -> None:
        self.binary = binary
        self.options = options
        self.directory = directory
        self.record_dir = directory / "recordings"
        self.log_path = directory / "baresip.log"
        self.events: list[dict[str, Any]] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pump: asyncio.Task[None] | None = None
        self._responses: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._changed = asyncio.Event()
        self._token = 0

    # ------------------------------------------------------------------ life cycle

    async def start(self, timeout: float = 10.0) -> None:
        self.record_dir.mkdir(parents=True, exist_ok=True)
        (self.directory / "config").write_text(config_text(self.options, self.record_dir))
        (self.directory / "accounts").write_text(accounts_text(self.options))
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [self.binary, "-f", str(self.directory)], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, cwd=self.directory)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:  # ctrl_tcp listens once baresip is ready
            if self._process.poll() is not None:
                raise AssertionError(f"baresip exited at start:\n{self.log()}")
            try:
                self._reader, self._writer = await asyncio.open_connection(
                    "127.0.0.1", self.options.ctrl_port)
                break
            except OSError:
                if loop.time() > deadline:
                    raise AssertionError(
                        f"baresip's ctrl_tcp never listened:\n{self.log()}") from None
                await asyncio.sleep(0.05)
        self._pump = asyncio.create_task(self._read_messages())

    async def stop(self) -> None:
        """Quit baresip (SIGTERM, then SIGKILL after 5 s) and close the control connection."""
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
            self._writer = None
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, 5)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait, 5)

    async def __aenter__(self) -> BaresipPeer:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.stop()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # ------------------------------------------------------------------ commands and keys

    async def command(self, name: str, params: str = "", timeout: float = 5.0) -> str:
        """Run a menu command (``dial``, ``hangup``, ``listcalls`` ...); its answer text."""
        writer = self._writer
        assert writer is not None, "baresip is not running"
        self._token += 1
        token = str(self._token)
        request = {"command": name, "params": params, "token": token}
        writer.write(netstring(json.dumps(request).encode()))
        await writer.drain()
        while True:
            response = await asyncio.wait_for(self._responses.get(), timeout)
            if response.get("token") == token:
                assert response.get("ok"), f"baresip refused {name} {params}: {response}"
                return str(response.get("data", ""))

    async def dial(self, uri: str) -> None:
        await self.command("dial", uri)

    async def hang_up(self) -> None:
        await self.command("hangup")

    async def press_keys(self, keys: str, hold: float = 0.12, gap: float = 0.12) -> None:
        """Press and release keys on the ``cons`` console; in a call, digits are DTMF.

        baresip starts an RFC 4733 event when a digit key goes down and sends its end packets
        when the key comes up (``KEYCODE_REL``); the UDP console only delivers key presses, so
        each digit is followed by an explicit release after ``hold`` seconds.
        """
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=("127.0.0.1", self.options.cons_port))
        try:
            for key in keys:
                transport.sendto(key.encode())
                await asyncio.sleep(hold)
                transport.sendto(KEY_RELEASE)
                await asyncio.sleep(gap)
        finally:
            transport.close()

    # ------------------------------------------------------------------ events

    async def wait_event(self, kind: str, timeout: float = 10.0,
                         since: int = 0) -> dict[str, Any]:
        """The first event ``kind`` (``CALL_ESTABLISHED`` ...) from index ``since`` on."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for event in self.events[since:]:
                if event.get("type") == kind:
                    return event
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [event.get("type") for event in self.events]
                raise AssertionError(f"baresip never reported {kind} (saw {seen}):\n"
                                     f"{self.log()[-3000:]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def recording(self, direction: Literal["dec", "enc"]) -> Path:
        """The one ``sndfile`` recording of a direction: ``dec`` heard, ``enc`` said."""
        found = sorted(self.record_dir.glob(f"dump-*-{direction}.wav"))
        assert len(found) == 1, f"expected one {direction} recording, found {found}"
        return found[0]

    async def _read_messages(self) -> None:
        reader = self._reader
        assert reader is not None
        while True:
            try:
                length = await reader.readuntil(b":")
                payload = await reader.readexactly(int(length[:-1]))
                await reader.readexactly(1)  # the netstring's closing comma
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            message = json.loads(payload)
            if message.get("event"):
                self.events.append(message)
                self._changed.set()
            elif message.get("response"):
                await self._responses.put(message)
