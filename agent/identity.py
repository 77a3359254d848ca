"""Device identity: create the device key and enrol it with the hub.

The device key is Ed25519, written once with mode 0600. Enrolment spends a
one-time token and pins the hub's public key; from then on every receipt must
verify against that pinned key.
"""
from __future__ import annotations

import logging
import socket

from sync_protocol.castore import write_file_atomic
from sync_protocol.keys import generate_private_key, key_id, private_key_to_pem, public_key_text

from .context import AgentContext
from .errors import DeviceNotAuthorised, DossierRefused, EnrolmentError, HubUnreachable
from .hub_client import HubClient

log = logging.getLogger("motcua.agent.identity")


def enrol(ctx: AgentContext, hub_url: str, token: str, site: str | None = None,
          device_name: str | None = None, expected_hub_key_id: str | None = None) -> dict[str, str]:
    """Enrol this desk with the hub. Returns the identity the hub assigned."""
    config = ctx.config
    if config.enrolled:
        raise EnrolmentError(f"Máy này đã đăng ký (thiết bị {config.device_id}).",
                             f"This desk is already enrolled as {config.device_id}.",
                             "Dùng thư mục dữ liệu khác (--home) để đăng ký lại / use another --home to enrol again")
    if not hub_url.startswith(("http://", "https://")):
        raise EnrolmentError(f"Địa chỉ trung tâm {hub_url!r} không hợp lệ.", f"Hub URL {hub_url!r} is not http(s)://…",
                             "Ví dụ / example: http://hub.tinh.gov.vn:8470")
    # Keep an existing key (a previous attempt may have failed after creating it).
    if config.key_path.exists():
        key = ctx.device_key
    else:
        key = generate_private_key()
        write_file_atomic(config.key_path, private_key_to_pem(key), mode=0o600)
    client = HubClient(hub_url, None, timeout=config.settings.timeout)
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
    config.save()
    log.info("enrolled device=%s hub_key=%s", config.device_id, config.hub_key_id)
    return {"device_id": config.device_id, "site": config.site, "agency_code": config.agency_code,
            "code_block": str(config.code_block), "hub_key_id": config.hub_key_id, "device_key_id": key_id(key)}
