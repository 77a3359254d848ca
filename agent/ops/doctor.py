"""`motcua doctor`: check a desk's setup and explain each problem in Vietnamese and English.

Checks, in order: enrolment; hub reachable with a valid TLS certificate and
the pinned hub key; clock offset against the hub; the hub still accepts this
device; free disk space; scanner visible to SANE; outbox integrity and queue
health; dossiers waiting in the rejected lane; last successful sync.

Each check gives ok / warn / fail / skip with a message for desk staff and a
hint. Exit status of the command (monitoring convention, like Nagios):
0 everything ok, 1 warnings only, 2 at least one failure.
"""
from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable
from urllib.parse import urlparse

import requests

from agent.context import AgentContext
from agent.ops.metrics import read_health

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
EXIT_CODES = {OK: 0, SKIP: 0, WARN: 1, FAIL: 2}
LABELS = {OK: "[ OK ]", WARN: "[CẢNH BÁO/WARN]", FAIL: "[ LỖI/FAIL ]", SKIP: "[BỎ QUA/SKIP]"}

#: thresholds (seconds / bytes)
CLOCK_WARN = 60
DISK_FAIL = 500 * 1024 * 1024
DISK_WARN = 2 * 1024 * 1024 * 1024
QUEUE_AGE_WARN = 24 * 3600
SYNC_AGE_WARN = 2 * 24 * 3600
ATTEMPTS_WARN = 20


@dataclass
class Check:
    name: str
    status: str
    message_vi: str
    message_en: str
    hint: str = ""

    def text(self) -> str:
        lines = [f"{LABELS[self.status]} {self.name}: {self.message_vi}", f"{' ' * len(LABELS[self.status])} {self.message_en}"]
        if self.hint and self.status in (WARN, FAIL):
            lines.append(f"{' ' * len(LABELS[self.status])} → {self.hint}")
        return "\n".join(lines)


@dataclass
class Report:
    checks: list[Check]

    @property
    def status(self) -> str:
        for level in (FAIL, WARN):
            if any(c.status == level for c in self.checks):
                return level
        return OK

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "exit_code": self.exit_code, "checks": [asdict(c) for c in self.checks]}

    def text(self) -> str:
        summary = {OK: "Mọi thứ ổn / all good", WARN: "Có cảnh báo / warnings", FAIL: "Có lỗi cần xử lý / problems found"}
        return "\n".join([c.text() for c in self.checks] + [f"== {summary[self.status]}"])


class _Hub:
    """What the hub probe learned, shared by the checks that need it."""

    def __init__(self) -> None:
        self.hello: dict[str, Any] | None = None
        self.offset: float | None = None


def check_enrolled(ctx: AgentContext, _: _Hub) -> Check:
    if ctx.config.enrolled:
        return Check("enrolment", OK, f"Đã đăng ký: {ctx.config.site} ({ctx.config.device_id}).",
                     f"Enrolled: {ctx.config.site} ({ctx.config.device_id}).")
    return Check("enrolment", FAIL, "Máy này chưa đăng ký với trung tâm.", "This desk is not enrolled with a hub.",
                 "motcua init --hub URL --token TOKEN --site \"…\"")


def check_hub(ctx: AgentContext, hub: _Hub) -> Check:
    if not ctx.config.enrolled:
        return Check("hub", SKIP, "Chưa đăng ký nên không kiểm tra trung tâm.", "Not enrolled: hub not checked.")
    url = ctx.config.hub_url
    session = ctx.hub.session
    started = time.time()
    try:
        response = session.get(ctx.hub.url("/v1/hello"), timeout=min(15, ctx.config.settings.timeout))
        response.raise_for_status()
        hub.hello = response.json()
    except requests.exceptions.SSLError as exc:
        return Check("hub", FAIL, f"Chứng chỉ TLS của trung tâm {url} không hợp lệ hoặc không khớp khoá đã ghim.",
                     f"The hub's TLS certificate at {url} is invalid or does not match the pin: {type(exc).__name__}.",
                     "Kiểm tra ngày giờ máy và chứng chỉ máy chủ; báo quản trị viên / check the clock and the certificate")
    except (requests.RequestException, ValueError) as exc:
        return Check("hub", FAIL, f"Không kết nối được trung tâm {url}.",
                     f"Cannot reach the hub at {url} ({type(exc).__name__}).",
                     "Kiểm tra mạng; hồ sơ vẫn an toàn trong hàng đợi / check the link; the queue is safe")
    finished = time.time()
    if isinstance(hub.hello.get("time"), (int, float)):
        hub.offset = float(hub.hello["time"]) - (started + finished) / 2
    if hub.hello.get("hub_key_id") != ctx.config.hub_key_id:
        return Check("hub", FAIL, "Trung tâm trả lời bằng khoá khác với khoá đã ghim khi đăng ký.",
                     f"The hub answered with key {hub.hello.get('hub_key_id')}, not the pinned {ctx.config.hub_key_id}.",
                     "Có thể nhầm máy chủ; báo quản trị viên / possibly the wrong server: tell the administrator")
    tls = "TLS hợp lệ / valid TLS" if url.startswith("https://") else "không mã hoá / plain HTTP"
    local = (urlparse(url).hostname or "") in ("127.0.0.1", "localhost", "::1")
    return Check("hub", OK if url.startswith("https://") or local else WARN,
                 f"Kết nối được trung tâm {url} ({tls}), đúng khoá đã ghim.",
                 f"Hub reachable at {url} ({'TLS valid' if url.startswith('https://') else 'no TLS'}), pinned key matches.",
                 "Dùng https:// khi đi qua mạng công cộng / use https:// over public networks")


