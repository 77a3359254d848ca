"""The desk's daily view: search its own dossiers, the due lists, and handing a result back at the counter.

Search runs on the FTS5 index `desk_search` (dossier code, applicant name, ID number, phone),
which triggers keep in step with the `intake` table (agent.outbox.desk_tables). Names match
without diacritics ("tuyet" finds "Tuyết"; đ is its own letter). Due lists take the due date
from the due-date engine (legal time plus paused working days); a dossier whose clock is paused
is listed as paused, never as late. A result handed back at the counter is a signed delivery
proof like a courier's (the hub turns it into status 10), with the receiver's ID checked.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from agent.context import AgentContext
from agent.desk.intake import IntakeRecord, check_citizen_id, current_due, get_intake, normalise_phone, pauses_of
from agent.errors import InputError
from agent.outbox.ids import VIETNAM

#: portal statuses after which a dossier is no longer running against its due date
CLOSED_STATUSES = (3, 7, 8, 9, 10)
SOON_DAYS = 2
SELF = ("Bản thân", "Self")


def _fts_query(text: str) -> str:
    """Each word as a quoted prefix term (so punctuation in codes and quotes are harmless); a phone
    number typed with spaces or +84 is one term, as stored."""
    phone = normalise_phone(text)
    terms = []
    for word in [phone] if phone else text.split():
        word = normalise_phone(word) or word
        word = word.replace('"', "")
        if word:
            terms.append(f'"{word}"*')
    return " ".join(terms)


def search(ctx: AgentContext, text: str, limit: int = 50) -> list[dict[str, Any]]:
    """Dossiers taken in here matching every word of `text` (code, name, ID number or phone), newest first."""
    query = _fts_query(text.strip()[:200])
    if not query:
        return []
    rows = ctx.outbox.conn.execute(
        "SELECT s.dossier_id, s.code, s.name, s.citizen_id, s.phone, d.state, i.due_at, i.procedure_code"
        " FROM desk_search s JOIN intake i ON i.dossier_id = s.dossier_id"
        " LEFT JOIN dossiers d ON d.id = s.dossier_id WHERE desk_search MATCH ? ORDER BY i.received_at DESC LIMIT ?",
        (query, limit)).fetchall()
    keys = ("dossier_id", "code", "name", "citizen_id", "phone", "state", "due_at", "procedure_code")
    return [dict(zip(keys, row)) for row in rows]


def latest_status(ctx: AgentContext, dossier_id: str) -> int | None:
    row = ctx.outbox.conn.execute("SELECT status FROM status_events WHERE dossier_id=? ORDER BY cursor DESC LIMIT 1",
                                  (dossier_id,)).fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class DueItem:
    code: str
    name: str
    procedure_code: str
    due: datetime
    status: int | None


def due_lists(ctx: AgentContext, now: datetime | None = None) -> dict[str, list[DueItem]]:
    """Open dossiers by urgency: `overdue`, `today`, `soon` (next SOON_DAYS days) and `paused`."""
    now = now or datetime.now(timezone.utc)
    today_end = now.astimezone(VIETNAM).replace(hour=23, minute=59, second=59)
    lists: dict[str, list[DueItem]] = {"overdue": [], "today": [], "soon": [], "paused": []}
    conn = ctx.outbox.conn
    rows = conn.execute("SELECT i.dossier_id, i.code, i.procedure_code, i.channel, i.return_method, i.received_at,"
                        " i.processing_days, i.due_at, i.calendar_version, i.data,"
                        " (SELECT status FROM status_events e WHERE e.dossier_id = i.dossier_id ORDER BY cursor DESC"
                        "  LIMIT 1) FROM intake i").fetchall()
    for row in rows:
        status = row[10]
        if status in CLOSED_STATUSES:
            continue
        record = IntakeRecord(*row[:9], data=json.loads(row[9] or "{}"))
        item = DueItem(record.code, record.applicant.get("applicant_name", ""), record.procedure_code,
                       current_due(ctx, record), status)
        if any(p.end is None for p in pauses_of(conn, record.dossier_id)):
            lists["paused"].append(item)
        elif item.due < now:
            lists["overdue"].append(item)
        elif item.due <= today_end:
            lists["today"].append(item)
        elif item.due <= today_end + timedelta(days=SOON_DAYS):
            lists["soon"].append(item)
    for items in lists.values():
        items.sort(key=lambda i: i.due)
    return lists


def hand_back(ctx: AgentContext, ref: str, *, receiver_name: str, relation: str, receiver_id: str,
              signature: bytes | None, officer: str, at: datetime | None = None) -> Any:
    """Hand the result back at the counter: check the receiver's ID, sign the proof (status 10 at the hub)."""
    from agent.desk.courier import record_counter_return
    from agent.ops.audit import audit_event

    dossier = ctx.outbox.get(ref)
    record = get_intake(ctx, dossier.id)
    if record is None:
        raise InputError(f"Hồ sơ {dossier.code} không tiếp nhận tại quầy này.", f"Dossier {dossier.code} was not taken in here.")
    status = latest_status(ctx, dossier.id)
    if status == 10:
        raise InputError(f"Kết quả hồ sơ {dossier.code} đã trả rồi.", f"The result of {dossier.code} was already returned.")
    if status != 9:
        raise InputError(f"Hồ sơ {dossier.code} chưa có kết quả (trạng thái 9 Đã xử lý xong) để trả.",
                         f"Dossier {dossier.code} has no result yet (status 9 Decided) to hand back.")
    receiver_id = re.sub(r"\s", "", receiver_id)
    relation = " ".join(relation.split())
    errors: dict[str, tuple[str, str]] = {}
    if relation in SELF:
        if receiver_id != record.applicant.get("citizen_id"):
            errors["receiver_id"] = ("Số định danh không khớp với người nộp hồ sơ.",
                                     "The ID number does not match the applicant's.")
    else:
        problem = check_citizen_id(receiver_id)
        if problem:
            errors["receiver_id"] = problem
        if not 2 <= len(relation) <= 50:
            errors["relation"] = ("Ghi quan hệ với người nộp (ví dụ: Người được uỷ quyền).",
                                  "Give the relation to the applicant (e.g. authorised person).")
    if not 2 <= len(" ".join(receiver_name.split())) <= 100:
        errors["receiver_name"] = ("Nhập họ tên người nhận kết quả.", "Enter the receiver's full name.")
    if not signature:
        errors["signature"] = ("Người nhận cần ký trên màn hình.", "The receiver must sign on the screen.")
    if errors:
        from agent.desk.intake import IntakeInvalid

        raise IntakeInvalid(errors)
    envelope = record_counter_return(ctx, dossier.id, dossier.code, recipient_name=receiver_name, relation=relation,
                                     id_last_digits=receiver_id[-4:], signature=signature, officer=officer, at=at)
    audit_event(ctx, "result.returned_at_counter", dossier.id, code=dossier.code)
    return envelope
