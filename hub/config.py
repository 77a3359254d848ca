"""HubConfig: where the hub keeps its data and the limits it enforces."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class HubConfig:
    data_dir: Path
    #: largest single upload (one payload object)
    max_upload_bytes: int = 512 * 1024 * 1024
    #: largest PATCH body the hub buffers to verify its checksum
    max_chunk_bytes: int = 16 * 1024 * 1024
    #: how far a signature's `created` may be from hub time
    signature_window_seconds: int = 300
    #: unfinished uploads are forgotten after this long without a PATCH (tus expiration)
    upload_expiry_seconds: int = 7 * 24 * 3600
    #: default lifetime of an enrolment token
    token_ttl_seconds: int = 24 * 3600
    #: devices per agency code; each gets its own block of daily dossier numbers
    max_devices_per_agency: int = 10

    @property
    def db_path(self) -> Path:
        return self.data_dir / "hub.db"

    @property
    def key_path(self) -> Path:
        return self.data_dir / "hub_key.pem"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.objects_dir, self.uploads_dir):
            path.mkdir(parents=True, exist_ok=True)
