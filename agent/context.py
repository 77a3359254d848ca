"""AgentContext: one open agent — its config, device key, outbox and hub client.

Library callers and the CLI both start here: `AgentContext.open(home)`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from agent.config import AgentConfig, default_home
from agent.delivery.hub_client import HubClient
from agent.errors import NotInitialised, StorageError
from agent.outbox.hub_clock import ClockRecorder
from agent.outbox.store import Outbox
from sync_protocol.keys import private_key_from_pem, public_key_from_text


@dataclass
class AgentContext:
    config: AgentConfig
    _outbox: Outbox | None = field(default=None, repr=False)
    _hub: HubClient | None = field(default=None, repr=False)
    _key: Ed25519PrivateKey | None = field(default=None, repr=False)

    @classmethod
    def open(cls, home: Path | str | None = None) -> "AgentContext":
        home = Path(home) if home else default_home()
        try:
            home.mkdir(parents=True, exist_ok=True)
            os.chmod(home, 0o700)
        except OSError as exc:
            raise StorageError(f"Không tạo được thư mục dữ liệu {home}.", f"Cannot create data directory {home}: {exc}",
                               "Kiểm tra quyền ghi / check permissions") from exc
        return cls(AgentConfig.load(home))

    @property
    def outbox(self) -> Outbox:
        if self._outbox is None:
            self._outbox = Outbox(self.config.db_path, self.config.blobs_dir)
        return self._outbox

    @property
    def device_key(self) -> Ed25519PrivateKey:
        if self._key is None:
            if not self.config.key_path.exists():
                raise NotInitialised(str(self.config.home))
            self._key = private_key_from_pem(self.config.key_path.read_bytes())
        return self._key

    @property
    def hub_key(self) -> Ed25519PublicKey:
        """The hub key pinned at enrolment."""
        return public_key_from_text(self.config.require_enrolled().hub_public_key)

    @property
    def hub(self) -> HubClient:
        if self._hub is None:
            self.config.require_enrolled()
            recorder = ClockRecorder(self.outbox)  # every contact refreshes the desk's legal time
            self._hub = HubClient(self.config.hub_url, self.device_key, timeout=self.config.settings.timeout,
                                  stall_seconds=self.config.settings.stall_seconds,
                                  clock_offset=recorder.kept.offset if recorder.kept else 0.0,
                                  on_clock=recorder.offer, verify=self.config.ca_bundle or True, pin_sha256=self.config.hub_cert_sha256 or None)
        return self._hub

    def close(self) -> None:
        if self._outbox is not None:
            self._outbox.close()
        if self._hub is not None:
            self._hub.close()
