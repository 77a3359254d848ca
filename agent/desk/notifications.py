"""Citizen notifications and courier work derived from hub status events.

The desk's status-event handler (agent.desk.workflows.on_status_event, subscribed to
agent.delivery.status_events) calls `queue_notification` once per new event.
Status event format (hub -> agent):

    {"cursor": 17, "dossier_id": "<uuid>", "dossier_code": "000.00.01.H29-261127-0001",
     "status": 9, "status_name": "decided", "at": "2026-11-27T08:00:00Z",
     "note": "<short text, no personal data>", "result_ready_for_delivery": true}

`status` uses the national portal codes 1..10 (see DESIGN.md).

For each new event a notification record (Vietnamese text, plus an unaccented
SMS form) is queued in the notification outbox — or, when the applicant left
no phone, recorded as `no_contact` so the dashboard shows someone must tell
the citizen by hand.

`send_pending(ctx, sender)` hands queued notifications to a pluggable sender —
`GammuSender` (an SMS through a USB GSM modem), `WebhookSender`
(HTTP POST of JSON to a gateway) or `FileSender` (one JSON file per message for a
gateway to pick up). The state says what really happened:
queued → `handed` (a gateway took it, its answer kept) → `delivered` / `failed`
(the gateway's delivery report, `record_delivery_report`); a message only put in a
folder is `written`, never "sent". A failed hand-over stays queued with its error
and is retried; after MAX_ATTEMPTS it shows as `failed`.

The SMS text never cuts the dossier code or the due date: when a message is too long
for one SMS, the procedure name is shortened, then the hub's note; notes end with a full stop.
"""
from __future__ import annotations

import json
import logging
import unicodedata
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from agent.desk.due_dates import format_due
from agent.desk.refdata_store import agency_name, current_file, read_document
from agent.errors import InputError
from agent.desk.senders import FileSender, Sender, SendFailed, WebhookSender, sender_from_config  # noqa: F401 - re-exported
from agent.outbox.ids import utc_timestamp
from sync_protocol.timestamps import parse_utc as _parse_utc

log = logging.getLogger("motcua.agent.notifications")
TEMPLATES = Path(__file__).parent / "data" / "notification_templates.json"
MAX_ATTEMPTS = 10
STATES = ("queued", "handed", "written", "delivered", "failed", "no_contact")
SMS_LIMIT = 160


@lru_cache(maxsize=1)
def _shipped_templates() -> dict[str, Any]:
    return json.loads(TEMPLATES.read_text("utf-8"))


def templates(home: Path | str | None = None) -> dict[str, Any]:
    """The message templates the province published (agent.desk.refdata), else the shipped ones."""
    published = current_file(home)
    if published is not None:
        data = read_document(published)["templates"]
        return {"return_text": _shipped_templates()["return_text"], **data}
    return _shipped_templates()


def sms_text(text: str, limit: int = 160) -> str:
    """Unaccented form for plain SMS (GSM 7-bit): 'Hồ sơ đã có' -> 'Ho so da co'."""
    folded = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    ascii_text = "".join(c for c in folded if unicodedata.category(c) != "Mn")
    ascii_text = ascii_text.encode("ascii", "ignore").decode()
    return ascii_text if len(ascii_text) <= limit else ascii_text[: limit - 3].rstrip() + "..."


def check_event(event: Any) -> dict[str, Any]:
    """Refuse malformed events with a message naming the field (the feed should never send one)."""
    if not isinstance(event, dict):
        raise InputError("Sự kiện trạng thái không hợp lệ.", "Status event must be an object.")
    for key, kind in (("cursor", int), ("dossier_id", str), ("dossier_code", str), ("status", int), ("at", str)):
        if not isinstance(event.get(key), kind) or isinstance(event.get(key), bool):
            raise InputError(f"Sự kiện trạng thái thiếu/sai trường {key}.", f"Status event field {key} is missing or wrong.")
    if not 1 <= event["status"] <= 10:
        raise InputError("Mã trạng thái phải từ 1 đến 10.", f"Status {event['status']} is not 1..10.")
    try:
        _parse_utc(event["at"])
    except ValueError:
        raise InputError("Thời điểm sự kiện sai dạng.", f"Status event 'at' {event['at']!r} is not YYYY-MM-DDTHH:MM:SSZ.") from None
    return event


def _full_stop(note: str) -> str:
    note = " ".join(note.split())
    return note + "." if note and note[-1] not in ".!?…" else note


def _shorten(value: str, by: int) -> str:
    """`value` shorter by at least `by` characters, cut at a word with "..." (empty if nothing is left)."""
    keep = len(value) - by - 3
    if keep < 4:
        return ""
    return value[:keep].rsplit(" ", 1)[0].rstrip(" ,;:") + "..."


def render_text(event: dict[str, Any], intake: Any, agency: str, due: datetime | None,
                home: Path | str | None = None) -> str | None:
    """The Vietnamese message for this status, or None if this status is not notified.

    Fits one SMS (unaccented, SMS_LIMIT characters) by shortening the procedure name, then the
    note, then the agency — never the dossier code or the due date."""
    data = templates(home)
    template = data["templates"].get(str(event["status"]))
    if template is None:
        return None
    return_method = intake.return_method if intake else "counter"
    values = {
        "code": event["dossier_code"], "note": _full_stop(str(event.get("note") or "")), "agency": agency,
        "procedure": intake.data.get("procedure_name", intake.procedure_code) if intake else "",
        "due": format_due(due) if due else "",
    }

    def render() -> str:
        return_text = data["return_text"].get(return_method, "").format(agency=values["agency"])
        text = template.format(**values, return_text=return_text).replace(" ()", "")
        return " ".join(text.split())

    text = render()
    for key in ("procedure", "note", "agency"):
        over = len(sms_text(text, 10_000)) - SMS_LIMIT
        if over <= 0:
            break
        values[key] = _shorten(values[key], over)
        text = render()
    return text


