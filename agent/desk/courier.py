"""Courier mode: results to deliver to citizens' homes, handover records, and
signed proofs of delivery (or of failed attempts).

A task appears when the hub's status feed says a result is ready for home
delivery (agent.desk.notifications). The desk hands a batch to a postal courier
with a printed handover record (biên bản bàn giao); the courier records each
delivery — recipient name, relation, last digits of their ID, time, a
signature image or photo, optional GPS — or a failed attempt with a reason.
Each record is a document signed with the device's Ed25519 key
(sync_protocol.signed_document, label `motcua.delivery-proof/1`) and kept in
`delivery_records` with `synced_at` NULL until the sync path hands it to the
hub (`pending_proofs` / `mark_proofs_synced`). Evidence images go to the
content-addressed blob store and are referenced by sha256.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.context import AgentContext
from agent.errors import InputError
from agent.outbox.ids import VIETNAM, new_dossier_id, utc_timestamp
from sync_protocol.castore import write_file_atomic
from sync_protocol.delivery_proof import FAILURE_REASONS
from sync_protocol.delivery_proof import LABEL as DELIVERY_PROOF_LABEL
from sync_protocol.signed_document import Envelope, sign_document, verify_document

log = logging.getLogger("motcua.agent.courier")
PROOF_LABEL = DELIVERY_PROOF_LABEL  # format: sync_protocol.delivery_proof
TASK_STATES = ("to_deliver", "out", "delivered", "returned_to_desk", "closed", "cancelled")
OPEN_STATES = ("to_deliver", "out")
MAX_FAILED_ATTEMPTS = 3
MAX_EVIDENCE_BYTES = 3 * 1024 * 1024


def task_from_event(conn: Any, event: dict[str, Any], intake: Any) -> None:
    """Inside on_status_event's transaction: open, close or cancel the dossier's courier task."""
    now = utc_timestamp()
    if event.get("result_ready_for_delivery") and (intake is None or intake.return_method == "post"):
        conn.execute("INSERT OR IGNORE INTO courier_tasks(dossier_id, dossier_code, state, attempts, created_at,"
                     " updated_at, cursor) VALUES (?,?,?,0,?,?,?)",
                     (event["dossier_id"], event["dossier_code"], "to_deliver", now, now, event["cursor"]))
    elif event["status"] == 10:
        conn.execute("UPDATE courier_tasks SET state='closed', updated_at=? WHERE dossier_id=? AND state IN (?,?)",
                     (now, event["dossier_id"], *OPEN_STATES))
    elif event["status"] in (7, 8):
        conn.execute("UPDATE courier_tasks SET state='cancelled', updated_at=? WHERE dossier_id=? AND state IN (?,?)",
                     (now, event["dossier_id"], *OPEN_STATES))


def failure_from_event(conn: Any, event: dict[str, Any]) -> bool:
    """Inside on_status_event's transaction: a courier phone's failed attempt (a delivery_failed event) counts
    as an attempt on the dossier's task, by the same rule as one recorded here. Once per signed proof: a
    replayed event, or this desk's own record coming back from the hub, changes nothing. Returns recorded?"""
    attempt = event["attempt"]
    if conn.execute("SELECT 1 FROM delivery_records WHERE id=?", (attempt["record_id"],)).fetchone():
        return False  # recorded at this desk and sent by it: already counted
    now = utc_timestamp()
    if not conn.execute("INSERT OR IGNORE INTO courier_attempts(record_id, dossier_id, cursor, at, reason, note,"
                        " next_attempt, attempt, received_at) VALUES (?,?,?,?,?,?,?,?,?)",
                        (attempt["record_id"], event["dossier_id"], event["cursor"], event["at"], attempt["reason"],
                         attempt["note"], attempt["next_attempt"], attempt["attempt"], now)).rowcount:
        return False
    row = conn.execute("SELECT state, attempts FROM courier_tasks WHERE dossier_id=?", (event["dossier_id"],)).fetchone()
    if row and row[0] in OPEN_STATES:
        conn.execute("UPDATE courier_tasks SET state=?, attempts=?, updated_at=? WHERE dossier_id=?",
                     (_after_failure(row[0], row[1] + 1), row[1] + 1, now, event["dossier_id"]))
    return True


def _after_failure(state: str, attempts: int) -> str:
    """After MAX_FAILED_ATTEMPTS the result goes back to the desk; before, the courier keeps it to retry."""
    return "returned_to_desk" if attempts >= MAX_FAILED_ATTEMPTS else state


