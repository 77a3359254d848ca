"""Push: webhooks reach a receiver that fails half its calls, across a hub restart, and every event
arrives once; events that exhaust their retries wait as dead letters until replayed."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from agent.context import AgentContext
from agent.delivery.enrolment import enrol
from agent.delivery.sync import sync_once
from hub.case_system.webhooks import verify_signature

from .chaos.dossiers import make_dossier
from .conftest import AGENCY, SITE, HubProcess, run_motcua


class Receiver:
    """A real HTTP server on loopback standing in for the case system: it fails one call in `fail_every`
    (2: every other call, 1: every call, 0: none) with a 503."""

    def __init__(self, fail_every: int = 2):
        self.fail_every, self.calls, self.lock = fail_every, 0, threading.Lock()
        self.accepted: dict[str, list[dict]] = {}
        self.bad_signatures = 0
        self.secret = ""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.calls += 1
                    every = receiver.fail_every
                    fail = bool(every) and receiver.calls % every == 1 % every
                    if not fail:
                        if not verify_signature(receiver.secret, self.headers["X-Motcua-Timestamp"], body,
                                                self.headers["X-Motcua-Signature"]):
                            receiver.bad_signatures += 1
                        receiver.accepted.setdefault(self.headers["Idempotency-Key"], []).append(json.loads(body))
                self.send_response(503 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/motcua"

    def wait_for(self, keys: set[str], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if keys <= set(self.accepted):
                    return
            time.sleep(0.1)
        raise AssertionError(f"missing events: {sorted(keys - set(self.accepted))[:5]}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_hub(tmp_path: Path, **env: str) -> HubProcess:
    settings = {"MOTCUA_HUB_WEBHOOK_BACKOFF_BASE": "0.05", "MOTCUA_HUB_WEBHOOK_BACKOFF_CAP": "0.5",
                "MOTCUA_HUB_WEBHOOK_POLL": "0.1", "MOTCUA_HUB_WEBHOOK_TIMEOUT": "5", **env}
    return HubProcess(tmp_path / "hub", extra_env=settings).start()


def add_endpoint(hub: HubProcess, url: str, name: str = "case-system") -> str:
    added = run_motcua("hub", "webhooks", "add", "--data", str(hub.data_dir), "--name", name, "--url", url,
                       "--agency", AGENCY)
    assert added.returncode == 0, added.stderr
    return added.stdout.strip()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def test_every_event_reaches_a_receiver_failing_half_its_calls_once_across_a_hub_restart(tmp_path, receiver):
    hub = start_hub(tmp_path, MOTCUA_HUB_WEBHOOK_MAX_ATTEMPTS="60")
    try:
        ctx = AgentContext.open(tmp_path / "agent")
        enrol(ctx, hub.url, hub.token(), SITE)
        receiver.secret = add_endpoint(hub, receiver.url)
        first = [make_dossier(ctx, 2000) for _ in range(6)]
        assert len(sync_once(ctx).committed) == 6
        for dossier in first[:3]:  # status changes: the province's own, then a result ready
            assert run_motcua("hub", "post-status", "--data", str(hub.data_dir), dossier.code, "9").returncode == 0
        receiver.wait_for({f"{first[0].id}:1"})
        hub.stop()  # the hub goes down with events still in its outbox
        hub.start()
        later = [make_dossier(ctx, 2000) for _ in range(6)]
        assert len(sync_once(ctx).committed) == 6
        cursors = [r[0] for r in hub.sql("SELECT cursor FROM status_events ORDER BY cursor")]
        expected = {f"{d.id}:1" for d in first + later} | {
            f"{dossier_id}:status:{cursor}" for dossier_id, cursor in hub.sql("SELECT dossier_id, cursor FROM status_events")}
        assert len(cursors) == 3
        receiver.wait_for(expected)
        time.sleep(1)  # anything sent twice would arrive within a few polls
        with receiver.lock:
            assert set(receiver.accepted) == expected
            assert all(len(bodies) == 1 for bodies in receiver.accepted.values())  # each event once
            assert receiver.calls >= 2 * len(expected) - 1 and receiver.bad_signatures == 0
            committed = receiver.accepted[f"{first[0].id}:1"][0]
            assert committed["event"] == "dossier.committed" and committed["dossier"]["dossier_code"] == first[0].code
            status = next(b[0] for k, b in receiver.accepted.items() if ":status:" in k)
            assert status["event"] == "dossier.status_changed" and status["status_event"]["status"] == 9
        listed = json.loads(run_motcua("hub", "webhooks", "list", "--json", "--data", str(hub.data_dir)).stdout)
        assert {r["state"] for r in listed} == {"delivered"} and len(listed) == len(expected)
        ctx.close()
    finally:
        hub.stop()


def test_dead_letters_wait_for_a_replay_and_urls_must_be_https(tmp_path):
    hub = start_hub(tmp_path, MOTCUA_HUB_WEBHOOK_MAX_ATTEMPTS="3")
    down = Receiver(fail_every=1)  # fails every call
    try:
        ctx = AgentContext.open(tmp_path / "agent")
        enrol(ctx, hub.url, hub.token(), SITE)
        down.secret = add_endpoint(hub, down.url)
        dossier = make_dossier(ctx, 2000)
        sync_once(ctx)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            dead = run_motcua("hub", "webhooks", "dead", "--json", "--data", str(hub.data_dir))
            if json.loads(dead.stdout):
                break
            time.sleep(0.2)
        assert dead.returncode == 1  # dead letters waiting: non-zero for monitoring
        [letter] = json.loads(dead.stdout)
        assert letter["dossier_id"] == dossier.id and letter["attempts"] == 3 and letter["last_error"] == "HTTP 503"
        assert letter["url"] == down.url and letter["event"] == "dossier.committed"
        assert down.calls == 3  # no more tries after the budget

        down.fail_every = 0  # the case system is fixed
        replay = run_motcua("hub", "webhooks", "replay", letter["id"], "--data", str(hub.data_dir))
        assert replay.returncode == 0, replay.stderr
        down.wait_for({f"{dossier.id}:1"}, timeout=30)
        again = run_motcua("hub", "webhooks", "replay", letter["id"], "--data", str(hub.data_dir))
        assert again.returncode == 1 and "dead letter" in again.stderr and "Traceback" not in again.stderr
        audit = json.loads(run_motcua("hub", "audit", "--json", "--data", str(hub.data_dir)).stdout)
        assert any(e["action"] == "webhook.replayed" and e["dossier_id"] == dossier.id for e in audit)

        plain = run_motcua("hub", "webhooks", "add", "--data", str(hub.data_dir), "--name", "x",
                           "--url", "http://case.example.vn/hooks", "--agency", AGENCY)
        assert plain.returncode == 1 and "https://" in plain.stderr and "Traceback" not in plain.stderr
        ctx.close()
    finally:
        down.close()
        hub.stop()


def test_a_couriers_proof_of_delivery_is_pushed_as_status_10(hub, agent, pages, no_ocr):
    from agent.desk.courier import pending_proofs

    from .test_courier_sync import _delivered_dossier

    fine = Receiver(fail_every=0)
    try:
        fine.secret = add_endpoint(hub, fine.url)
        # committed, result ready, nobody home at the first attempt, delivered at the second
        dossier, envelope = _delivered_dossier(hub, agent, pages, failed_first=True)
        sync_once(agent)  # the proofs reach the hub: a delivery_failed event for the desk, then status 10
        assert pending_proofs(agent) == []
        [(cursor,)] = hub.sql("SELECT cursor FROM status_events WHERE status=10")
        [(failed_cursor,)] = hub.sql("SELECT cursor FROM status_events WHERE attempt IS NOT NULL")
        assert failed_cursor < cursor
        key = f"{dossier.id}:status:{cursor}"
        fine.wait_for({f"{dossier.id}:1", key}, timeout=60)
        # events go out in cursor order: the failed attempt came first and was not pushed (the desk's business)
        assert f"{dossier.id}:status:{failed_cursor}" not in fine.accepted
        [event] = fine.accepted[key]
        assert event["source_kind"] == "courier" and event["status_event"]["status"] == 10
        assert event["status_event"]["dossier_code"] == dossier.code and event["agency_code"] == AGENCY
        assert envelope.document["record_id"]
        assert "Trần Văn Nam" not in json.dumps(event, ensure_ascii=False)  # who received it stays at the hub
    finally:
        fine.close()
