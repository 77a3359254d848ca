"""HubClient: the agent's side of the hub API.

Every request is signed with the device key (sync_protocol.request_signing);
failures are translated into the agent's error hierarchy so callers decide by
kind — unreachable (retry later), refused (dead-letter this dossier), not
authorised (stop and tell the officer) — never by status code.
"""
from __future__ import annotations

import email.utils
import logging
import re
from datetime import datetime, timezone
from typing import Any, BinaryIO, Callable

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.delivery.watchdog import StallWatchdog, WatchedAdapter
from agent.errors import DeviceNotAuthorised, DossierRefused, HubError, HubUnreachable, UploadQuotaFull
from sync_protocol.clock import ClockOffset
from sync_protocol.errors import UploadError, UploadGone, UploadRejected, UploadTransportError
from sync_protocol.feed import EVENT_KINDS
from sync_protocol.request_signing import DeviceAuth
from sync_protocol.tus_client import TusClient, UploadReport

log = logging.getLogger("motcua.agent.hub")
#: stuck chunks recovered without one landing before an upload gives the link back to the sync loop's backoff
RECOVERIES = 5
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")


def _unsigned(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


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


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header (delay in seconds, or an HTTP date) as seconds from now; None if absent or garbage."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(min(int(value), 24 * 3600))
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, min((moment - datetime.now(timezone.utc)).total_seconds(), 24 * 3600.0))


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


