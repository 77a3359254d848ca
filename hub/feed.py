"""The hub's status feed: the provincial case system posts status changes, desks pull them.

* `create_api_token(state, name)` — the hub admin makes a bearer token for the
  case system (`motcua hub status-token --name case-system`); only its sha256
  is stored. `api_token` authenticates a request with it. Tokens made with `--agency` are
  scoped: they see and update only dossiers of those agencies (hub.case_system).
* `post_status(state, source, body)` — record one status change of a committed
  dossier as an event with the next cursor and update the dossier's current
  status, in one transaction. An `event_id` from the caller makes the post
  idempotent: the same id again returns the same event (200, not 201).
* `post_failed_attempt(state, source, proof)` — a courier's failed attempt (from
  hub.delivery_proofs) as a `delivery_failed` event: same cursor, same idempotency by event id,
  the dossier's status unchanged.
* `feed_page(state, agency_code, after, limit, kinds)` — events of one agency's dossiers
  with a cursor greater than `after`, oldest first (sync_protocol.feed format).
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from typing import Any

from sync_protocol.delivery_proof import FAILURE_REASONS
from sync_protocol.errors import InvalidDocument
from sync_protocol.feed import (DELIVERY_FAILED, EVENT_KINDS, FEED_PAGE_MAX, MAX_NOTE, StatusEvent, check_attempt,
                                status_code)
from sync_protocol.timestamps import format_utc, is_timestamp

from .errors import BadRequest, Conflict, HubError, NotFound, TokenRequired
from .state import HubState
from .storage.metadata import IntegrityError, Tx

log = logging.getLogger("motcua.hub.feed")
TOKEN_PREFIX = "mcs_"
_AGENCY = re.compile(r"^[0-9A-Z.]{1,35}$")
MAX_CURSOR = 2**63 - 1  # BIGINT


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(state: HubState, name: str, agencies: list[str] | None = None) -> str:
    """A new bearer token for an integration (e.g. the provincial case system); shown once.

    `agencies`: the agency codes whose dossiers the token may read and post statuses for
    (hub.case_system); a token without agencies may only post statuses, to any dossier (as before)."""
    name = name.strip()
    if not name or len(name) > 80:
        raise BadRequest("token name must be 1..80 characters", "Tên mã truy cập phải dài 1..80 ký tự")
    scope = check_agencies(agencies) if agencies else None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        state.db.execute("INSERT INTO api_tokens(token_hash, name, created_at, agencies) VALUES (?,?,?,?)",
                         (_hash(token), name, state.now(), json.dumps(scope) if scope else None))
    except IntegrityError as exc:
        raise Conflict(f"an API token named {name!r} already exists; revoke it first or pick another name",
                       f"Đã có mã truy cập tên {name!r}; thu hồi trước hoặc chọn tên khác") from exc
    log.info("api_token_created name=%s", name)
    return token


def revoke_api_token(state: HubState, name: str) -> bool:
    return state.db.execute("UPDATE api_tokens SET revoked_at=? WHERE name=? AND revoked_at IS NULL",
                            (state.now(), name)) == 1


def check_agencies(agencies: list[str]) -> list[str]:
    """Agency codes as Decision 20/2020 spells them (digits, A-Z, dots; up to 35), sorted and unique."""
    clean = sorted({a.strip() for a in agencies})
    for code in clean:
        if not _AGENCY.match(code):
            raise BadRequest(f"agency code {code!r} is not valid (digits, A-Z and dots, e.g. 000.00.01.H29)",
                             f"Mã cơ quan {code!r} không hợp lệ (chữ số, A-Z, dấu chấm, vd. 000.00.01.H29)")
    return clean


def api_token(state: HubState, authorization: str | None) -> dict[str, Any]:
    """The token's row {name, agencies (list or None), last_pull_at}, or raise TokenRequired (401, a Bearer challenge)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRequired("Authorization: Bearer <API token> is required (motcua hub status-token)",
                           "Cần tiêu đề Authorization: Bearer <mã truy cập> (motcua hub status-token)",
                           code="api_token_missing")
    row = state.db.one("SELECT name, revoked_at, agencies, last_pull_at FROM api_tokens WHERE token_hash=?",
                       (_hash(token.strip()),))
    if row is None or row["revoked_at"] is not None:
        raise TokenRequired("unknown or revoked API token", "Mã truy cập không đúng hoặc đã bị thu hồi",
                           code="api_token_invalid")
    row["agencies"] = json.loads(row["agencies"]) if row["agencies"] else None
    return row


