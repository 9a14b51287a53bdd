"""The control-channel commands of a running PBX simulator (``gwemu pbx ctl ...``).

Each command takes named arguments (JSON ``args``) and returns a JSON value; ``phone`` names an
extension number or an FXS-board phone.  ``events`` pages through everything the simulator
reported: pass the returned ``next`` as ``since`` to get only what came after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.aio.control import Handler
from pbx_sim.events import PhoneEvent, event_record

if TYPE_CHECKING:
    from pbx_sim.aio.simulator import PbxSimulator

# Positional arguments the CLI maps to names, per command.
COMMAND_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "dial": ("phone", "number"),
    "answer": ("phone",),
    "hangup": ("phone",),
    "offhook": ("phone",),
    "play": ("phone", "spec"),
    "stop": ("phone",),
    "digits": ("phone", "digits"),
    "flash": ("phone",),
    "script": ("phone", "script"),
    "status": (),
    "events": ("since", "phone"),
}


def control_handlers(sim: PbxSimulator) -> dict[str, Handler]:
    """Command name -> handler, for :class:`gateway.aio.control.ControlServer`."""

    def dial(phone: str, number: str) -> None:
        """dial PHONE NUMBER: lift the phone and dial the number."""
        sim.dial(phone, number)

    def answer(phone: str) -> None:
        """answer PHONE: answer the ringing phone."""
        sim.answer(phone)

    def hangup(phone: str) -> None:
        """hangup PHONE: hang the phone up."""
        sim.hang_up(phone)

    def offhook(phone: str) -> None:
        """offhook PHONE: lift the handset (dial tone)."""
        sim.lift(phone)

    def play(phone: str, spec: str) -> None:
        """play PHONE SPEC: say tone:1004, wav:file.wav, dtmf:123, plan:busy, silence."""
        sim.play(phone, spec)

    def stop(phone: str) -> None:
        """stop PHONE: stop saying anything."""
        sim.stop_playing(phone)

    def digits(phone: str, digits: str) -> None:
        """digits PHONE DIGITS: send DTMF (in-band or keypad, per the phone's dial mode)."""
        sim.send_digits(phone, digits)

    def flash(phone: str) -> None:
        """flash PHONE: a hook flash."""
        sim.flash(phone)

    def script(phone: str, script: str) -> None:
        """script PHONE 'STEPS': run a phone script (offhook; dial 123; expect ring; ...)."""
        sim.run_script(phone, script)

    def status() -> dict[str, object]:
        """status: extensions, trunks, calls, connections."""
        return sim.status()

    def events(since: int | str = 0, phone: str | None = None,
               limit: int = 1000) -> dict[str, object]:
        """events [SINCE [PHONE]]: what happened, from event number SINCE on."""
        start = int(since)
        if start < 0:
            raise ValueError("since must not be negative")
        chosen = sim.events[start : start + int(limit)]
        records = [event_record(e) for e in chosen
                   if phone is None or (isinstance(e, PhoneEvent) and e.phone == phone)]
        return {"next": start + len(chosen), "events": records}

    return {
        "dial": dial,
        "answer": answer,
        "hangup": hangup,
        "offhook": offhook,
        "play": play,
        "stop": stop,
        "digits": digits,
        "flash": flash,
        "script": script,
        "status": status,
        "events": events,
    }