def last_failures(conn: Any) -> dict[str, dict[str, Any]]:
    """The latest failed attempt per dossier, recorded here or by a courier's phone: reason, note, next date."""
    rows = conn.execute(
        "SELECT dossier_id, reason, note, next_attempt, at FROM (SELECT dossier_id,"
        " json_extract(envelope, '$.document.reason') AS reason, json_extract(envelope, '$.document.note') AS note,"
        " json_extract(envelope, '$.document.next_attempt') AS next_attempt, json_extract(envelope, '$.document.at') AS at"
        " FROM delivery_records WHERE kind='failed' UNION ALL SELECT dossier_id, reason, note, next_attempt, at"
        " FROM courier_attempts) ORDER BY at")
    return {r[0]: {"reason": r[1], "note": r[2] or "", "next_attempt": r[3], "at": r[4]} for r in rows}


def list_tasks(ctx: AgentContext, states: tuple[str, ...] | None = None,
               courier_account: str | None = None) -> list[dict[str, Any]]:
    """Tasks with what the courier needs (recipient, address, phone) from the local intake record;
    with `courier_account`, only the tasks handed to that courier's desk login."""
    query = ("SELECT t.dossier_id, t.dossier_code, t.state, t.attempts, t.batch, t.courier, t.updated_at, i.data"
             " FROM courier_tasks t LEFT JOIN intake i ON i.dossier_id=t.dossier_id WHERE 1=1")
    params: tuple = ()
    if states:
        query += f" AND t.state IN ({','.join('?' * len(states))})"
        params = states
    if courier_account is not None:
        query += " AND t.courier_account = ?"
        params = (*params, courier_account)
    tasks = []
    failures = last_failures(ctx.outbox.conn)
    for row in ctx.outbox.conn.execute(query + " ORDER BY t.created_at, t.dossier_code", params):
        data = json.loads(row[7]) if row[7] else {}
        applicant = data.get("applicant", {})
        tasks.append({"dossier_id": row[0], "dossier_code": row[1], "state": row[2], "attempts": row[3],
                      "batch": row[4], "courier": row[5], "updated_at": row[6],
                      "recipient": applicant.get("applicant_name", ""), "phone": applicant.get("phone", ""),
                      "address": data.get("delivery_address") or applicant.get("address", ""),
                      "procedure_name": data.get("procedure_name", ""), "last_failure": failures.get(row[0])})
    return tasks


def _task(ctx: AgentContext, ref: str, courier_account: str | None = None) -> dict[str, Any]:
    for task in list_tasks(ctx, courier_account=courier_account):
        if ref in (task["dossier_id"], task["dossier_code"]):
            return task
    raise InputError(f"Không có kết quả cần giao cho hồ sơ {ref!r}.", f"No delivery task for dossier {ref!r}.",
                     "motcua courier list")


def handover(ctx: AgentContext, refs: list[str], courier: str, at: datetime | None = None,
             postal_items: dict[str, str] | None = None, *, courier_account: str | None = None,
             officer: str = "") -> tuple[str, Path]:
    """Hand results to a courier: mark them out, write the handover record PDF; returns (batch id, pdf path).

    `postal_items` maps a ref to its UPU S10 number (validated by the caller), printed as a barcode;
    `courier_account` is the courier's desk login (then only they see these tasks); `officer`
    is the handing officer's full name, printed on the record."""
    from agent.desk.slips import HandoverItem, handover_pdf

    courier = " ".join(courier.split())
    if not 2 <= len(courier) <= 100:
        raise InputError("Nhập họ tên nhân viên bưu chính nhận bàn giao.", "Enter the courier's name.")
    if not refs:
        raise InputError("Chọn ít nhất một kết quả để bàn giao.", "Choose at least one result to hand over.")
    tasks = [_task(ctx, ref) for ref in refs]
    for task in tasks:
        if task["state"] not in ("to_deliver", "returned_to_desk"):
            raise InputError(f"Hồ sơ {task['dossier_code']} đang ở trạng thái {task['state']}, không bàn giao được.",
                             f"Dossier {task['dossier_code']} is {task['state']}; it cannot be handed over.")
    at = at or datetime.now(timezone.utc)
    batch = f"BG-{at.astimezone(VIETNAM):%y%m%d-%H%M%S}"
    pdf = handover_pdf(ctx.config.site or "Bộ phận một cửa", batch, courier,
                       [HandoverItem(t["dossier_code"], t["procedure_name"], t["recipient"], t["address"], t["phone"],
                                     _postal_item(t, postal_items or {})) for t in tasks], at, officer=officer)
    path = ctx.config.home / "handover" / f"{batch}.pdf"
    write_file_atomic(path, pdf, mode=0o600)
    with ctx.outbox.transaction() as conn:
        for task in tasks:
            conn.execute("UPDATE courier_tasks SET state='out', batch=?, courier=?, courier_account=?, updated_at=?"
                         " WHERE dossier_id=?", (batch, courier, courier_account, utc_timestamp(at), task["dossier_id"]))
    log.info("handover batch=%s results=%d", batch, len(tasks))
    return batch, path


