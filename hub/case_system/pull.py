"""Pull: committed dossiers in commit order, per case system, with acknowledgements.

A page is `{"dossiers": [...], "next_after": "<cursor>", "more": bool}`. The
cursor is the hub sequence number of a dossier version as a decimal string: the
hub allocates it inside the serialised commit transaction, so a dossier with a
higher cursor was always committed later, and a client that asks again "after"
the last cursor it stored sees every dossier exactly once, in commit order.
Acknowledgements are per token (`case_acks`); `unacked=True` lists only what
this case system has not yet acknowledged, from the start. Every dossier
returned is audited under the client's actor.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from sync_protocol.feed import STATUS_NAMES
from sync_protocol.manifest import CHANNELS

from .. import audit
from ..errors import BadRequest, Conflict, NotFound
from ..state import HubState
from ..storage.metadata import IntegrityError, read_in_sequence_order
from .access import CaseSystem, note_pull

log = logging.getLogger("motcua.hub.case_system.pull")
PAGE_MAX = 200
INTAKE_NAME = "intake.json"
DOCUMENT_PATH = "/v1/case-system/documents/"
_CURSOR_DIGITS = 18


def parse_cursor(after: str | None) -> int:
    """`after` as sent by a client: empty/None = from the start; else a cursor this API returned."""
    if after is None or after == "":
        return 0
    if not after.isdigit() or len(after) > _CURSOR_DIGITS:
        raise BadRequest(f"after: {after[:40]!r} is not a cursor (use next_after of the previous page, or omit it)",
                         "Tham số after không phải con trỏ hợp lệ (dùng next_after của trang trước, hoặc bỏ trống)",
                         code="invalid_cursor")
    return int(after)


def check_limit(limit: int) -> int:
    if not 0 < limit <= PAGE_MAX:
        raise BadRequest(f"limit: must be 1..{PAGE_MAX} (got {limit})", f"limit phải từ 1 đến {PAGE_MAX}",
                         code="invalid_limit")
    return limit


def _intake(state: HubState, documents: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The applicant's intake form (decrypted and verified at commit), or None if the desk sent none."""
    item = next((d for d in documents if d["name"] == INTAKE_NAME and d["media_type"] == "application/json"), None)
    if item is None:
        return None
    try:
        with state.objects.open(item["plain_sha256"]) as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        log.error("intake_unreadable object=%s type=%s", item["plain_sha256"][:12], type(exc).__name__)
        return None
    return data if isinstance(data, dict) else None


def dossier_entry(state: HubState, row: dict[str, Any], documents: list[dict[str, Any]]) -> dict[str, Any]:
    """One dossier version in motcua's own JSON (the pull API's item)."""
    manifest = json.loads(row["signed_manifest"])
    document = manifest.get("document", {})
    intake = _intake(state, documents)
    name, name_vi = STATUS_NAMES.get(int(row["status"]), ("unknown", "không rõ"))
    return {
        "cursor": str(row["hub_sequence"]), "dossier_id": row["dossier_id"], "dossier_version": row["dossier_version"],
        "dossier_code": row["dossier_code"], "agency_code": row["agency_code"], "site": row["site"],
        "procedure_code": row["procedure_code"], "procedure_name": (intake or {}).get("procedure_name"),
        "channel": row["channel"], "channel_code": CHANNELS.get(row["channel"]),
        "status": int(row["status"]), "status_name": name, "status_name_vi": name_vi,
        "received_at": document.get("received_at"), "due_at": (intake or {}).get("due_at"),
        "committed_at": row["received_at"], "applicant": (intake or {}).get("applicant"), "intake": intake,
        "documents": [{"name": d["name"], "media_type": d["media_type"], "size": d["plain_size"],
                       "sha256": d["plain_sha256"], "url": DOCUMENT_PATH + d["plain_sha256"]} for d in documents],
        "manifest": manifest, "receipt": json.loads(row["receipt"]), "acked": row["acked_at"] is not None,
    }


