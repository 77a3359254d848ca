"""The hub's SQLite database: schema, migrations and connections.

WAL mode with synchronous=FULL: a commit the hub acknowledged survives a power
cut. Write transactions use BEGIN IMMEDIATE so concurrent requests serialise
instead of failing half-way.
"""
from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Iterator

SCHEMA_VERSION = 1

_SCHEMA_V1 = """
CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    agency_code TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    used_by TEXT
);
CREATE TABLE devices (
    device_id TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    key_id TEXT NOT NULL UNIQUE,
    site TEXT NOT NULL,
    agency_code TEXT NOT NULL,
    code_block INTEGER NOT NULL,
    name TEXT NOT NULL,
    enrolled_at INTEGER NOT NULL,
    last_seen_at INTEGER,
    revoked_at INTEGER,
    revoked_reason TEXT,
    UNIQUE (agency_code, code_block)
);
CREATE TABLE uploads (
    upload_id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    length INTEGER NOT NULL,
    offset INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE object_owners (
    sha256 TEXT NOT NULL,
    device_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (sha256, device_id)
);
CREATE TABLE chain (
    device_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    manifest_hash TEXT NOT NULL,
    previous_manifest_hash TEXT,
    PRIMARY KEY (device_id, sequence)
);
CREATE TABLE dossiers (
    dossier_id TEXT NOT NULL,
    dossier_version INTEGER NOT NULL,
    manifest_hash TEXT NOT NULL,
    device_id TEXT NOT NULL,
    site TEXT NOT NULL,
    dossier_code TEXT NOT NULL,
    procedure_code TEXT NOT NULL,
    channel TEXT NOT NULL,
    status INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    hub_sequence INTEGER NOT NULL UNIQUE,
    signed_manifest TEXT NOT NULL,
    receipt TEXT NOT NULL,
    PRIMARY KEY (dossier_id, dossier_version)
);
CREATE TABLE nonces (
    key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX nonces_created ON nonces(created);
"""

MIGRATIONS = {1: _SCHEMA_V1}


def connect(path: Path) -> sqlite3.Connection:
    """Open the hub database (autocommit mode; use `transaction()` for writes)."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Apply forward migrations; return the schema version now in force."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"hub database is schema {version}, newer than this hub ({SCHEMA_VERSION}); upgrade motcua")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        with transaction(conn):
            for statement in filter(None, (s.strip() for s in MIGRATIONS[target].split(";"))):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={target}")
    return SCHEMA_VERSION


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