def _postal_item(task: dict[str, Any], postal_items: dict[str, str]) -> str:
    return postal_items.get(task["dossier_code"]) or postal_items.get(task["dossier_id"]) or ""


def _evidence(ctx: AgentContext, kind: str, data: bytes) -> dict[str, Any]:
    if len(data) > MAX_EVIDENCE_BYTES:
        raise InputError(f"Ảnh {kind} quá lớn (tối đa 3 MB).", f"The {kind} image is larger than 3 MB.")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        media_type = "image/png"
    elif data.startswith(b"\xff\xd8\xff"):
        media_type = "image/jpeg"
    else:
        raise InputError(f"Tệp {kind} không phải ảnh PNG hoặc JPEG.", f"The {kind} file is not a PNG or JPEG image.",
                         "Chụp lại ảnh / take the picture again")
    sha, size = ctx.outbox.blobs.put_bytes(data)
    return {"kind": kind, "media_type": media_type, "sha256": sha, "size": size}


@dataclass(frozen=True)
class Gps:
    lat: float
    lon: float
    accuracy_m: float | None = None

    def to_dict(self) -> dict[str, Any]:
        # Signed documents are canonical JSON without floats: micro-degrees as integers.
        return {"lat_e6": round(self.lat * 1e6), "lon_e6": round(self.lon * 1e6),
                "accuracy_m": None if self.accuracy_m is None else round(self.accuracy_m)}


def _sign_and_store(ctx: AgentContext, task: dict[str, Any], document: dict[str, Any], new_state: str,
                    attempts: int) -> Envelope:
    envelope = sign_document(PROOF_LABEL, document, ctx.device_key)
    with ctx.outbox.transaction() as conn:
        conn.execute("INSERT INTO delivery_records(id, dossier_id, kind, envelope, document_hash, created_at)"
                     " VALUES (?,?,?,?,?,?)", (document["record_id"], task["dossier_id"], document["kind"],
                                               json.dumps(envelope.to_dict(), ensure_ascii=False),
                                               envelope.document_hash, utc_timestamp()))
        conn.execute("UPDATE courier_tasks SET state=?, attempts=?, updated_at=? WHERE dossier_id=?",
                     (new_state, attempts, utc_timestamp(), task["dossier_id"]))
    return envelope


def _base_document(ctx: AgentContext, task: dict[str, Any], kind: str, at: datetime, gps: Gps | None) -> dict[str, Any]:
    return {"schema": PROOF_LABEL, "record_id": new_dossier_id(), "kind": kind, "dossier_id": task["dossier_id"],
            "dossier_code": task["dossier_code"], "device_id": ctx.config.device_id, "at": utc_timestamp(at),
            "attempt": task["attempts"] + 1, "courier": task["courier"] or "", "batch": task["batch"] or "",
            "gps": gps.to_dict() if gps else None}


def record_delivery(ctx: AgentContext, ref: str, *, recipient_name: str, relation: str, id_last_digits: str,
                    signature: bytes | None = None, photo: bytes | None = None, gps: Gps | None = None,
                    at: datetime | None = None) -> Envelope:
    """Record a successful delivery as a signed proof."""
    task = _task(ctx, ref)
    if task["state"] not in OPEN_STATES:
        raise InputError(f"Hồ sơ {task['dossier_code']} đang ở trạng thái {task['state']}; không ghi nhận giao được.",
                         f"Dossier {task['dossier_code']} is {task['state']}; cannot record a delivery.")
    recipient_name, relation = " ".join(recipient_name.split()), " ".join(relation.split())
    errors = []
    if not 2 <= len(recipient_name) <= 100:
        errors.append(("họ tên người nhận", "recipient name"))
    if not 1 <= len(relation) <= 50:
        errors.append(("quan hệ với người nộp", "relation to the applicant"))
    if not re.fullmatch(r"[0-9]{4}", id_last_digits.strip()):
        errors.append(("4 số cuối giấy tờ tuỳ thân", "last 4 digits of the ID"))
    if not signature and not photo:
        errors.append(("chữ ký hoặc ảnh chụp", "a signature or a photo"))
    if errors:
        raise InputError("Thiếu hoặc sai: " + ", ".join(e[0] for e in errors) + ".",
                         "Missing or wrong: " + ", ".join(e[1] for e in errors) + ".")
    evidence = []
    if signature:
        evidence.append(_evidence(ctx, "signature", signature))
    if photo:
        evidence.append(_evidence(ctx, "photo", photo))
    document = _base_document(ctx, task, "delivered", at or datetime.now(timezone.utc), gps)
    document.update(recipient={"name": recipient_name, "relation": relation, "id_last_digits": id_last_digits.strip()},
                    evidence=evidence)
    envelope = _sign_and_store(ctx, task, document, "delivered", task["attempts"] + 1)
    log.info("delivery_recorded dossier=%s attempt=%d", task["dossier_id"], document["attempt"])
    return envelope


