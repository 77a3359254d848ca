"""AgentConfig: the agent's home directory and its settings file.

Layout of the home directory (default ~/.local/share/motcua, or $MOTCUA_HOME):
  config.json       hub URL, device id, pinned hub key, site, agency code, settings
  device_key.pem    the device's Ed25519 private key (mode 0600)
  outbox.db         the SQLite outbox
  blobs/            content-addressed payload objects
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import NotInitialised, StorageError
from sync_protocol.castore import write_file_atomic


def default_home() -> Path:
    env = os.environ.get("MOTCUA_HOME")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "motcua"


@dataclass
class AgentSettings:
    """Tunable settings with embedded defaults."""

    #: largest tus PATCH; chunks adapt below it to the link's throughput (sync_protocol.chunking)
    chunk_size: int = 4 * 1024 * 1024
    #: keep local payload this long after a verified receipt (0 = purge at once: minimum data)
    retention_hours: int = 0
    #: citizens' personal data is removed this many days after the result was returned (status 10)
    personal_data_retention_days: int = 30
    #: seconds between sync passes when the queue is idle
    idle_interval: int = 30
    #: backoff cap, seconds
    max_backoff: int = 300
    #: HTTP timeout, seconds
    timeout: int = 30
    #: a request whose connection moved no byte for this long is stalled: probe the hub on a new connection and,
    #: if it answers, abandon the stuck one and go on at once (agent.delivery.watchdog; 0 turns the watchdog off)
    stall_seconds: float = 3.0
    #: while backing off, probe GET /v1/hello this often (seconds); reachable again -> retry at once
    probe_interval: float = 3.0
    #: the "at once" retry after reconnecting waits random(0, this) seconds so desks don't stampede
    reconnect_jitter: float = 3.0
    #: a dossier with no due date is due this many days after it was received (delivery priority)
    default_due_days: int = 15
    #: seconds of link one dossier may use before smaller/more urgent ones get their turn
    fair_share_seconds: float = 20.0
    #: OCR text layer on captured PDFs: "auto" (on when tesseract + vie are installed), "on", "off";
    #: the environment variable MOTCUA_OCR overrides it
    ocr: str = "auto"
    #: a page whose ink covers less than this fraction is a blank back and is dropped (0 keeps every page)
    blank_threshold: float = 0.0001
    #: straighten pages skewed by a few degrees before encoding
    deskew: bool = False
    #: black-and-white text pages are stored at this resolution at most (150–600; the OCR layer is always read
    #: at the scan's resolution). 200 keeps every mark and the OCR recall of the 300 dpi scan at ~2/3 the bytes
    #: (README, "Capture"); 300 stores the scan's full resolution
    text_page_dpi: int = 200
    #: regular expression of the dossier codes on the province's plain cover sheets (QR holding just the code);
    #: national-format codes (000.00.01.H29-240115-0001) are recognised without it
    cover_code_pattern: str = ""
    #: hot folder: a file is consumed once its size and mtime have not changed for this many seconds
    hotfolder_settle_seconds: float = 2.0
    #: the intake form's "Quét thẻ CCCD" button: SANE device (blank: the first), resolution, mode, and the
    #: corner of the glass scanned (width, height in mm; a card is 85.6 x 54 mm)
    card_scanner: str = ""
    card_scan_resolution: int = 300
    card_scan_mode: str = "Gray"
    card_scan_area_mm: tuple[float, float] = (90.0, 60.0)
    #: receipt slip header, set by the province: the body above the desk (e.g. "UBND TỈNH ĐỒNG NAI") and the
    #: issuing body (e.g. "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG XÃ TÂN PHÚ"; blank: the site name), and the
    #: place on the date line (e.g. "Tân Phú")
    slip_parent_body: str = ""
    slip_issuing_body: str = ""
    slip_place: str = ""


@dataclass
class AgentConfig:
    home: Path
    hub_url: str = ""
    device_id: str = ""
    site: str = ""
    agency_code: str = ""
    code_block: int = 0
    hub_public_key: str = ""
    hub_key_id: str = ""
    #: the hub's X25519 key, pinned at enrolment: sealed dossiers are encrypted to it
    hub_encryption_key: str = ""
    hub_encryption_key_id: str = ""
    #: TLS: CA bundle file to verify the hub with (empty: system CAs) and an optional
    #: pin of the hub certificate (sha256 of its DER bytes, hex)
    ca_bundle: str = ""
    hub_cert_sha256: str = ""
    settings: AgentSettings = field(default_factory=AgentSettings)

    @property
    def config_path(self) -> Path:
        return self.home / "config.json"

    @property
    def key_path(self) -> Path:
        return self.home / "device_key.pem"

    @property
    def db_path(self) -> Path:
        return self.home / "outbox.db"

    @property
    def blobs_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def enrolled(self) -> bool:
        return bool(self.device_id and self.hub_public_key)

    @classmethod
    def load(cls, home: Path) -> "AgentConfig":
        path = home / "config.json"
        if not path.exists():
            return cls(home=home)
        try:
            data: dict[str, Any] = json.loads(path.read_text("utf-8"))
            settings = AgentSettings(**data.pop("settings", {}))
            return cls(home=home, settings=settings, **data)
        except (ValueError, TypeError) as exc:
            raise StorageError(f"Tệp cấu hình {path} bị hỏng.", f"Config file {path} is damaged: {exc}",
                               "Khôi phục từ bản sao lưu hoặc đăng ký lại / restore it or enrol again") from exc

    def save(self) -> None:
        data = asdict(self)
        data.pop("home")
        write_file_atomic(self.config_path, json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8"), mode=0o600)

    def require_enrolled(self) -> "AgentConfig":
        if not self.enrolled:
            raise NotInitialised(str(self.home))
        return self
