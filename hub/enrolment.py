"""Enrolment: one-time tokens made by the admin, exchanged by a device for its identity.

A token is single use, expires (24 h by default) and is bound to a site and
agency code. Only its sha256 is stored, so a copy of the database does not
leak usable tokens. Each device gets a code block (0-9) within its agency: the
4-digit daily dossier number is `block * 1000 + n`, so two devices of one
agency never produce the same dossier code while offline.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature

from sync_protocol.errors import InvalidDocument
from sync_protocol.keys import b64url_decode, key_id, public_key_from_text
from sync_protocol.manifest import AGENCY_CODE
from sync_protocol.request_signing import rotation_proof_input

from . import audit
from .errors import BadRequest, Conflict, Unauthorized
from .state import HubState
from .storage.metadata import IntegrityError



def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(state: HubState, site: str, agency_code: str, ttl_seconds: int | None = None,
                 actor: str | None = None) -> str:
    """Make a one-time enrolment token for a device at `site` (audited under `actor`, default the CLI's admin)."""
    if not site.strip():
        raise BadRequest("site must not be empty", "Tên điểm tiếp nhận không được để trống")
    if not AGENCY_CODE.match(agency_code):
        raise BadRequest(
            f"agency code {agency_code!r} is not like 000.00.01.H29",
            f"Mã cơ quan {agency_code!r} không đúng dạng 000.00.01.H29",
        )
    token = "mct_" + secrets.token_urlsafe(24)
    now = state.now()
    ttl = state.config.token_ttl_seconds if ttl_seconds is None else ttl_seconds
    with state.db.transaction() as tx:
        tx.execute(
            "INSERT INTO tokens(token_hash, site, agency_code, created_at, expires_at) VALUES (?,?,?,?,?)",
            (_hash_token(token), site.strip(), agency_code, now, now + ttl),
        )
        audit.record(tx, now, actor or audit.admin_actor(), "token.issued", None, agency=agency_code, expires_at=now + ttl,
                     token=_hash_token(token)[:16])
    return token


@dataclass(frozen=True)
class Enrolment:
    device_id: str
    site: str
    agency_code: str
    code_block: int

    def to_json(self, state: HubState) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "site": self.site,
            "agency_code": self.agency_code,
            "code_block": self.code_block,
            "hub_public_key": state.hub_public_key,
            "hub_key_id": state.hub_key_id,
            "hub_encryption_key": state.encryption_public_key,
            "hub_encryption_key_id": state.encryption_key_id,
        }


def enrol_device(state: HubState, token: str, public_key: str, device_name: str,
                 expected_site: str | None = None) -> Enrolment:
    """Spend a token: register the device key and return its identity."""
    try:
        key = public_key_from_text(public_key)
    except (InvalidDocument, ValueError) as exc:
        raise BadRequest("public_key is not an Ed25519 public key", "Khoá công khai không hợp lệ") from exc
    name = (device_name or "").strip()[:80] or "desk"
    now = state.now()
    with state.db.transaction() as tx:
        row = tx.one("SELECT * FROM tokens WHERE token_hash=?", (_hash_token(token),))
        if row is None:
            raise Unauthorized(
                "unknown enrolment token; ask the hub administrator for a new one (motcua hub token)",
                "Mã đăng ký không tồn tại; đề nghị quản trị viên cấp mã mới",
                code="token_unknown",
            )
        if row["used_at"] is not None:
            raise Unauthorized(
                "this enrolment token was already used; each token enrols one device — ask for a new one",
                "Mã đăng ký đã được sử dụng; mỗi mã chỉ dùng cho một máy — đề nghị cấp mã mới",
                code="token_used",
            )
        if row["expires_at"] < now:
            raise Unauthorized(
                "this enrolment token has expired; ask the hub administrator for a new one",
                "Mã đăng ký đã hết hạn; đề nghị quản trị viên cấp mã mới",
                code="token_expired",
            )
        if expected_site is not None and expected_site.strip().casefold() != row["site"].casefold():
            # Checked before the token is spent, so a typo does not burn it.
            raise Unauthorized(
                f"this token is for site {row['site']!r}, not {expected_site.strip()!r}",
                f"Mã đăng ký dành cho điểm {row['site']!r}, không phải {expected_site.strip()!r}",
                code="token_site_mismatch",
            )
        # Checked before the token is spent: a key once enrolled — current or rotated away — is never
        # enrolled again (its old signatures and manifests still name its device).
        if tx.one("SELECT 1 AS found FROM device_keys WHERE key_id=?", (key_id(key),)) or \
                tx.one("SELECT 1 AS found FROM devices WHERE key_id=?", (key_id(key),)):
            raise Conflict("this device key is already enrolled (or was, before a key rotation); make a new key",
                           "Khoá thiết bị này đã (từng) được đăng ký; hãy tạo khoá mới", code="key_already_used")
        used = {r["code_block"] for r in tx.query("SELECT code_block FROM devices WHERE agency_code=?", (row["agency_code"],))}
        free = [b for b in range(state.config.max_devices_per_agency) if b not in used]
        if not free:
            raise Conflict(
                f"agency {row['agency_code']} already has {len(used)} devices; no dossier-number block is free",
                f"Cơ quan {row['agency_code']} đã có {len(used)} máy; không còn dải số hồ sơ trống",
            )
        device_id = "dev_" + secrets.token_hex(10)
        try:
            tx.execute(
                "INSERT INTO devices(device_id, public_key, key_id, site, agency_code, code_block, name, enrolled_at)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (device_id, public_key, key_id(key), row["site"], row["agency_code"], free[0], name, now),
            )
        except IntegrityError as exc:
            raise Conflict("device could not be registered (duplicate)", "Không đăng ký được thiết bị (trùng)") from exc
        tx.execute("UPDATE tokens SET used_at=?, used_by=? WHERE token_hash=?", (now, device_id, row["token_hash"]))
        tx.execute("INSERT INTO device_keys(key_id, device_id, public_key, added_at) VALUES (?,?,?,?)",
                   (key_id(key), device_id, public_key, now))
        audit.record(tx, now, device_id, "device.enrolled", None, agency=row["agency_code"], block=free[0],
                     key=key_id(key), token=row["token_hash"][:16])
    return Enrolment(device_id, row["site"], row["agency_code"], free[0])


