"""Human renderings of Q.931 messages: a one-line summary (traces, ladders) and a detailed dump.

``summarize`` gives ``SETUP cr=0x0001 called=5551234 calling=5550000 ch=1 complete``: the message
name, the call reference as on the wire (flag bit included, as ``debug isdn q931`` shows it) and
the elements call control cares about.  ``describe`` lists every element, one per line.
"""

from __future__ import annotations

from pbx_sim.q931.constants import (
    Location,
    NumberingPlan,
    NumberType,
    Presentation,
    ProgressDescription,
    RestartClass,
    Screening,
    SignalValue,
    TransferCapability,
    cause_text,
    ie_name,
)
from pbx_sim.q931.ie import (
    BearerCapability,
    CalledPartyNumber,
    CallingPartyNumber,
    CallStateIE,
    Cause,
    ChannelIdentification,
    Display,
    InformationElement,
    KeypadFacility,
    NotificationIndicator,
    ProgressIndicator,
    RawIE,
    RestartIndicator,
    SendingComplete,
    Shift,
    Signal,
)
from pbx_sim.q931.message import Message

_RATES = {0x00: "packet mode", 0x10: "64 kbit/s", 0x11: "2x64 kbit/s", 0x13: "384 kbit/s",
          0x15: "1536 kbit/s", 0x17: "1920 kbit/s", 0x18: "multirate"}
_LAYER1 = {0x01: "V.110", 0x02: "G.711 u-law", 0x03: "G.711 A-law", 0x04: "G.721",
           0x05: "H.221", 0x08: "V.120", 0x09: "X.31"}


def _named(enum: type, value: int) -> str:
    try:
        return str(enum(value).name).lower().replace("_", " ")
    except ValueError:
        return f"0x{value:02X}"


def summarize(message: Message) -> str:
    """One line: name, call reference and the key elements."""
    parts = [message.name, f"cr={message.call_ref}"]
    called = message.called
    if called is not None:
        parts.append(f"called={called.digits}")
    calling = message.calling
    if calling is not None:
        restricted = "" if calling.presentation_allowed else "(restricted)"
        parts.append(f"calling={calling.digits}{restricted}")
    channel = message.channel
    if channel is not None:
        number = channel.channel
        parts.append(f"ch={'any' if number is None else number}{'!' if channel.exclusive else ''}")
    cause = message.cause
    if cause is not None:
        parts.append(f"cause={cause.value}({cause_text(cause.value)})")
    for progress in message.progress:
        parts.append(f"progress={progress.description}")
    state = message.call_state
    if state is not None:
        parts.append(f"state={state.state}")
    if message.keypad:
        parts.append(f"keypad={message.keypad}")
    if message.display:
        parts.append(f"display={message.display!r}")
    restart = message.restart_indicator
    if restart is not None:
        parts.append(f"restart={_named(RestartClass, restart.restart_class)}")
    if message.sending_complete:
        parts.append("complete")
    return " ".join(parts)


def describe(message: Message) -> str:
    """Every element of the message, one per line, decoded with its field names."""
    lines = [f"{message.name} (0x{message.message_type:02X}) cr={message.call_ref}"]
    lines.extend(f"    {describe_element(element)}" for element in message.ies)
    return "\n".join(lines)


def describe_element(element: InformationElement) -> str:
    """One element as ``Name: decoded fields``."""
    match element:
        case BearerCapability():
            layer1 = (
                "" if element.layer1_protocol is None
                else f", {_LAYER1.get(element.layer1_protocol, hex(element.layer1_protocol))}"
            )
            return (
                f"Bearer capability: {_named(TransferCapability, element.transfer_capability)}, "
                f"{'circuit' if element.transfer_mode == 0 else 'packet'} mode, "
                f"{_RATES.get(element.transfer_rate, hex(element.transfer_rate))}{layer1}"
            )
        case ChannelIdentification():
            interface = "PRI" if element.primary_rate else "BRI"
            kind = "exclusive" if element.exclusive else "preferred"
            number = element.channel
            which = (
                f"B-channel {number}" if number is not None else f"selection {element.selection}"
            )
            d_channel = ", D-channel" if element.d_channel else ""
            return f"Channel identification: {interface}, {kind}, {which}{d_channel}"
        case Cause():
            diagnostics = (
                f", diagnostics {element.diagnostics.hex()}" if element.diagnostics else ""
            )
            return (
                f"Cause: {element.value} {cause_text(element.value)} "
                f"(location {_named(Location, element.location)}){diagnostics}"
            )
        case ProgressIndicator():
            return (
                f"Progress indicator: {element.description} "
                f"{_named(ProgressDescription, element.description)} "
                f"(location {_named(Location, element.location)})"
            )
        case CallingPartyNumber():
            extra = ""
            if element.presentation is not None and element.screening is not None:
                extra = (
                    f", {_named(Presentation, element.presentation)}"
                    f", {_named(Screening, element.screening)}"
                )
            return (
                f"Calling party number: '{element.digits}' "
                f"({_named(NumberType, element.number_type)}, "
                f"{_named(NumberingPlan, element.numbering_plan)}{extra})"
            )
        case CalledPartyNumber():
            return (
                f"Called party number: '{element.digits}' "
                f"({_named(NumberType, element.number_type)}, "
                f"{_named(NumberingPlan, element.numbering_plan)})"
            )
        case Display():
            return f"Display: {element.text!r}"
        case KeypadFacility():
            return f"Keypad facility: {element.text!r}"
        case Signal():
            return f"Signal: {_named(SignalValue, element.value)}"
        case CallStateIE():
            return f"Call state: {element.state}"
        case NotificationIndicator():
            return f"Notification indicator: {element.description}"
        case RestartIndicator():
            return f"Restart indicator: {_named(RestartClass, element.restart_class)}"
        case SendingComplete():
            return "Sending complete"
        case Shift():
            kind = "Locking" if element.locking else "Non-locking"
            return f"{kind} shift to codeset {element.codeset}"
        case RawIE():
            name = ie_name(element.identifier, element.codeset)
            defect = f" [invalid: {element.defect}]" if element.defect else ""
            return f"{name}: {element.contents.hex() or '(single octet)'}{defect}"