def queue_notification(ctx: Any, conn: Any, event: dict[str, Any], intake: Any) -> None:
    """Inside the desk's status-event transaction: queue the citizen's message (or a visible no_contact)."""
    from agent.desk.intake import current_due
    due = current_due(ctx, intake, conn) if intake else None
    agency = agency_name(ctx.config.home, ctx.config.agency_code, ctx.config.site or "bộ phận một cửa")
    text = render_text(event, intake, agency, due, ctx.config.home)
    if text is None:
        return
    phone = (intake.applicant.get("phone") if intake else "") or ""
    state = "queued" if phone else "no_contact"
    conn.execute(
        "INSERT OR IGNORE INTO notifications(dossier_id, dossier_code, cursor, channel, recipient, text, state,"
        " attempts, created_at) VALUES (?,?,?,?,?,?,?,0,?)",
        (event["dossier_id"], event["dossier_code"], event["cursor"], "sms", phone, text, state, utc_timestamp()))


def send_pending(ctx: Any, sender: Sender | None = None, limit: int = 200) -> dict[str, int]:
    """Hand queued notifications to the sender, oldest first. Returns counts by outcome
    (handed to a gateway, written to a folder, failed)."""
    sender = sender or sender_from_config(ctx.config.home)
    outbox = ctx.outbox
    rows = outbox.conn.execute(
        "SELECT id, dossier_id, dossier_code, cursor, channel, recipient, text, created_at FROM notifications"
        " WHERE state='queued' ORDER BY id LIMIT ?", (limit,)).fetchall()
    counts = {"handed": 0, "written": 0, "failed": 0}
    for row in rows:
        message = {"id": row[0], "dossier_code": row[2], "channel": row[4], "to": row[5], "text": row[6],
                   "sms_text": sms_text(row[6]), "created_at": row[7], "agency": ctx.config.site}
        try:
            outcome, answer = sender.send(message)
        except SendFailed as exc:
            with outbox.transaction() as conn:
                conn.execute("UPDATE notifications SET attempts=attempts+1, last_error=?,"
                             " state=CASE WHEN attempts+1>=? THEN 'failed' ELSE 'queued' END WHERE id=?",
                             (str(exc)[:300], MAX_ATTEMPTS, row[0]))
            counts["failed"] += 1
            log.warning("notification_failed id=%d dossier=%s sender=%s error=%s", row[0], row[1], sender.name, exc)
            continue
        with outbox.transaction() as conn:
            conn.execute("UPDATE notifications SET state=?, attempts=attempts+1, sent_at=?, last_error=NULL,"
                         " gateway_answer=? WHERE id=?", (outcome, utc_timestamp(), answer[:300], row[0]))
        counts[outcome] += 1
        log.info("notification_%s id=%d dossier=%s sender=%s", outcome, row[0], row[1], sender.name)
    return counts


def record_delivery_report(ctx: Any, notification_id: int, delivered: bool, answer: str) -> None:
    """A gateway's delivery report for a handed-over message: `delivered` or `failed`, with its answer."""
    with ctx.outbox.transaction() as conn:
        changed = conn.execute("UPDATE notifications SET state=?, gateway_answer=? WHERE id=? AND state='handed'",
                               ("delivered" if delivered else "failed", answer[:300], notification_id)).rowcount
    if not changed:
        raise InputError(f"Tin nhắn {notification_id} chưa được chuyển cho cổng SMS nên không nhận báo cáo.",
                         f"Message {notification_id} was not handed to a gateway; no delivery report applies.")


def list_notifications(ctx: Any, states: tuple[str, ...] | None = None, dossier_id: str | None = None) -> list[dict[str, Any]]:
    query = ("SELECT id, dossier_id, dossier_code, cursor, channel, recipient, text, state, attempts, last_error,"
             " created_at, sent_at, gateway_answer FROM notifications WHERE 1=1")
    params: list[Any] = []
    if states:
        query += f" AND state IN ({','.join('?' * len(states))})"
        params += list(states)
    if dossier_id:
        query += " AND dossier_id=?"
        params.append(dossier_id)
    cols = ("id", "dossier_id", "dossier_code", "cursor", "channel", "recipient", "text", "state", "attempts",
            "last_error", "created_at", "sent_at", "gateway_answer")
    return [dict(zip(cols, r)) for r in ctx.outbox.conn.execute(query + " ORDER BY id DESC", params)]


def retry_failed(ctx: Any) -> int:
    """Put failed notifications back in the queue (the dashboard's retry)."""
    with ctx.outbox.transaction() as conn:
        return conn.execute("UPDATE notifications SET state='queued', attempts=0 WHERE state='failed'").rowcount


def status_events(ctx: Any, dossier_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Status events, newest first, each with the dossier's `return_method` from its intake (None if
    not taken in here), so "home delivery" is shown only when the result really goes home."""
    cols = ("cursor", "dossier_id", "dossier_code", "status", "status_name", "at", "note", "result_ready_for_delivery",
            "return_method")
    query = (f"SELECT {', '.join(cols[:-1])}, (SELECT i.return_method FROM intake i WHERE i.dossier_id ="
             " status_events.dossier_id) FROM status_events")
    params: tuple = ()
    if dossier_id:
        query += " WHERE dossier_id=?"
        params = (dossier_id,)
    return [dict(zip(cols, r)) for r in ctx.outbox.conn.execute(query + " ORDER BY cursor DESC LIMIT ?", (*params, limit))]
