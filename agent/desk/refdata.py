"""The province's reference data at this desk: apply a signed version, keep the previous one, audit due dates.

Delivery (agent.delivery.reference_data) fetches the version the feed announces
and hands the signed document here through its registry. `apply_refdata`:
  1. verifies the signature against the hub key pinned at enrolment
     (sync_protocol.refdata) and refuses anything older than what it holds;
  2. interprets every section (calendar, catalogue, templates, agencies) and
     refuses the whole version if one is wrong — nothing half-applied;
  3. writes `refdata/v<N>.json`, then switches `refdata/current.json` to it
     (temp file + fsync + rename: a crash leaves the old or the new version),
     keeping the previous version's file for `motcua refdata rollback`-style
     inspection and deleting older ones;
  4. recomputes the base due date of every open dossier under the new calendar;
     each one that changes is updated together with the calendar version that
     computed it, and recorded in the audit log (`due_date.recomputed`, shown on
     the dossier). A due date whose value stays keeps the version that made it.
With no network the desk keeps working with the version it has.
"""
from __future__ import annotations

import json
import logging
from datetime import date, datetime
from pathlib import Path
from typing import Any

from agent.desk.refdata_store import (
    POINTER,
    agency_name,
    current_file,
    current_version,
    previous_version,
    read_document,
    refdata_dir,
    status,
)
from agent.errors import InputError
from agent.ops.audit import audit_event
from agent.outbox.ids import VIETNAM, utc_timestamp
from sync_protocol.canonical import canonical_json
from sync_protocol.castore import write_file_atomic
from sync_protocol.errors import InvalidDocument, SignatureInvalid
from sync_protocol.reference_tables import template_problem
from sync_protocol.refdata import verify_refdata
from sync_protocol.signed_document import Envelope
from sync_protocol.timestamps import parse_utc

__all__ = ["RefdataRefused", "agency_name", "apply_refdata", "calendar_warnings", "current_file", "current_version",
           "doctor_check", "due_date_history", "previous_version", "read_document", "recompute_due_dates", "status"]
log = logging.getLogger("motcua.agent.refdata")


class RefdataRefused(InputError):
    """A published version this desk will not apply; the version it holds stays in force."""


def _refuse(ctx: Any, version: Any, vi: str, en: str) -> RefdataRefused:
    audit_event(ctx, "refdata.refused", version=str(version)[:20])
    log.warning("refdata_refused version=%s reason=%s", version, en[:120])
    return RefdataRefused(f"Không áp dụng dữ liệu danh mục phiên bản {version}: {vi}",
                          f"Reference data version {version} refused: {en}",
                          "Đang dùng phiên bản cũ; báo quản trị viên tỉnh / the previous version stays; tell the "
                          "provincial administrator")


def _interpret(document: dict[str, Any]) -> Any:
    """Check that every section means something to this desk; return the new calendar."""
    from agent.desk.catalogue import Catalogue
    from agent.desk.holidays import HolidayCalendar

    version = document["version"]
    calendar = HolidayCalendar.from_dict(document["calendar"], f"refdata v{version}", version=f"refdata-{version}")
    Catalogue.from_dict(document["catalogue"], f"refdata v{version}")
    templates = document["templates"].get("templates")
    if not isinstance(templates, dict) or any(template_problem(v) for v in templates.values()):
        raise InputError("Mẫu tin nhắn không hợp lệ.", "templates.templates must map status codes to text with "
                         "known placeholders only.")
    agencies = document["agencies"]
    if not isinstance(agencies.get("agencies", {}), dict) or not isinstance(agencies.get("slip_header", {}), dict):
        raise InputError("Danh sách cơ quan không hợp lệ.", "agencies must hold agencies {code: name} and slip_header {}.")
    return calendar


def apply_refdata(ctx: Any, signed: bytes | str) -> dict[str, Any]:
    """Verify and apply one signed version (see the module docstring). Raises RefdataRefused."""
    from agent.desk.holidays import HolidayCalendar

    home = ctx.config.home
    try:
        envelope = Envelope.from_dict(json.loads(signed))
        document = verify_refdata(envelope, ctx.hub_key)
    except (ValueError, InvalidDocument, SignatureInvalid) as exc:
        raise _refuse(ctx, "unknown", "chữ ký hoặc định dạng không hợp lệ", f"signature or format invalid: {exc}") from exc
    version, held = document["version"], current_version(home)
    if version <= held:
        return {"applied": False, "version": held, "reason": f"version {version} is not newer than {held}"}
    try:
        calendar = _interpret(document)
    except InputError as exc:
        raise _refuse(ctx, version, exc.message_vi, exc.message_en) from exc
    old_calendar = HolidayCalendar.for_home(home)
    folder = refdata_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    write_file_atomic(folder / f"v{version}.json", canonical_json(envelope.to_dict()), mode=0o644)
    pointer = {"version": version, "previous": held or None, "applied_at": utc_timestamp(),
               "document_hash": envelope.document_hash}
    write_file_atomic(folder / POINTER, json.dumps(pointer).encode("utf-8"), mode=0o644)
    for old in folder.glob("v*.json"):
        if old.stem[1:].isdigit() and int(old.stem[1:]) not in (version, held):
            old.unlink(missing_ok=True)
    audit_event(ctx, "refdata.applied", version=str(version), previous=str(held),
                document_hash=envelope.document_hash)
    log.info("refdata_applied version=%d previous=%d", version, held)
    changed = recompute_due_dates(ctx, calendar, reason=f"refdata-{version}", old_calendar=old_calendar)
    return {"applied": True, "version": version, "previous": held, "due_dates_changed": len(changed)}