def event_json(row: dict[str, Any]) -> dict[str, Any]:
    """A status_events row as the feed format (sync_protocol.feed.StatusEvent)."""
    return StatusEvent(int(row["cursor"]), row["dossier_id"], row["dossier_code"], int(row["status"]), row["at"],
                       row["note"], bool(row["result_ready"]),
                       json.loads(row["attempt"]) if row.get("attempt") else None).to_dict()


def _validate(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object", "Nội dung phải là đối tượng JSON")
    known = {"dossier_id", "dossier_code", "status", "at", "note", "result_ready_for_delivery", "event_id"}
    extra = set(body) - known
    if extra:
        raise BadRequest(f"unknown field(s) {sorted(extra)}; allowed: {sorted(known)}",
                         f"Trường không hợp lệ {sorted(extra)}")
    if not body.get("dossier_id") and not body.get("dossier_code"):
        raise BadRequest("dossier_id or dossier_code is required", "Cần dossier_id hoặc dossier_code")
    try:
        code = status_code(body.get("status"))
    except InvalidDocument as exc:
        raise BadRequest(str(exc), f"Mã trạng thái không hợp lệ (1..10): {body.get('status')!r}",
                         code="invalid_status") from exc
    at = body.get("at") or format_utc()
    if not is_timestamp(at):  # a real moment: "2026-13-45T99:00:00Z" is refused before anything is stored
        raise BadRequest("at: must be a real moment as YYYY-MM-DDTHH:MM:SSZ (UTC)",
                         "Thời điểm phải là thời điểm có thật, dạng YYYY-MM-DDTHH:MM:SSZ", code="invalid_timestamp")
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise BadRequest(f"note: at most {MAX_NOTE} characters", f"Ghi chú tối đa {MAX_NOTE} ký tự")
    ready = body.get("result_ready_for_delivery", code == 9)
    if not isinstance(ready, bool):
        raise BadRequest("result_ready_for_delivery: must be true or false", "result_ready_for_delivery phải là true/false")
    event_id = body.get("event_id")
    if event_id is not None and (not isinstance(event_id, str) or not 0 < len(event_id) <= 100):
        raise BadRequest("event_id: a string of 1..100 characters", "event_id phải là chuỗi 1..100 ký tự")
    return {"status": code, "at": at, "note": note, "ready": ready, "event_id": event_id,
            "dossier_id": body.get("dossier_id"), "dossier_code": body.get("dossier_code")}


def _dossier(tx: Tx, wanted: dict[str, Any], agencies: list[str] | None) -> dict[str, Any]:
    key = "dossier_id" if wanted["dossier_id"] else "dossier_code"
    row = tx.one(f"SELECT d.dossier_id, d.dossier_code, d.site, d.status, v.agency_code FROM dossiers d"
                 f" JOIN devices v ON v.device_id = d.device_id WHERE d.{key}=?"
                 " ORDER BY d.dossier_version DESC LIMIT 1", (str(wanted[key]),))
    if row is None or (agencies is not None and row["agency_code"] not in agencies):  # another agency's: unknown
        raise NotFound("no committed dossier with that id/code at this hub",
                       "Trung tâm chưa nhận hồ sơ có mã này", code="dossier_unknown")
    return row


def post_status(state: HubState, source: str, body: Any,
                agencies: list[str] | None = None) -> tuple[dict[str, Any], bool]:
    """Record a status change; return (event, created?). With `agencies`, only for dossiers of those agencies."""
    return _append(state, source, _validate(body), agencies, None)


def post_failed_attempt(state: HubState, source: str, proof: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Put a courier's verified failed-attempt proof on the feed as a delivery_failed event (the dossier's
    status is unchanged); idempotent by the proof's record id. The caller checked the dossier's agency."""
    attempt = check_attempt({"record_id": proof["record_id"], "reason": proof["reason"],
                             "note": proof.get("note", ""), "next_attempt": proof.get("next_attempt"),
                             "attempt": proof.get("attempt", 1)})
    label = FAILURE_REASONS[attempt["reason"]]
    wanted = {"dossier_id": proof["dossier_id"], "dossier_code": None, "status": None, "at": proof["at"],
              "note": f"Giao không thành công: {label[0]} / delivery failed: {label[1]}", "ready": False,
              "event_id": proof["record_id"]}
    return _append(state, source, wanted, None, attempt)


def _append(state: HubState, source: str, wanted: dict[str, Any], agencies: list[str] | None,
            attempt: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
    """One event with the next cursor; a status change also sets the dossier's status, an attempt keeps it."""
    for _ in range(8):
        try:
            with state.db.transaction() as tx:
                if wanted["event_id"] is not None:
                    same = tx.one("SELECT * FROM status_events WHERE source=? AND event_key=?",
                                  (source, wanted["event_id"]))
                    if same is not None:
                        return event_json(same), False
                dossier = _dossier(tx, wanted, agencies)
                status = wanted["status"] if attempt is None else int(dossier["status"])
                cursor = tx.one("SELECT COALESCE(MAX(cursor), 0) + 1 AS next FROM status_events")["next"]
                tx.execute(
                    "INSERT INTO status_events(cursor, site, agency_code, dossier_id, dossier_code, status, at, note,"
                    " result_ready, source, event_key, created_at, attempt) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (cursor, dossier["site"], dossier["agency_code"], dossier["dossier_id"], dossier["dossier_code"],
                     status, wanted["at"], wanted["note"], int(wanted["ready"]), source, wanted["event_id"],
                     state.now(), None if attempt is None else json.dumps(attempt, ensure_ascii=False)))
                if attempt is None:
                    tx.execute("UPDATE dossiers SET status=? WHERE dossier_id=?", (status, dossier["dossier_id"]))
                row = tx.one("SELECT * FROM status_events WHERE cursor=?", (cursor,))
            break
        except IntegrityError:
            continue  # a concurrent post took the cursor (or the same event_id): look again
    else:
        raise HubError("status post kept conflicting with concurrent posts; retry", "Xung đột khi ghi trạng thái; thử lại",
                       code="busy")
    log.info("status_event cursor=%d dossier=%s status=%d kind=%s source=%s", cursor, dossier["dossier_id"], status,
             "status" if attempt is None else DELIVERY_FAILED, source)
    return event_json(row), True


