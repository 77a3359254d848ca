"""Schema versions: a database from the first released schema upgrades in place, keeping its data,
for the agent's outbox and for the hub on both SQLite and PostgreSQL; a database newer than the
code is refused with a clear message instead of being damaged."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent.outbox.store import SCHEMA_VERSION as OUTBOX_VERSION
from agent.outbox.store import Outbox
from hub.config import HubConfig
from hub.storage import open_storage
from hub.storage.metadata import MIGRATIONS, SCHEMA_VERSION

from .fixtures_servers import *  # noqa: F401,F403

#: the agent outbox as schema version 1 created it (sqlite-utils DDL, shipped in the walking skeleton)
OUTBOX_V1 = """
CREATE TABLE "dossiers" ("id" TEXT PRIMARY KEY, "code" TEXT NOT NULL, "procedure_code" TEXT NOT NULL,
   "channel" TEXT NOT NULL, "state" TEXT NOT NULL, "received_at" TEXT, "created_at" TEXT, "updated_at" TEXT,
   "sealed_at" TEXT, "size_bytes" INTEGER, "page_count" INTEGER, "attempts" INTEGER DEFAULT 0, "last_error" TEXT,
   "rejected_reason" TEXT, "sequence" INTEGER, "manifest_hash" TEXT, "signed_manifest" TEXT, "receipt" TEXT,
   "hub_sequence" INTEGER, "committed_at" TEXT, "purged_at" TEXT, "metadata" TEXT);
CREATE UNIQUE INDEX "idx_dossiers_code" ON "dossiers" ("code");
CREATE INDEX "idx_dossiers_state" ON "dossiers" ("state");
CREATE TABLE "documents" ("dossier_id" TEXT, "position" INTEGER, "name" TEXT, "media_type" TEXT, "sha256" TEXT,
   "size" INTEGER, "pages" INTEGER, PRIMARY KEY ("dossier_id", "position"));
CREATE INDEX "idx_documents_sha256" ON "documents" ("sha256");
CREATE TABLE "uploads" ("sha256" TEXT PRIMARY KEY, "url" TEXT, "length" INTEGER, "created_at" TEXT);
CREATE TABLE "device_state" ("key" TEXT PRIMARY KEY, "value" TEXT);
INSERT INTO dossiers(id, code, procedure_code, channel, state, received_at, created_at, updated_at, size_bytes,
   page_count, attempts, metadata)
   VALUES ('01J0000000000000000000000A', '000.00.01.H29-240115-0001', '1.001193', 'postal', 'captured',
   '2024-01-15T02:00:00Z', '2024-01-15T02:00:00Z', '2024-01-15T02:00:00Z', 1234, 3, 0, '{}');
INSERT INTO documents VALUES ('01J0000000000000000000000A', 0, 'document-1.pdf', 'application/pdf', '%s', 1234, 3);
INSERT INTO device_state VALUES ('daily:2024-01-15', '1');
PRAGMA user_version=1;
""" % ("ab" * 32)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_outbox_v1_upgrades_in_place_and_keeps_its_dossiers(tmp_path: Path):
    db = tmp_path / "outbox.db"
    conn = sqlite3.connect(db)
    conn.executescript(OUTBOX_V1)
    before = _tables(conn)
    conn.close()

    outbox = Outbox(db, tmp_path / "blobs")
    try:
        assert outbox.conn.execute("PRAGMA user_version").fetchone()[0] == OUTBOX_VERSION
        dossier = outbox.get("000.00.01.H29-240115-0001")
        assert (dossier.state, dossier.page_count, dossier.channel) == ("captured", 3, "postal")
        assert outbox.documents(dossier.id)[0].sha256 == "ab" * 32
        assert outbox.get_state("daily:2024-01-15") == "1"  # the day's counter survives: no duplicate codes
        assert before < _tables(outbox.conn) or OUTBOX_VERSION == 1
    finally:
        outbox.close()
    again = Outbox(db, tmp_path / "blobs")  # a second open is a no-op
    assert again.conn.execute("PRAGMA user_version").fetchone()[0] == OUTBOX_VERSION
    again.close()


def test_outbox_from_before_reference_data_gains_the_calendar_version_column(tmp_path: Path):
    """A desk whose intake table was made before due dates recorded their calendar version."""
    db = tmp_path / "outbox.db"
    outbox = Outbox(db, tmp_path / "blobs")
    outbox.close()
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE intake DROP COLUMN calendar_version")
    conn.execute("PRAGMA user_version=4")
    conn.commit()
    conn.close()
    upgraded = Outbox(db, tmp_path / "blobs")
    try:
        assert "calendar_version" in {r[1] for r in upgraded.conn.execute("PRAGMA table_info(intake)")}
        assert upgraded.conn.execute("PRAGMA user_version").fetchone()[0] == OUTBOX_VERSION
    finally:
        upgraded.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_hub_v1_database_upgrades_in_place(backend, tmp_path, request):
    if backend == "sqlite":
        db = tmp_path / "hub" / "hub.db"
        db.parent.mkdir()
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")
        for statement in MIGRATIONS[1]:
            conn.execute(statement)
        conn.execute("INSERT INTO schema_version(version) VALUES (1)")
        conn.execute("INSERT INTO devices(device_id, public_key, key_id, site, agency_code, code_block, name, enrolled_at)"
                     " VALUES ('dev_1', 'pk', 'kid', 'Xã A', '000.00.01.H29', 0, 'desk', 1700000000)")
        conn.commit()
        conn.close()
        config = HubConfig(data_dir=tmp_path / "hub")
    else:
        import psycopg

        url = request.getfixturevalue("pg_url")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")
            for statement in MIGRATIONS[1]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version(version) VALUES (1)")
            conn.execute("INSERT INTO devices(device_id, public_key, key_id, site, agency_code, code_block, name,"
                         " enrolled_at) VALUES ('dev_1', 'pk', 'kid', 'Xã A', '000.00.01.H29', 0, 'desk', 1700000000)")
        config = HubConfig(data_dir=tmp_path / "hub", database_url=url)
    storage = open_storage(config)
    try:
        assert storage.db.schema_version() == SCHEMA_VERSION
        assert storage.db.one("SELECT site FROM devices WHERE device_id='dev_1'") == {"site": "Xã A"}
        assert storage.db.query("SELECT version FROM schema_version") == [{"version": SCHEMA_VERSION}]
    finally:
        storage.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_hub_database_newer_than_the_code_is_refused(backend, tmp_path, request):
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    config = HubConfig(data_dir=tmp_path / "hub", database_url=url)
    open_storage(config).close()
    storage = open_storage(config)
    storage.db.execute("UPDATE schema_version SET version=?", (SCHEMA_VERSION + 1,))
    storage.close()
    with pytest.raises(RuntimeError, match="newer than this hub"):
        open_storage(config)


def test_outbox_newer_than_the_code_is_refused_untouched(tmp_path: Path):
    from agent.errors import StorageError

    db_path = tmp_path / "outbox.db"
    Outbox(db_path, tmp_path / "blobs").close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version={OUTBOX_VERSION + 1}")
    conn.close()
    with pytest.raises(StorageError, match="newer than this motcua"):
        Outbox(db_path, tmp_path / "blobs")
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == OUTBOX_VERSION + 1
    conn.close()
