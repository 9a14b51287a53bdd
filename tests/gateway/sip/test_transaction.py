"""RFC 3261 section 17 transactions stepped through every timer on a virtual clock."""

from __future__ import annotations

import pytest

from gateway.errors import LocalProtocolError
from gateway.sip.events import ClientTransactionId, ServerTransactionId
from gateway.sip.message import Request, Response
from gateway.sip.routing import Hop
from gateway.sip.timers import TimerConfig, TimerQueue
from gateway.sip.transaction import (
    CLIENT_INVITE,
    CLIENT_NON_INVITE,
    SERVER_INVITE,
    SERVER_NON_INVITE,
    ClientTransaction,
    ServerTransaction,
    Transaction,
    ack_for_failure,
    cancel_for,
    server_transaction_id,
)

UDP = Hop("udp", ("192.0.2.2", 5060))
TCP = Hop("tcp", ("192.0.2.2", 5060), 7)


def request(method: str, branch: str = "z9hG4bKclient1") -> Request:
    return Request.build(
        method,
        "sip:bob@192.0.2.2",
        [
            ("Via", f"SIP/2.0/UDP 192.0.2.1:5060;branch={branch}"),
            ("Max-Forwards", "70"),
            ("From", "<sip:alice@192.0.2.1>;tag=a1"),
            ("To", "<sip:bob@192.0.2.2>"),
            ("Call-ID", "call-1@192.0.2.1"),
            ("CSeq", f"5 {method}"),
            ("Route", "<sip:p1.example.com;lr>"),
        ],
    )


def response_to(req: Request, status: int) -> Response:
    return Response.for_request(req, status, to_tag=None if status == 100 else "b1")


class Host:
    """A transaction owner that records everything."""

    def __init__(self, config: TimerConfig | None = None) -> None:
        self.timers = TimerQueue()
        self.timer_config = config or TimerConfig()
        self.sent: list[tuple[float, str]] = []
        self.delivered: list[tuple[float, str]] = []
        self.failed: list[tuple[float, int]] = []
        self.ended: list[float] = []

    def transaction_transmit(
        self, transaction: Transaction, data: bytes, summary: str, now: float
    ) -> None:
        self.sent.append((now, summary))

    def transaction_deliver(
        self, transaction: Transaction, message: Request | Response, now: float
    ) -> None:
        self.delivered.append((now, message.summary))

    def transaction_failed(
        self, transaction: Transaction, status: int, reason: str, now: float
    ) -> None:
        assert reason
        self.failed.append((now, status))

    def transaction_terminated(self, transaction: Transaction, now: float) -> None:
        self.ended.append(now)

    def run_until(self, limit: float) -> None:
        """Step the virtual clock from deadline to deadline up to ``limit``."""
        while True:
            deadline = self.timers.next_deadline()
            if deadline is None or deadline > limit:
                return
            self.timers.fire_due(deadline)

    def send_times(self, prefix: str) -> list[float]:
        return [round(t, 6) for t, summary in self.sent if summary.startswith(prefix)]


def client(host: Host, method: str, hop: Hop = UDP) -> ClientTransaction:
    req = request(method)
    transaction = ClientTransaction(host, ClientTransactionId("z9hG4bKclient1", method), req, hop)
    transaction.start(0.0)
    return transaction


def server(host: Host, method: str, hop: Hop = UDP) -> ServerTransaction:
    req = request(method, "z9hG4bKserver1")
    transaction = ServerTransaction(
        host, server_transaction_id(req), req, hop, ("192.0.2.1", 5060), "b1"
    )
    transaction.start(0.0)
    return transaction


# -- INVITE client (17.1.1) -------------------------------------------------------------------


def test_invite_client_timer_a_doubles_without_cap_until_timer_b() -> None:
    host = Host()
    transaction = client(host, "INVITE")
    host.run_until(100.0)
    # Timer A: T1, 2T1, 4T1 ... (uncapped); Timer B = 64*T1 = 32 s ends the transaction.
    assert host.send_times("INVITE") == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert host.failed == [(32.0, 408)]
    assert host.ended == [32.0]
    assert transaction.terminated


def test_invite_client_over_tcp_sends_once_and_still_times_out() -> None:
    host = Host()
    client(host, "INVITE", TCP)
    host.run_until(100.0)
    assert host.send_times("INVITE") == [0.0]
    assert host.failed == [(32.0, 408)]


