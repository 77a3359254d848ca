"""Remove citizens' personal data from the desk once it is no longer needed (Law 91/2025/QH15: minimum data).

What names a citizen on a desk: the intake row's applicant fields, delivery and
notes (`intake.data`), the message recipient and text (`notifications`), the
message files handed to a file gateway, the courier's signed proof of delivery
(recipient name, ID digits; `delivery_records.envelope`) with its signature and
photo images, the note of a courier phone's failed attempt (`courier_attempts`, `feed_inbox`),
and the courier handover PDF. `purge_personal_data` removes all
of them for one dossier and keeps what is not personal (codes, procedure, dates,
states, the audit trail).

When: `purge_expired` (after every delivery pass) purges dossiers whose result
was returned (status 10 from the hub) at least `personal_data_retention_days`
ago (default 30); `motcua purge-personal-data CODE` purges one at once. A proof
of delivery the hub has not yet received is never destroyed: such a dossier
waits for the next sync.

Deleted bytes must not linger in the database file, its WAL or free pages:
the outbox connection turns on `secure_delete` before writing, and afterwards
the WAL is checkpointed and truncated and the database VACUUMed.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from agent.errors import InputError
from agent.ops.audit import audit_event
from agent.outbox.ids import utc_timestamp
from sync_protocol.delivery_proof import evidence_of
from sync_protocol.timestamps import parse_utc

log = logging.getLogger("motcua.agent.personal_data")
#: intake.json fields that are not about the person (kept for statistics and the dossier page)
KEPT_INTAKE_FIELDS = ("schema", "procedure_code", "procedure_name", "channel", "return_method", "documents_received",
                      "received_at", "processing_days", "due_at", "calendar_version")
PURGED = "[đã xoá / purged]"


def _unsynced_proofs(conn: Any, dossier_id: str) -> int:
    return conn.execute("SELECT COUNT(*) FROM delivery_records WHERE dossier_id=? AND synced_at IS NULL",
                        (dossier_id,)).fetchone()[0]


def _proofs(conn: Any, dossier_id: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for record_id, envelope in conn.execute("SELECT id, envelope FROM delivery_records WHERE dossier_id=?",
                                            (dossier_id,)):
        try:
            found.append((record_id, json.loads(envelope)["document"]))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def _evidence_blobs(proofs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    shas = []
    for _, document in proofs:
        try:
            shas += [item["sha256"] for item in evidence_of(document)]
        except (KeyError, TypeError, ValueError):
            continue
    return shas


def _proof_without_person(document: dict[str, Any]) -> str:
    """What stays of a proof of delivery (the hub holds the signed original): kind, when, which attempt."""
    kept = {k: document[k] for k in ("record_id", "kind", "dossier_id", "dossier_code", "at", "attempt", "reason")
            if k in document}
    return json.dumps({"document": {**kept, "purged": True}}, ensure_ascii=False)


def _remove_files(ctx: Any, dossier_id: str, notification_ids: list[int], batches: list[str]) -> None:
    from agent.desk.notifications import FileSender, sender_from_config

    try:
        sender = sender_from_config(ctx.config.home)
    except InputError:
        sender = None
    if isinstance(sender, FileSender):
        for nid in notification_ids:
            (sender.directory / f"{nid:08d}.json").unlink(missing_ok=True)
    conn = ctx.outbox.conn
    for batch in batches:
        still_personal = conn.execute(
            "SELECT COUNT(*) FROM courier_tasks t JOIN intake i ON i.dossier_id=t.dossier_id"
            " WHERE t.batch=? AND i.purged_at IS NULL", (batch,)).fetchone()[0]
        if not still_personal:  # the handover record lists every dossier of its batch
            (ctx.config.home / "handover" / f"{batch}.pdf").unlink(missing_ok=True)


def scrub_database(outbox: Any) -> None:
    """Make deleted rows unrecoverable from the outbox files: checkpoint and truncate the WAL, VACUUM."""
    conn = outbox.conn
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def purge_personal_data(ctx: Any, ref: str, *, reason: str = "request", scrub: bool = True) -> dict[str, Any]:
    """Remove everything that names the citizen of one dossier (see the module docstring)."""
    dossier = ctx.outbox.get(ref)
    conn = ctx.outbox.conn
    if _unsynced_proofs(conn, dossier.id):
        raise InputError(f"Hồ sơ {dossier.code} còn biên nhận giao kết quả chưa gửi trung tâm; chưa xoá dữ liệu cá nhân.",
                         f"Dossier {dossier.code} has a proof of delivery the hub has not received yet; personal data "
                         "was not purged.", "Đồng bộ trước (motcua sync) rồi chạy lại / sync first, then run it again")
    row = conn.execute("SELECT data, purged_at FROM intake WHERE dossier_id=?", (dossier.id,)).fetchone()
    conn.execute("PRAGMA secure_delete=ON")  # overwritten and freed content is zeroed on disk, not left behind
    proofs = _proofs(conn, dossier.id)
    evidence = _evidence_blobs(proofs)
    notification_ids = [r[0] for r in conn.execute("SELECT id FROM notifications WHERE dossier_id=?", (dossier.id,))]
    batches = [r[0] for r in conn.execute("SELECT DISTINCT batch FROM courier_tasks WHERE dossier_id=? AND batch"
                                          " IS NOT NULL", (dossier.id,))]
    now = utc_timestamp()
    with ctx.outbox.transaction() as tx:
        if row is not None:
            data = json.loads(row[0] or "{}")
            kept = {k: data[k] for k in KEPT_INTAKE_FIELDS if k in data}
            tx.execute("UPDATE intake SET data=?, purged_at=? WHERE dossier_id=?",
                       (json.dumps({**kept, "purged": True}, ensure_ascii=False), row[1] or now, dossier.id))
        tx.execute("UPDATE notifications SET recipient='', text=? WHERE dossier_id=?", (PURGED, dossier.id))
        for record_id, document in proofs:
            tx.execute("UPDATE delivery_records SET envelope=? WHERE id=?", (_proof_without_person(document), record_id))
        # a courier phone's failed attempt: its free-text note may name people; reason and date stay
        tx.execute("UPDATE courier_attempts SET note='' WHERE dossier_id=?", (dossier.id,))
        tx.execute("UPDATE feed_inbox SET event=json_set(event, '$.attempt.note', '') WHERE"
                   " json_extract(event, '$.dossier_id')=? AND json_extract(event, '$.kind')='delivery_failed'",
                   (dossier.id,))
    for sha in evidence:
        ctx.outbox.blobs.delete(sha)
    _remove_files(ctx, dossier.id, notification_ids, batches)
    if scrub:
        scrub_database(ctx.outbox)
    audit_event(ctx, "personal_data.purged", dossier.id, reason=reason)
    log.info("personal_data_purged dossier=%s reason=%s", dossier.id, reason)
    return {"dossier_code": dossier.code, "purged_at": now, "evidence_removed": len(evidence)}


def purge_expired(ctx: Any, now: datetime | None = None) -> list[str]:
    """Purge every dossier whose result was returned (status 10) longer ago than the retention; return codes."""
    now = now or datetime.now(timezone.utc)
    keep = timedelta(days=ctx.config.settings.personal_data_retention_days)
    rows = ctx.outbox.conn.execute(
        "SELECT i.dossier_id, MIN(s.at) FROM intake i JOIN status_events s ON s.dossier_id=i.dossier_id AND s.status=10"
        " WHERE i.purged_at IS NULL GROUP BY i.dossier_id").fetchall()
    purged = []
    for dossier_id, returned_at in rows:
        if parse_utc(returned_at) + keep > now:
            continue
        try:
            purged.append(purge_personal_data(ctx, dossier_id, reason="retention", scrub=False)["dossier_code"])
        except InputError:
            log.info("personal_data_purge_waits dossier=%s reason=proof_not_synced", dossier_id)
    if purged:
        scrub_database(ctx.outbox)
    return purged