def check_clock(ctx: AgentContext, hub: _Hub) -> Check:
    if hub.offset is None:
        return Check("clock", SKIP, "Không đo được lệch giờ (chưa kết nối trung tâm).", "Clock offset not measured (no hub).")
    offset = hub.offset
    if abs(offset) <= CLOCK_WARN:
        return Check("clock", OK, f"Đồng hồ lệch {offset:+.0f} giây so với trung tâm.", f"Clock is {offset:+.0f} s from the hub.")
    return Check("clock", WARN, f"Đồng hồ máy lệch {offset:+.0f} giây so với trung tâm.",
                 f"This computer's clock is {offset:+.0f} s off the hub's; dates on receipts and forms will be wrong.",
                 "Bật đồng bộ giờ (timedatectl set-ntp true / w32tm /resync) / enable time sync")


def check_device(ctx: AgentContext, hub: _Hub) -> Check:
    if hub.hello is None:
        return Check("device", SKIP, "Không kiểm tra quyền của máy (chưa kết nối trung tâm).", "Device not checked (no hub).")
    try:
        response = ctx.hub.session.head(ctx.hub.url("/v1/objects/" + "0" * 64), timeout=15)
    except requests.RequestException as exc:
        return Check("device", FAIL, "Mất kết nối khi kiểm tra quyền của máy.", f"Link lost while checking the device: {type(exc).__name__}.")
    if response.status_code in (200, 404):
        return Check("device", OK, "Trung tâm chấp nhận máy này.", "The hub accepts this device.")
    if response.status_code == 401:
        return Check("device", FAIL, "Trung tâm từ chối máy này (bị thu hồi hoặc chưa đăng ký).",
                     "The hub refuses this device (revoked or unknown).",
                     "Liên hệ quản trị viên tỉnh / contact the provincial IT administrator")
    return Check("device", WARN, f"Trung tâm trả lời bất thường ({response.status_code}).",
                 f"Unexpected hub answer ({response.status_code}) to a signed request.")


def check_disk(ctx: AgentContext, _: _Hub) -> Check:
    usage = shutil.disk_usage(ctx.config.home)
    free_gb = usage.free / 1024 ** 3
    where = str(ctx.config.home)
    if usage.free < DISK_FAIL:
        return Check("disk", FAIL, f"Ổ đĩa chứa {where} gần đầy: còn {free_gb:.2f} GB.",
                     f"The disk holding {where} is nearly full: {free_gb:.2f} GB free; scanning will fail.",
                     "Giải phóng dung lượng / free disk space")
    status = WARN if usage.free < DISK_WARN else OK
    return Check("disk", status, f"Còn trống {free_gb:.1f} GB ở {where}.", f"{free_gb:.1f} GB free at {where}.",
                 "Sắp hết dung lượng; dọn bớt tệp / running low: free some space")