def list_devices(state: HubState) -> list[dict[str, Any]]:
    """Every device with last contact, revocation and the state of its hash chain."""
    rows = state.db.query(
        "SELECT device_id, site, agency_code, code_block, name, role, enrolled_at, last_seen_at, revoked_at,"
        " revoked_reason, agent_version FROM devices ORDER BY enrolled_at"
    )
    for row in rows:
        row.update(chain_report(state, row["device_id"]))
    return rows


def chain_report(state: HubState, device_id: str) -> dict[str, Any]:
    """A device's hash chain as the hub sees it: head, gaps (missing sequence numbers) and refused forks."""
    from .commits import MAX_LISTED_GAPS, chain_gap_ranges

    held = state.db.one("SELECT MAX(sequence) AS head, COUNT(*) AS n FROM chain WHERE device_id=?", (device_id,))
    head = held["head"] or 0
    ranges = chain_gap_ranges(state, device_id)
    gaps: list[int] = []  # the first few missing numbers, listed; `chain_gap_ranges` names them all
    for first, last in ranges:
        gaps.extend(range(first, min(last, first + MAX_LISTED_GAPS - len(gaps) - 1) + 1))
        if len(gaps) >= MAX_LISTED_GAPS:
            break
    forks = state.db.one("SELECT COUNT(*) AS n FROM audit WHERE actor=? AND action='chain.fork_refused'",
                         (device_id,))["n"]
    missing = head - held["n"]
    return {"chain_head": head, "chain_gaps": gaps, "chain_gap_ranges": [list(r) for r in ranges],
            "chain_missing": missing, "forks_refused": forks, "chain_ok": not missing and not forks}


def rotate_device_key(state: HubState, device_id: str, new_public_key: str, proof: str) -> dict[str, str]:
    """Replace a device's key; the request was signed by the current key, `proof` by the new one.

    Idempotent: asked again once the new key is current (signed by it), it answers the same.
    The old key is retired, not forgotten: manifests sealed under it still verify.
    """
    try:
        new_key = public_key_from_text(new_public_key)
        proof_bytes = b64url_decode(proof)
    except (InvalidDocument, ValueError) as exc:
        raise BadRequest("new_public_key/proof are not base64url Ed25519 values", "Khoá mới không hợp lệ") from exc
    now = state.now()
    with state.db.transaction() as tx:
        row = tx.one("SELECT key_id, public_key FROM devices WHERE device_id=?", (device_id,))
        if row is None:
            raise BadRequest(f"no device {device_id}", f"Không có thiết bị {device_id}")
        if row["key_id"] == key_id(new_key):
            return {"device_id": device_id, "key_id": row["key_id"]}
        try:
            new_key.verify(proof_bytes, rotation_proof_input(device_id, row["key_id"], new_public_key))
        except InvalidSignature as exc:
            raise Unauthorized("the proof is not signed by the new key", "Bằng chứng không được ký bằng khoá mới",
                               code="bad_rotation_proof") from exc
        if tx.one("SELECT 1 AS found FROM device_keys WHERE key_id=?", (key_id(new_key),)):
            raise Conflict("this key was already used by a device", "Khoá này đã từng được dùng")
        tx.execute("UPDATE device_keys SET retired_at=? WHERE key_id=?", (now, row["key_id"]))
        tx.execute("INSERT INTO device_keys(key_id, device_id, public_key, added_at) VALUES (?,?,?,?)",
                   (key_id(new_key), device_id, new_public_key, now))
        tx.execute("UPDATE devices SET public_key=?, key_id=? WHERE device_id=?", (new_public_key, key_id(new_key),
                                                                                    device_id))
        audit.record(tx, now, device_id, "device.key_rotated", None, old_key=row["key_id"], new_key=key_id(new_key))
    return {"device_id": device_id, "key_id": key_id(new_key)}



def revoke_device(state: HubState, device_id: str, reason: str, actor: str | None = None) -> None:
    """Revoke a device at once: its next request gets 401 with `reason`; what it committed stays valid."""
    with state.db.transaction() as tx:
        changed = tx.execute(
            "UPDATE devices SET revoked_at=?, revoked_reason=? WHERE device_id=? AND revoked_at IS NULL",
            (state.now(), reason, device_id),
        )
        if changed == 0:
            raise BadRequest(f"no active device {device_id}", f"Không có thiết bị đang hoạt động {device_id}")
        audit.record(tx, state.now(), actor or audit.admin_actor(), "device.revoked", None, device=device_id)