def test_invite_client_provisional_stops_retransmissions_and_timer_b() -> None:
    host = Host()
    transaction = client(host, "INVITE")
    host.run_until(1.0)
    transaction.receive_response(response_to(transaction.request, 180), 1.2)
    assert transaction.state == "proceeding"
    host.run_until(1000.0)
    assert host.send_times("INVITE") == [0.0, 0.5]
    assert host.failed == [] and host.ended == []
    assert host.timers.next_deadline() is None


def test_invite_client_failure_is_acked_in_the_transaction_and_timer_d_is_32s_on_udp() -> None:
    host = Host()
    transaction = client(host, "INVITE")
    final = response_to(transaction.request, 486)
    transaction.receive_response(final, 0.3)
    assert transaction.state == "completed"
    assert host.delivered == [(0.3, "486 Busy Here (INVITE)")]
    transaction.receive_response(final, 2.0)  # retransmitted: ACK again, not passed up
    assert host.send_times("ACK") == [0.3, 2.0]
    assert len(host.delivered) == 1
    host.run_until(100.0)
    assert host.ended == [pytest.approx(32.3)]
    assert host.send_times("INVITE") == [0.0]  # Timer A stopped at the response


def test_invite_client_timer_d_is_zero_on_tcp() -> None:
    host = Host()
    transaction = client(host, "INVITE", TCP)
    transaction.receive_response(response_to(transaction.request, 603), 0.3)
    assert transaction.terminated and host.ended == [0.3]
    assert host.send_times("ACK") == [0.3]


def test_ack_for_a_failure_copies_the_invite_fields_rfc3261_17_1_1_3() -> None:
    invite = request("INVITE")
    ack = ack_for_failure(invite, response_to(invite, 404))
    assert ack.method == "ACK" and ack.uri_text == invite.uri_text
    assert ack.via.branch == invite.via.branch and len(ack.vias) == 1
    assert ack.cseq.number == 5 and ack.cseq.method == "ACK"
    assert ack.to_tag == "b1" and ack.from_tag == "a1"
    assert ack.headers.get_all("route") == ["<sip:p1.example.com;lr>"]


def test_invite_client_2xx_goes_to_accepted_and_passes_retransmissions_up_until_timer_m() -> None:
    host = Host()
    transaction = client(host, "INVITE")
    ok = response_to(transaction.request, 200)
    transaction.receive_response(ok, 0.2)
    assert transaction.state == "accepted"
    transaction.receive_response(ok, 0.7)
    assert [t for t, _ in host.delivered] == [0.2, 0.7]
    assert host.send_times("ACK") == []  # the ACK of a 2xx is the UAC core's job
    host.run_until(100.0)
    assert host.ended == [pytest.approx(32.2)]
    assert host.send_times("INVITE") == [0.0]


def test_invite_client_gives_up_64_t1_after_its_cancel() -> None:
    host = Host()
    transaction = client(host, "INVITE")
    transaction.receive_response(response_to(transaction.request, 180), 0.1)
    transaction.cancel_sent(10.0)
    host.run_until(100.0)
    assert host.failed == [(42.0, 408)]


def test_cancel_request_matches_the_invite_branch_rfc3261_9_1() -> None:
    invite = request("INVITE")
    cancel = cancel_for(invite, (("Reason", 'SIP;cause=487;text="gone"'),))
    assert cancel.method == "CANCEL" and cancel.uri_text == invite.uri_text
    assert cancel.via.branch == invite.via.branch
    assert (cancel.cseq.number, cancel.cseq.method) == (5, "CANCEL")
    assert cancel.to_tag is None and cancel.from_tag == "a1"
    assert cancel.headers.get("reason") == 'SIP;cause=487;text="gone"'


# -- non-INVITE client (17.1.2) ---------------------------------------------------------------


def test_non_invite_client_timer_e_doubles_up_to_t2_until_timer_f() -> None:
    host = Host()
    client(host, "OPTIONS")
    host.run_until(100.0)
    # E: 0.5, 1, 2, then capped at T2 = 4 s; F = 32 s.
    assert host.send_times("OPTIONS") == [
        0.0,
        0.5,
        1.5,
        3.5,
        7.5,
        11.5,
        15.5,
        19.5,
        23.5,
        27.5,
        31.5,
    ]
    assert host.failed == [(32.0, 408)]


def test_non_invite_client_in_proceeding_retransmits_every_t2() -> None:
    host = Host()
    transaction = client(host, "BYE")
    host.run_until(0.6)
    transaction.receive_response(response_to(transaction.request, 100), 0.7)
    assert transaction.state == "proceeding"
    host.run_until(100.0)
    # E had been armed for 1.5 (interval 1 s); from there on it runs at T2.
    assert host.send_times("BYE") == [0.0, 0.5, 1.5, 5.5, 9.5, 13.5, 17.5, 21.5, 25.5, 29.5]
    assert host.failed == [(32.0, 408)]


