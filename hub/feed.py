"""The hub's status feed: the provincial case system posts status changes, desks pull them.

* `create_api_token(state, name)` — the hub admin makes a bearer token for the
  case system (`motcua hub status-token --name case-system`); only its sha256
  is stored. `check_api_token` authenticates a request with it.
* `post_status(state, source, body)` — record one status change of a committed
  dossier as an event with the next cursor and update the dossier's current
  status, in one transaction. An `event_id` from the caller makes the post
  idempotent: the same id again returns the same event (200, not 201).
* `feed_page(state, site, after, limit)` — events of one site with a cursor
  greater than `after`, oldest first (sync_protocol.feed format).
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

from sync_protocol.errors import InvalidDocument
from sync_protocol.feed import FEED_PAGE_MAX, MAX_NOTE, StatusEvent, status_code
from sync_protocol.timestamps import format_utc

from .errors import BadRequest, Conflict, HubError, NotFound, TokenRequired
from .state import HubState
from .storage.metadata import IntegrityError, Tx

log = logging.getLogger("motcua.hub.feed")
TOKEN_PREFIX = "mcs_"
_TIMESTAMP_LEN = len("2026-01-01T00:00:00Z")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(state: HubState, name: str) -> str:
    """A new bearer token for an integration (e.g. the provincial case system); shown once."""
    name = name.strip()
    if not name or len(name) > 80:
        raise BadRequest("token name must be 1..80 characters", "Tên mã truy cập phải dài 1..80 ký tự")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        state.db.execute("INSERT INTO api_tokens(token_hash, name, created_at) VALUES (?,?,?)",
                         (_hash(token), name, state.now()))
    except IntegrityError as exc:
        raise Conflict(f"an API token named {name!r} already exists; revoke it first or pick another name",
                       f"Đã có mã truy cập tên {name!r}; thu hồi trước hoặc chọn tên khác") from exc
    log.info("api_token_created name=%s", name)
    return token


def revoke_api_token(state: HubState, name: str) -> bool:
    return state.db.execute("UPDATE api_tokens SET revoked_at=? WHERE name=? AND revoked_at IS NULL",
                            (state.now(), name)) == 1


def check_api_token(state: HubState, authorization: str | None) -> str:
    """Return the token's name, or raise TokenRequired (401, a Bearer challenge) with a reason."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRequired("Authorization: Bearer <API token> is required (motcua hub status-token)",
                           "Cần tiêu đề Authorization: Bearer <mã truy cập> (motcua hub status-token)",
                           code="api_token_missing")
    row = state.db.one("SELECT name, revoked_at FROM api_tokens WHERE token_hash=?", (_hash(token.strip()),))
    if row is None or row["revoked_at"] is not None:
        raise TokenRequired("unknown or revoked API token", "Mã truy cập không đúng hoặc đã bị thu hồi",
                           code="api_token_invalid")
    return row["name"]


def _event(row: dict[str, Any]) -> dict[str, Any]:
    return StatusEvent(int(row["cursor"]), row["dossier_id"], row["dossier_code"], int(row["status"]), row["at"],
                       row["note"], bool(row["result_ready"])).to_dict()


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
    if not isinstance(at, str) or len(at) != _TIMESTAMP_LEN or not at.endswith("Z") or at[10] != "T":
        raise BadRequest("at: must be YYYY-MM-DDTHH:MM:SSZ (UTC)", "Thời điểm phải có dạng YYYY-MM-DDTHH:MM:SSZ")
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


def _dossier(tx: Tx, wanted: dict[str, Any]) -> dict[str, Any]:
    if wanted["dossier_id"]:
        row = tx.one("SELECT dossier_id, dossier_code, site FROM dossiers WHERE dossier_id=?"
                     " ORDER BY dossier_version DESC LIMIT 1", (str(wanted["dossier_id"]),))
    else:
        row = tx.one("SELECT dossier_id, dossier_code, site FROM dossiers WHERE dossier_code=?"
                     " ORDER BY dossier_version DESC LIMIT 1", (str(wanted["dossier_code"]),))
    if row is None:
        raise NotFound("no committed dossier with that id/code at this hub",
                       "Trung tâm chưa nhận hồ sơ có mã này", code="dossier_unknown")
    return row


def post_status(state: HubState, source: str, body: Any) -> tuple[dict[str, Any], bool]:
    """Record a status change; return (event, created?)."""
    wanted = _validate(body)
    for _ in range(8):
        try:
            with state.db.transaction() as tx:
                if wanted["event_id"] is not None:
                    same = tx.one("SELECT * FROM status_events WHERE source=? AND event_key=?",
                                  (source, wanted["event_id"]))
                    if same is not None:
                        return _event(same), False
                dossier = _dossier(tx, wanted)
                cursor = tx.one("SELECT COALESCE(MAX(cursor), 0) + 1 AS next FROM status_events")["next"]
                tx.execute(
                    "INSERT INTO status_events(cursor, site, dossier_id, dossier_code, status, at, note, result_ready,"
                    " source, event_key, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (cursor, dossier["site"], dossier["dossier_id"], dossier["dossier_code"], wanted["status"],
                     wanted["at"], wanted["note"], int(wanted["ready"]), source, wanted["event_id"], state.now()))
                tx.execute("UPDATE dossiers SET status=? WHERE dossier_id=?", (wanted["status"], dossier["dossier_id"]))
                row = tx.one("SELECT * FROM status_events WHERE cursor=?", (cursor,))
            break
        except IntegrityError:
            continue  # a concurrent post took the cursor (or the same event_id): look again
    else:
        raise HubError("status post kept conflicting with concurrent posts; retry", "Xung đột khi ghi trạng thái; thử lại",
                       code="busy")
    log.info("status_event cursor=%d dossier=%s status=%d source=%s", cursor, dossier["dossier_id"],
             wanted["status"], source)
    return _event(row), True


def feed_page(state: HubState, site: str, after: int, limit: int = 100) -> dict[str, Any]:
    """Events of `site` with cursor > `after`, oldest first."""
    if after < 0 or not 0 < limit <= FEED_PAGE_MAX:
        raise BadRequest(f"after must be >= 0 and limit 1..{FEED_PAGE_MAX}", f"after >= 0, limit 1..{FEED_PAGE_MAX}")
    rows = state.db.query("SELECT * FROM status_events WHERE site=? AND cursor>? ORDER BY cursor LIMIT ?",
                          (site, after, limit + 1))
    more = len(rows) > limit
    events = [_event(r) for r in rows[:limit]]
    return {"events": events, "next_after": events[-1]["cursor"] if events else after, "more": more}


def events_for_device(state: HubState, device_id: str, after: int = 0) -> list[dict[str, Any]]:
    """Every event of the device's site after `after` (for receipts bundles carried by hand)."""
    device = state.db.one("SELECT site FROM devices WHERE device_id=?", (device_id,))
    if device is None:
        return []
    return [_event(r) for r in state.db.query("SELECT * FROM status_events WHERE site=? AND cursor>? ORDER BY cursor",
                                              (device["site"], after))]
