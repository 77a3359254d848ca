"""Deferred audit entries, so that commits on PostgreSQL never wait for the hub-wide audit chain.

The audit log is one hash chain for the whole hub (hub.audit): appending needs
the chain's tail, so appends are serial. Holding that lock inside every commit
transaction, through its COMMIT, made commits wait for each other. Instead:

  * `defer(tx, …)` writes the entry to `audit_pending` inside the commit's own
    transaction — atomic with the commit (a killed instance loses neither or
    both), no lock;
  * one drainer thread per process moves pending entries into the chained
    `audit` table in batches (one transaction, one tail lock, one fsync for up
    to 500 entries), in `pending_id` order. It wakes when a commit notifies it
    and every second anyway, so an entry is chained within about a second;
  * `drain_all(db)` runs before the audit log is read (hub.audit.entries), so
    a reader never misses a pending entry.

Several instances drain concurrently without harm: the tail lock serialises
them and each deletes exactly the pending rows it chained. Used when the
database says `defers_audit` (PostgreSQL); SQLite has one writer anyway and
appends directly. No personal data here either: ids, codes, hashes and counts.
"""
from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from typing import Any

from sync_protocol.audit_chain import GENESIS, make_entry

from .storage.metadata import AUDIT_LOCK, MetadataDB, Tx

log = logging.getLogger("motcua.hub.audit_queue")
BATCH = 500


def defers(db: MetadataDB) -> bool:
    return bool(getattr(db, "defers_audit", False))


def defer(tx: Tx, now: int, actor: str, action: str, dossier_id: str | None = None, **detail: Any) -> None:
    """Queue one entry inside the caller's transaction; it is chained after the transaction commits."""
    pending_id = f"{time.time_ns():020d}-{secrets.token_hex(4)}"  # time-ordered, unique across instances
    tx.execute("INSERT INTO audit_pending(pending_id, at, actor, action, dossier_id, detail) VALUES (?,?,?,?,?,?)",
               (pending_id, now, actor, action, dossier_id, json.dumps(detail, sort_keys=True)))


def drain(db: MetadataDB, limit: int = BATCH) -> int:
    """Chain up to `limit` pending entries in one transaction; return how many."""
    with db.transaction(lock=None) as tx:
        tx.lock(AUDIT_LOCK, counted=False)  # a drainer's wait is not a request's wait
        rows = tx.query("SELECT * FROM audit_pending ORDER BY pending_id LIMIT ?", (limit,))
        if not rows:
            return 0
        last = tx.one("SELECT seq, entry_hash FROM audit ORDER BY seq DESC LIMIT 1")
        seq, prev = (last["seq"], last["entry_hash"]) if last else (0, GENESIS)
        for row in rows:
            seq += 1
            entry = make_entry(seq, row["at"], row["actor"], row["action"], row["dossier_id"],
                               json.loads(row["detail"]), prev)
            tx.execute("INSERT INTO audit(seq, at, actor, action, dossier_id, detail, prev_hash, entry_hash)"
                       " VALUES (?,?,?,?,?,?,?,?)",
                       (seq, row["at"], row["actor"], row["action"], row["dossier_id"],
                        json.dumps(entry["detail"], sort_keys=True), prev, entry["entry_hash"]))
            prev = entry["entry_hash"]
        ids = [r["pending_id"] for r in rows]
        tx.execute(f"DELETE FROM audit_pending WHERE pending_id IN ({','.join('?' * len(ids))})", ids)
    return len(rows)


def drain_all(db: MetadataDB) -> int:
    total = 0
    while True:
        n = drain(db)
        total += n
        if n < BATCH:  # a short batch was all there was: no second, empty transaction per wake-up
            return total


class _Drainer:
    def __init__(self, db: MetadataDB):
        self.db, self.wake = db, threading.Event()
        threading.Thread(target=self._loop, name="motcua-audit-drainer", daemon=True).start()

    def _loop(self) -> None:
        while True:
            self.wake.wait(1.0)
            self.wake.clear()
            try:
                drain_all(self.db)
            except Exception as exc:  # noqa: BLE001 - database down: the entries wait, durable
                log.warning("audit_drain_failed error=%s", type(exc).__name__)


_drainers: dict[int, _Drainer] = {}
_guard = threading.Lock()


def notify(db: MetadataDB) -> None:
    """A deferred entry was committed: wake this process's drainer (started on first use)."""
    with _guard:
        drainer = _drainers.get(id(db))
        if drainer is None:
            drainer = _drainers[id(db)] = _Drainer(db)
    drainer.wake.set()
