"""The hub's audit log: who (device or admin login) did what to which dossier, when.

Append-only and hash-chained (format in sync_protocol.audit_chain), kept in
the `audit` table of the MetadataDB. `record()` takes the open transaction of
the action it audits, so an action and its audit entry commit together or not
at all; two writers racing for one sequence number make one of them roll back
and retry (the caller's transaction loop handles IntegrityError). On PostgreSQL
the tail is read under the AUDIT_LOCK transaction lock, taken as late as
possible (the chain is hub-wide). On PostgreSQL commits do not call `record`:
they queue their entry (hub.audit_queue), which is chained moments later.
No personal data: details are ids, codes, hashes and counts only.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from sync_protocol.audit_chain import GENESIS, login_actor, make_entry, verify_entries

from .storage.metadata import AUDIT_LOCK, MetadataDB, Tx

log = logging.getLogger("motcua.hub.audit")


def admin_actor() -> str:
    """The login of the administrator running a `motcua hub …` command."""
    return login_actor("admin")


def record(tx: Tx, now: int, actor: str, action: str, dossier_id: str | None = None, **detail: Any) -> dict[str, Any]:
    """Append one entry inside the caller's transaction (call it last: the tail stays locked until COMMIT)."""
    tx.lock(AUDIT_LOCK)
    last = tx.one("SELECT seq, entry_hash FROM audit ORDER BY seq DESC LIMIT 1")
    seq, prev = (last["seq"] + 1, last["entry_hash"]) if last else (1, GENESIS)
    entry = make_entry(seq, now, actor, action, dossier_id, detail, prev)
    tx.execute("INSERT INTO audit(seq, at, actor, action, dossier_id, detail, prev_hash, entry_hash)"
               " VALUES (?,?,?,?,?,?,?,?)",
               (seq, now, actor, action, dossier_id, json.dumps(entry["detail"], sort_keys=True), prev,
                entry["entry_hash"]))
    return entry


def record_now(db: MetadataDB, now: int, actor: str, action: str, dossier_id: str | None = None, **detail: Any) -> None:
    """Append in a transaction of its own (for events that change nothing else, e.g. a refusal)."""
    from .storage.metadata import IntegrityError

    for _ in range(8):
        try:
            with db.transaction() as tx:
                record(tx, now, actor, action, dossier_id, **detail)
            return
        except IntegrityError:
            continue
    log.error("audit_write_failed action=%s", action)


def entries(db: MetadataDB, dossier_id: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    from . import audit_queue

    if audit_queue.defers(db):
        audit_queue.drain_all(db)  # chain what commits queued, so a reader misses nothing
    sql = "SELECT * FROM audit" + (" WHERE dossier_id=?" if dossier_id else "") + " ORDER BY seq"
    params: tuple = (dossier_id,) if dossier_id else ()
    rows = db.query(sql + (f" LIMIT {int(limit)}" if limit else ""), params)
    for row in rows:
        row["detail"] = json.loads(row["detail"])
    return rows


def verify(db: MetadataDB) -> list[str]:
    """Re-hash the whole log; return the problems (empty: intact)."""
    return verify_entries(entries(db))
