"""A user-side and a network-side link back to back over a randomly chunking stream."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pbx_sim.q931 import (
    BearerCapability,
    CallAlerting,
    CallConnected,
    CallOffered,
    CallProceeding,
    CallReference,
    CallReleased,
    CallState,
    ChannelIdentification,
    ConnectAcknowledged,
    DisconnectIndication,
    InformationReceived,
    Layer1Protocol,
    Message,
    MessageType,
    NotificationIndicator,
    NotifyReceived,
    ProgressIndicator,
    Q931Config,
    Q931Link,
    SetupAcknowledged,
    tpkt_frame,
)

S = CallState
SEEDS = [1, 2, 3]


def names(events: list) -> list[str]:
    return [type(e).__name__ for e in events]


@pytest.mark.parametrize("seed", SEEDS)
def test_en_bloc_call_from_the_user_network_clears(pair: Callable, seed: int) -> None:
    p = pair(seed)
    call = p.user.setup(p.now, called="5551234", calling="5550000", display="Alice",
                        channel=ChannelIdentification.pri(3))
    p.pump()
    (offer,) = p.events(p.network)
    assert isinstance(offer, CallOffered)
    assert (offer.called, offer.complete, offer.display) == ("5551234", True, "Alice")
    assert offer.calling is not None and offer.calling.digits == "5550000"
    assert offer.channel == ChannelIdentification.pri(3)
    incoming = offer.call
    p.network.proceeding(incoming, p.now, channel=ChannelIdentification.pri(3, exclusive=True))
    p.network.alerting(incoming, p.now, progress=[ProgressIndicator(8, location=1)])
    p.network.connect(incoming, p.now)
    p.pump()
    events = p.events(p.user)
    assert names(events) == ["CallProceeding", "CallAlerting", "CallConnected"]
    assert isinstance(events[1], CallAlerting) and events[1].inband
    assert p.user.channel(call) == ChannelIdentification.pri(3, exclusive=True)
    assert p.user.state(call) == S.ACTIVE and p.network.state(incoming) == S.ACTIVE
    p.user.connect_ack(call, p.now)
    p.pump()
    assert names(p.events(p.network)) == ["ConnectAcknowledged"]
    # The network (the far end) hangs up first.
    p.network.disconnect(incoming, p.now, cause=16)
    p.pump()
    (indication,) = p.events(p.user)
    assert isinstance(indication, DisconnectIndication) and indication.cause == 16
    p.user.release(call, p.now)
    p.pump()
    for link in (p.user, p.network):
        (released,) = p.events(link)
        assert isinstance(released, CallReleased) and released.cause == 16
    assert p.user.calls() == () == p.network.calls()
    assert p.user.get_timer() is None and p.network.get_timer() is None
    assert p.wire_log() == [
        ("user", "SETUP"), ("network", "CALL PROCEEDING"), ("network", "ALERTING"),
        ("network", "CONNECT"), ("user", "CONNECT ACKNOWLEDGE"), ("network", "DISCONNECT"),
        ("user", "RELEASE"), ("network", "RELEASE COMPLETE"),
    ]


@pytest.mark.parametrize("seed", SEEDS)
def test_en_bloc_call_from_the_network_user_clears(pair: Callable, seed: int) -> None:
    p = pair(seed)
    call = p.network.setup(p.now, called="201", channel=ChannelIdentification.pri(1))
    p.pump()
    incoming = p.events(p.user)[0].call
    p.user.proceeding(incoming, p.now)
    p.user.alerting(incoming, p.now)
    p.pump()
    assert names(p.events(p.network)) == ["CallProceeding", "CallAlerting"]
    assert p.network.state(call) == S.CALL_RECEIVED and p.user.state(incoming) == S.CALL_RECEIVED
    p.user.connect(incoming, p.now)
    p.pump()
    assert names(p.events(p.network)) == ["CallConnected"]
    assert p.network.state(call) == S.CONNECT_REQUEST
    assert p.user.running_timers(incoming) == ("T313",)
    p.network.connect_ack(call, p.now)
    p.pump()
    assert names(p.events(p.user)) == ["ConnectAcknowledged"]
    assert p.user.state(incoming) == S.ACTIVE == p.network.state(call)
    p.user.disconnect(incoming, p.now, cause=16)
    p.pump()
    indication = p.events(p.network)[0]
    assert isinstance(indication, DisconnectIndication)
    p.network.release(call, p.now)
    p.pump()
    assert names(p.events(p.user)) == ["CallReleased"]
    assert names(p.events(p.network)) == ["CallReleased"]


@pytest.mark.parametrize("seed", SEEDS)
def test_overlap_sending_from_the_user(pair: Callable, seed: int) -> None:
    p = pair(seed)
    call = p.user.setup(p.now, called="55", sending_complete=False)
    p.pump()
    offer = p.events(p.network)[0]
    assert (offer.called, offer.complete) == ("55", False)
    p.network.setup_ack(offer.call, p.now, channel=ChannelIdentification.pri(4))
    p.pump()
    (ack,) = p.events(p.user)
    assert isinstance(ack, SetupAcknowledged) and p.user.state(call) == S.OVERLAP_SENDING
    dialled = "55"
    for digit in "5123":
        p.user.information(call, p.now, digits=digit)
        p.pump()
        (info,) = p.events(p.network)
        assert isinstance(info, InformationReceived) and not info.complete
        dialled += info.digits
    p.user.information(call, p.now, digits="4", sending_complete=True)
    p.pump()
    (last,) = p.events(p.network)
    assert last.complete and dialled + last.digits == "5551234"
    p.network.proceeding(offer.call, p.now)
    p.network.connect(offer.call, p.now)
    p.pump()
    assert names(p.events(p.user)) == ["CallProceeding", "CallConnected"]
    assert p.user.running_timers(call) == ()  # T304 and T310 both stopped


def test_overlap_sending_from_the_network(pair: Callable) -> None:
    p = pair(4)
    call = p.network.setup(p.now, called="2", channel=ChannelIdentification.pri(1),
                           sending_complete=False)
    p.pump()
    incoming = p.events(p.user)[0].call
    p.user.setup_ack(incoming, p.now)
    p.pump()
    assert names(p.events(p.network)) == ["SetupAcknowledged"]
    assert p.network.state(call) == S.OVERLAP_RECEIVING
    assert p.user.state(incoming) == S.OVERLAP_RECEIVING
    p.network.information(call, p.now, digits="01", sending_complete=True)
    p.pump()
    (info,) = p.events(p.user)
    assert (info.digits, info.complete) == ("01", True)
    p.user.alerting(incoming, p.now)
    p.pump()
    assert names(p.events(p.network)) == ["CallAlerting"]
    assert p.network.running_timers(call) == ("T301",)


@pytest.mark.parametrize("seed", SEEDS)
def test_disconnect_crossing_disconnect(pair: Callable, seed: int) -> None:
    """s5.3.5: each side answers the other's DISCONNECT with RELEASE; the RELEASEs cross too,
    and each side then frees the reference without RELEASE COMPLETE."""
    p = pair(seed)
    call, incoming = _active_call(p)
    p.user.disconnect(call, p.now, cause=16)
    p.network.disconnect(incoming, p.now, cause=31)
    p.pump()
    assert names(p.events(p.user)) == ["CallReleased"]
    assert names(p.events(p.network)) == ["CallReleased"]
    assert p.wire_log()[-4:] in (
        [("user", "DISCONNECT"), ("network", "DISCONNECT"), ("user", "RELEASE"),
         ("network", "RELEASE")],
        [("user", "DISCONNECT"), ("network", "DISCONNECT"), ("network", "RELEASE"),
         ("user", "RELEASE")],
    )
    assert p.user.get_timer() is None and p.network.get_timer() is None


def test_release_crossing_release(pair: Callable) -> None:
    p = pair(5)
    call, incoming = _active_call(p)
    p.user.release(call, p.now, cause=41)
    p.network.release(incoming, p.now, cause=41)
    p.pump()
    (user_released,) = p.events(p.user)
    (network_released,) = p.events(p.network)
    assert user_released.cause == 41 == network_released.cause
    assert "RELEASE COMPLETE" not in [name for _, name in p.wire_log()]


def test_busy_rejection(pair: Callable) -> None:
    p = pair(6)
    call = p.network.setup(p.now, called="2", channel=ChannelIdentification.pri(1))
    p.pump()
    p.user.reject(p.events(p.user)[0].call, p.now, cause=17)
    p.pump()
    (released,) = p.events(p.network)
    assert released == CallReleased(call, 17, "peer released", released.message)
    assert p.network.calls() == () == p.user.calls()


def test_calls_both_ways_with_the_same_reference_value(pair: Callable) -> None:
    p = pair(8)
    outgoing = p.user.setup(p.now, called="1")
    incoming_here = p.network.setup(p.now, called="2", channel=ChannelIdentification.pri(2))
    assert outgoing.value == incoming_here.value == 1
    p.pump()
    (offer_at_network,) = p.events(p.network)
    (offer_at_user,) = p.events(p.user)
    p.network.alerting(offer_at_network.call, p.now)
    p.user.connect(offer_at_user.call, p.now)
    p.pump()
    assert isinstance(p.events(p.user)[0], CallAlerting)
    assert isinstance(p.events(p.network)[0], CallConnected)
    assert p.user.state(outgoing) == S.CALL_DELIVERED
    assert p.network.state(incoming_here) == S.CONNECT_REQUEST


def test_lost_setup_is_recovered_by_t303(pair: Callable) -> None:
    p = pair(9)
    call = p.user.setup(p.now, called="1")
    p.user.data_to_send(p.now)  # the first SETUP is lost
    p.advance_to_next_timer()
    p.pump()
    offer = p.events(p.network)[0]
    p.network.connect(offer.call, p.now)
    p.pump()
    assert names(p.events(p.user)) == ["TimerExpired", "CallConnected"]
    assert p.user.state(call) == S.ACTIVE


def test_lost_release_is_recovered_by_t308(pair: Callable) -> None:
    p = pair(10)
    call, incoming = _active_call(p)
    p.network.disconnect(incoming, p.now)
    p.pump()
    p.events(p.user)
    p.user.release(call, p.now)
    p.user.data_to_send(p.now)  # the RELEASE is lost
    p.advance_to_next_timer()
    p.pump()
    assert names(p.events(p.user)) == ["TimerExpired", "CallReleased"]
    assert names(p.events(p.network)) == ["CallReleased"]


def test_link_closed_on_both_sides(pair: Callable) -> None:
    p = pair(11)
    call, incoming = _active_call(p)
    p.user.close(p.now)
    p.network.receive_data(b"", p.now)
    assert names(p.events(p.user)) == ["CallReleased", "LinkClosed"]
    events = p.events(p.network)
    assert events[0] == CallReleased(incoming, 27, "link down: peer closed the connection")
    assert call not in p.user.calls()


def _active_call(p: object) -> tuple:
    user: Q931Link = p.user  # type: ignore[attr-defined]
    network: Q931Link = p.network  # type: ignore[attr-defined]
    call = user.setup(0.0, called="1", channel=ChannelIdentification.pri(1))
    p.pump()  # type: ignore[attr-defined]
    incoming = network.next_event().call  # type: ignore[union-attr]
    network.connect(incoming, 0.0)
    p.pump()  # type: ignore[attr-defined]
    user.connect_ack(call, 0.0)
    p.pump()  # type: ignore[attr-defined]
    assert isinstance(user.next_event(), CallConnected)
    assert isinstance(network.next_event(), ConnectAcknowledged)
    assert user.next_event() is None and network.next_event() is None
    return call, incoming


def test_proceeding_event_carries_the_channel(pair: Callable) -> None:
    p = pair(12)
    call = p.user.setup(p.now, called="1")
    p.pump()
    incoming = p.events(p.network)[0].call
    p.network.proceeding(incoming, p.now, channel=ChannelIdentification.pri(9, exclusive=True))
    p.pump()
    (proceeding,) = p.events(p.user)
    assert isinstance(proceeding, CallProceeding)
    assert proceeding.channel == ChannelIdentification.pri(9, exclusive=True)
    assert p.user.channel(call) == proceeding.channel


def test_keypad_progress_and_notify_during_a_call(pair: Callable) -> None:
    p = pair(13)
    call = p.user.setup(p.now, called="1")
    p.pump()
    incoming = p.events(p.network)[0].call
    p.network.proceeding(incoming, p.now)
    p.network.progress(incoming, p.now)  # in-band announcement before answer
    p.pump()
    kinds = p.events(p.user)
    assert names(kinds) == ["CallProceeding", "ProgressReceived"]
    assert kinds[1].inband and kinds[1].progress == (ProgressIndicator(8, location=1),)
    p.network.connect(incoming, p.now)
    p.pump()
    assert names(p.events(p.user)) == ["CallConnected"]
    p.user.connect_ack(call, p.now)
    p.user.information(call, p.now, keypad="5#")
    p.pump()
    events = p.events(p.network)
    assert names(events) == ["ConnectAcknowledged", "InformationReceived"]
    assert (events[1].keypad, events[1].digits) == ("5#", "")
    notify = Message.build(MessageType.NOTIFY, CallReference(call.value, flag=True),
                           NotificationIndicator(0))  # "user suspended"
    p.user.receive_data(tpkt_frame(bytes(notify)), p.now)
    (notified,) = p.events(p.user)
    assert isinstance(notified, NotifyReceived)
    assert notified.message.get(NotificationIndicator) == NotificationIndicator(0)


def test_mu_law_trunk_configuration(pair: Callable) -> None:
    ulaw = BearerCapability.speech(Layer1Protocol.G711_ULAW)
    p = pair(14, Q931Config(bearer=ulaw, call_ref_length=1))
    p.user.setup(p.now, called="1")
    p.pump()
    (offer,) = p.events(p.network)
    assert offer.bearer == ulaw
    assert offer.message.call_ref == CallReference(1, length=1)
