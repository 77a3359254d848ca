"""HubClient: the agent's side of the hub API.

Every request is signed with the device key (sync_protocol.request_signing);
failures are translated into the agent's error hierarchy so callers decide by
kind — unreachable (retry later), refused (dead-letter this dossier), not
authorised (stop and tell the officer) — never by status code.
"""
from __future__ import annotations

import logging
from typing import Any, BinaryIO, Callable

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync_protocol.errors import UploadError, UploadGone, UploadRejected, UploadTransportError
from sync_protocol.request_signing import DeviceAuth
from sync_protocol.tus_client import TusClient, UploadReport

from .errors import DeviceNotAuthorised, DossierRefused, HubError, HubUnreachable

log = logging.getLogger("motcua.agent.hub")


def _json_error(response: requests.Response) -> tuple[str, str, str]:
    """(code, reason_en, reason_vi) from a hub error response."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    reason = str(body.get("reason") or response.reason or f"HTTP {response.status_code}")
    return str(body.get("error") or "http_error"), reason, str(body.get("reason_vi") or reason)


def raise_for_hub(response: requests.Response, what: str) -> None:
    """Translate a non-2xx hub response into the agent's error kinds."""
    if response.status_code < 400:
        return
    code, reason, reason_vi = _json_error(response)
    status = response.status_code
    if status == 401:
        raise DeviceNotAuthorised(f"Trung tâm từ chối máy này: {reason_vi}", f"The hub refused this device: {reason}",
                                  "Liên hệ quản trị viên tỉnh / contact the provincial IT administrator")
    if status >= 500 or status in (408, 423, 429):
        raise HubUnreachable(f"Trung tâm tạm thời lỗi ({status}) khi {what}: {reason_vi}",
                             f"Hub temporarily failed ({status}) during {what}: {reason}",
                             "Sẽ tự thử lại / will retry automatically")
    raise DossierRefused(f"Trung tâm từ chối ({status}) khi {what}: {reason_vi}",
                         f"Hub refused ({status}) during {what}: {reason}", code)


class HubClient:
    """Signed requests to one hub."""

    def __init__(self, base_url: str, device_key: Ed25519PrivateKey | None, *, timeout: float = 30.0,
                 verify: bool | str = True):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.verify = verify
        self.session.headers["User-Agent"] = "motcua-agent/0.1"
        if device_key is not None:
            self.session.auth = DeviceAuth(device_key)
        self.timeout = timeout
        self.tus = TusClient(self.session, timeout=timeout)

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        return self.base_url + path

    def _request(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        response = self._send(method, path, **kwargs)
        raise_for_hub(response, what)
        return response

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            response = self.session.request(method, self.url(path), timeout=self.timeout, **kwargs)
            if response.status_code == 401 and _json_error(response)[0] == "clock_skew":
                # DeviceAuth has just learned the hub's clock from Date: sign again once.
                response = self.session.request(method, self.url(path), timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise HubUnreachable(f"Không kết nối được trung tâm ({self.base_url}).",
                                 f"Cannot reach the hub at {self.base_url} ({exc.__class__.__name__}).",
                                 "Sẽ tự thử lại khi có mạng / will retry when the link is back") from exc
        return response

    # -- endpoints --------------------------------------------------------------
    def hello(self) -> dict[str, Any]:
        return self._request("GET", "/v1/hello", "probe").json()

    def enrol(self, token: str, public_key: str, device_name: str, site: str | None) -> dict[str, Any]:
        return self._request("POST", "/v1/enrol", "enrolment",
                             json={"token": token, "public_key": public_key, "device_name": device_name,
                                   "site": site}).json()

    def has_object(self, sha256: str) -> bool:
        response = self._send("HEAD", f"/v1/objects/{sha256}")
        if response.status_code == 404:
            return False
        raise_for_hub(response, "object lookup")
        return True

    def commit(self, signed_manifest: bytes) -> dict[str, Any]:
        return self._request("POST", "/v1/commits", "commit", data=signed_manifest,
                             headers={"Content-Type": "application/json"}).json()

    def dossier_status(self, dossier_id: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/dossiers/{dossier_id}", "status lookup").json()

    # -- uploads (tus) ------------------------------------------------------------
    def create_upload(self, length: int, sha256: str, name: str) -> str:
        return self._tus(lambda: self.tus.create(self.url("/v1/uploads"), length, {"sha256": sha256, "filename": name}))

    def upload(self, url: str, stream: BinaryIO, length: int, chunk_size: int | Callable[[], int],
               on_progress: Callable[[int, int], None] | None = None) -> UploadReport:
        """Resume `url` from the hub's durable offset. Raises UploadGone if the hub forgot it."""
        return self._tus(lambda: self.tus.upload(url, stream, length, chunk_size, on_progress))

    def _tus(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except UploadGone:
            raise
        except UploadTransportError as exc:
            raise HubUnreachable(f"Mất kết nối khi tải lên: {exc}", f"Upload interrupted: {exc}",
                                 "Sẽ tiếp tục từ chỗ đã dừng / will resume where it stopped") from exc
        except UploadRejected as exc:
            if exc.status == 401:
                raise DeviceNotAuthorised(f"Trung tâm từ chối máy này: {exc.reason}",
                                          f"The hub refused this device: {exc.reason}",
                                          "Liên hệ quản trị viên tỉnh / contact the provincial IT administrator") from exc
            raise DossierRefused(f"Trung tâm từ chối tệp tải lên: {exc.reason}", f"Hub refused the upload: {exc.reason}",
                                 exc.code or "upload_refused") from exc
        except UploadError as exc:
            raise HubError(f"Lỗi tải lên: {exc}", f"Upload failed: {exc}") from exc
