"""HubState: what every request handler needs — config, key, database, object store.

SQLite connections are per thread (uvicorn runs sync handlers in a thread
pool), so transactions from two requests never share a connection.
"""
from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync_protocol.castore import ContentStore
from sync_protocol.keys import key_id, public_key_text

from . import db
from .config import HubConfig
from .identity import load_or_create_hub_key


@dataclass
class HubState:
    config: HubConfig
    hub_key: Ed25519PrivateKey
    objects: ContentStore
    _local: threading.local = field(default_factory=threading.local)
    upload_locks: dict[str, threading.Lock] = field(default_factory=dict)
    upload_locks_guard: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, config: HubConfig) -> "HubState":
        config.ensure_dirs()
        conn = db.connect(config.db_path)
        db.migrate(conn)
        conn.close()
        return cls(config, load_or_create_hub_key(config.key_path), ContentStore(config.objects_dir))

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = db.connect(self.config.db_path)
            self._local.conn = conn
        return conn

    @property
    def hub_key_id(self) -> str:
        return key_id(self.hub_key)

    @property
    def hub_public_key(self) -> str:
        return public_key_text(self.hub_key)

    def now(self) -> int:
        return int(time.time())

    def upload_lock(self, upload_id: str) -> threading.Lock:
        with self.upload_locks_guard:
            return self.upload_locks.setdefault(upload_id, threading.Lock())
