"""MetadataDB: the interface the hub uses for its SQL metadata, and the schema.

SQL is written once, in the subset SQLite and PostgreSQL share: `?`
placeholders (an implementation may translate them), `ON CONFLICT … DO
NOTHING`, BIGINT/TEXT columns. Rows come back as plain dicts.

Guarantees an implementation must give:
  * `transaction()` is atomic and isolated: either every statement inside takes
    effect or none does, and concurrent transactions (threads or hub instances)
    never see each other's partial writes; writes are durable when it returns.
  * a uniqueness violation raises `IntegrityError` (this module's class) and
    rolls the transaction back.
  * `transaction(lock=NAME)` first takes the named, transaction-scoped lock, so
    transactions naming the same lock run one after another while others run
    in parallel; `tx.lock(NAME)` takes one more later in the transaction. The
    default, GLOBAL_LOCK, serialises with every other default transaction (the
    simple choice for rare admin writes); NO_LOCK takes none. Take locks in one
    order — the named lock, then AUDIT_LOCK last (hub.audit) — so none deadlock.
    SQLite serialises every write transaction anyway (BEGIN IMMEDIATE).
  * `query`/`one`/`execute` outside a transaction run in autocommit;
    `execute_unsynced` too, without waiting for the disk (see its docstring).
"""
from __future__ import annotations

import contextlib
from typing import Any, Protocol, Sequence

SCHEMA_VERSION = 5

#: lock names for `MetadataDB.transaction(lock=…)` and `Tx.lock`
GLOBAL_LOCK = "global"
AUDIT_LOCK = "audit-tail"
NO_LOCK = None

