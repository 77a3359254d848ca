"""Push: outbound webhooks to the case system, from a durable outbox on the hub.

Events (JSON bodies, docs/case-system.md):
  * `dossier.committed`       a dossier version reached the hub; idempotency key `<dossier id>:<version>`
  * `dossier.status_changed`  a status event (a courier's proof of delivery, the hub admin, a case system);
                              idempotency key `<dossier id>:status:<feed cursor>`
How an event gets out, and why nothing is lost or sent twice after success:
  1. `enqueue_new_events` tails `dossiers` (by hub sequence) and `status_events` (by cursor) for each
     endpoint from the position it stored, and inserts one `webhook_outbox` row per event in the same
     transaction that advances the position (UNIQUE (endpoint, idempotency key) makes a repeat harmless).
     The publishers (hub.commits, hub.feed) know nothing about webhooks.
  2. `deliver_due` claims due rows with a lease (several hub workers never send one row at once), POSTs
     the body signed with HMAC-SHA256, and marks it delivered on a 2xx. Otherwise the row waits an
     exponential backoff with full jitter; after `max_attempts` it becomes a dead letter, listed by
     `motcua hub webhooks dead` and sent again by `motcua hub webhooks replay ID`.
  The receiver may still see an event twice if the hub dies between its 2xx and our write: it must
  dedupe on `Idempotency-Key`. Events are not ordered across retries; bodies carry cursors.
Targets must be HTTPS; plain http is accepted only for loopback addresses (tests, a local relay).
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import random
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from .. import audit
from ..errors import BadRequest, Conflict, NotFound
from ..feed import event_json
from ..state import HubState
from ..storage.metadata import IntegrityError, read_in_sequence_order
from .access import CaseSystem
from .pull import documents_of, dossier_entry

log = logging.getLogger("motcua.hub.case_system.webhooks")
BATCH = 200
SIGNATURE_HEADER = "X-Motcua-Signature"
TIMESTAMP_HEADER = "X-Motcua-Timestamp"


@dataclass(frozen=True)
class WebhookPolicy:
    """Retry and polling settings (environment MOTCUA_HUB_WEBHOOK_*; tests shorten them)."""

    backoff_base: float = 5.0
    backoff_cap: float = 3600.0
    max_attempts: int = 15
    poll_seconds: float = 1.0
    timeout_seconds: float = 10.0
    lease_seconds: float = 60.0

    @classmethod
    def from_env(cls) -> "WebhookPolicy":
        def number(name: str, default: float) -> float:
            raw = os.environ.get(f"MOTCUA_HUB_WEBHOOK_{name}")
            try:
                return float(raw) if raw else default
            except ValueError:
                log.warning("bad_setting name=MOTCUA_HUB_WEBHOOK_%s using=%s", name, default)
                return default

        base = cls()
        return cls(number("BACKOFF_BASE", base.backoff_base), number("BACKOFF_CAP", base.backoff_cap),
                   int(number("MAX_ATTEMPTS", base.max_attempts)), number("POLL", base.poll_seconds),
                   number("TIMEOUT", base.timeout_seconds), number("LEASE", base.lease_seconds))

    def delay(self, attempts: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(attempts-1))]."""
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** min(attempts - 1, 30)))