def record_counter_return(ctx: AgentContext, dossier_id: str, dossier_code: str, *, recipient_name: str, relation: str,
                          id_last_digits: str, signature: bytes, officer: str, at: datetime | None = None) -> Envelope:
    """A result handed back at the counter (checks done by agent.desk.daily.hand_back): the same signed
    proof as a courier's, with the officer in `courier` and batch "counter"; an open courier task closes."""
    row = ctx.outbox.conn.execute("SELECT state, attempts FROM courier_tasks WHERE dossier_id=?", (dossier_id,)).fetchone()
    if row and row[0] == "out":
        raise InputError(f"Kết quả {dossier_code} đang được bưu tá mang đi giao.",
                         f"The result of {dossier_code} is out with a courier.")
    task = {"dossier_id": dossier_id, "dossier_code": dossier_code, "attempts": row[1] if row else 0,
            "courier": officer, "batch": "counter"}
    document = _base_document(ctx, task, "delivered", at or datetime.now(timezone.utc), None)
    document.update(recipient={"name": " ".join(recipient_name.split()), "relation": relation,
                               "id_last_digits": id_last_digits}, evidence=[_evidence(ctx, "signature", signature)])
    envelope = _sign_and_store(ctx, task, document, "closed", task["attempts"])
    log.info("result_returned_at_counter dossier=%s", dossier_id)
    return envelope


def record_failed_attempt(ctx: AgentContext, ref: str, reason: str, note: str = "", gps: Gps | None = None,
                          at: datetime | None = None) -> Envelope:
    """Record a failed delivery attempt; after MAX_FAILED_ATTEMPTS the result goes back to the desk."""
    task = _task(ctx, ref)
    if task["state"] not in OPEN_STATES:
        raise InputError(f"Hồ sơ {task['dossier_code']} đang ở trạng thái {task['state']}.",
                         f"Dossier {task['dossier_code']} is {task['state']}; no attempt to record.")
    if reason not in FAILURE_REASONS:
        raise InputError(f"Lý do {reason!r} không có trong danh sách: {', '.join(FAILURE_REASONS)}.",
                         f"Reason {reason!r} is not one of {', '.join(FAILURE_REASONS)}.")
    note = " ".join(note.split())[:200]
    if reason == "other" and not note:
        raise InputError("Lý do khác: hãy ghi rõ lý do.", "Reason 'other' needs a note.")
    document = _base_document(ctx, task, "failed", at or datetime.now(timezone.utc), gps)
    document.update(reason=reason, note=note)
    attempts = task["attempts"] + 1
    envelope = _sign_and_store(ctx, task, document, _after_failure(task["state"], attempts), attempts)
    log.info("delivery_failed dossier=%s attempt=%d reason=%s", task["dossier_id"], attempts, reason)
    return envelope


def records_of(ctx: AgentContext, dossier_id: str) -> list[dict[str, Any]]:
    """The dossier's proofs signed here, and failed attempts its courier's phone filed at the hub, by time."""
    rows = ctx.outbox.conn.execute("SELECT envelope, synced_at FROM delivery_records WHERE dossier_id=?"
                                   " ORDER BY created_at", (dossier_id,))
    records = [{**json.loads(envelope)["document"], "synced_at": synced} for envelope, synced in rows]
    for reason, note, next_attempt, at, received in ctx.outbox.conn.execute(
            "SELECT reason, note, next_attempt, at, received_at FROM courier_attempts WHERE dossier_id=?", (dossier_id,)):
        records.append({"kind": "failed", "reason": reason, "note": note, "next_attempt": next_attempt, "at": at,
                        "synced_at": received, "from_phone": True})
    return sorted(records, key=lambda r: r["at"])


def pending_proofs(ctx: AgentContext) -> list[Envelope]:
    """Signed delivery records not yet handed to the hub, oldest first (for the sync path)."""
    rows = ctx.outbox.conn.execute("SELECT envelope FROM delivery_records WHERE synced_at IS NULL ORDER BY created_at")
    return [Envelope.from_dict(json.loads(r[0])) for r in rows]


def mark_proofs_synced(ctx: AgentContext, record_ids: list[str]) -> None:
    with ctx.outbox.transaction() as conn:
        for record_id in record_ids:
            conn.execute("UPDATE delivery_records SET synced_at=? WHERE id=? AND synced_at IS NULL",
                         (utc_timestamp(), record_id))


def verify_proof(envelope: Envelope, device_key: Ed25519PublicKey) -> dict[str, Any]:
    """Check a proof's signature (raises sync_protocol.errors.SignatureInvalid) and return its document."""
    verify_document(PROOF_LABEL, envelope, device_key)
    return envelope.document
