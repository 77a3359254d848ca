"""The agent's progress watchdog decides from the kernel's counters (issue 18), on loopback without root.

A real TCP server plays three hubs: one that stops reading mid-body (the connection is stuck), one that reads
the whole request and then works on it (the hub is busy, nothing is stuck), and the probe's answer says whether
the hub is reachable on a new connection. The network-namespace test (tests/chaos/test_agent_watchdog.py) does
the same with a real hub and a black-holed connection.
"""
from __future__ import annotations

import socket
import threading
import time

import pytest

from agent.delivery.hub_client import HubClient
from agent.errors import HubUnreachable
from sync_protocol.tcp_progress import progress

pytestmark = pytest.mark.skipif(not hasattr(socket, "TCP_INFO"), reason="the watchdog reads Linux TCP_INFO")
BODY = b"x" * 32_000_000  # far more than loopback socket buffers hold


class Server:
    """Accepts connections; `read_all` drains each request (and never answers), else it reads nothing."""

    def __init__(self, read_all: bool):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.read_all, self.conns = read_all, []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.read_all:
                threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    @staticmethod
    def _drain(conn: socket.socket) -> None:
        try:
            while conn.recv(1 << 20):
                pass
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


def _client(server: Server, timeout: float, hub_answers: bool) -> HubClient:
    client = HubClient(f"http://127.0.0.1:{server.port}", None, timeout=timeout, stall_seconds=1)
    assert client.watchdog is not None
    client.watchdog.probe = lambda: hub_answers  # what a hello on a new connection would say
    return client


def test_progress_counts_what_the_peer_acknowledged():
    server = Server(read_all=True)
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            before = progress(sock)
            sock.sendall(b"y" * 100_000)
            deadline = time.monotonic() + 10
            while (now := progress(sock)) is not None and now.acked < 100_000 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert before is not None and now is not None and now.moved_since(before)
            assert now.acked >= 100_000 and now.in_flight == 0
    finally:
        server.close()


def _post_to(read_all: bool, timeout: float, hub_answers: bool) -> tuple[float, int, bool]:
    """POST a big body to a fresh server; (seconds until it failed, watchdog aborts, recovered?)."""
    server = Server(read_all=read_all)
    client = _client(server, timeout=timeout, hub_answers=hub_answers)
    try:
        started = time.monotonic()
        with pytest.raises(HubUnreachable):
            client._request("POST", "/v1/commits", "commit", data=BODY)
        assert client.watchdog is not None
        return time.monotonic() - started, client.watchdog.aborts, client.recovered()
    finally:
        client.close()
        server.close()


def test_a_stuck_upload_is_abandoned_when_the_hub_answers_elsewhere():
    took, aborts, recovered = _post_to(read_all=False, timeout=120, hub_answers=True)
    assert took < 60, f"abandoned only after {took:.0f} s (timeout 120 s)"
    assert aborts == 2 and recovered  # the request, and its one immediate repeat


def test_nothing_is_abandoned_while_the_link_looks_down_or_the_hub_is_working():
    for read_all, hub_answers in ((False, False), (True, True)):
        took, aborts, recovered = _post_to(read_all=read_all, timeout=4, hub_answers=hub_answers)
        assert took >= 3.5  # the ordinary timeout decided, not the watchdog
        assert aborts == 0 and not recovered
