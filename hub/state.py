"""HubState: what every request handler needs — config, hub key and storage."""
from __future__ import annotations

import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from sync_protocol.keys import key_id, public_key_text

from .config import HubConfig
from .identity import load_or_create_hub_encryption_key, load_or_create_hub_key
from .storage import Storage, open_storage
from .storage.metadata import MetadataDB
from .storage.objects import ObjectStore


@dataclass
class HubState:
    config: HubConfig
    hub_key: Ed25519PrivateKey
    storage: Storage
    #: X25519 key that agents encrypt sealed dossiers to (sync_protocol.encryption)
    encryption_key: X25519PrivateKey | None = None

    @classmethod
    def open(cls, config: HubConfig) -> "HubState":
        for given in (config.key_file, config.encryption_key_file, config.evidence_key_file):
            if given is not None and not given.is_file():
                raise FileNotFoundError(f"hub key file {given} does not exist; every instance must use the keys the "
                                        f"agents pinned (see docs/operations.md, 'Hub keys')")
        storage = open_storage(config)
        return cls(config, load_or_create_hub_key(config.key_path), storage,
                   load_or_create_hub_encryption_key(config.encryption_key_path))

    @property
    def db(self) -> MetadataDB:
        return self.storage.db

    @property
    def objects(self) -> ObjectStore:
        return self.storage.objects

    @property
    def hub_key_id(self) -> str:
        return key_id(self.hub_key)

    @property
    def hub_public_key(self) -> str:
        return public_key_text(self.hub_key)

    @property
    def encryption_public_key(self) -> str:
        from sync_protocol.encryption import x25519_public_text

        assert self.encryption_key is not None
        return x25519_public_text(self.encryption_key)

    @property
    def encryption_key_id(self) -> str:
        from sync_protocol.encryption import x25519_key_id

        assert self.encryption_key is not None
        return x25519_key_id(self.encryption_key)

    def now(self) -> int:
        return int(time.time())