@pytest.mark.parametrize(("hop", "ends_at"), [(UDP, 5.4), (TCP, 0.4)])
def test_non_invite_client_final_then_timer_k(hop: Hop, ends_at: float) -> None:
    host = Host()
    transaction = client(host, "BYE", hop)
    ok = response_to(transaction.request, 200)
    transaction.receive_response(ok, 0.4)
    assert not transaction.receive_response(ok, 0.45) or transaction.terminated
    host.run_until(100.0)
    assert host.ended == [pytest.approx(ends_at)]
    assert len(host.delivered) == 1
    assert host.failed == []


def test_custom_t1_t2_scale_every_schedule() -> None:
    host = Host(TimerConfig(t1=0.1, t2=0.4, t4=1.0))
    client(host, "OPTIONS")
    host.run_until(100.0)
    assert host.send_times("OPTIONS") == [
        0.0,
        0.1,
        0.3,
        0.7,
        1.1,
        1.5,
        1.9,
        2.3,
        2.7,
        3.1,
        3.5,
        3.9,
        4.3,
        4.7,
        5.1,
        5.5,
        5.9,
        6.3,
    ]
    assert host.failed == [(pytest.approx(6.4), 408)]


def test_transport_error_fails_a_client_transaction_with_503() -> None:
    host = Host()
    transaction = client(host, "INVITE")
    transaction.transport_error("connection refused", 0.1)
    assert host.failed == [(0.1, 503)] and transaction.terminated
    host.run_until(100.0)
    assert host.send_times("INVITE") == [0.0]


# -- INVITE server (17.2.1) -------------------------------------------------------------------


def test_invite_server_sends_100_after_200ms_without_a_tu_answer() -> None:
    host = Host()
    transaction = server(host, "INVITE")
    host.run_until(0.19)
    assert host.sent == []
    host.run_until(0.2)
    assert host.sent == [(0.2, "100 Trying (INVITE)")]
    transaction.receive_request(transaction.request, 0.5)  # retransmission: the 100 again
    assert host.send_times("100") == [0.2, 0.5]


def test_invite_server_retransmission_before_any_answer_gets_a_100() -> None:
    host = Host(TimerConfig(trying_delay=1.0))
    transaction = server(host, "INVITE")
    transaction.receive_request(transaction.request, 0.5)
    host.run_until(10.0)
    assert host.send_times("100") == [0.5]


def test_invite_server_provisional_cancels_the_trying_timer_and_answers_retransmissions() -> None:
    host = Host()
    transaction = server(host, "INVITE")
    transaction.respond(response_to(transaction.request, 180), 0.05)
    host.run_until(5.0)
    transaction.receive_request(transaction.request, 0.6)
    assert host.sent == [(0.05, "180 Ringing (INVITE)"), (0.6, "180 Ringing (INVITE)")]


def test_invite_server_failure_timer_g_caps_at_t2_and_timer_h_fails_at_64_t1() -> None:
    host = Host()
    transaction = server(host, "INVITE")
    transaction.respond(response_to(transaction.request, 486), 0.0)
    host.run_until(100.0)
    assert host.send_times("486") == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert host.failed == [(32.0, 408)]
    assert host.ended == [32.0]


@pytest.mark.parametrize(("hop", "ends_at"), [(UDP, 6.0), (TCP, 1.0)])
def test_invite_server_ack_confirms_and_timer_i_absorbs_acks(hop: Hop, ends_at: float) -> None:
    host = Host()
    transaction = server(host, "INVITE", hop)
    final = response_to(transaction.request, 404)
    transaction.respond(final, 0.0)
    host.run_until(0.9)
    transaction.receive_request(ack_for_failure(transaction.request, final), 1.0)
    ack = ack_for_failure(transaction.request, final)
    assert transaction.state == ("confirmed" if hop is UDP else "terminated")
    transaction.receive_request(ack, 2.0)
    host.run_until(100.0)
    assert host.ended == [ends_at]
    assert host.failed == [] and host.delivered == []
    expected = [0.0, 0.5] if hop is UDP else [0.0]
    assert host.send_times("404") == expected


