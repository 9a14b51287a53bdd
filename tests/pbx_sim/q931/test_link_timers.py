"""Every Q.931 timer on a virtual clock: start, stop, first and second expiry (Tables 9-1/9-2)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pbx_sim.q931 import (
    BearerCapability,
    CallClearing,
    CalledPartyNumber,
    CallKey,
    CallOffered,
    CallReference,
    CallReleased,
    CallState,
    CallStateIE,
    Cause,
    ChannelIdentification,
    Message,
    MessageType,
    ProgressIndicator,
    Q931Config,
    Q931Link,
    Q931Timers,
    RestartIndicator,
    SendingComplete,
    TimerExpired,
)

M = MessageType
S = CallState
CH1 = ChannelIdentification.pri(1)
SPEECH = BearerCapability.speech()


def to(call: CallKey) -> CallReference:
    """The call reference as the peer sends it for ``call`` (flag 1 when we allocated it)."""
    return CallReference(call.value, flag=call.ours)


def fire_next(link: Q931Link) -> float:
    deadline = link.get_timer()
    assert deadline is not None
    link.handle_timer(deadline)
    return deadline


def types(messages: list[Message]) -> list[int]:
    return [m.message_type for m in messages]


def test_t303_retransmits_setup_once_then_clears(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = link.setup(0.0, called="5551234")
    (setup,) = peer.read()
    assert link.get_timer() == 4.0
    link.handle_timer(3.999)
    assert peer.read() == []
    assert fire_next(link) == 4.0
    assert peer.read() == [setup]  # the very same SETUP again (s5.1.1)
    assert peer.events() == [TimerExpired(call, "T303", 1, None)]
    assert fire_next(link) == 8.0
    (release_complete,) = peer.read()
    assert release_complete.message_type == M.RELEASE_COMPLETE
    assert release_complete.cause == Cause(102)
    assert release_complete.call_ref == CallReference(call.value)
    events = peer.events()
    assert events[0] == TimerExpired(call, "T303", 2, 102)
    assert isinstance(events[1], CallReleased) and events[1].cause == 102
    assert link.state(call) == S.NULL and link.get_timer() is None


def test_t303_network_side_reports_no_user_responding(wire: Callable) -> None:
    link = Q931Link("network", config=Q931Config(timers=Q931Timers(t303=1.5)))
    peer = wire(link)
    call = link.setup(10.0, called="100", channel=CH1)
    assert fire_next(link) == 11.5
    assert fire_next(link) == 13.0
    assert types(peer.read()) == [M.SETUP, M.SETUP, M.RELEASE_COMPLETE]
    released = [e for e in peer.events() if isinstance(e, CallReleased)]
    assert released == [CallReleased(call, 18, "T303 expired twice")]


def test_t303_stops_on_call_proceeding_and_t310_takes_over(wire: Callable) -> None:
    link = Q931Link("user", config=Q931Config(timers=Q931Timers(t310=12.0)))
    peer = wire(link)
    call = link.setup(0.0, called="5551234")
    peer.send(Message.build(M.CALL_PROCEEDING, to(call), CH1), 1.0)
    assert link.running_timers(call) == ("T310",)
    assert link.get_timer() == 13.0
    peer.read()
    peer.events()
    assert fire_next(link) == 13.0
    (disconnect,) = peer.read()
    assert disconnect.message_type == M.DISCONNECT and disconnect.cause == Cause(102)
    assert link.state(call) == S.DISCONNECT_REQUEST
    assert link.running_timers(call) == ("T305",)
    assert peer.events() == [
        TimerExpired(call, "T310", 1, 102),
        CallClearing(call, 102, "T310 expired"),
    ]


@pytest.mark.parametrize("stopper", [M.ALERTING, M.CONNECT, M.PROGRESS])
def test_t310_stops_on_progress_of_the_call(wire: Callable, stopper: MessageType) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = link.setup(0.0, called="1")
    peer.send(Message.build(M.CALL_PROCEEDING, to(call), CH1))
    ies = (ProgressIndicator(8),) if stopper == M.PROGRESS else ()
    peer.send(Message.build(stopper, to(call), *ies))
    assert "T310" not in link.running_timers(call)


def test_t310_network_side_reports_no_user_responding(wire: Callable) -> None:
    link = Q931Link("network")
    peer = wire(link)
    call = link.setup(0.0, called="1", channel=CH1)
    peer.send(Message.build(M.CALL_PROCEEDING, to(call)), 2.0)
    assert link.get_timer() == 12.0  # network default T310: 10 s
    fire_next(link)
    assert link.state(call) == S.DISCONNECT_INDICATION
    assert CallClearing(call, 18, "T310 expired") in peer.events()


def test_t305_sends_release_with_the_disconnect_cause_then_t308(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = link.setup(0.0, called="1")
    peer.send(Message.build(M.CONNECT, to(call)))
    link.connect_ack(call, 0.0)
    link.disconnect(call, 1.0, cause=17)
    peer.read()
    peer.events()
    assert link.running_timers(call) == ("T305",)
    assert fire_next(link) == 31.0
    (release,) = peer.read()
    assert release.message_type == M.RELEASE and release.cause == Cause(17)
    assert link.state(call) == S.RELEASE_REQUEST
    assert link.running_timers(call) == ("T308",)
    assert peer.events() == [TimerExpired(call, "T305", 1, None)]


def test_t308_retransmits_release_once_then_frees_the_reference(wire: Callable) -> None:
    link = Q931Link("network")
    peer = wire(link)
    peer.send(Message.build(M.SETUP, CallReference(9), CH1, SPEECH))
    (offered,) = peer.events()
    assert isinstance(offered, CallOffered)
    call = offered.call
    link.release(call, 5.0, cause=21)
    (release,) = peer.read()
    assert fire_next(link) == 9.0
    assert peer.read() == [release]
    assert fire_next(link) == 13.0
    assert peer.read() == []  # nothing more is sent: the reference is simply released
    events = peer.events()
    assert events[0] == TimerExpired(call, "T308", 1, None)
    assert events[1] == TimerExpired(call, "T308", 2, 102)
    assert events[2] == CallReleased(
        call, 102, "T308 expired twice: B-channel to maintenance", None, maintenance=True
    )
    assert link.calls() == ()


def test_t313_clears_when_connect_is_not_acknowledged(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    peer.send(Message.build(M.SETUP, CallReference(3), SPEECH, CH1))
    call = peer.events()[0].call
    link.connect(call, 0.5)
    assert link.state(call) == S.CONNECT_REQUEST
    assert fire_next(link) == 4.5
    assert types(peer.read()) == [M.CONNECT, M.DISCONNECT]
    assert link.state(call) == S.DISCONNECT_REQUEST
    assert CallClearing(call, 102, "T313 expired") in peer.events()


def test_t313_stops_on_connect_acknowledge(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    peer.send(Message.build(M.SETUP, CallReference(3), SPEECH, CH1))
    call = peer.events()[0].call
    link.connect(call, 0.0)
    peer.send(Message.build(M.CONNECT_ACKNOWLEDGE, to(call)))
    assert link.state(call) == S.ACTIVE and link.get_timer() is None


def test_t301_network_gives_up_on_ringing(wire: Callable) -> None:
    link = Q931Link("network", config=Q931Config(timers=Q931Timers(t301=60.0)))
    peer = wire(link)
    call = link.setup(0.0, called="1", channel=CH1)
    peer.send(Message.build(M.ALERTING, to(call)), 1.0)
    assert link.running_timers(call) == ("T301",)
    assert fire_next(link) == 61.0
    assert types(peer.read()) == [M.SETUP, M.DISCONNECT]
    assert CallClearing(call, 19, "T301 expired") in peer.events()


def test_t302_overlap_receiving_is_left_to_call_control(wire: Callable) -> None:
    link = Q931Link("network")
    peer = wire(link)
    peer.send(Message.build(M.SETUP, CallReference(4), SPEECH))
    call = peer.events()[0].call
    link.setup_ack(call, 0.0, channel=CH1)
    assert link.state(call) == S.OVERLAP_SENDING and link.get_timer() == 15.0
    peer.send(Message.build(M.INFORMATION, to(call), CalledPartyNumber("5")), 10.0)
    assert link.get_timer() == 25.0  # each INFORMATION restarts T302
    assert fire_next(link) == 25.0
    assert types(peer.read()) == [M.SETUP_ACKNOWLEDGE]  # nothing sent on expiry
    assert peer.events()[-1] == TimerExpired(call, "T302", 1, 28)
    link.disconnect(call, 25.0, cause=28)  # call control decides: incomplete number
    assert peer.read()[0].cause == Cause(28, location=1)  # a PBX: private network, local user


def test_t302_stops_on_sending_complete(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    peer.send(Message.build(M.SETUP, CallReference(4), SPEECH, CH1))
    call = peer.events()[0].call
    link.setup_ack(call, 0.0)
    assert link.state(call) == S.OVERLAP_RECEIVING
    info = Message.build(M.INFORMATION, to(call), SendingComplete(), CalledPartyNumber("12"))
    peer.send(info, 1.0)
    assert link.get_timer() is None


def test_t304_overlap_sending_stalls(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = link.setup(0.0, sending_complete=False)
    peer.send(Message.build(M.SETUP_ACKNOWLEDGE, to(call), CH1), 1.0)
    assert link.state(call) == S.OVERLAP_SENDING and link.get_timer() == 31.0
    link.information(call, 20.0, digits="55")
    assert link.get_timer() == 50.0  # each INFORMATION restarts T304
    fire_next(link)
    assert types(peer.read()) == [M.SETUP, M.INFORMATION, M.DISCONNECT]
    assert CallClearing(call, 102, "T304 expired") in peer.events()


def test_t322_status_enquiry_retried_then_call_cleared(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = link.setup(0.0, called="1")
    peer.send(Message.build(M.CONNECT, to(call)))
    link.connect_ack(call, 0.0)
    link.status_enquiry(call, 100.0)
    assert fire_next(link) == 104.0
    assert fire_next(link) == 108.0
    sent = peer.read()
    assert types(sent) == [M.SETUP, M.CONNECT_ACKNOWLEDGE, M.STATUS_ENQUIRY, M.STATUS_ENQUIRY,
                           M.RELEASE]
    assert sent[-1].cause == Cause(41)
    assert link.state(call) == S.RELEASE_REQUEST
    assert CallClearing(call, 41, "T322 expired twice") in peer.events()


def test_t322_stops_on_status(wire: Callable) -> None:
    link = Q931Link("user")
    peer = wire(link)
    call = link.setup(0.0, called="1")
    link.status_enquiry(call, 0.0)
    assert set(link.running_timers(call)) == {"T303", "T322"}
    peer.send(Message.build(M.STATUS, to(call), Cause(30), CallStateIE(1)))
    assert link.running_timers(call) == ("T303",)


def test_t316_restart_retransmitted_then_reported(wire: Callable) -> None:
    link = Q931Link("network", config=Q931Config(timers=Q931Timers(t316=10.0)))
    peer = wire(link)
    link.restart(0.0)
    (restart,) = peer.read()
    assert restart.message_type == M.RESTART and restart.call_ref.is_global
    assert restart.restart_indicator == RestartIndicator(7)
    assert fire_next(link) == 10.0
    assert peer.read() == [restart]
    assert fire_next(link) == 20.0
    assert peer.read() == []
    assert peer.events() == [
        TimerExpired(None, "T316", 1, None),
        TimerExpired(None, "T316", 2, None),
    ]
    assert link.get_timer() is None


def test_one_deadline_over_all_calls(wire: Callable) -> None:
    link = Q931Link("user", config=Q931Config(timers=Q931Timers(t303=5.0)))
    first = link.setup(0.0, called="1")
    second = link.setup(2.0, called="2")
    assert link.get_timer() == 5.0
    link.handle_timer(7.0)  # both due: both fire, in deadline order
    expired = [e for e in wire(link).events() if isinstance(e, TimerExpired)]
    assert [(e.call, e.expiry) for e in expired] == [(first, 1), (second, 1)]
    assert link.get_timer() == 12.0  # first re-armed at 7 + 5; second at 7 + 5 too


def test_timer_durations_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Q931Timers(t305=0)
    assert Q931Timers.defaults("network").t310 == 10.0
    assert Q931Timers.defaults("user").t310 == 30.0
