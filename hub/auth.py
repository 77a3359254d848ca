"""Authenticate device requests: RFC 9421-style signature, replay cache, revocation.

The signature is checked from the headers alone, before the hub reads a byte of
the body (hub.app then streams the body while hashing it and compares with the
signed Content-Digest at the end), so a stranger cannot make the hub hold a body.
The verified device is what handlers act for.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Request

from sync_protocol.errors import RequestAuthError
from sync_protocol.keys import key_id as compute_key_id
from sync_protocol.p256 import device_public_key_from_text as public_key_from_text
from sync_protocol.request_signing import VerifiedRequest, verify_signed_headers

from .errors import Unauthorized, disk_full
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
    #: the device's block of daily dossier numbers within its agency (docs/dossier-codes.md)
    code_block: int = 0

    @classmethod
    def from_row(cls, row: dict) -> "Device":
        """The device as its `devices` row describes it."""
        return cls(row["device_id"], row["site"], row["agency_code"], public_key_from_text(row["public_key"]),
                   int(row["code_block"]))


def signing_key(state: HubState, device: Device, key_id: str) -> Ed25519PublicKey:
    """The device's key named `key_id`: its current key, or a retired one (key rotation keeps
    manifests sealed under the old key valid). Unknown ids return the current key, whose
    verification then fails naming both ids."""
    if key_id == compute_key_id(device.public_key):
        return device.public_key
    row = state.db.one("SELECT public_key FROM device_keys WHERE key_id=? AND device_id=?", (key_id, device.device_id))
    return public_key_from_text(row["public_key"]) if row else device.public_key


def _remember_nonce(state: HubState, key_id: str, nonce: str, created: int, frees_space: bool = False) -> bool:
    if frees_space:
        # A request that frees space (tus DELETE) must work on a full disk, where even the replay cache
        # cannot grow: it is then let through unrecorded. Replaying it is harmless — the upload is gone.
        try:
            return _remember_nonce(state, key_id, nonce, created)
        except Exception as exc:  # noqa: BLE001 - only the disk-full case is let through
            if not disk_full(exc):
                raise
            log.warning("nonce_not_recorded reason=disk_full")
            return True
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


def authenticate(state: HubState, request: Request, frees_space: bool = False) -> tuple[Device, VerifiedRequest]:
    """Verify the request signature from its headers; return the device and what was verified
    (whose `body_matches` the caller must check once the body is in), or raise Unauthorized.
    `frees_space`: the request deletes data, so a full disk must not stop it (see _remember_nonce)."""
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
        verified = verify_signed_headers(
            request.method, path, query, request.headers,
            lookup_key=lookup_key,
            remember_nonce=lambda k, n, c: _remember_nonce(state, k, n, c, frees_space),
            now=state.now(),
            window_seconds=state.config.signature_window_seconds,
        )
    except RequestAuthError as exc:
        log.warning("auth_rejected path=%s reason=%s", path[:120], exc)
        code = "clock_skew" if "clock" in str(exc) else "bad_signature"
        raise Unauthorized(str(exc), f"Chữ ký yêu cầu không hợp lệ: {exc}", code=code) from exc
    row = found["row"]
    now = state.now()
    # "Last contact" is for the admin's lagging report: minute precision is plenty, and skipping
    # the write spares an fsync'd transaction on nearly every request.
    if row["last_seen_at"] is None or now - row["last_seen_at"] >= LAST_SEEN_RESOLUTION:
        version = _AGENT_VERSION.match(request.headers.get("user-agent", ""))
        try:
            state.db.execute("UPDATE devices SET last_seen_at=?, agent_version=COALESCE(?, agent_version)"
                             " WHERE device_id=?", (now, version[1] if version else None, row["device_id"]))
        except Exception as exc:  # noqa: BLE001 - last contact is a report, not worth refusing a request over
            if not (frees_space and disk_full(exc)):
                raise
    return Device.from_row(row), verified