def test_invite_server_2xx_accepted_state_absorbs_the_invite_and_passes_acks_rfc6026() -> None:
    host = Host()
    transaction = server(host, "INVITE")
    ok = response_to(transaction.request, 200)
    transaction.respond(ok, 0.0)
    assert transaction.state == "accepted"
    transaction.receive_request(transaction.request, 0.5)  # absorbed, the core retransmits
    transaction.respond(ok, 0.5)  # the core's retransmission goes out through it
    ack = Request.build(
        "ACK",
        "sip:bob@192.0.2.2",
        [
            ("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKserver1"),
            ("From", "<sip:alice@192.0.2.1>;tag=a1"),
            ("To", "<sip:bob@192.0.2.2>;tag=b1"),
            ("Call-ID", "call-1@192.0.2.1"),
            ("CSeq", "5 ACK"),
        ],
    )
    transaction.receive_request(ack, 0.7)
    assert host.delivered == [(0.7, "ACK sip:bob@192.0.2.2")]
    host.run_until(100.0)
    assert host.send_times("200") == [0.0, 0.5]
    assert host.ended == [32.0]


def test_invite_server_refuses_a_second_final_response() -> None:
    host = Host()
    transaction = server(host, "INVITE")
    transaction.respond(response_to(transaction.request, 486), 0.0)
    with pytest.raises(LocalProtocolError):
        transaction.respond(response_to(transaction.request, 200), 0.1)


# -- non-INVITE server (17.2.2) ---------------------------------------------------------------


@pytest.mark.parametrize(("hop", "ends_at"), [(UDP, 33.0), (TCP, 1.0)])
def test_non_invite_server_absorbs_then_replays_and_timer_j(hop: Hop, ends_at: float) -> None:
    host = Host()
    transaction = server(host, "BYE", hop)
    transaction.receive_request(transaction.request, 0.5)  # Trying: absorbed
    assert host.sent == []
    transaction.respond(response_to(transaction.request, 100), 0.6)
    transaction.receive_request(transaction.request, 0.8)  # Proceeding: last provisional again
    transaction.respond(response_to(transaction.request, 200), 1.0)
    if hop is UDP:
        transaction.receive_request(transaction.request, 2.0)  # Completed: the final again
    host.run_until(100.0)
    assert host.send_times("100") == [0.6, 0.8]
    assert host.send_times("200") == ([1.0, 2.0] if hop is UDP else [1.0])
    assert host.ended == [ends_at]
    with pytest.raises(LocalProtocolError):
        transaction.respond(response_to(transaction.request, 200), 40.0)


def test_server_transport_error_reports_503() -> None:
    host = Host()
    transaction = server(host, "INVITE")
    transaction.respond(response_to(transaction.request, 500), 0.0)
    transaction.transport_error("connection reset", 0.1)
    assert host.failed == [(0.1, 503)] and transaction.terminated


# -- matching and tables ----------------------------------------------------------------------


def test_server_matching_maps_ack_to_its_invite_and_falls_back_to_rfc2543() -> None:
    invite = request("INVITE", "z9hG4bKabc")
    assert server_transaction_id(invite) == ServerTransactionId(
        "z9hG4bKabc", "192.0.2.1:5060", "INVITE"
    )
    ack = ack_for_failure(invite, response_to(invite, 486))
    assert server_transaction_id(ack) == server_transaction_id(invite)
    legacy_invite = request("INVITE", "1234")
    legacy_ack = ack_for_failure(legacy_invite, response_to(legacy_invite, 486))
    assert server_transaction_id(legacy_ack) == server_transaction_id(legacy_invite)
    assert server_transaction_id(legacy_invite).branch.startswith("rfc2543|")
    assert server_transaction_id(request("INVITE", "z9hG4bK")).branch.startswith("rfc2543|")


@pytest.mark.parametrize(
    ("table", "cls"),
    [
        (CLIENT_INVITE, ClientTransaction),
        (CLIENT_NON_INVITE, ClientTransaction),
        (SERVER_INVITE, ServerTransaction),
        (SERVER_NON_INVITE, ServerTransaction),
    ],
)
def test_tables_use_known_verbs_and_every_state_is_reachable(
    table: dict[tuple[str, str], tuple[str, tuple[tuple[str, str], ...]]],
    cls: type[ClientTransaction] | type[ServerTransaction],
) -> None:
    reachable = {"initial"}
    changed = True
    while changed:
        changed = False
        for (state, _), (target, actions) in table.items():
            for verb, _ in actions:
                assert verb in cls._verbs
            if state in reachable and target not in reachable:
                reachable.add(target)
                changed = True
    states = {state for state, _ in table} | {target for target, _ in table.values()}
    assert states == reachable
    assert "terminated" in reachable
