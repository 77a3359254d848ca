"""Device identity: create the device key, enrol it with the hub, rotate it.

The device key is Ed25519, written once with mode 0600. Enrolment spends a
one-time token and pins the hub's keys — Ed25519 (receipts must verify against
it) and X25519 (sealed dossiers are encrypted to it) — and, for HTTPS, the CA
bundle to verify the hub with and optionally the hub certificate's sha256.

Rotation (`rotate_device_key`) replaces the device key without touching the
queue: the new key is written beside the old one (`device_key.next.pem`), the
hub is told over a request signed by the old key and carrying a proof signed by
the new one, and only then does the new key replace the old file. A crash in
between is finished by the next call, which finds the hub already on the new key.
Manifests sealed under the old key stay valid: the hub keeps retired keys for them.
"""
from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.context import AgentContext
from agent.delivery.hub_client import HubClient
from agent.errors import DeviceNotAuthorised, DossierRefused, EnrolmentError, HubUnreachable
from agent.ops.audit import audit_event
from sync_protocol.castore import fsync_dir, write_file_atomic
from sync_protocol.encryption import x25519_key_id
from sync_protocol.keys import (
    b64url,
    generate_private_key,
    key_id,
    private_key_from_pem,
    private_key_to_pem,
    public_key_text,
)
from sync_protocol.request_signing import rotation_proof_input

log = logging.getLogger("motcua.agent.identity")

def enrol(ctx: AgentContext, hub_url: str, token: str, site: str | None = None,
          device_name: str | None = None, expected_hub_key_id: str | None = None, *,
          ca_bundle: str | None = None, hub_cert_sha256: str | None = None) -> dict[str, str]:
    """Enrol this desk with the hub. Returns the identity the hub assigned."""
    config = ctx.config
    if config.enrolled:
        raise EnrolmentError(f"Máy này đã đăng ký (thiết bị {config.device_id}).",
                             f"This desk is already enrolled as {config.device_id}.",
                             "Dùng thư mục dữ liệu khác (--home) để đăng ký lại / use another --home to enrol again")
    if not hub_url.startswith(("http://", "https://")):
        raise EnrolmentError(f"Địa chỉ trung tâm {hub_url!r} không hợp lệ.", f"Hub URL {hub_url!r} is not http(s)://…",
                             "Ví dụ / example: http://hub.tinh.gov.vn:8470")
    if ca_bundle and not Path(ca_bundle).is_file():
        raise EnrolmentError(f"Không tìm thấy tệp CA {ca_bundle}.", f"CA bundle {ca_bundle} not found.",
                             "Chỉ đường dẫn tới tệp PEM của CA / give the path of the CA PEM file")
    # Keep an existing key (a previous attempt may have failed after creating it).
    if config.key_path.exists():
        key = ctx.device_key
    else:
        key = generate_private_key()
        write_file_atomic(config.key_path, private_key_to_pem(key), mode=0o600)
    ca_path = str(Path(ca_bundle).resolve()) if ca_bundle else ""
    client = HubClient(hub_url, None, timeout=config.settings.timeout, verify=ca_path or True,
                       pin_sha256=hub_cert_sha256 or None)
    try:
        answer = client.enrol(token.strip(), public_key_text(key), device_name or socket.gethostname()[:80], site)
    except (DeviceNotAuthorised, DossierRefused) as exc:
        raise EnrolmentError(f"Đăng ký không thành công. {exc.message_vi}", f"Enrolment failed. {exc.message_en}",
                             "Đề nghị quản trị viên cấp mã mới: motcua hub token / ask for a new token") from exc
    except HubUnreachable as exc:
        raise EnrolmentError(exc.message_vi, exc.message_en, "Kiểm tra địa chỉ và kết nối mạng / check URL and link") from exc
    finally:
        client.close()
    if key_id(answer["hub_public_key"]) != answer["hub_key_id"]:
        raise EnrolmentError("Trung tâm trả về khoá không nhất quán.", "The hub returned an inconsistent key id.")
    if x25519_key_id(answer.get("hub_encryption_key", "")) != answer.get("hub_encryption_key_id"):
        raise EnrolmentError("Trung tâm trả về khoá mã hoá không nhất quán.",
                             "The hub returned an inconsistent encryption key id.")
    if expected_hub_key_id and answer["hub_key_id"] != expected_hub_key_id:
        raise EnrolmentError("Khoá của trung tâm không khớp với khoá đã biết trước.",
                             f"Hub key {answer['hub_key_id']} is not the expected {expected_hub_key_id}.",
                             "Có thể đang kết nối nhầm máy chủ / possibly the wrong server")
    config.hub_url = hub_url.rstrip("/")
    config.device_id = answer["device_id"]
    config.site = answer["site"]
    config.agency_code = answer["agency_code"]
    config.code_block = int(answer["code_block"])
    config.hub_public_key = answer["hub_public_key"]
    config.hub_key_id = answer["hub_key_id"]
    config.hub_encryption_key = answer["hub_encryption_key"]
    config.hub_encryption_key_id = answer["hub_encryption_key_id"]
    config.ca_bundle = ca_path
    config.hub_cert_sha256 = (hub_cert_sha256 or "").replace(":", "").lower()
    config.save()
    log.info("enrolled device=%s hub_key=%s", config.device_id, config.hub_key_id)
    audit_event(ctx, "device.enrolled", None, device=config.device_id, hub_key=config.hub_key_id)
    return {"device_id": config.device_id, "site": config.site, "agency_code": config.agency_code,
            "code_block": str(config.code_block), "hub_key_id": config.hub_key_id, "device_key_id": key_id(key),
            "hub_encryption_key_id": config.hub_encryption_key_id}


