"""Authenticate device requests: RFC 9421-style signature, replay cache, revocation.

Used as a FastAPI dependency; the verified device is what handlers act for.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Request

from sync_protocol.errors import RequestAuthError
from sync_protocol.keys import key_id as compute_key_id
from sync_protocol.keys import public_key_from_text
from sync_protocol.request_signing import verify_request

from .errors import Unauthorized
from .state import HubState

log = logging.getLogger("motcua.hub.auth")
LAST_SEEN_RESOLUTION = 30  # seconds
#: "motcua-agent/<version>" in a desk's User-Agent: its software version, for the console's device list
_AGENT_VERSION = re.compile(r"^motcua-agent/([0-9A-Za-z.+-]{1,32})(?:\s|$)")


@dataclass(frozen=True)
class Device:
    device_id: str
    site: str
    agency_code: str
    public_key: Ed25519PublicKey


def signing_key(state: HubState, device: Device, key_id: str) -> Ed25519PublicKey:
    """The device's key named `key_id`: its current key, or a retired one (key rotation keeps
    manifests sealed under the old key valid). Unknown ids return the current key, whose
    verification then fails naming both ids."""
    if key_id == compute_key_id(device.public_key):
        return device.public_key
    row = state.db.one("SELECT public_key FROM device_keys WHERE key_id=? AND device_id=?", (key_id, device.device_id))
    return public_key_from_text(row["public_key"]) if row else device.public_key


def _remember_nonce(state: HubState, key_id: str, nonce: str, created: int) -> bool:
    # Unsynced: a power cut may forget the last few nonces, and a request replayed after that
    # within the window would pass the cache — but every device request is idempotent or
    # offset-checked (commit, PATCH, proofs), so this costs defence in depth, not safety.
    inserted = state.db.execute_unsynced(
        "INSERT INTO nonces(key_id, nonce, created) VALUES (?,?,?) ON CONFLICT DO NOTHING", (key_id, nonce, created))
    if inserted == 0:
        return False
    # Nonces older than two windows can no longer pass the time check: forget them.
    if hash(nonce) % 200 == 0:
        state.db.execute("DELETE FROM nonces WHERE created < ?", (state.now() - 2 * state.config.signature_window_seconds,))
    return True


def authenticate(state: HubState, request: Request, body: bytes) -> Device:
    """Verify the request signature and return the device, or raise Unauthorized."""
    found: dict[str, dict] = {}

    def lookup_key(key_id: str) -> Ed25519PublicKey:
        row = state.db.one("SELECT * FROM devices WHERE key_id=?", (key_id,))
        if row is None:
            raise Unauthorized("unknown device key; enrol this device again", "Thiết bị chưa đăng ký; cần đăng ký lại",
                               code="device_unknown")
        if row["revoked_at"] is not None:
            reason = row["revoked_reason"] or "revoked by the hub administrator"
            raise Unauthorized(f"device revoked: {reason}", f"Thiết bị đã bị thu hồi: {reason}", code="device_revoked")
        found["row"] = row
        return public_key_from_text(row["public_key"])

    query = request.scope.get("query_string", b"").decode("latin-1")
    path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1").split("?", 1)[0]
    try:
        verify_request(
            request.method, path, query, request.headers, body,
            lookup_key=lookup_key,
            remember_nonce=lambda k, n, c: _remember_nonce(state, k, n, c),
            now=state.now(),
            window_seconds=state.config.signature_window_seconds,
        )
    except RequestAuthError as exc:
        log.warning("auth_rejected path=%s reason=%s", path, exc)
        code = "clock_skew" if "clock" in str(exc) else "bad_signature"
        raise Unauthorized(str(exc), f"Chữ ký yêu cầu không hợp lệ: {exc}", code=code) from exc
    row = found["row"]
    now = state.now()
    # "Last contact" is for the admin's lagging report: minute precision is plenty, and skipping
    # the write spares an fsync'd transaction on nearly every request.
    if row["last_seen_at"] is None or now - row["last_seen_at"] >= LAST_SEEN_RESOLUTION:
        version = _AGENT_VERSION.match(request.headers.get("user-agent", ""))
        state.db.execute("UPDATE devices SET last_seen_at=?, agent_version=COALESCE(?, agent_version) WHERE device_id=?",
                         (now, version[1] if version else None, row["device_id"]))
    return Device(row["device_id"], row["site"], row["agency_code"], public_key_from_text(row["public_key"]))