class PinnedTLSAdapter(WatchedAdapter):
    """HTTPS that also insists on one hub certificate (sha256 of its DER bytes).

    The chain is still verified against the CA bundle; the pin replaces the host
    name check, so a hub reached by IP address on a commune LAN still verifies.
    """

    def __init__(self, fingerprint_sha256: str, watchdog: StallWatchdog | None = None, **kwargs: Any):
        self.fingerprint = fingerprint_sha256.replace(":", "").lower()
        super().__init__(watchdog, **kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["assert_fingerprint"] = self.fingerprint
        super().init_poolmanager(*args, **kwargs)


class _HubSession(requests.Session):
    """A session whose configured CA bundle wins over REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE.

    Plain requests lets those variables override `session.verify` (psf/requests#3829),
    which would silently replace the desk's pinned CA with the system's.
    """

    watchdog: StallWatchdog | None = None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        # the whole exchange, answer body included (read here unless stream=True), is watched
        if self.watchdog is None:
            return super().send(request, **kwargs)
        with self.watchdog.watching():
            return super().send(request, **kwargs)

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # type: ignore[no-untyped-def]
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and self.verify is not True:
            settings["verify"] = self.verify
        return settings


class HubClient:
    """Signed requests to one hub."""

    def __init__(self, base_url: str, device_key: Ed25519PrivateKey | None, *, timeout: float = 30.0,
                 verify: bool | str = True, pin_sha256: str | None = None, stall_seconds: float = 3.0,
                 clock_offset: float = 0.0, on_clock: Callable[[ClockOffset], None] | None = None):
        self.base_url = base_url.rstrip("/")
        self.session = _HubSession()
        self.session.verify = verify
        self.watchdog = StallWatchdog(self._probe, stall_seconds=stall_seconds) if stall_seconds > 0 else None
        self.session.watchdog = self.watchdog
        # the kernel gives up on a connection whose data goes unacknowledged for longer than a request may take
        user_timeout = max(10.0, float(timeout))
        self.session.mount("http://", WatchedAdapter(self.watchdog, user_timeout))
        self.session.mount("https://", PinnedTLSAdapter(pin_sha256, self.watchdog, user_timeout_seconds=user_timeout)
                           if pin_sha256 else WatchedAdapter(self.watchdog, user_timeout))
        # headers every request would carry for nothing (HTTP/1.1 keeps connections alive; no compressed answers)
        self.session.headers = requests.structures.CaseInsensitiveDict({"User-Agent": "motcua-agent/0.1"})
        if device_key is not None:
            self.session.auth = DeviceAuth(device_key, clock_offset, on_measure=on_clock)
        self.timeout = timeout
        self.tus = TusClient(self.session, timeout=timeout)

    def close(self) -> None:
        self.session.close()

    def _probe(self) -> bool:
        """The unauthenticated hello, unsigned, on the session's pool (its fresh connection then serves the retry).
        A short connect timeout: over a dead link the next probe sends a fresh SYN instead of waiting for the
        kernel's back-off to retransmit this one."""
        try:
            response = self.session.get(self.url("/v1/hello"), timeout=(1.0, 3.0), auth=_unsigned)
            return response.status_code == 200
        except requests.RequestException:
            return False

    def url(self, path: str) -> str:
        return self.base_url + path

    def _request(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        response = self._send(method, path, **kwargs)
        raise_for_hub(response, what)
        return response

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            offset_before = getattr(self.session.auth, "clock_offset", None)
            try:
                response = self.session.request(method, self.url(path), timeout=self.timeout, **kwargs)
            except requests.ConnectionError:
                if not self.recovered():
                    raise
                # abandoned by the watchdog while the hub answered: every device request is idempotent
                # or offset-checked, so once more on a fresh connection
                response = self.session.request(method, self.url(path), timeout=self.timeout, **kwargs)
            if response.status_code == 401 and (_json_error(response)[0] == "clock_skew" or getattr(
                    self.session.auth, "clock_offset", None) != offset_before):
                # DeviceAuth has just learned the hub's clock from Date (HEAD answers carry no
                # body to say so, hence the offset check): sign again once.
                response = self.session.request(method, self.url(path), timeout=self.timeout, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise self._tls_refused() from exc
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
        if response.status_code == 401:
            response = self._explain_refusal(response)
        raise_for_hub(response, "object lookup")
        return True

    def _explain_refusal(self, head_response: requests.Response) -> requests.Response:
        """A HEAD answer has no body; ask an authenticated GET for the hub's reason (e.g. why the device was revoked)."""
        probe = self._send("GET", "/v1/dossiers/00000000-0000-0000-0000-000000000000")
        return probe if probe.status_code == 401 else head_response

    def commit(self, signed_manifest: bytes, content_type: str = "application/json") -> dict[str, Any]:
        """Commit a signed manifest: JSON, or sealed to the hub key (`SEALED_MANIFEST_TYPE`)."""
        return self._request("POST", "/v1/commits", "commit", data=signed_manifest,
                             headers={"Content-Type": content_type}).json()

    def rotate_key(self, body: dict[str, str]) -> dict[str, Any]:
        """Tell the hub this device's new public key (request signed by the key the hub knows)."""
        return self._request("POST", "/v1/devices/self/key", "key rotation", json=body).json()

    def post_envelope(self, path: str, signed_body: bytes, what: str) -> dict[str, Any]:
        """POST a signed JSON envelope (e.g. a courier's proof of delivery to /v1/delivery-proofs)."""
        return self._request("POST", path, what, data=signed_body, headers={"Content-Type": "application/json"}).json()

    def feed(self, after: int, limit: int) -> dict[str, Any]:
        """One page of the site's status events after cursor `after`."""
        # kinds: the event kinds beyond status changes this agent understands (sync_protocol.feed)
        return self._request("GET", "/v1/feed", "status feed", params={"after": after, "limit": limit,
                                                                        "kinds": ",".join(EVENT_KINDS)}).json()

    def courier_pairing(self, courier_name: str) -> dict[str, Any]:
        """A one-time token to pair a courier's phone with this desk (hub.courier_app)."""
        return self._request("POST", "/v1/courier/pairings", "courier pairing", json={"courier_name": courier_name}).json()

    def publish_courier_tasks(self, body: dict[str, Any]) -> dict[str, Any]:
        """Hand doorstep tasks to one courier phone (replaces this desk's open tasks for it)."""
        return self._request("PUT", "/v1/courier/tasks", "courier handover", json=body).json()

    def refdata(self, version: int) -> dict[str, Any]:
        """The signed reference data document of one published version (sync_protocol.refdata)."""
        return self._request("GET", f"/v1/refdata/{int(version)}", "reference data").json()

    def dossier_status(self, dossier_id: str) -> dict[str, Any]:
        return self._request("GET", f"/v1/dossiers/{dossier_id}", "status lookup").json()

    # -- uploads (tus) ------------------------------------------------------------
    def create_upload(self, length: int, sha256: str, name: str) -> str:
        def create() -> str:
            return self.tus.create(self.url("/v1/uploads"), length, {"sha256": sha256, "filename": name})

        try:
            return self._tus(create)
        except HubUnreachable:
            if not self.recovered():
                raise
            # abandoned as stuck while the hub answered: once more on the probe's fresh connection
            # (an upload the lost answer may have created expires unused)
            return self._tus(create)

    def list_own_uploads(self) -> dict[str, Any] | None:
        """This device's unfinished uploads at the hub (GET /v1/uploads?mine=1): {"uploads": [{id, url, sha256,
        length, offset, created, expires}], "max_open_uploads", "max_reserved_bytes"}. None from an older hub
        without the listing (404/405 on that route)."""
        response = self._send("GET", "/v1/uploads", params={"mine": "1"})
        if response.status_code in (404, 405) and _json_error(response)[0] in ("not_found", "method_not_allowed"):
            return None
        try:
            raise_for_hub(response, "upload listing")
        except DossierRefused as exc:  # a refused listing is no reason to dead-letter the dossier that asked
            log.warning("upload_listing_refused code=%s", exc.code)
            return None
        try:
            body = response.json()
            body["uploads"] = [u for u in body["uploads"] if isinstance(u, dict)
                               and _UPLOAD_ID.fullmatch(str(u.get("id", "")))]
            return body
        except (ValueError, KeyError, TypeError) as exc:
            raise HubUnreachable("Trung tâm trả về danh sách phiên tải lên không hợp lệ.",
                                 "The hub's list of this desk's uploads is malformed.") from exc

    def terminate_upload(self, url: str) -> None:
        """tus termination of one of this device's unfinished uploads (gone already counts as done)."""
        self._tus(lambda: self.tus.terminate(url))

    def recovered(self) -> bool:
        """This thread's last request was abandoned as stuck while the hub answered a probe: retry at once."""
        return self.watchdog is not None and self.watchdog.recovered()

    def upload(self, url: str, stream: BinaryIO, length: int, chunk_size: int | Callable[[], int],
               on_progress: Callable[[int, int], None] | None = None,
               known_offset: int | None = None) -> UploadReport:
        """Resume `url` from the hub's durable offset (asked with HEAD unless `known_offset`).
        Raises UploadGone if the hub forgot it. A chunk stuck on a dead connection while the hub answers
        is sent again at once on a new one (after a HEAD), up to RECOVERIES times without a chunk landing."""
        stuck = 0

        def landed(offset: int, total: int) -> None:
            nonlocal stuck
            stuck = 0
            if on_progress is not None:
                on_progress(offset, total)

        while True:
            try:
                return self._tus(lambda: self.tus.upload(url, stream, length, chunk_size, landed, known_offset))
            except HubUnreachable:
                if not self.recovered() or stuck >= RECOVERIES:
                    raise
                stuck += 1
                known_offset = None  # the stuck chunk may or may not have landed: ask

    def _tls_refused(self) -> HubUnreachable:
        return HubUnreachable(f"Không xác thực được chứng thư TLS của trung tâm ({self.base_url}); chưa gửi gì.",
                              f"The hub's TLS certificate could not be verified at {self.base_url}; nothing was sent.",
                              "Kiểm tra tệp CA (--ca-bundle) và dấu vân tay đã ghim / check the CA bundle and "
                              "the pinned certificate")

    def _tus(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except UploadGone:
            raise
        except UploadError as exc:
            raise self._upload_failure(exc) from exc

    def _upload_failure(self, exc: UploadError) -> HubError:
        """The agent's error kind for a failed tus exchange."""
        if (exc.status, exc.code) in ((429, "upload_quota"), (413, "byte_quota")):  # the desk's own leftovers, mostly
            return UploadQuotaFull(f"Trung tâm đang giữ đủ hạn mức phiên tải lên dở của máy này: {exc.reason}",
                                   f"The hub's quota of unfinished uploads for this desk is full: {exc.reason}",
                                   retry_after_seconds(exc.retry_after))
        if isinstance(exc, UploadTransportError):
            if isinstance(exc.__cause__, requests.exceptions.SSLError):  # a swapped certificate, not a bad link
                return self._tls_refused()
            if isinstance(exc.__cause__, requests.exceptions.ConnectionError):  # refused, reset or unreachable
                return HubUnreachable(f"Không kết nối được trung tâm ({self.base_url}); tải lên bị ngắt: {exc}",
                                      f"Cannot reach the hub at {self.base_url}; upload interrupted: {exc}",
                                      "Sẽ tiếp tục từ chỗ đã dừng / will resume where it stopped")
            return HubUnreachable(f"Mất kết nối khi tải lên: {exc}", f"Upload interrupted: {exc}",
                                  "Sẽ tiếp tục từ chỗ đã dừng / will resume where it stopped")
        if isinstance(exc, UploadRejected):
            if exc.status == 401:
                return DeviceNotAuthorised(f"Trung tâm từ chối máy này: {exc.reason}",
                                           f"The hub refused this device: {exc.reason}",
                                           "Liên hệ quản trị viên tỉnh / contact the provincial IT administrator")
            return DossierRefused(f"Trung tâm từ chối tệp tải lên: {exc.reason}", f"Hub refused the upload: {exc.reason}",
                                  exc.code or "upload_refused")
        return HubError(f"Lỗi tải lên: {exc}", f"Upload failed: {exc}")