def feed_page(state: HubState, agency_code: str, after: int, limit: int = 100,
              kinds: tuple[str, ...] = ()) -> dict[str, Any]:
    """Events of dossiers of `agency_code` with cursor > `after`, oldest first (never by site name:
    two sites of different agencies may share one). Events of other kinds than status changes only
    when the agent listed them in `kinds` (an older agent refuses fields it does not know)."""
    if not 0 <= after <= MAX_CURSOR or not 0 < limit <= FEED_PAGE_MAX:
        raise BadRequest(f"after must be 0..{MAX_CURSOR} and limit 1..{FEED_PAGE_MAX}",
                         f"after phải trong 0..{MAX_CURSOR}, limit trong 1..{FEED_PAGE_MAX}", code="bad_cursor")
    unknown = set(kinds) - set(EVENT_KINDS)
    if unknown:
        raise BadRequest(f"kinds: unknown {sorted(unknown)}; known: {list(EVENT_KINDS)}",
                         f"Loại sự kiện không hợp lệ: {sorted(unknown)}", code="bad_kinds")
    only_status = "" if DELIVERY_FAILED in kinds else " AND attempt IS NULL"
    rows = state.db.query(f"SELECT * FROM status_events WHERE agency_code=? AND cursor>?{only_status}"
                          " ORDER BY cursor LIMIT ?", (agency_code, after, limit + 1))
    more = len(rows) > limit
    events = [event_json(r) for r in rows[:limit]]
    return {"events": events, "next_after": events[-1]["cursor"] if events else after, "more": more}


def events_for_device(state: HubState, device_id: str, after: int = 0) -> list[dict[str, Any]]:
    """Every event of the device's agency after `after` (for receipts bundles carried by hand)."""
    device = state.db.one("SELECT agency_code FROM devices WHERE device_id=?", (device_id,))
    if device is None:
        return []
    return [event_json(r) for r in state.db.query(
        "SELECT * FROM status_events WHERE agency_code=? AND cursor>? ORDER BY cursor", (device["agency_code"], after))]