def recompute_due_dates(ctx: Any, calendar: Any, *, reason: str, old_calendar: Any = None) -> list[dict[str, str]]:
    """Recompute the base due date of open dossiers under `calendar`; update and audit each that changes."""
    from agent.desk.due_dates import due_at

    conn = ctx.outbox.conn
    rows = conn.execute(
        "SELECT i.dossier_id, i.received_at, i.processing_days, i.due_at, i.calendar_version FROM intake i"
        " WHERE i.purged_at IS NULL AND NOT EXISTS (SELECT 1 FROM status_events s WHERE s.dossier_id=i.dossier_id"
        " AND s.status IN (3, 7, 8, 10))").fetchall()
    changes = []
    for dossier_id, received, days, old_due, old_version in rows:
        new_due = utc_timestamp(due_at(parse_utc(received), int(days), calendar))
        if new_due == old_due:
            continue  # same answer: the due date keeps the version that computed it
        with ctx.outbox.transaction() as tx:
            tx.execute("UPDATE intake SET due_at=?, calendar_version=? WHERE dossier_id=?",
                       (new_due, calendar.version, dossier_id))
            tx.execute("UPDATE dossiers SET due_at=? WHERE id=? AND due_at IS NOT NULL", (new_due, dossier_id))
        change = {"old_due": old_due, "new_due": new_due, "old_version": str(old_version or "shipped"),
                  "new_version": calendar.version}
        audit_event(ctx, "due_date.recomputed", dossier_id, reason=reason, **change)
        log.info("due_date_recomputed dossier=%s", dossier_id)
        changes.append({"dossier_id": dossier_id, **change})
    return changes


def due_date_history(ctx: Any, dossier_id: str) -> list[dict[str, Any]]:
    """The audited recomputations of one dossier's due date, oldest first (for the dossier page)."""
    from agent.ops.audit import AuditLog

    log_file = AuditLog(ctx.config.home / "audit.db")
    try:
        entries = [e for e in log_file.entries(dossier_id) if e["action"] == "due_date.recomputed"]
    finally:
        log_file.close()
    return [{"at": datetime.fromtimestamp(e["at"]).astimezone(), "actor": e["actor"], **e["detail"]} for e in entries]


def calendar_warnings(home: Path | str | None, today: date | None = None) -> list[tuple[str, str]]:
    """(Vietnamese, English) warnings about the calendar in force, for doctor and the dashboard."""
    from agent.desk.holidays import HolidayCalendar

    return HolidayCalendar.for_home(home).warnings(today or datetime.now(VIETNAM).date())


def doctor_check(ctx: Any, _hub: Any) -> Any:
    """`motcua doctor`: warn when the calendar lacks the current or next year or has unverified days off."""
    from agent.ops.doctor import OK, WARN, Check

    version = current_version(ctx.config.home)
    where_vi = f"phiên bản {version} do tỉnh công bố" if version else "bảng kèm theo phần mềm (tỉnh chưa công bố)"
    where_en = f"version {version} published by the province" if version else "the shipped table (nothing published yet)"
    found = calendar_warnings(ctx.config.home)
    if not found:
        return Check("calendar", OK, f"Lịch ngày nghỉ đầy đủ và đã xác nhận ({where_vi}).",
                     f"The holiday calendar is complete and verified ({where_en}).")
    return Check("calendar", WARN, " ".join(vi for vi, _ in found) + f" ({where_vi})",
                 " ".join(en for _, en in found) + f" ({where_en})",
                 "Hạn trả tính qua các ngày này ghi \"lịch chưa xác nhận\"; đề nghị tỉnh công bố lịch đã xác nhận"
                 " (motcua hub refdata publish) / due dates across them are marked unconfirmed; ask the province to "
                 "publish a verified calendar")