def documents_of(state: HubState, rows: list[dict[str, Any]]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    if not rows:
        return {}
    ids = sorted({r["dossier_id"] for r in rows})
    found = state.db.query(f"SELECT * FROM dossier_documents WHERE dossier_id IN ({','.join('?' * len(ids))})"
                           " ORDER BY dossier_id, dossier_version, position", ids)
    by_key: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for doc in found:
        by_key.setdefault((doc["dossier_id"], int(doc["dossier_version"])), []).append(doc)
    return by_key


def dossiers_page(state: HubState, client: CaseSystem, after: str | None, limit: int,
                  unacked: bool = False) -> dict[str, Any]:
    """The next page of dossiers for `client` after cursor `after`, in commit order; audited."""
    position, limit = parse_cursor(after), check_limit(limit)
    scope, params = client.agency_sql("v.agency_code")
    rows = read_in_sequence_order(  # never past a lower number that is still committing
        state.db,
        "SELECT d.*, v.agency_code, a.acked_at FROM dossiers d JOIN devices v ON v.device_id = d.device_id"
        " LEFT JOIN case_acks a ON a.token_name = ? AND a.dossier_id = d.dossier_id"
        " AND a.dossier_version = d.dossier_version"
        f" WHERE d.hub_sequence > ? AND {scope}" + (" AND a.acked_at IS NULL" if unacked else "") +
        " ORDER BY d.hub_sequence LIMIT ?", (client.name, position, *params, limit + 1))
    more, rows = len(rows) > limit, rows[:limit]
    documents = documents_of(state, rows)
    entries = [dossier_entry(state, r, documents.get((r["dossier_id"], int(r["dossier_version"])), [])) for r in rows]
    _audit_reads(state, client, "case_system.read", [(e["dossier_id"], {"version": e["dossier_version"],
                                                                         "cursor": e["cursor"]}) for e in entries])
    note_pull(state, client)
    log.info("case_system_pull client=%s after=%d count=%d more=%s", client.name, position, len(entries), more)
    return {"dossiers": entries, "next_after": entries[-1]["cursor"] if entries else str(position), "more": more}


def _audit_reads(state: HubState, client: CaseSystem, action: str, items: list[tuple[str, dict[str, Any]]]) -> None:
    """One audit entry per dossier, all in one transaction (a page of reads is one event to the disk)."""
    if not items:
        return
    for _ in range(8):
        try:
            with state.db.transaction() as tx:
                for dossier_id, detail in items:
                    audit.record(tx, state.now(), client.actor, action, dossier_id, **detail)
            return
        except IntegrityError:
            continue  # another writer took the next audit sequence number: write the page again
    raise Conflict("the audit log is busy; nothing was returned, retry", "Nhật ký kiểm toán đang bận; thử lại",
                     code="busy")


def scoped_dossier(state: HubState, client: CaseSystem, dossier_id: str, version: int | None) -> dict[str, Any]:
    """The dossier version (latest if None) if it belongs to one of the client's agencies, else 404."""
    scope, params = client.agency_sql("v.agency_code")
    sql = ("SELECT d.dossier_id, d.dossier_version, d.dossier_code FROM dossiers d"
           f" JOIN devices v ON v.device_id = d.device_id WHERE d.dossier_id = ? AND {scope}")
    values: tuple[Any, ...] = (dossier_id, *params)
    if version is not None:
        sql, values = sql + " AND d.dossier_version = ?", values + (version,)
    row = state.db.one(sql + " ORDER BY d.dossier_version DESC LIMIT 1", values)
    if row is None:
        raise NotFound("no committed dossier with that id (and version) for this token's agencies",
                       "Không có hồ sơ (phiên bản) này thuộc cơ quan của mã truy cập", code="dossier_unknown")
    return row


def ack(state: HubState, client: CaseSystem, dossier_id: str, version: int | None = None) -> tuple[dict[str, Any], bool]:
    """Record that `client` holds the dossier version; idempotent. Returns ({…}, newly acked?)."""
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise BadRequest("version: a positive integer", "version phải là số nguyên dương", code="invalid_version")
    row = scoped_dossier(state, client, dossier_id, version)
    for _ in range(8):
        try:
            with state.db.transaction() as tx:
                created = tx.execute("INSERT INTO case_acks(token_name, dossier_id, dossier_version, acked_at)"
                                     " VALUES (?,?,?,?) ON CONFLICT DO NOTHING",
                                     (client.name, row["dossier_id"], row["dossier_version"], state.now())) == 1
                if created:
                    audit.record(tx, state.now(), client.actor, "case_system.acked", row["dossier_id"],
                                 version=row["dossier_version"])
                stored = tx.one("SELECT acked_at FROM case_acks WHERE token_name=? AND dossier_id=?"
                                " AND dossier_version=?", (client.name, row["dossier_id"], row["dossier_version"]))
            break
        except IntegrityError:
            continue
    else:
        raise Conflict("the audit log is busy; retry the acknowledgement", "Nhật ký kiểm toán đang bận; thử lại",
                         code="busy")
    return {"dossier_id": row["dossier_id"], "dossier_version": row["dossier_version"],
            "dossier_code": row["dossier_code"], "acked_at": stored["acked_at"]}, created  # type: ignore[index]


def acknowledged_at(state: HubState, dossier_ids: list[str]) -> dict[str, int]:
    """dossier id -> when a case system first acknowledged it (any version, any token); for the staff console."""
    found: dict[str, int] = {}
    for start in range(0, len(dossier_ids), 500):
        chunk = dossier_ids[start:start + 500]
        for row in state.db.query(f"SELECT dossier_id, MIN(acked_at) AS at FROM case_acks WHERE dossier_id IN"
                                  f" ({','.join('?' * len(chunk))}) GROUP BY dossier_id", chunk):
            found[row["dossier_id"]] = int(row["at"])
    return found


def lagging_case_systems(state: HubState, days: float = 2.0, now: int | None = None) -> list[dict[str, Any]]:
    """Scoped tokens that have not pulled for `days` while dossiers of their agencies wait unacknowledged."""
    now = now if now is not None else state.now()
    cutoff = now - int(days * 86400)
    result = []
    for token in state.db.query("SELECT name, agencies, created_at, last_pull_at FROM api_tokens"
                                " WHERE revoked_at IS NULL AND agencies IS NOT NULL ORDER BY name"):
        last = token["last_pull_at"] or token["created_at"]
        if last >= cutoff:
            continue
        client = CaseSystem(token["name"], tuple(json.loads(token["agencies"])))
        scope, params = client.agency_sql("v.agency_code")
        waiting = state.db.one(
            "SELECT COUNT(*) AS n, MIN(d.received_at) AS oldest FROM dossiers d"
            " JOIN devices v ON v.device_id = d.device_id LEFT JOIN case_acks a ON a.token_name = ?"
            " AND a.dossier_id = d.dossier_id AND a.dossier_version = d.dossier_version"
            f" WHERE a.acked_at IS NULL AND {scope}", (client.name, *params))
        if waiting and waiting["n"]:
            result.append({"kind": "case_system", "case_system": client.name, "agencies": list(client.agencies),
                           "last_pull_at": token["last_pull_at"], "silent_seconds": now - last,
                           "unacked": int(waiting["n"]), "oldest_unacked_committed_at": waiting["oldest"]})
    return sorted(result, key=lambda r: -r["silent_seconds"])


def format_lagging(rows: list[dict[str, Any]]) -> str:
    """Lines for `motcua hub lagging` (Vietnamese first)."""
    return "\n".join(
        f"Hệ thống một cửa / case system {r['case_system']}: không lấy hồ sơ {r['silent_seconds'] / 86400:.1f} "
        f"ngày/days not pulling, {r['unacked']} hồ sơ chưa xác nhận / unacknowledged "
        f"(cũ nhất / oldest {r['oldest_unacked_committed_at']})" for r in rows)