# -- signing (the receiver's side is `verify_signature`) ----------------------------------------------
def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 over "<timestamp>." + body>`."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, timestamp: str, body: bytes, header: str, tolerance: float = 300,
                     now: float | None = None) -> bool:
    """For receivers: the signature matches and the timestamp is within `tolerance` seconds."""
    try:
        fresh = abs((now if now is not None else time.time()) - int(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(signature(secret, timestamp, body), header)


# -- endpoints ------------------------------------------------------------------------------------------
def check_url(url: str) -> str:
    """HTTPS only, except http to a loopback address (127.0.0.0/8, ::1, localhost)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme == "https" and host or parts.scheme == "http" and loopback:
        return url
    raise BadRequest(f"webhook URL {url[:100]!r} must be https:// (http:// only for loopback addresses)",
                     "Địa chỉ webhook phải dùng https:// (http:// chỉ cho địa chỉ nội bộ 127.0.0.1)", code="invalid_url")


def add_endpoint(state: HubState, name: str, url: str, agencies: list[str], from_start: bool = False) -> str:
    """Register an endpoint for the dossiers of `agencies`; returns its signing secret (shown once).

    Events start from now unless `from_start` (then every dossier already committed is sent too)."""
    from ..feed import check_agencies

    if not name.strip() or len(name) > 80:
        raise BadRequest("endpoint name must be 1..80 characters", "Tên điểm nhận phải dài 1..80 ký tự")
    if not agencies:
        raise BadRequest("at least one --agency is required", "Cần ít nhất một mã cơ quan (--agency)")
    scope, url = check_agencies(agencies), check_url(url)
    secret = "whsec_" + secrets.token_urlsafe(32)
    with state.db.transaction() as tx:
        if tx.one("SELECT name FROM webhook_endpoints WHERE name=?", (name,)) is not None:
            raise Conflict(f"a webhook endpoint named {name!r} exists; remove it first",
                           f"Đã có điểm nhận webhook tên {name!r}")
        dossiers = 0 if from_start else tx.one("SELECT COALESCE(MAX(hub_sequence), 0) AS n FROM dossiers")["n"]
        statuses = 0 if from_start else tx.one("SELECT COALESCE(MAX(cursor), 0) AS n FROM status_events")["n"]
        tx.execute("INSERT INTO webhook_endpoints(name, url, secret, agencies, created_at, dossier_position,"
                   " status_position) VALUES (?,?,?,?,?,?,?)",
                   (name, url, secret, json.dumps(scope), state.now(), dossiers, statuses))
        audit.record(tx, state.now(), audit.admin_actor(), "webhook.endpoint_added", None, endpoint=name)
    return secret


def remove_endpoint(state: HubState, name: str) -> bool:
    return state.db.execute("UPDATE webhook_endpoints SET revoked_at=? WHERE name=? AND revoked_at IS NULL",
                            (state.now(), name)) == 1


def list_endpoints(state: HubState) -> list[dict[str, Any]]:
    rows = state.db.query("SELECT name, url, agencies, created_at, revoked_at FROM webhook_endpoints ORDER BY name")
    for row in rows:
        row["agencies"] = json.loads(row["agencies"])
    return rows


# -- outbox ---------------------------------------------------------------------------------------------
def _outbox_id(endpoint: str, key: str) -> str:
    return "wh_" + hashlib.sha256(f"{endpoint}\n{key}".encode()).hexdigest()[:24]


def _committed_events(state: HubState, endpoint: dict[str, Any], client: CaseSystem) -> list[tuple[int, dict]]:
    scope, params = client.agency_sql("v.agency_code")
    rows = read_in_sequence_order(  # never past a lower number that is still committing
        state.db,
        "SELECT d.*, v.agency_code, NULL AS acked_at FROM dossiers d JOIN devices v ON v.device_id = d.device_id"
        f" WHERE d.hub_sequence > ? AND {scope} ORDER BY d.hub_sequence LIMIT ?",
        (endpoint["dossier_position"], *params, BATCH))
    documents = documents_of(state, rows)
    events = []
    for row in rows:
        entry = dossier_entry(state, row, documents.get((row["dossier_id"], int(row["dossier_version"])), []))
        entry.pop("manifest")  # the pull API serves it; keep outbox rows small
        entry.pop("acked")
        key = f"{row['dossier_id']}:{row['dossier_version']}"
        events.append((int(row["hub_sequence"]), {"event": "dossier.committed", "idempotency_key": key,
                                                  "dossier": entry}))
    return events


def _status_events(state: HubState, endpoint: dict[str, Any], client: CaseSystem) -> list[tuple[int, dict]]:
    scope, params = client.agency_sql("v.agency_code")
    rows = state.db.query(
        "SELECT e.*, v.agency_code FROM status_events e JOIN dossiers d ON d.dossier_id = e.dossier_id"
        " AND d.dossier_version = (SELECT MAX(dossier_version) FROM dossiers x WHERE x.dossier_id = e.dossier_id)"
        f" JOIN devices v ON v.device_id = d.device_id WHERE e.cursor > ? AND {scope} AND e.attempt IS NULL"
        " ORDER BY e.cursor LIMIT ?",  # status changes only: a courier's failed attempt is the desk's business
        (endpoint["status_position"], *params, BATCH))
    events = []
    for row in rows:
        source = str(row["source"])
        kind = "courier" if source.startswith("courier:") else "hub_admin" if source == "cli" else "case_system"
        body = {"event": "dossier.status_changed", "idempotency_key": f"{row['dossier_id']}:status:{row['cursor']}",
                "agency_code": row["agency_code"], "source_kind": kind, "status_event": event_json(row)}
        events.append((int(row["cursor"]), body))
    return events


def enqueue_new_events(state: HubState) -> int:
    """Move new commits and status events into the outbox of every active endpoint; returns rows added."""
    added = 0
    for endpoint in state.db.query("SELECT * FROM webhook_endpoints WHERE revoked_at IS NULL ORDER BY name"):
        client = CaseSystem(endpoint["name"], tuple(json.loads(endpoint["agencies"])))
        for column, events in (("dossier_position", _committed_events(state, endpoint, client)),
                               ("status_position", _status_events(state, endpoint, client))):
            if not events:
                continue
            try:
                with state.db.transaction() as tx:
                    current = tx.one(f"SELECT {column} AS p FROM webhook_endpoints WHERE name=?", (endpoint["name"],))
                    if current is None or current["p"] != endpoint[column]:
                        continue  # another worker moved this endpoint on meanwhile: its rows are in
                    for _, body in events:
                        added += tx.execute(
                            "INSERT INTO webhook_outbox(id, endpoint, event, dossier_id, idempotency_key, body, state,"
                            " attempts, next_attempt_at, created_at) VALUES (?,?,?,?,?,?,'pending',0,?,?)"
                            " ON CONFLICT DO NOTHING",
                            (_outbox_id(endpoint["name"], body["idempotency_key"]), endpoint["name"], body["event"],
                             body["idempotency_key"].split(":")[0], body["idempotency_key"],
                             json.dumps(body, ensure_ascii=False, sort_keys=True), time.time(), state.now()))
                    tx.execute(f"UPDATE webhook_endpoints SET {column}=? WHERE name=?",
                               (events[-1][0], endpoint["name"]))
            except IntegrityError:
                continue  # a concurrent enqueue won; the next pass sees its position
    return added


def _claim(state: HubState, row_id: str, now: float, lease: float) -> bool:
    return state.db.execute(
        "UPDATE webhook_outbox SET lease_until=? WHERE id=? AND state='pending' AND (lease_until IS NULL OR lease_until<?)",
        (now + lease, row_id, now)) == 1


def _send(endpoint: dict[str, Any], row: dict[str, Any], policy: WebhookPolicy) -> str | None:
    """POST one event; None on a 2xx, else a short reason (no personal data)."""
    body = row["body"].encode("utf-8")
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": row["idempotency_key"],
               "X-Motcua-Event": row["event"], "X-Motcua-Delivery": row["id"], TIMESTAMP_HEADER: stamp,
               SIGNATURE_HEADER: signature(endpoint["secret"], stamp, body)}
    try:
        answer = requests.post(endpoint["url"], data=body, headers=headers, timeout=policy.timeout_seconds,
                               allow_redirects=False)
    except requests.RequestException as exc:
        return f"{type(exc).__name__}"
    return None if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}"


def deliver_due(state: HubState, policy: WebhookPolicy, limit: int = 50) -> int:
    """Send the outbox rows whose time has come; returns how many were delivered."""
    now = time.time()
    endpoints = {e["name"]: e for e in state.db.query("SELECT * FROM webhook_endpoints WHERE revoked_at IS NULL")}
    due = state.db.query("SELECT * FROM webhook_outbox WHERE state='pending' AND next_attempt_at<=?"
                         " AND (lease_until IS NULL OR lease_until<?) ORDER BY next_attempt_at, created_at LIMIT ?",
                         (now, now, limit))
    delivered = 0
    for row in due:
        endpoint = endpoints.get(row["endpoint"])
        if endpoint is None or not _claim(state, row["id"], time.time(), policy.lease_seconds):
            continue
        error = _send(endpoint, row, policy)
        attempts = int(row["attempts"]) + 1
        if error is None:
            delivered += 1
            # minimum data: the applicant's details left with the event; the row stays as the delivery record
            state.db.execute("UPDATE webhook_outbox SET state='delivered', attempts=?, delivered_at=?, lease_until=NULL,"
                             " last_error=NULL, body='' WHERE id=?", (attempts, time.time(), row["id"]))
            audit.record_now(state.db, state.now(), f"webhook:{row['endpoint']}", "webhook.delivered",
                             row["dossier_id"], event=row["event"], key=row["idempotency_key"])
            continue
        dead = attempts >= policy.max_attempts
        state.db.execute("UPDATE webhook_outbox SET state=?, attempts=?, next_attempt_at=?, lease_until=NULL,"
                         " last_error=? WHERE id=?", ("dead" if dead else "pending", attempts,
                                                      time.time() + policy.delay(attempts), error, row["id"]))
        log.warning("webhook_failed id=%s endpoint=%s attempts=%d error=%s dead=%s", row["id"], row["endpoint"],
                    attempts, error, dead)
    return delivered


def list_outbox(state: HubState, which: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Outbox rows (newest first), optionally only one state: pending, delivered or dead."""
    where, params = ("WHERE state=?", (which,)) if which else ("", ())
    return state.db.query("SELECT id, endpoint, event, dossier_id, idempotency_key, state, attempts, last_error,"
                          f" created_at, delivered_at FROM webhook_outbox {where} ORDER BY created_at DESC, id"
                          " LIMIT ?", (*params, int(limit)))


def list_dead_letters(state: HubState, limit: int = 100) -> list[dict]:
    """Events that exhausted their retries: id, dossier_id, event, url, attempts, last_error, created_at."""
    return state.db.query(
        "SELECT o.id, o.dossier_id, o.event, e.url, o.attempts, o.last_error, o.created_at FROM webhook_outbox o"
        " JOIN webhook_endpoints e ON e.name = o.endpoint WHERE o.state='dead' ORDER BY o.created_at, o.id LIMIT ?",
        (int(limit),))


def replay_dead_letter(state: HubState, dead_letter_id: str, actor: str) -> None:
    """Send a dead letter again from a fresh retry budget; audited under `actor`. NotFound if not dead."""
    for _ in range(8):
        try:
            with state.db.transaction() as tx:
                row = tx.one("SELECT dossier_id, event FROM webhook_outbox WHERE id=? AND state='dead'",
                             (dead_letter_id,))
                if row is None:
                    raise NotFound(f"no dead letter {dead_letter_id!r} (see motcua hub webhooks dead)",
                                   f"Không có thư chết {dead_letter_id!r}", code="dead_letter_unknown")
                tx.execute("UPDATE webhook_outbox SET state='pending', attempts=0, next_attempt_at=?, lease_until=NULL"
                           " WHERE id=?", (time.time(), dead_letter_id))
                audit.record(tx, state.now(), actor, "webhook.replayed", row["dossier_id"], id=dead_letter_id,
                             event=row["event"])
            return
        except IntegrityError:
            continue
    raise Conflict("the audit log is busy; retry the replay", "Nhật ký kiểm toán đang bận; thử lại", code="busy")


class WebhookDispatcher:
    """The background loop of one hub process: enqueue new events, deliver what is due, sleep."""

    def __init__(self, state: HubState, policy: WebhookPolicy | None = None):
        self.state, self.policy = state, policy or WebhookPolicy.from_env()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.policy.timeout_seconds + 5)

    def run_once(self) -> int:
        enqueue_new_events(self.state)
        return deliver_due(self.state, self.policy)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once() > 0
            except Exception as exc:  # noqa: BLE001 - the loop must outlive a bad pass; the next one retries
                log.error("webhook_pass_failed type=%s", type(exc).__name__)
                busy = False
            if not busy:
                self._stop.wait(self.policy.poll_seconds)