def _next_key_path(ctx: AgentContext) -> Path:
    return ctx.config.key_path.with_name("device_key.next.pem")


def rotate_device_key(ctx: AgentContext) -> dict[str, str]:
    """Replace the device key (the queue is untouched). Returns old and new key ids."""
    config = ctx.config.require_enrolled()
    old_key = ctx.device_key
    next_path = _next_key_path(ctx)
    if next_path.exists():  # an earlier rotation was interrupted: finish it with the same new key
        new_key = private_key_from_pem(next_path.read_bytes())
    else:
        new_key = generate_private_key()
        write_file_atomic(next_path, private_key_to_pem(new_key), mode=0o600)
    body = {"new_public_key": public_key_text(new_key),
            "proof": b64url(new_key.sign(rotation_proof_input(config.device_id, key_id(old_key),
                                                               public_key_text(new_key))))}
    try:
        _send_rotation(ctx, old_key, body)
    except DeviceNotAuthorised as refused:
        # The hub may already hold the new key (we crashed after it answered): ask with the new key.
        try:
            _send_rotation(ctx, new_key, body)
        except DeviceNotAuthorised:
            raise refused from None
    os.replace(next_path, config.key_path)
    fsync_dir(config.key_path.parent)
    ctx._key = None  # noqa: SLF001 - the context reloads the key file
    if ctx._hub is not None:  # noqa: SLF001
        ctx._hub.close()
        ctx._hub = None
    result = {"device_id": config.device_id, "old_key_id": key_id(old_key), "new_key_id": key_id(new_key)}
    log.info("device_key_rotated device=%s old=%s new=%s", config.device_id, result["old_key_id"], result["new_key_id"])
    audit_event(ctx, "device.key_rotated", None, old_key=result["old_key_id"], new_key=result["new_key_id"])
    return result


def _send_rotation(ctx: AgentContext, signing_key: Ed25519PrivateKey, body: dict[str, str]) -> None:
    config = ctx.config
    client = HubClient(config.hub_url, signing_key, timeout=config.settings.timeout, verify=config.ca_bundle or True,
                       pin_sha256=config.hub_cert_sha256 or None)
    try:
        client.rotate_key(body)
    finally:
        client.close()