#: forward migrations: version -> statements (shared by every SQL implementation)
MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE tokens (
            token_hash TEXT PRIMARY KEY, site TEXT NOT NULL, agency_code TEXT NOT NULL,
            created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT, used_by TEXT)""",
        """CREATE TABLE devices (
            device_id TEXT PRIMARY KEY, public_key TEXT NOT NULL, key_id TEXT NOT NULL UNIQUE,
            site TEXT NOT NULL, agency_code TEXT NOT NULL, code_block BIGINT NOT NULL, name TEXT NOT NULL,
            enrolled_at BIGINT NOT NULL, last_seen_at BIGINT, revoked_at BIGINT, revoked_reason TEXT,
            UNIQUE (agency_code, code_block))""",
        """CREATE TABLE uploads (
            upload_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, length BIGINT NOT NULL,
            upload_offset BIGINT NOT NULL DEFAULT 0, sha256 TEXT NOT NULL,
            created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)""",
        """CREATE TABLE object_owners (
            sha256 TEXT NOT NULL, device_id TEXT NOT NULL, size BIGINT NOT NULL, PRIMARY KEY (sha256, device_id))""",
        """CREATE TABLE chain (
            device_id TEXT NOT NULL, sequence BIGINT NOT NULL, manifest_hash TEXT NOT NULL,
            previous_manifest_hash TEXT, PRIMARY KEY (device_id, sequence))""",
        """CREATE TABLE dossiers (
            dossier_id TEXT NOT NULL, dossier_version BIGINT NOT NULL, manifest_hash TEXT NOT NULL,
            device_id TEXT NOT NULL, site TEXT NOT NULL, dossier_code TEXT NOT NULL, procedure_code TEXT NOT NULL,
            channel TEXT NOT NULL, status BIGINT NOT NULL, received_at TEXT NOT NULL,
            hub_sequence BIGINT NOT NULL UNIQUE, signed_manifest TEXT NOT NULL, receipt TEXT NOT NULL,
            PRIMARY KEY (dossier_id, dossier_version))""",
        """CREATE TABLE nonces (
            key_id TEXT NOT NULL, nonce TEXT NOT NULL, created BIGINT NOT NULL, PRIMARY KEY (key_id, nonce))""",
        "CREATE INDEX nonces_created ON nonces(created)",
    ],
    # trust (issue 6): key history for rotation, the hash-chained audit log,
    # and the decrypted (plaintext) documents of committed dossiers
    2: [
        """CREATE TABLE device_keys (
            key_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, public_key TEXT NOT NULL,
            added_at BIGINT NOT NULL, retired_at BIGINT)""",
        "CREATE INDEX device_keys_device ON device_keys(device_id)",
        """CREATE TABLE audit (
            seq BIGINT PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
            dossier_id TEXT, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, entry_hash TEXT NOT NULL)""",
        """CREATE TABLE dossier_documents (
            dossier_id TEXT NOT NULL, dossier_version BIGINT NOT NULL, position BIGINT NOT NULL,
            name TEXT NOT NULL, media_type TEXT NOT NULL, cipher_sha256 TEXT NOT NULL,
            plain_sha256 TEXT NOT NULL, plain_size BIGINT NOT NULL,
            PRIMARY KEY (dossier_id, dossier_version, position))""",
        """INSERT INTO device_keys(key_id, device_id, public_key, added_at)
            SELECT key_id, device_id, public_key, enrolled_at FROM devices""",
    ],
    # reliable sync (issue 5): the per-site status feed and API tokens for the provincial case system
    3: [
        """CREATE TABLE status_events (
            cursor BIGINT PRIMARY KEY, site TEXT NOT NULL, dossier_id TEXT NOT NULL, dossier_code TEXT NOT NULL,
            status BIGINT NOT NULL, at TEXT NOT NULL, note TEXT NOT NULL, result_ready BIGINT NOT NULL,
            source TEXT NOT NULL, event_key TEXT, created_at BIGINT NOT NULL, UNIQUE (source, event_key))""",
        "CREATE INDEX status_events_site ON status_events(site, cursor)",
        """CREATE TABLE api_tokens (
            token_hash TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL, revoked_at BIGINT)""",
    ],
    # courier proofs of delivery, signed by the device (sync_protocol.delivery_proof); upload expiry index
    4: [
        """CREATE TABLE delivery_proofs (
            record_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, dossier_id TEXT NOT NULL, kind TEXT NOT NULL,
            document_hash TEXT NOT NULL, envelope TEXT NOT NULL, received_at BIGINT NOT NULL)""",
        "CREATE INDEX delivery_proofs_dossier ON delivery_proofs(dossier_id)",
        # expire_stale_uploads runs on every upload creation: no full scans of a growing table
        "CREATE INDEX uploads_updated ON uploads(updated_at)",
    ],
    # multi-instance hub (issue 17): a finished upload keeps its row (tus HEAD still answers) with
    # finished_at set until the janitor removes it; unfinished = finished_at IS NULL
    5: [
        "ALTER TABLE uploads ADD COLUMN finished_at BIGINT",
        "CREATE INDEX uploads_finished ON uploads(finished_at)",
        # audit entries of commits waiting to be hash-chained (hub.audit_queue)
        """CREATE TABLE audit_pending (
            pending_id TEXT PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
            dossier_id TEXT, detail TEXT NOT NULL)""",
    ],
}


class IntegrityError(Exception):
    """A uniqueness or constraint violation; the transaction was rolled back."""


class Tx(Protocol):
    """Statements inside one transaction."""

    def lock(self, name: str, *, counted: bool = True) -> None:
        """Wait for the named lock; it is held until the transaction ends. `counted`: add the
        wait to the request threads' lock-wait figure (hub.storage.stats)."""

    def next_hub_sequence(self) -> int:
        """A hub sequence number no other transaction gets. PostgreSQL: from a sequence, without
        waiting for any lock — a transaction that rolls back leaves a gap. SQLite: MAX + 1 (the
        only writer), gap-free."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; return the number of rows it changed."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        ...


class MetadataDB(Tx, Protocol):
    """A SQL database for hub metadata (its own methods run in autocommit)."""

    def transaction(self, lock: str | None = GLOBAL_LOCK) -> contextlib.AbstractContextManager[Tx]:
        ...

    def execute_unsynced(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Autocommit a write that a power cut may lose — it becomes durable with the
        next ordinary commit. For the replay cache only: every request writes a nonce,
        and waiting for an fsync each time halves the hub's throughput."""

    def schema_version(self) -> int:
        ...

    def close(self) -> None:
        ...


def migrate(db: MetadataDB) -> int:
    """Apply forward migrations in order; each in its own transaction."""
    current = db.schema_version()
    if current > SCHEMA_VERSION:
        raise RuntimeError(f"hub database is schema {current}, newer than this hub ({SCHEMA_VERSION}); upgrade motcua")
    for version in range(current + 1, SCHEMA_VERSION + 1):
        with db.transaction() as tx:
            for statement in MIGRATIONS[version]:
                tx.execute(statement)
            tx.execute("DELETE FROM schema_version")
            tx.execute("INSERT INTO schema_version(version) VALUES (?)", (version,))
    return SCHEMA_VERSION