def check_scanner(_: AgentContext, __: _Hub, scanimage: str = "scanimage") -> Check:
    path = shutil.which(scanimage)
    if path is None:
        return Check("scanner", WARN, "Chưa cài phần mềm máy quét SANE (scanimage).", "SANE (scanimage) is not installed.",
                     "apt install sane-utils, hoặc dùng motcua import / or use motcua import with scanned files")
    try:
        listing = subprocess.run([path, "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("scanner", WARN, "Không liệt kê được máy quét.", f"Listing scanners failed: {type(exc).__name__}.")
    devices = [line for line in listing.splitlines() if line.startswith("device `")]
    if not devices:
        return Check("scanner", WARN, "Không thấy máy quét nào.", "No scanner is visible to SANE.",
                     "Kiểm tra cáp, nguồn và quyền nhóm scanner / check cable, power and the scanner group")
    names = ", ".join(line.split("`", 1)[1].split("'", 1)[0] for line in devices[:3])
    return Check("scanner", OK, f"Thấy {len(devices)} máy quét: {names}.", f"{len(devices)} scanner(s) visible: {names}.")


def check_queue(ctx: AgentContext, _: _Hub) -> Check:
    db = ctx.config.db_path
    if db.exists():
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            verdict = str(exc)
        finally:
            conn.close()
        if verdict != "ok":
            return Check("queue", FAIL, f"Tệp hàng đợi {db} bị hỏng.", f"The outbox database {db} is damaged: {verdict}.",
                         "Dừng motcua và báo quản trị viên; đừng xoá tệp / stop motcua, tell the administrator, keep the file")
    health = read_health(db)
    hours = health.oldest_unsent_age_seconds / 3600
    text_vi = f"{health.unsent} hồ sơ chờ gửi; lâu nhất {hours:.1f} giờ."
    text_en = f"{health.unsent} dossier(s) waiting; oldest {hours:.1f} h."
    if health.unsent and (health.oldest_unsent_age_seconds > QUEUE_AGE_WARN or health.most_attempts > ATTEMPTS_WARN):
        return Check("queue", WARN, text_vi, text_en + f" Most attempts: {health.most_attempts}.",
                     "Kiểm tra mạng hoặc dùng USB (motcua bundle) / check the link or carry a USB bundle")
    return Check("queue", OK, text_vi, text_en)


def check_rejected(ctx: AgentContext, _: _Hub) -> Check:
    rejected = read_health(ctx.config.db_path).queue.get("rejected", 0)
    if rejected:
        return Check("rejected", WARN, f"{rejected} hồ sơ bị từ chối đang chờ xử lý.",
                     f"{rejected} rejected dossier(s) need attention.", "motcua queue --state rejected")
    return Check("rejected", OK, "Không có hồ sơ bị từ chối.", "No rejected dossiers.")


def check_last_sync(ctx: AgentContext, _: _Hub) -> Check:
    health = read_health(ctx.config.db_path)
    since = health.seconds_since_sync()
    if since is None:
        status = WARN if health.unsent else OK
        return Check("last_sync", status, "Chưa có lần đồng bộ nào hoàn tất.", "No sync pass has completed yet.",
                     "Chạy motcua sync hoặc dịch vụ motcua run / run motcua sync or the motcua service")
    days = since / 86400
    status = WARN if since > SYNC_AGE_WARN and health.unsent else OK
    return Check("last_sync", status, f"Đồng bộ đầy đủ lần cuối {days:.1f} ngày trước.",
                 f"Last complete sync {days:.1f} day(s) ago ({health.last_sync_ok}).",
                 "Kiểm tra dịch vụ motcua và mạng / check the motcua service and the link")


def check_messages(ctx: AgentContext, _: _Hub) -> Check:
    """Citizens get messages only through a real gateway (Gammu modem or webhook), not a folder."""
    import json

    path = ctx.config.home / "notify.json"
    try:
        sender = json.loads(path.read_text("utf-8")).get("sender", "file") if path.exists() else "file"
    except (ValueError, OSError, AttributeError):
        return Check("messages", FAIL, f"Tệp cấu hình tin nhắn {path} không đọc được.",
                     f"The message configuration {path} cannot be read.", "Sửa notify.json / fix notify.json")
    if sender in ("gammu", "webhook"):
        return Check("messages", OK, f"Tin nhắn cho công dân đi qua cổng {sender}.",
                     f"Citizen messages go through the {sender} gateway.")
    return Check("messages", WARN, "Chưa cấu hình cổng SMS thật: tin nhắn chỉ được ghi ra thư mục, công dân không nhận được.",
                 "No real SMS gateway is configured: messages are only written to a folder; citizens get nothing.",
                 'notify.json: {"sender": "gammu", "gammu": {"device": "/dev/ttyUSB0"}} hoặc/or webhook')


CHECKS: list[Callable[[AgentContext, _Hub], Check]] = [
    check_enrolled, check_hub, check_clock, check_device, check_disk, check_scanner, check_queue, check_rejected,
    check_last_sync, check_messages,
]


#: checks other packages add at start-up (e.g. the desk's reference data: agent.desk.workflows.subscribe)
_EXTRA_CHECKS: list[Callable[[AgentContext, _Hub], Check]] = []


def register_check(check: Callable[[AgentContext, "_Hub"], Check]) -> None:
    """Add a check that runs after the built-in ones (once)."""
    if check not in _EXTRA_CHECKS:
        _EXTRA_CHECKS.append(check)


def run_doctor(ctx: AgentContext, *, scanner: bool = True) -> Report:
    """Run every check; a check that crashes is reported as a failure, never raised."""
    hub, checks = _Hub(), []
    for check in [*CHECKS, *_EXTRA_CHECKS]:
        if check is check_scanner and not scanner:
            checks.append(Check("scanner", SKIP, "Bỏ qua kiểm tra máy quét.", "Scanner check skipped."))
            continue
        try:
            checks.append(check(ctx, hub))
        except Exception as exc:  # noqa: BLE001 - the doctor must finish and say what it could not check
            name = check.__name__.removeprefix("check_")
            checks.append(Check(name, FAIL, f"Không kiểm tra được ({type(exc).__name__}).",
                                f"Check could not run: {type(exc).__name__}: {exc}"))
    return Report(checks)
