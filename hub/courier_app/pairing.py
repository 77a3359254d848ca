"""Pairing a courier's phone: a desk asks for a one-time token, the phone spends it with its P-256 key.

The token is made by an enrolled desk (its signed request), so the phone is bound
to that desk's site and agency; only the token's sha256 is stored. A courier
device is a row in `devices` with role `courier` and a negative code block (it
never numbers dossiers, and must not take one of the agency's ten blocks).
Revocation is the same as for desks (`motcua hub revoke`).
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from sync_protocol.errors import InvalidDocument
from sync_protocol.p256 import P256PublicKey, public_text

from .. import audit
from ..auth import Device
from ..errors import BadRequest, Conflict, Forbidden, Unauthorized
from ..identity import load_or_create_hub_evidence_key
from ..state import HubState
from ..storage.metadata import IntegrityError

log = logging.getLogger("motcua.hub.courier_app.pairing")
PAIRING_TTL_SECONDS = 30 * 60  # shown on the desk's screen and scanned at once
_evidence_keys: dict[str, ec.EllipticCurvePrivateKey] = {}


def evidence_key(state: HubState) -> ec.EllipticCurvePrivateKey:
    """The hub's P-256 ECDH key that phones encrypt evidence to (motcua.enc-p256/1): from
    MOTCUA_HUB_EVIDENCE_KEY_FILE when several instances share it, else made once per data dir."""
    path = state.config.evidence_key_path
    if str(path) not in _evidence_keys:
        _evidence_keys[str(path)] = load_or_create_hub_evidence_key(path)
    return _evidence_keys[str(path)]


def hub_keys(state: HubState) -> dict[str, str]:
    key = evidence_key(state)
    return {"hub_key_id": state.hub_key_id, "hub_evidence_key": public_text(key),
            "hub_evidence_key_id": P256PublicKey(key.public_key()).key_id}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def role_of(state: HubState, device_id: str) -> str:
    row = state.db.one("SELECT role FROM devices WHERE device_id=?", (device_id,))
    return row["role"] if row else "desk"


def create_pairing(state: HubState, desk: Device, courier_name: str) -> dict[str, Any]:
    """A desk's one-time token for one courier phone, bound to the desk's site and agency."""
    if role_of(state, desk.device_id) != "desk":
        raise Forbidden("only a desk can pair a courier phone", "Chỉ máy tại bộ phận một cửa mới ghép được điện thoại",
                        code="not_a_desk")
    name = " ".join(str(courier_name).split())
    if not 2 <= len(name) <= 100:
        raise BadRequest("courier_name: 2 to 100 characters", "Họ tên nhân viên giao: 2 đến 100 ký tự")
    token = "mcp_" + secrets.token_urlsafe(24)
    now = state.now()
    with state.db.transaction() as tx:
        tx.execute("INSERT INTO courier_pairings(token_hash, desk_device_id, site, agency_code, courier_name, created_at,"
                   " expires_at) VALUES (?,?,?,?,?,?,?)",
                   (_hash(token), desk.device_id, desk.site, desk.agency_code, name, now, now + PAIRING_TTL_SECONDS))
        audit.record(tx, now, desk.device_id, "courier.pairing_issued", None, token=_hash(token)[:16])
    return {"token": token, "expires_at": now + PAIRING_TTL_SECONDS, **hub_keys(state)}


def enrol_courier(state: HubState, token: str, public_key: str, device_name: str) -> dict[str, Any]:
    """Spend a pairing token: register the phone's P-256 key as a courier device of the desk's agency."""
    try:
        key = P256PublicKey.from_text(public_key)
    except (InvalidDocument, ValueError) as exc:
        raise BadRequest(f"public_key: {exc}", "Khoá công khai của điện thoại không hợp lệ (cần P-256)") from exc
    now = state.now()
    with state.db.transaction() as tx:
        row = tx.one("SELECT * FROM courier_pairings WHERE token_hash=?", (_hash(str(token)),))
        if row is None or row["used_at"] is not None or row["expires_at"] < now:
            why = "unknown" if row is None else "already used" if row["used_at"] is not None else "expired"
            raise Unauthorized(f"pairing code {why}; ask the head of desk to show a new QR (motcua courier pair)",
                               "Mã ghép điện thoại không dùng được; đề nghị trưởng bộ phận tạo mã QR mới",
                               code=f"pairing_{why.replace(' ', '_')}")
        if tx.one("SELECT 1 AS found FROM devices WHERE key_id=?", (key.key_id,)):
            raise Conflict("this phone key is already enrolled", "Khoá điện thoại này đã được đăng ký")
        lowest = tx.one("SELECT MIN(code_block) AS low FROM devices WHERE agency_code=?", (row["agency_code"],))["low"]
        block = min(-1, (lowest or 0) - 1)
        device_id = "cou_" + secrets.token_hex(10)
        name = (" ".join(str(device_name).split())[:80] or row["courier_name"])
        try:
            tx.execute("INSERT INTO devices(device_id, public_key, key_id, site, agency_code, code_block, name,"
                       " enrolled_at, role) VALUES (?,?,?,?,?,?,?,?,?)",
                       (device_id, public_key, key.key_id, row["site"], row["agency_code"], block, name, now, "courier"))
        except IntegrityError as exc:
            raise Conflict("phone could not be registered (try again)", "Không đăng ký được điện thoại, thử lại") from exc
        tx.execute("UPDATE courier_pairings SET used_at=?, used_by=? WHERE token_hash=?", (now, device_id,
                                                                                          row["token_hash"]))
        tx.execute("INSERT INTO device_keys(key_id, device_id, public_key, added_at) VALUES (?,?,?,?)",
                   (key.key_id, device_id, public_key, now))
        audit.record(tx, now, device_id, "device.enrolled", None, agency=row["agency_code"], role="courier",
                     key=key.key_id, paired_by=row["desk_device_id"])
    log.info("courier_enrolled device=%s desk=%s", device_id, row["desk_device_id"])
    return {"device_id": device_id, "site": row["site"], "agency_code": row["agency_code"],
            "courier_name": row["courier_name"], "key_id": key.key_id, **hub_keys(state)}
