"""What the console shows, read from the hub database: dossier search and detail (with the
receipt checked against the hub key), devices, refused commits.

Pure reads with plain dict rows; the routes render them and audit the access.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sync_protocol.errors import InvalidDocument, SignatureInvalid
from sync_protocol.feed import STATUS_NAMES
from sync_protocol.receipt import verify_receipt
from sync_protocol.signed_document import Envelope

from ..errors import BadRequest
from ..state import HubState

PAGE_SIZE = 50
_PROCEDURE = re.compile(r"^[0-9.]{1,20}$")


@dataclass(frozen=True)
class DossierFilter:
    """Search fields of the incoming-dossiers page; empty strings mean "any"."""
    code: str = ""
    procedure: str = ""
    site: str = ""
    date_from: str = ""
    date_to: str = ""
    status: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, params: Any) -> "DossierFilter":
        """Validate query parameters; raise BadRequest naming the field that is wrong."""
        values = {k: str(params.get(k) or "").strip()[:120] for k in ("code", "procedure", "site", "date_from",
                                                                       "date_to", "status")}
        for field in ("date_from", "date_to"):
            if values[field]:
                try:
                    date.fromisoformat(values[field])
                except ValueError as exc:
                    raise BadRequest(f"{field}: {values[field]!r} is not a date (YYYY-MM-DD)",
                                     f"{field}: {values[field]!r} không phải ngày (YYYY-MM-DD)") from exc
        if values["status"] and not (values["status"].isdigit() and int(values["status"]) in STATUS_NAMES):
            raise BadRequest("status must be a code from 1 to 10", "Trạng thái phải là mã từ 1 đến 10")
        if values["procedure"] and not _PROCEDURE.match(values["procedure"]):
            raise BadRequest("procedure: digits and dots, e.g. 1.001193", "Thủ tục: chữ số và dấu chấm, ví dụ 1.001193")
        page = str(params.get("page") or "1")
        return cls(**values, page=max(1, int(page)) if page.isdigit() and len(page) < 7 else 1)

    def is_empty(self) -> bool:
        return not any((self.code, self.procedure, self.site, self.date_from, self.date_to, self.status))


def search_dossiers(state: HubState, f: DossierFilter) -> tuple[list[dict[str, Any]], bool]:
    """Latest version of each matching dossier, newest commit first; returns (rows, more?)."""
    where, params = ["d.dossier_version = (SELECT MAX(v.dossier_version) FROM dossiers v WHERE v.dossier_id=d.dossier_id)"], []
    if f.code:
        where.append("d.dossier_code LIKE ?")
        params.append("%" + f.code.replace("%", "").replace("_", "") + "%")
    if f.procedure:
        where.append("d.procedure_code = ?")
        params.append(f.procedure)
    if f.site:
        where.append("d.site = ?")
        params.append(f.site)
    if f.date_from:  # received_at is ISO UTC text ("2026-01-15T02:00:00Z"): string order is time order
        where.append("d.received_at >= ?")
        params.append(f.date_from + "T00:00:00Z")
    if f.date_to:
        where.append("d.received_at <= ?")
        params.append(f.date_to + "T23:59:59Z")
    if f.status:
        where.append("d.status = ?")
        params.append(int(f.status))
    sql = ("SELECT d.dossier_id, d.dossier_version, d.dossier_code, d.procedure_code, d.channel, d.status, d.site,"
           " d.received_at, d.hub_sequence, d.device_id FROM dossiers d WHERE " + " AND ".join(where) +
           f" ORDER BY d.hub_sequence DESC LIMIT {PAGE_SIZE + 1} OFFSET {(f.page - 1) * PAGE_SIZE}")
    rows = state.db.query(sql, params)
    return [_with_status(r) for r in rows[:PAGE_SIZE]], len(rows) > PAGE_SIZE


def _with_status(row: dict[str, Any]) -> dict[str, Any]:
    name, name_vi = STATUS_NAMES.get(row["status"], (str(row["status"]), str(row["status"])))
    return {**row, "status_name": name, "status_name_vi": name_vi}


def sites(state: HubState) -> list[str]:
    """Every site name the hub knows (devices and dossiers), for the search form."""
    return sorted({r["site"] for r in state.db.query("SELECT DISTINCT site FROM devices")})


def dossier_detail(state: HubState, dossier_id: str) -> dict[str, Any] | None:
    """The latest version of a dossier with its documents and the receipt's verification."""
    row = state.db.one("SELECT * FROM dossiers WHERE dossier_id=? ORDER BY dossier_version DESC LIMIT 1",
                       (dossier_id[:64],))
    if row is None:
        return None
    documents = state.db.query(
        "SELECT position, name, media_type, plain_sha256, plain_size FROM dossier_documents"
        " WHERE dossier_id=? AND dossier_version=? ORDER BY position", (row["dossier_id"], row["dossier_version"]))
    detail = _with_status({k: v for k, v in row.items() if k not in ("signed_manifest", "receipt")})
    detail["documents"] = documents
    detail["receipt"] = check_receipt(state, row["receipt"], row["manifest_hash"])
    return detail


def check_receipt(state: HubState, receipt_json: str, manifest_hash: str) -> dict[str, Any]:
    """Verify a stored receipt against the hub's public key and the dossier's manifest hash."""
    try:
        receipt = verify_receipt(Envelope.from_dict(json.loads(receipt_json)), state.hub_key.public_key(),
                                 manifest_hash)
    except (InvalidDocument, SignatureInvalid, ValueError) as exc:
        return {"valid": False, "problem": str(exc)[:300]}
    return {"valid": True, "hub_key_id": receipt.hub_key_id, "hub_sequence": receipt.hub_sequence,
            "received_at": receipt.received_at, "manifest_hash": receipt.manifest_hash}


def document(state: HubState, dossier_id: str, position: int) -> dict[str, Any] | None:
    """One document of a dossier's latest version (name, media type, plaintext address)."""
    return state.db.one(
        "SELECT dd.name, dd.media_type, dd.plain_sha256, dd.plain_size FROM dossier_documents dd"
        " WHERE dd.dossier_id=? AND dd.position=? AND dd.dossier_version ="
        " (SELECT MAX(dossier_version) FROM dossiers WHERE dossier_id=?)", (dossier_id[:64], position, dossier_id[:64]))


def refused_commits(state: HubState, limit: int = 200) -> list[dict[str, Any]]:
    """Commits the hub refused (wrong device, bad signature, chain fork), newest first."""
    rows = state.db.query("SELECT seq, at, actor, action, dossier_id, detail FROM audit"
                          " WHERE action IN ('commit.refused', 'chain.fork_refused')"
                          f" ORDER BY seq DESC LIMIT {int(limit)}")
    for row in rows:
        row["detail"] = json.loads(row["detail"])
    return rows
