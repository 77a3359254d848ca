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

#: lock names for `MetadataDB.transaction(lock=…)` and `Tx.lock`
GLOBAL_LOCK = "global"
AUDIT_LOCK = "audit-tail"
NO_LOCK = None
#: commits take it shared with their hub sequence number (Tx.next_hub_sequence), readers of "after hub
#: sequence N" exclusively (read_in_sequence_order): commits never wait for each other on it
SEQUENCE_LOCK = "hub-sequence"

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
    # the provincial centre's web console (issue 19): staff accounts and their sessions (hub.console)
    5: [
        """CREATE TABLE console_users (
            username TEXT PRIMARY KEY, display_name TEXT NOT NULL, role TEXT NOT NULL, password_hash TEXT NOT NULL,
            created_at BIGINT NOT NULL, disabled_at BIGINT, failed_logins BIGINT NOT NULL DEFAULT 0,
            locked_until BIGINT, password_changed_at BIGINT NOT NULL)""",
        """CREATE TABLE console_sessions (
            session_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf_token TEXT NOT NULL,
            created_at BIGINT NOT NULL, last_seen_at BIGINT NOT NULL)""",
        "CREATE INDEX console_sessions_user ON console_sessions(username)",
        # the software version a desk announces in its User-Agent, shown on the console's device list
        "ALTER TABLE devices ADD COLUMN agent_version TEXT",
    ],
    # the case system takes dossiers out (issue 19): API tokens scoped to agencies, per-token acks,
    # and the durable outbox of outbound webhooks (hub.case_system)
    6: [
        "ALTER TABLE api_tokens ADD COLUMN agencies TEXT",  # JSON list of agency codes; NULL: status posts only
        "ALTER TABLE api_tokens ADD COLUMN last_pull_at BIGINT",
        """CREATE TABLE case_acks (
            token_name TEXT NOT NULL, dossier_id TEXT NOT NULL, dossier_version BIGINT NOT NULL,
            acked_at BIGINT NOT NULL, PRIMARY KEY (token_name, dossier_id, dossier_version))""",
        """CREATE TABLE webhook_endpoints (
            name TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, agencies TEXT NOT NULL,
            created_at BIGINT NOT NULL, revoked_at BIGINT,
            dossier_position BIGINT NOT NULL DEFAULT 0, status_position BIGINT NOT NULL DEFAULT 0)""",
        """CREATE TABLE webhook_outbox (
            id TEXT PRIMARY KEY, endpoint TEXT NOT NULL, event TEXT NOT NULL, dossier_id TEXT NOT NULL,
            idempotency_key TEXT NOT NULL, body TEXT NOT NULL, state TEXT NOT NULL, attempts BIGINT NOT NULL,
            next_attempt_at DOUBLE PRECISION NOT NULL, lease_until DOUBLE PRECISION, last_error TEXT,
            created_at BIGINT NOT NULL, delivered_at DOUBLE PRECISION, UNIQUE (endpoint, idempotency_key))""",
        "CREATE INDEX webhook_outbox_due ON webhook_outbox(state, next_attempt_at)",
        # GET /v1/case-system/documents/{sha256} finds the dossier holding a document
        "CREATE INDEX dossier_documents_plain ON dossier_documents(plain_sha256)",
    ],
    # hub authority (issue 12): the feed is scoped by agency code, never by the free-text site
    # name; a dossier's owner is the device that first committed it unless the admin transferred it
    7: [
        "ALTER TABLE status_events ADD COLUMN agency_code TEXT",
        """UPDATE status_events SET agency_code = (SELECT v.agency_code FROM dossiers d
            JOIN devices v ON v.device_id = d.device_id WHERE d.dossier_id = status_events.dossier_id
            ORDER BY d.dossier_version LIMIT 1)""",
        "CREATE INDEX status_events_agency ON status_events(agency_code, cursor)",
        """CREATE TABLE dossier_owners (
            dossier_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, transferred_at BIGINT NOT NULL)""",
        "CREATE INDEX uploads_device ON uploads(device_id)",
    ],
    # couriers' phones (issue 15, hub.courier_app): device role, pairing tokens made by a desk,
    # the doorstep tasks a desk hands to one phone
    8: [
        "ALTER TABLE devices ADD COLUMN role TEXT NOT NULL DEFAULT 'desk'",
        """CREATE TABLE courier_pairings (
            token_hash TEXT PRIMARY KEY, desk_device_id TEXT NOT NULL, site TEXT NOT NULL, agency_code TEXT NOT NULL,
            courier_name TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT,
            used_by TEXT)""",
        """CREATE TABLE courier_tasks (
            courier_device_id TEXT NOT NULL, dossier_id TEXT NOT NULL, desk_device_id TEXT NOT NULL,
            batch TEXT NOT NULL, task TEXT NOT NULL, published_at BIGINT NOT NULL,
            PRIMARY KEY (courier_device_id, dossier_id))""",
    ],
    # reference data the province publishes (issue 16, hub/refdata.py): imported drafts, signed versions
    9: [
        """CREATE TABLE refdata_drafts (
            kind TEXT PRIMARY KEY, content TEXT NOT NULL, source TEXT NOT NULL, imported_at BIGINT NOT NULL)""",
        """CREATE TABLE refdata_versions (
            version BIGINT PRIMARY KEY, document_hash TEXT NOT NULL, envelope TEXT NOT NULL,
            published_at BIGINT NOT NULL)""",
    ],
    # multi-instance hub (issue 17): a finished upload keeps its row (tus HEAD still answers) with
    # finished_at set until the janitor removes it; unfinished = finished_at IS NULL
    10: [
        "ALTER TABLE uploads ADD COLUMN finished_at BIGINT",
        "CREATE INDEX uploads_finished ON uploads(finished_at)",
        # audit entries of commits waiting to be hash-chained (hub.audit_queue)
        """CREATE TABLE audit_pending (
            pending_id TEXT PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
            dossier_id TEXT, detail TEXT NOT NULL)""",
    ],
    # couriers' failed attempts on the feed (issue 15): a delivery_failed event keeps the attempt
    # (reason, note, next date) as JSON; NULL for a status change
    11: [
        "ALTER TABLE status_events ADD COLUMN attempt TEXT",
    ],
}
SCHEMA_VERSION = max(MIGRATIONS)  # the newest step; a database beyond it is refused


class IntegrityError(Exception):
    """A uniqueness or constraint violation; the transaction was rolled back."""


class Tx(Protocol):
    """Statements inside one transaction."""

    def lock(self, name: str, *, counted: bool = True, shared: bool = False) -> None:
        """Wait for the named lock; it is held until the transaction ends. `counted`: add the
        wait to the request threads' lock-wait figure (hub.storage.stats). `shared`: any number of
        shared holders at once, excluding only an exclusive holder."""

    def next_hub_sequence(self) -> int:
        """A hub sequence number no other transaction gets. PostgreSQL: from a sequence, holding
        SEQUENCE_LOCK shared until the transaction ends — so commits never wait for each other, and
        `read_in_sequence_order` (exclusive) waits until every number taken so far is committed or
        rolled back; a rollback leaves a gap. SQLite: MAX + 1 (the only writer), gap-free."""

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


def read_in_sequence_order(db: MetadataDB, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Run a "hub_sequence > N" page query that never skips a number: numbers are taken before their
    commit ends, so a lower number may commit after a higher one. Under SEQUENCE_LOCK (exclusive) the
    query waits until every transaction holding a number has ended, and new ones wait for it — so a
    cursor past the last row returned never passes a number that commits later."""
    with db.transaction(lock=SEQUENCE_LOCK) as tx:
        return tx.query(sql, params)


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

